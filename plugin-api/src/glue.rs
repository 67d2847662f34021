//! The runtime behind `export!` and `plugin!`: binding params, encoding results and errors, containing panics.

use crate::abi::{self, Method, Param, Plugin, Str, Writer};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use serde_json::value::RawValue;
use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// An application error a procedure returns as `Err(e)`; the host answers it
/// as a JSON-RPC error built from `kind`, `message` and `data`.
pub trait AppError: fmt::Display {
    /// The error's kind; by default the type's own name (`SampleError` for `my_plugin::SampleError`).
    fn kind(&self) -> String {
        let name = std::any::type_name::<Self>();
        let name = name.split('<').next().unwrap_or(name);
        name.rsplit("::").next().unwrap_or(name).to_string()
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
/// writes: for testing plugins.
///
/// # Safety
///
/// `procedure` must honour the ABI contract; every procedure made by
/// [`export!`](crate::export) does.
pub unsafe fn invoke(procedure: abi::Procedure, params: &str, extras: &str) -> (i32, String) {
    unsafe extern "C" fn append(ctx: *mut std::ffi::c_void, ptr: *const u8, len: usize) {
        // SAFETY: `ctx` is the `Vec<u8>` below, alive and not otherwise borrowed
        // during the call; `ptr` points to `len` readable bytes (or `len` is 0).
        unsafe { (*ctx.cast::<Vec<u8>>()).extend_from_slice(Str { ptr, len }.as_bytes()) }
    }
    let mut out = Vec::new();
    let writer = Writer { ctx: (&raw mut out).cast(), write: append };
    let (params, extras) = (Str::from_bytes(params.as_bytes()), Str::from_bytes(extras.as_bytes()));
    // SAFETY: the caller vouches for `procedure`; both strings and the writer
    // outlive the call, and `out` is only touched through the writer meanwhile.
    let status = unsafe { procedure(params, extras, &writer) };
    (status, String::from_utf8_lossy(&out).into_owned())
}

/// A call that did not succeed: its status and the text for the writer.
pub struct Fail(i32, String);

fn invalid(message: String) -> Fail {
    Fail(abi::INVALID_PARAMS, message)
}

/// Decodes one value; `what` names it in the error, e.g. `parameter "x"`.
fn decode<T: DeserializeOwned>(value: &str, what: impl Fn() -> String) -> Result<T, Fail> {
    serde_json::from_str(value).map_err(|e| {
        let text = e.to_string();
        // serde_json adds a position, which means nothing for a value cut out of params.
        let text = text.rsplit_once(" at line ").map_or(text.as_str(), |(t, _)| t);
        let reworded = ["type", "value"].iter().find_map(|problem| {
            let rest = text.strip_prefix(&format!("invalid {problem}: "))?;
            let (found, expected) = rest.rsplit_once(", expected ")?;
            Some(format!("invalid {problem} for {}: expected {expected}, found {found}", what()))
        });
        invalid(reworded.unwrap_or_else(|| format!("invalid {}: {text}", what())))
    })
}

/// The positional values of a bound call, borrowed from the params text, in declaration order;
/// up to eight are kept inline (no allocation for most calls).
pub struct Args<'a> {
    inline: [Option<&'a RawValue>; 8],
    more: Vec<&'a RawValue>,
    len: usize,
    next: usize,
}

impl<'a> Args<'a> {
    pub fn parse(params: &'a str) -> Result<Args<'a>, Fail> {
        let mut args = Args { inline: [None; 8], more: Vec::new(), len: 0, next: 0 };
        let mut de = serde_json::Deserializer::from_str(params);
        serde::Deserializer::deserialize_seq(&mut de, Collect(&mut args))
            .and_then(|()| de.end())
            .map_err(|_| invalid("params must be a JSON array".into()))?;
        Ok(args)
    }

    fn next(&mut self) -> Option<&'a RawValue> {
        let i = self.next;
        if i == self.len {
            return None;
        }
        self.next += 1;
        if i < 8 { self.inline[i] } else { Some(self.more[i - 8]) }
    }

    pub fn required<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, Fail> {
        let value = self.next().ok_or_else(|| invalid(format!("missing parameter \"{name}\"")))?;
        decode(value.get(), || format!("parameter \"{name}\""))
    }

    /// Absent and `null` both mean "use the default".
    pub fn optional<T: DeserializeOwned>(&mut self, name: &str, default: impl FnOnce() -> T) -> Result<T, Fail> {
        match self.next() {
            None => Ok(default()),
            Some(value) if value.get() == "null" => Ok(default()),
            Some(value) => decode(value.get(), || format!("parameter \"{name}\"")),
        }
    }

    pub fn variadic<T: DeserializeOwned>(&mut self, name: &str) -> Result<Vec<T>, Fail> {
        let mut items = Vec::with_capacity(self.len - self.next);
        while let Some(v) = self.next() {
            let i = items.len();
            items.push(decode(v.get(), || format!("parameter \"{name}\" (item {i})"))?);
        }
        Ok(items)
    }

    pub fn finish(self) -> Result<(), Fail> {
        match self.len - self.next {
            0 => Ok(()),
            n => Err(invalid(format!("{} parameter values given, {} declared", self.len, self.len - n))),
        }
    }
}

/// Reads a JSON array's elements into [`Args`] as borrowed raw values.
struct Collect<'s, 'a>(&'s mut Args<'a>);

impl<'de> serde::de::Visitor<'de> for Collect<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let args = self.0;
        while let Some(value) = seq.next_element::<&'de RawValue>()? {
            match args.inline.get_mut(args.len) {
                Some(slot) => *slot = Some(value),
                None => args.more.push(value),
            }
            args.len += 1;
        }
        Ok(())
    }
}

/// Decodes one argument of a raw procedure; `absent` stands in for empty text.
pub fn raw_arg<T: DeserializeOwned>(text: &str, absent: &str, name: &str) -> Result<T, Fail> {
    let text = if text.is_empty() { absent } else { text };
    decode(text, || format!("parameter \"{name}\""))
}

/// A result's JSON text, in a buffer reused from call to call on this thread.
pub struct Output(Vec<u8>);

thread_local! {
    static OUTPUT: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Encodes a result.
pub fn value<T: Serialize>(value: T) -> Result<Output, Fail> {
    let mut buf = OUTPUT.take();
    buf.clear();
    match serde_json::to_writer(&mut buf, &value) {
        Ok(()) => Ok(Output(buf)),
        Err(e) => Err(Fail(abi::INTERNAL, format!("cannot encode the result: {e}"))),
    }
}

/// Encodes a result or an application error.
pub fn result<T: Serialize, E: AppError>(result: Result<T, E>) -> Result<Output, Fail> {
    let error = match result {
        Ok(v) => return value(v),
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

/// Runs one call: decodes the strings, runs `body` with panics caught, writes
/// the outcome and returns its status. Nothing unwinds out of it.
///
/// # Safety
///
/// `params` and `extras` must be readable for the call (see [`Str::as_bytes`]);
/// `out` must be null or point to a valid writer whose `write` may be called
/// during the call.
pub unsafe fn call(
    params: Str,
    extras: Str,
    out: *const Writer,
    body: impl FnOnce(&str, &str) -> Result<Output, Fail>,
) -> i32 {
    if out.is_null() {
        return abi::INTERNAL;
    }
    quiet_panics();
    IN_CALL.with(|c| c.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: our caller guarantees both strings are readable for the call.
        let (params, extras) = unsafe { (params.as_bytes(), extras.as_bytes()) };
        let text = |bytes, what| std::str::from_utf8(bytes).map_err(|_| invalid(format!("{what} are not UTF-8")));
        body(text(params, "params")?, text(extras, "extras")?)
    }));
    IN_CALL.with(|c| c.set(false));
    let (status, text) = match outcome {
        Ok(Ok(Output(json))) => (abi::OK, json),
        Ok(Err(Fail(status, message))) => (status, message.into_bytes()),
        Err(payload) => (abi::INTERNAL, panic_message(payload).into_bytes()),
    };
    // SAFETY: `out` is non-null, so our caller guarantees it points to a valid
    // writer callable now; `text` is alive and `len` bytes long for the call.
    unsafe { ((*out).write)((*out).ctx, text.as_ptr(), text.len()) };
    if text.capacity() <= 64 * 1024 {
        OUTPUT.set(text);
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
pub const fn param(name: &'static str, kind: u32) -> Param {
    Param { name: Str::new(name), kind, default_json: Str::EMPTY }
}

/// One table entry; fails to compile when a variadic parameter is not last.
pub const fn method(
    name: &'static str,
    symbol: &'static str,
    doc: &'static str,
    params: &'static [Param],
    flags: u32,
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
        flags,
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

/// The plugin descriptor.
pub const fn plugin(name: &'static str, version: &'static str, methods: &'static [Method]) -> Plugin {
    Plugin {
        abi_version: abi::ABI_VERSION,
        name: Str::new(name),
        version: Str::new(version),
        methods: methods.as_ptr(),
        methods_len: methods.len(),
    }
}
