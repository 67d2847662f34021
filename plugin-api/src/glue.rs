//! The runtime behind `export!` and `plugin!`: binding params, encoding results and errors, containing panics.

use crate::abi::{self, Method, Param, Plugin, Str, Writer};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// An application error a procedure returns as `Err(e)`; the host answers it
/// as a JSON-RPC error built from `kind`, `message` and `data`.
pub trait AppError: fmt::Display {
    /// The error's kind: clients see it, and `--error KIND=CODE` maps it to a code. Spelled
    /// out rather than taken from the type's name, so that renaming or moving the type, or a
    /// new compiler, never changes what clients see.
    const KIND: &'static str;
    /// Whether `kind()` is chosen at run time, so that [`AppError::KIND`] does not tell
    /// which kinds a method reports (as for [`Error`]).
    const DYNAMIC: bool = false;
    /// The kind of this error; [`AppError::KIND`] unless overridden to choose at run time.
    fn kind(&self) -> String {
        Self::KIND.to_owned()
    }
    /// A human-readable message; by default the `Display` text.
    fn message(&self) -> String {
        self.to_string()
    }
    /// Extra JSON data for the client; none by default.
    fn data(&self) -> Option<Value> {
        None
    }
}

/// An application error whose kind, message and data are all chosen at run time.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub kind: String,
    pub message: String,
    pub data: Option<Value>,
}

impl Error {
    /// An error of `kind` with `message` and no data.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Error {
        Error { kind: kind.into(), message: message.into(), data: None }
    }

    /// The same error carrying `data`.
    pub fn with_data(self, data: Value) -> Error {
        Error { data: Some(data), ..self }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl AppError for Error {
    /// Not used: an [`Error`]'s kind is chosen when it is made.
    const KIND: &'static str = "Error";
    const DYNAMIC: bool = true;
    fn kind(&self) -> String {
        self.kind.clone()
    }
    fn message(&self) -> String {
        self.message.clone()
    }
    fn data(&self) -> Option<Value> {
        self.data.clone()
    }
}

/// Calls `procedure` through the C ABI as the host does and collects what it
/// writes: for testing plugins. `params` are the values the host would pass,
/// one JSON text each: for a bound method, one per declared parameter in order
/// (then the variadic values); for a raw method, the params as sent, or none.
///
/// # Safety
///
/// `procedure` must honour the ABI contract; every procedure made by
/// [`export!`](crate::export) does.
pub unsafe fn invoke(procedure: abi::Procedure, params: &[&str], extras: &str) -> (i32, String) {
    unsafe extern "C" fn append(ctx: *mut std::ffi::c_void, ptr: *const u8, len: usize) {
        // SAFETY: `ctx` is the `Vec<u8>` below, alive and not otherwise borrowed
        // during the call; `ptr` points to `len` readable bytes (or `len` is 0).
        unsafe { (*ctx.cast::<Vec<u8>>()).extend_from_slice(Str { ptr, len }.as_bytes()) }
    }
    unsafe extern "C" fn clear(ctx: *mut std::ffi::c_void) {
        // SAFETY: as in `append`.
        unsafe { (*ctx.cast::<Vec<u8>>()).clear() }
    }
    /// Writes the error object the host would answer, `{"kind":..,"message":..,"data":..}`.
    unsafe extern "C" fn error(ctx: *mut std::ffi::c_void, kind: Str, message: Str, data: Str) {
        // SAFETY: as in `append`; the strings point to their `len` readable bytes.
        let (out, kind, message, data) =
            unsafe { (&mut *ctx.cast::<Vec<u8>>(), kind.as_bytes(), message.as_bytes(), data.as_bytes()) };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let mut object = serde_json::Map::new();
        if !data.is_empty() {
            let data = serde_json::from_slice(data).unwrap_or_else(|_| Value::String(text(data)));
            object.insert("data".into(), data);
        }
        object.insert("kind".into(), text(kind).into());
        object.insert("message".into(), text(message).into());
        out.clear();
        out.extend_from_slice(Value::Object(object).to_string().as_bytes());
    }
    let mut out = Vec::new();
    let writer = Writer::new((&raw mut out).cast(), append, clear, error);
    let values: Vec<Str> = params.iter().map(|p| Str::from_bytes(p.as_bytes())).collect();
    // SAFETY: the caller vouches for `procedure`; the values, the extras and the
    // writer outlive the call, and `out` is only touched through the writer meanwhile.
    let status = unsafe { procedure(values.as_ptr(), values.len(), Str::from_bytes(extras.as_bytes()), &writer) };
    (status, String::from_utf8_lossy(&out).into_owned())
}

/// A call that did not succeed: its status and the text for the writer.
pub struct Fail(i32, String);

fn invalid(message: String) -> Fail {
    Fail(abi::INVALID_PARAMS, message)
}

/// Decodes one value; `what` names it in the error, e.g. `parameter "x"`. Inlined into each
/// procedure, so that a decoded value does not make a round trip through memory.
#[inline(always)]
fn decode<T: DeserializeOwned>(value: &[u8], what: impl Fn() -> String) -> Result<T, Fail> {
    crate::value::from_slice(value).map_err(|e| undecodable(&e, &what()))
}

/// The message for a value that does not decode.
#[cold]
#[inline(never)]
fn undecodable(e: &serde_json::Error, what: &str) -> Fail {
    let text = e.to_string();
    // serde_json adds a position, which means nothing for a value cut out of params.
    let text = text.rsplit_once(" at line ").map_or(text.as_str(), |(t, _)| t);
    let reworded = ["type", "value"].iter().find_map(|problem| {
        let rest = text.strip_prefix(&format!("invalid {problem}: "))?;
        let (found, expected) = rest.rsplit_once(", expected ")?;
        Some(format!("invalid {problem} for {what}: expected {expected}, found {found}"))
    });
    invalid(reworded.unwrap_or_else(|| format!("invalid {what}: {text}")))
}

#[cold]
#[inline(never)]
fn missing(name: &str) -> Fail {
    invalid(format!("missing parameter \"{name}\""))
}

/// The parameter values of a call, as the host passed them: one JSON text each.
pub struct Args<'a> {
    values: &'a [Str],
    next: usize,
}

impl<'a> Args<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        let value = self.values.get(self.next)?;
        self.next += 1;
        // SAFETY: `call` built `values` from what the host passed, which the ABI requires to
        // be readable and unchanged for the whole call; `Args` does not outlive the call.
        Some(unsafe { value.as_bytes() })
    }

    #[inline(always)]
    pub fn required<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, Fail> {
        let Some(value) = self.next() else { return Err(missing(name)) };
        decode(value, || format!("parameter \"{name}\""))
    }

    /// Absent and `null` both mean "use the default".
    #[inline(always)]
    pub fn optional<T: DeserializeOwned>(&mut self, name: &str, default: impl FnOnce() -> T) -> Result<T, Fail> {
        match self.next() {
            None | Some(b"null") => Ok(default()),
            Some(value) => decode(value, || format!("parameter \"{name}\"")),
        }
    }

    pub fn variadic<T: DeserializeOwned>(&mut self, name: &str) -> Result<Vec<T>, Fail> {
        let mut items = Vec::with_capacity(self.values.len() - self.next);
        while let Some(v) = self.next() {
            let i = items.len();
            items.push(decode(v, || format!("parameter \"{name}\" (item {i})"))?);
        }
        Ok(items)
    }

    pub fn finish(self) -> Result<(), Fail> {
        match self.values.len() - self.next {
            0 => Ok(()),
            _ => Err(invalid(format!("{} parameter values given, {} declared", self.values.len(), self.next))),
        }
    }

    /// A raw procedure's params as sent; `None` when the request had none.
    fn raw(mut self) -> Result<Option<&'a [u8]>, Fail> {
        let params = self.next();
        match self.next() {
            None => Ok(params),
            Some(_) => Err(invalid(format!("a raw procedure takes one params value, {} given", self.values.len()))),
        }
    }
}

/// Decodes the params and the extras of a raw procedure; absent params are `null`.
pub fn raw_args<P: DeserializeOwned, X: DeserializeOwned>(
    args: Args<'_>,
    extras: &[u8],
    names: (&str, &str),
) -> Result<(P, X), Fail> {
    let params = args.raw()?.unwrap_or(b"null");
    let extras = if extras.is_empty() { b"{}" } else { extras };
    Ok((
        decode(params, || format!("parameter \"{}\"", names.0))?,
        decode(extras, || format!("parameter \"{}\"", names.1))?,
    ))
}

/// Where a call's result goes: straight to the host's writer, piece by piece as it is encoded.
pub struct Output<'w> {
    writer: &'w Writer,
    wrote: bool,
}

impl std::io::Write for Output<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.wrote = true;
        // SAFETY: only `call` makes an `Output`, from the valid writer its caller passed, and
        // the borrow keeps it within the call; `buf` is readable for `buf.len()` bytes.
        unsafe { (self.writer.write)(self.writer.ctx, buf.as_ptr(), buf.len()) };
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Encodes a result.
pub fn value<T: Serialize>(out: &mut Output<'_>, value: T) -> Result<(), Fail> {
    serde_json::to_writer(out, &value).map_err(|e| Fail(abi::INTERNAL, format!("cannot encode the result: {e}")))
}

/// Encodes a result or an application error.
pub fn result<T: Serialize, E: AppError>(out: &mut Output<'_>, result: Result<T, E>) -> Result<(), Fail> {
    let error = match result {
        Ok(v) => return value(out, v),
        Err(e) => e,
    };
    let mut fields = serde_json::Map::new();
    fields.insert("kind".into(), error.kind().into());
    fields.insert("message".into(), error.message().into());
    if let Some(data) = error.data() {
        fields.insert("data".into(), data);
    }
    Err(Fail(abi::ERROR, Value::Object(fields).to_string()))
}

/// Runs one call: hands the values to `body` with panics caught, writes the
/// outcome and returns its status. Nothing unwinds out of it.
///
/// # Safety
///
/// `params` must be null with `params_len` 0, or point to `params_len` strings;
/// those strings and `extras` must be readable for the call (see [`Str::as_bytes`]);
/// `out` must be null or point to a valid writer whose `write` and `reset` may
/// be called during the call.
pub unsafe fn call(
    params: *const Str,
    params_len: usize,
    extras: Str,
    out: *const Writer,
    body: impl FnOnce(Args<'_>, &[u8], &mut Output<'_>) -> Result<(), Fail>,
) -> i32 {
    if out.is_null() {
        return abi::INTERNAL;
    }
    // SAFETY: non-null, so our caller guarantees it points to a writer valid for the call.
    let writer = unsafe { &*out };
    quiet_panics();
    let mut output = Output { writer, wrote: false };
    // One thread-local access per call: the flag is set around the call inside it.
    let outcome = IN_CALL.with(|in_call| {
        in_call.set(true);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if params.is_null() && params_len > 0 {
                return Err(Fail(abi::INTERNAL, "params is null".into()));
            }
            let values = match params_len {
                0 => &[][..],
                // SAFETY: non-null (checked above) and pointing to `params_len` strings, as our
                // caller guarantees; they stay valid and unchanged for the call.
                n => unsafe { std::slice::from_raw_parts(params, n) },
            };
            // SAFETY: our caller guarantees `extras` is readable for the call.
            let extras = unsafe { extras.as_bytes() };
            body(Args { values, next: 0 }, extras, &mut output)
        }));
        in_call.set(false);
        outcome
    });
    let (status, message) = match outcome {
        Ok(Ok(())) => return abi::OK,
        Ok(Err(Fail(status, message))) => (status, message),
        Err(payload) => (abi::INTERNAL, panic_message(payload)),
    };
    // SAFETY: the writer is valid for the call (see above); `message` is alive and `len`
    // bytes long. Half a result written before the failure is discarded first.
    unsafe {
        if output.wrote {
            (writer.reset)(writer.ctx);
        }
        (writer.write)(writer.ctx, message.as_ptr(), message.len());
    }
    status
}

thread_local! {
    /// Set while a procedure runs: its panics are caught and reported to the host.
    static IN_CALL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keeps the panic hook quiet for panics the glue catches (the host logs them); panics
/// elsewhere in the plugin still reach the previous hook.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_CALL.with(|c| c.get()) {
                previous(info);
            }
        }));
    });
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let message = match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "procedure panicked".to_string(),
    };
    // A payload's destructor may panic too; forget such a second payload.
    if let Err(again) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
        std::mem::forget(again);
    }
    message
}

/// One declared parameter of a bound method.
pub const fn param(name: &'static str, kind: u32, schema: &'static crate::schema::SchemaText) -> Param {
    Param { name: Str::new(name), kind, default_json: Str::EMPTY, schema_json: schema.to_abi() }
}

/// One table entry; fails to compile when a variadic parameter is not last. Its output is
/// trusted: the glue writes every result with serde_json.
pub const fn method(
    name: &'static str,
    symbol: &'static str,
    doc: &'static str,
    params: &'static [Param],
    flags: u32,
    result: &'static crate::schema::SchemaText,
    errors: &'static crate::schema::SchemaText,
) -> Method {
    let mut i = 0;
    while i < params.len() {
        if params[i].kind == abi::PARAM_VARIADIC && i + 1 < params.len() {
            panic!("a #[variadic] parameter must be the last one");
        }
        i += 1;
    }
    let doc = first_line(doc.as_bytes());
    let (name, symbol) = (Str::new(name), Str::new(symbol));
    Method {
        name,
        symbol,
        doc: Str { ptr: doc.as_ptr(), len: doc.len() },
        params: params.as_ptr(),
        params_len: params.len(),
        flags: flags | abi::METHOD_TRUSTED_OUTPUT,
        result_schema_json: result.to_abi(),
        error_kinds_json: errors.to_abi(),
    }
}

/// The first non-blank line of a doc comment, trimmed.
const fn first_line(mut rest: &'static [u8]) -> &'static [u8] {
    while !rest.is_empty() {
        let mut end = 0;
        while end < rest.len() && rest[end] != b'\n' {
            end += 1;
        }
        let (line, tail) = rest.split_at(end);
        if !line.trim_ascii().is_empty() {
            return line.trim_ascii();
        }
        rest = if tail.is_empty() { tail } else { tail.split_at(1).1 };
    }
    rest
}

/// The error kinds of a method returning `Result<_, E>`: `["KIND"]`, or nothing when `E`
/// chooses its kind at run time.
pub const fn error_kinds<E: AppError>() -> crate::schema::SchemaText {
    if E::DYNAMIC {
        return crate::schema::SchemaText::ANY;
    }
    crate::schema::SchemaText::json_strings(&[E::KIND])
}

/// The plugin descriptor.
pub const fn plugin(name: &'static str, version: &'static str, methods: &'static [Method]) -> Plugin {
    Plugin {
        abi_version: abi::ABI_VERSION,
        abi_minor: abi::ABI_MINOR,
        plugin_size: std::mem::size_of::<Plugin>() as u32,
        method_size: std::mem::size_of::<Method>() as u32,
        param_size: std::mem::size_of::<Param>() as u32,
        name: Str::new(name),
        version: Str::new(version),
        methods: methods.as_ptr(),
        methods_len: methods.len(),
    }
}
