//! The plugin loader, the only user of libloading: opens `libNAME.so`, reads its table, resolves symbols.

mod crash;
mod descriptor;
mod output;
mod search;

pub use crash::report_to as report_crashes_to;
pub use descriptor::{Descriptor, MethodInfo};
pub use search::{BadName, Found, PLUGIN_PATH_VAR, SearchPath, file_name, is_path};

use crate::engine::JsonRpc;
use crate::error::{AppError, Failure};
use crate::procedure::Procedure;
use crate::signature::{Args, Signature};
use crate::table::{Resolver, Target};
use runjsonrpc2_plugin::abi;
use std::collections::HashMap;
use std::ffi::c_void;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Why a plugin could not be loaded or a method resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PluginError {
    /// The module name resolved nowhere; every place tried is listed.
    NotFound {
        /// The name given.
        module: String,
        /// Every file tried, in order.
        tried: Vec<String>,
    },
    /// The module name or path cannot be used.
    BadName(BadName),
    /// A method of the table could not be registered under its served name.
    Register(crate::error::SetupError),
    /// dlopen failed, or the descriptor symbol is missing.
    Open {
        /// The library's path.
        lib: String,
        /// dlopen's or dlsym's message.
        reason: String,
    },
    /// The descriptor speaks another ABI version.
    Abi {
        /// The library's path.
        lib: String,
        /// The version its descriptor declares.
        found: u32,
    },
    /// The table is malformed.
    Table {
        /// The library's path.
        lib: String,
        /// What is wrong with the table.
        reason: String,
    },
    /// A lazy target names something that is not in the module's table.
    NotInTable {
        /// The `module:symbol` asked for.
        target: String,
    },
    /// dlsym failed for a symbol the table lists.
    Symbol {
        /// The `module:symbol` asked for.
        target: String,
        /// dlsym's message.
        reason: String,
    },
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginError::NotFound { module, tried } => {
                write!(f, "plugin {module:?} not found; tried {}", tried.join(", "))
            }
            PluginError::BadName(e) => e.fmt(f),
            PluginError::Register(e) => e.fmt(f),
            PluginError::Open { lib, reason } => write!(f, "{lib}: {reason}"),
            PluginError::Abi { lib, found } => {
                write!(f, "{lib}: plugin abi version {found}, supported 2-{}", abi::ABI_VERSION)
            }
            PluginError::Table { lib, reason } => write!(f, "{lib}: malformed method table: {reason}"),
            PluginError::NotInTable { target } => {
                write!(f, "{target}: not in the module's exported method table")
            }
            PluginError::Symbol { target, reason } => write!(f, "{target}: {reason}"),
        }
    }
}

impl std::error::Error for PluginError {}

/// An opened plugin. Its library is never unloaded.
pub struct Plugin {
    /// The file the library was opened from.
    pub path: String,
    /// Its method table, copied and checked.
    pub descriptor: Descriptor,
    lib: &'static libloading::Library,
}

/// Opens plugins (once each) and resolves their methods; the engine's [`Resolver`].
pub struct Loader {
    search: SearchPath,
    plugins: Mutex<HashMap<String, Arc<Plugin>>>,
    symbols_resolved: AtomicUsize,
}

impl Loader {
    /// A loader that looks module names up in `search`.
    pub fn new(search: SearchPath) -> Loader {
        Loader { search, plugins: Mutex::default(), symbols_resolved: AtomicUsize::new(0) }
    }

    /// Where module names are looked up.
    pub fn search(&self) -> &SearchPath {
        &self.search
    }

    /// How many symbols have been looked up with dlsym so far.
    #[doc(hidden)] // for the tests that show targets resolve lazily, once
    pub fn symbols_resolved(&self) -> usize {
        self.symbols_resolved.load(Ordering::Relaxed)
    }

    /// Opens `module` (a name or a path) and reads its table; later calls reuse it.
    pub fn open(&self, module: &str) -> Result<Arc<Plugin>, PluginError> {
        let mut plugins = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = plugins.get(module) {
            return Ok(p.clone());
        }
        let found = self.search.find(module).map_err(PluginError::BadName)?;
        let (path, display) = match &found {
            Found::File(p) => (p.as_os_str().to_owned(), p.display().to_string()),
            Found::System(f) => (f.into(), f.clone()),
        };
        if let Found::File(p) = &found
            && !p.is_file()
        {
            let tried = if is_path(module) { vec![display] } else { self.search.places(module) };
            return Err(PluginError::NotFound { module: module.to_owned(), tried });
        }
        // SAFETY: opening a library runs its initializers. Plugins are trusted code chosen by
        // whoever starts the server (never named by a request); the path was checked above.
        let lib = match unsafe { libloading::Library::new(&path) } {
            Ok(lib) => lib,
            Err(_) if matches!(found, Found::System(_)) => {
                return Err(PluginError::NotFound { module: module.to_owned(), tried: self.search.places(module) });
            }
            Err(e) => return Err(PluginError::Open { lib: display, reason: e.to_string() }),
        };
        // Never unloaded: procedures and the table point into it for the life of the process.
        let lib: &'static libloading::Library = Box::leak(Box::new(lib));
        let descriptor = read_descriptor(lib, &display)?;
        let plugin = Arc::new(Plugin { path: display, descriptor, lib });
        plugins.insert(module.to_owned(), plugin.clone());
        Ok(plugin)
    }

    /// Opens `module` and registers each method lazily as `module:method`, under
    /// `PLUGIN.method` (or the bare method name when `prefix` is false).
    pub fn register(&self, rpc: &JsonRpc, module: &str, prefix: bool) -> Result<Arc<Plugin>, PluginError> {
        let plugin = self.open(module)?;
        for m in &plugin.descriptor.methods {
            let name = plugin.descriptor.served_name(m, prefix);
            let target = format!("{module}:{}", m.name);
            rpc.methods().insert_lazy(&name, &target).map_err(PluginError::Register)?;
        }
        Ok(plugin)
    }

    /// Resolves `module:method` (the method's name or its exported symbol, as listed in the
    /// module's table) to a callable procedure. Nothing outside the table is ever looked up.
    pub fn procedure(&self, target: &Target) -> Result<PluginProcedure, PluginError> {
        let plugin = self.open(&target.module)?;
        let Some(info) = plugin.descriptor.find(&target.symbol) else {
            return Err(PluginError::NotInTable { target: target.to_string() });
        };
        self.symbols_resolved.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the symbol is listed in the plugin's table as an `rj2_procedure`, so the ABI
        // contract says it has the `abi::Procedure` type. The library is never unloaded, so the
        // copied function pointer stays valid.
        // A symbol can resolve to null (a weak undefined one): `Option` keeps that sound.
        let func = match unsafe { plugin.lib.get::<Option<abi::Procedure>>(info.symbol.as_bytes()) } {
            Ok(sym) => *sym,
            Err(e) => return Err(PluginError::Symbol { target: target.to_string(), reason: e.to_string() }),
        };
        let Some(func) = func else {
            return Err(PluginError::Symbol { target: target.to_string(), reason: "the symbol is null".into() });
        };
        let label = plugin.descriptor.served_name(info, true);
        Ok(PluginProcedure { func, signature: info.signature.clone(), label, check: !info.trusted_output })
    }
}

impl Resolver for Loader {
    fn resolve(&self, target: &Target) -> Result<Arc<dyn Procedure>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Arc::new(self.procedure(target)?))
    }
}

/// Reads the descriptor: the ABI version first, then the table.
fn read_descriptor(lib: &'static libloading::Library, display: &str) -> Result<Descriptor, PluginError> {
    let table = |reason| PluginError::Table { lib: display.to_owned(), reason };
    // SAFETY: for a data symbol, libloading yields its address; we only read through it below
    // after checking it is non-null. Its type is fixed by the ABI.
    let ptr: *const abi::Plugin = match unsafe { lib.get::<*const abi::Plugin>(abi::PLUGIN_SYMBOL.as_bytes()) } {
        Ok(sym) => *sym,
        Err(_) => {
            let reason = format!("no {} symbol: not a runjsonrpc2 plugin", abi::PLUGIN_SYMBOL);
            return Err(PluginError::Open { lib: display.to_owned(), reason });
        }
    };
    if ptr.is_null() || !ptr.is_aligned() {
        return Err(table("the descriptor symbol is a null or misaligned pointer".into()));
    }
    // SAFETY: `ptr` is the non-null, aligned address of the exported descriptor, whose first
    // field is a u32 in every ABI version; nothing else is read before the version is known.
    let found = unsafe { std::ptr::addr_of!((*ptr).abi_version).read() };
    match found {
        // SAFETY: version 2: the symbol has the layout of `abi::v2::Plugin` (aligned like it:
        // both start with a u32 and hold pointers); `descriptor::read_v2` checks every pointer
        // for null, alignment and bounded length.
        2 => unsafe { descriptor::read_v2(ptr.cast()) }.map_err(table),
        // SAFETY: version 3: the symbol starts with the five u32 fields every 3.x has, and
        // `descriptor::read` checks the sizes before it reads further.
        abi::ABI_VERSION => unsafe { descriptor::read(ptr) }.map_err(table),
        _ => Err(PluginError::Abi { lib: display.to_owned(), found }),
    }
}

/// Output larger than this from one call is refused, not buffered.
const MAX_OUTPUT: usize = 256 * 1024 * 1024;

/// A plugin procedure, resolved and ready to call.
pub struct PluginProcedure {
    func: abi::Procedure,
    signature: Signature,
    label: String,
    /// Whether each result is checked to be one JSON value (the method's output is not trusted).
    check: bool,
}

/// What the writer callback appends to.
struct Sink<'a> {
    out: &'a mut Vec<u8>,
    /// Where this call's output starts in `out` (earlier batch answers precede it).
    mark: usize,
    overflow: bool,
    /// An error reported through the writer's `error` callback (ABI 3).
    error: Option<Reported>,
}

/// An application error a plugin reported through the writer: kind, message and data text.
struct Reported {
    kind: Vec<u8>,
    message: Vec<u8>,
    data: Vec<u8>,
}

/// The host's `error` callback: discards the call's output and keeps the error.
unsafe extern "C" fn error_sink(ctx: *mut c_void, kind: abi::Str, message: abi::Str, data: abi::Str) {
    if ctx.is_null() {
        return;
    }
    // SAFETY: as in `write_sink`.
    let sink = unsafe { &mut *ctx.cast::<Sink<'_>>() };
    let mark = sink.mark;
    sink.out.truncate(mark);
    let copy = |s: abi::Str| -> Option<Vec<u8>> {
        if s.len > MAX_OUTPUT || (s.ptr.is_null() && s.len > 0) {
            return None;
        }
        // SAFETY: the ABI requires each string to be valid for its length during the call;
        // a null pointer has length 0 (checked above), which `as_bytes` reads as empty.
        Some(unsafe { s.as_bytes() }.to_vec())
    };
    match (copy(kind), copy(message), copy(data)) {
        (Some(kind), Some(message), Some(data)) => sink.error = Some(Reported { kind, message, data }),
        _ => sink.overflow = true,
    }
}

/// The host's writer: appends the plugin's bytes to the call's buffer.
unsafe extern "C" fn write_sink(ctx: *mut c_void, ptr: *const u8, len: usize) {
    if ctx.is_null() || (ptr.is_null() && len > 0) {
        return;
    }
    // SAFETY: `ctx` is the `Sink` that `PluginProcedure::call` passed for this call, alive and
    // not otherwise borrowed while the plugin runs.
    let sink = unsafe { &mut *ctx.cast::<Sink<'_>>() };
    // At most MAX_OUTPUT bytes were taken so far, so this does not underflow.
    if sink.overflow || len > MAX_OUTPUT - (sink.out.len() - sink.mark) {
        sink.overflow = true;
        return;
    }
    if len > 0 {
        // SAFETY: the ABI requires `ptr` to be valid for `len` bytes during the call; it is non-null.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
        if len <= 16 {
            // Most results are a number or a short string: a call to memcpy costs more.
            sink.out.reserve(len);
            for &b in bytes {
                sink.out.push(b);
            }
        } else {
            sink.out.extend_from_slice(bytes);
        }
    }
}

/// The host's reset: discards what the plugin wrote during this call.
unsafe extern "C" fn reset_sink(ctx: *mut c_void) {
    if ctx.is_null() {
        return;
    }
    // SAFETY: as in `write_sink`.
    let sink = unsafe { &mut *ctx.cast::<Sink<'_>>() };
    sink.out.truncate(sink.mark);
    sink.overflow = false;
}

impl Procedure for PluginProcedure {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn call(&self, args: &Args<'_>, out: &mut Vec<u8>) -> Result<(), Failure> {
        // The values are slices of the request (or of the signature's defaults), handed over
        // as they are: up to eight inline, more on the heap.
        // (Uninitialised: writing all eight slots first cost more than the rest of this setup.)
        let mut inline = [std::mem::MaybeUninit::<abi::Str>::uninit(); 8];
        let heap: Vec<abi::Str>;
        let values: &[abi::Str] = match self.signature {
            Signature::Raw => match args.raw {
                Some(raw) => std::slice::from_ref(inline[0].write(abi::Str::from_bytes(raw.as_bytes()))),
                None => &[],
            },
            Signature::Params(_) if args.rest.is_empty() && args.fixed.len() <= inline.len() => {
                for (slot, value) in inline.iter_mut().zip(args.fixed.iter()) {
                    slot.write(abi::Str::from_bytes(value.unwrap_or("null").as_bytes()));
                }
                // SAFETY: the loop above initialised the first `fixed.len()` slots (at most 8, so
                // in bounds); `MaybeUninit<Str>` has `Str`'s layout and alignment; `inline` is
                // neither written nor moved while `values` is in use (only by the call below).
                unsafe { std::slice::from_raw_parts(inline.as_ptr().cast::<abi::Str>(), args.fixed.len()) }
            }
            Signature::Params(_) => {
                heap = args.values().map(|v| abi::Str::from_bytes(v.as_bytes())).collect();
                &heap
            }
        };
        let extras = args.extras.as_json().as_bytes();
        let mark = out.len();
        let mut sink = Sink { out, mark, overflow: false, error: None };
        let writer = abi::Writer::new((&raw mut sink).cast(), write_sink, reset_sink, error_sink);
        // A crash in the call is reported with this method's name (see `crash`).
        let running = crash::Running::enter(&self.label);
        // SAFETY: `func` has the ABI's procedure type (see `Loader::procedure`); `values` holds
        // `values.len()` strings that, like the extras and the writer, outlive the call, and the
        // plugin must not keep them.
        let status = unsafe { (self.func)(values.as_ptr(), values.len(), abi::Str::from_bytes(extras), &writer) };
        running.leave();
        let (overflow, reported) = (sink.overflow, sink.error.take());
        if status == abi::OK && !overflow && reported.is_none() && (!self.check || output::valid_json(&out[mark..])) {
            // The result stays where the plugin wrote it, spliced into the answer as is.
            return Ok(());
        }
        self.failed(status, overflow, reported, out.drain(mark..).collect())
    }
}

impl PluginProcedure {
    /// The answer to a call that did not return valid JSON with status OK; `written` is what
    /// the plugin wrote. Out of line, so the successful path stays small.
    #[cold]
    #[inline(never)]
    fn failed(&self, status: i32, overflow: bool, reported: Option<Reported>, written: Vec<u8>) -> Result<(), Failure> {
        let fail = |what: &str| {
            log::warn!("procedure {} {what}", self.label);
            Err(Failure::Internal(format!("procedure {} {what}", self.label)))
        };
        if overflow {
            return fail("wrote more than the output limit");
        }
        if let Some(e) = reported {
            if status != abi::ERROR {
                return fail(&format!("reported an error but returned status {status}"));
            }
            let data = match e.data.is_empty() {
                true => None,
                false if output::valid_json(&e.data) => {
                    let text = String::from_utf8(e.data).expect("valid JSON is UTF-8");
                    Some(serde_json::value::RawValue::from_string(text).expect("checked to be JSON"))
                }
                false => return fail("reported error data that is not one JSON value"),
            };
            let text = |b: Vec<u8>| {
                String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
            };
            return Err(Failure::App(AppError { kind: text(e.kind), message: text(e.message), data }));
        }
        match status {
            abi::OK => fail("returned invalid JSON"),
            abi::ERROR => match serde_json::from_slice::<ErrorText>(&written) {
                Ok(e) => Err(Failure::App(AppError { kind: e.kind, message: e.message, data: e.data })),
                Err(_) => fail("returned a malformed error object"),
            },
            abi::INVALID_PARAMS => Err(Failure::InvalidParams(String::from_utf8_lossy(&written).into_owned())),
            abi::INTERNAL => fail(&format!("failed: {}", String::from_utf8_lossy(&written))),
            status => fail(&format!("returned unknown status {status}")),
        }
    }
}

/// The error object a plugin writes with status `ERROR`.
#[derive(serde::Deserialize)]
struct ErrorText {
    kind: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Option<Box<serde_json::value::RawValue>>,
}
