//! The JSON-RPC 2.0 processor (the original's `JsonRpc`): bytes in, bytes out, no I/O.

use crate::error::{self, AppError, Failure, SetupError};
use crate::procedure::Procedure;
use crate::request::{self, Body, BodyError, Envelope, Item};
use crate::seen::Seen;
use crate::signature::{Args, Extras};
use crate::table::{Entry, Methods, Resolver};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Limits on what one body may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most requests a batch may hold (default 1000); a longer batch answers one -32600.
    pub max_batch: usize,
    /// The deepest nesting of arrays and objects in `params` and `id` (default 128, which is
    /// also the most serde_json follows when it parses a value for a procedure).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_batch: 1000, max_depth: 128 }
    }
}

/// A JSON-RPC 2.0 processor: a method table, an error map and limits.
pub struct JsonRpc {
    methods: Methods,
    errors: HashMap<String, i64>,
    limits: Limits,
    resolver: Option<Arc<dyn Resolver>>,
    observer: Option<Observer>,
}

/// The name an [`Observer`] hears for a method not in the table (or not the caller's): clients
/// cannot make up names for it to count.
pub const UNKNOWN_METHOD: &str = "(unknown)";

/// Hears of every call dispatched: the method's name (or [`UNKNOWN_METHOD`] when it is
/// not in the table) and `None` for a result or the error code.
pub type Observer = Arc<dyn Fn(&str, Option<i64>) + Send + Sync>;

impl Default for JsonRpc {
    fn default() -> JsonRpc {
        JsonRpc {
            methods: Methods::new(),
            errors: HashMap::new(),
            limits: Limits::default(),
            resolver: None,
            observer: None,
        }
    }
}

impl JsonRpc {
    /// An engine with no methods, no error map, the default [`Limits`] and no resolver.
    pub fn new() -> JsonRpc {
        JsonRpc::default()
    }

    /// The method table, as the original's `rpc.methods`: `rpc.methods().insert(..)`,
    /// `.remove(..)`, `.contains(..)`. It may change while the engine serves: each call looks
    /// its method up when it runs. (An accessor rather than `Deref`: an engine is not a
    /// smart pointer to its table.)
    pub fn methods(&self) -> &Methods {
        &self.methods
    }

    /// Sets the batch and nesting limits.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Sets what hears of every call (the server's `/metrics` counts).
    pub fn set_observer(&mut self, observer: Observer) {
        self.observer = Some(observer);
    }

    /// Sets what resolves lazy `module:symbol` entries (a [`crate::plugin::Loader`]).
    pub fn set_resolver(&mut self, resolver: Arc<dyn Resolver>) {
        self.resolver = Some(resolver);
    }

    /// Maps an application error kind to a code (`{MyException: -32001}`). Codes from
    /// -32768 to -32100, the five predefined ones among them, are refused.
    pub fn map_error(&mut self, kind: &str, code: i64) -> Result<(), SetupError> {
        if (-32768..=-32100).contains(&code) {
            return Err(SetupError::ReservedCode { kind: kind.to_owned(), code });
        }
        self.errors.insert(kind.to_owned(), code);
        Ok(())
    }

    /// Processes a request given as a value (the original's `rpc({...}, b=3)`); `None` when
    /// nothing is to be answered.
    pub fn call(&self, request: &Value, extras: &Extras) -> Option<Value> {
        let body = serde_json::to_vec(request).expect("a Value serializes");
        let answer = self.handle(&body, extras)?;
        // Valid JSON, but possibly deeper than serde_json's Value follows (a procedure's result).
        Some(serde_json::from_slice(&answer).unwrap_or_else(|e| {
            let detail = format!("the answer does not fit a Value: {e}");
            serde_json::json!({"jsonrpc": "2.0", "error": {"code": error::INTERNAL_ERROR, "message": "Internal error", "data": detail}, "id": null})
        }))
    }

    /// Processes a body; `None` when nothing is to be answered (notifications only).
    pub fn handle(&self, body: &[u8], extras: &Extras) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(128);
        self.handle_into(body, extras, &mut out).then_some(out)
    }

    /// Processes a body, appending the answer to `out`; false when there is none.
    pub fn handle_into(&self, body: &[u8], extras: &Extras, out: &mut Vec<u8>) -> bool {
        self.handle_checked(body, extras, None, out, None)
    }

    /// As [`JsonRpc::handle_into`], for a caller who may call only the methods `may_call`
    /// allows. Every other call, existing or not, answers [`error::FORBIDDEN`] (in its place
    /// in a batch) and is not run.
    pub fn handle_into_for(
        &self,
        body: &[u8],
        extras: &Extras,
        may_call: &dyn Fn(&str) -> bool,
        out: &mut Vec<u8>,
    ) -> bool {
        self.handle_checked(body, extras, Some(may_call), out, None)
    }

    /// As [`JsonRpc::handle_into`] or [`JsonRpc::handle_into_for`], telling `seen` the methods
    /// called and the error codes answered (the server's access log).
    pub(crate) fn handle_into_seen(
        &self,
        body: &[u8],
        extras: &Extras,
        may_call: MayCall<'_>,
        out: &mut Vec<u8>,
        seen: &mut Seen,
    ) -> bool {
        self.handle_checked(body, extras, may_call, out, Some(seen))
    }

    fn handle_checked(
        &self,
        body: &[u8],
        extras: &Extras,
        may_call: MayCall<'_>,
        out: &mut Vec<u8>,
        mut seen: Option<&mut Seen>,
    ) -> bool {
        let mut code = |code| {
            if let Some(seen) = seen.as_deref_mut() {
                seen.code(Some(code));
            }
        };
        let start = out.len();
        let text = match std::str::from_utf8(body) {
            Ok(t) => t,
            Err(e) => {
                let detail = format!("invalid UTF-8 at byte {}", e.valid_up_to());
                write_error(out, error::PARSE_ERROR, Some(&detail), None, NULL_ID);
                code(error::PARSE_ERROR);
                return true;
            }
        };
        match request::parse(text, self.limits.max_batch) {
            Ok(Body::Single(item)) => self.item(item, extras, may_call, out, seen),
            Ok(Body::Batch(items)) if items.is_empty() => {
                write_error(out, error::INVALID_REQUEST, Some("empty batch"), None, NULL_ID);
                code(error::INVALID_REQUEST);
                true
            }
            Ok(Body::Batch(items)) => {
                out.push(b'[');
                for item in items {
                    let mark = out.len();
                    if self.item(item, extras, may_call, out, seen.as_deref_mut()) {
                        out.push(b',');
                    } else {
                        out.truncate(mark);
                    }
                }
                if out.len() == start + 1 {
                    out.truncate(start);
                    return false;
                }
                *out.last_mut().expect("a comma") = b']';
                true
            }
            Err(BodyError::TooLarge) => {
                let detail = format!("batch larger than {} requests", self.limits.max_batch);
                write_error(out, error::INVALID_REQUEST, Some(&detail), None, NULL_ID);
                code(error::INVALID_REQUEST);
                true
            }
            Err(BodyError::Parse(detail)) => {
                write_error(out, error::PARSE_ERROR, Some(&detail), None, NULL_ID);
                code(error::PARSE_ERROR);
                true
            }
        }
    }

    /// Answers in place of calls that did not finish in time: every request in `body` with a
    /// valid id gets the error `code` with `message` (a batch, an array of them); false when
    /// none has an id. Also names the methods called, for a log line.
    pub(crate) fn overdue_into(&self, body: &[u8], code: i64, message: &str, out: &mut Vec<u8>) -> (bool, String) {
        let text = std::str::from_utf8(body).unwrap_or("");
        let (items, batch) = match request::parse(text, self.limits.max_batch) {
            Ok(Body::Single(item)) => (vec![item], false),
            Ok(Body::Batch(items)) => (items, true),
            Err(_) => (Vec::new(), false),
        };
        let message = serde_json::to_string(message).expect("a string serializes");
        let mut methods = Vec::new();
        let start = out.len();
        for item in &items {
            let Item::Request(env) = item else { continue };
            methods.extend(env.method.map(|m| serde_json::from_str::<String>(m).unwrap_or_else(|_| m.to_owned())));
            if let Some(id) = env.id.filter(|id| valid_id(id)) {
                out.push(b',');
                write_raw_error(out, code, &message, None, id);
            }
        }
        let methods = match methods.as_slice() {
            [] => "no method".to_owned(),
            [one] => one.clone(),
            many => format!("a batch of {} ({})", many.len(), many.join(", ")),
        };
        if out.len() == start {
            return (false, methods);
        }
        if !batch {
            out.remove(start); // a single request: its answer alone, not in an array
        } else {
            out[start] = b'[';
            out.push(b']');
        }
        (true, methods)
    }

    /// Answers one batch member or single body; false for a notification.
    fn item(
        &self,
        item: Item<'_>,
        extras: &Extras,
        may_call: MayCall<'_>,
        out: &mut Vec<u8>,
        mut seen: Option<&mut Seen>,
    ) -> bool {
        let invalid = |seen: Option<&mut Seen>| {
            if let Some(seen) = seen {
                seen.code(Some(error::INVALID_REQUEST));
            }
        };
        let env = match item {
            Item::Request(env) => env,
            Item::NotObject => {
                write_error(out, error::INVALID_REQUEST, Some("not an object"), None, NULL_ID);
                invalid(seen);
                return true;
            }
        };
        let id = match env.id {
            None => None,
            Some(id) if valid_id(id) => Some(id),
            Some(_) => {
                let detail = "id must be a string, a number or null";
                write_error(out, error::INVALID_REQUEST, Some(detail), None, NULL_ID);
                invalid(seen);
                return true;
            }
        };
        let method = match self.validate(&env) {
            Ok(m) => m,
            Err(detail) => {
                write_error(out, error::INVALID_REQUEST, Some(&detail), None, id.unwrap_or(NULL_ID));
                invalid(seen);
                return true;
            }
        };
        if let Some(may_call) = may_call
            && !may_call(&method)
        {
            if let Some(observer) = &self.observer {
                observer(UNKNOWN_METHOD, Some(error::FORBIDDEN));
            }
            if let Some(seen) = seen {
                seen.call(&method, Some(error::FORBIDDEN));
            }
            let Some(id) = id else { return false };
            write_raw_error(out, error::FORBIDDEN, "\"Forbidden\"", Some("\"not allowed for this caller\""), id);
            return true;
        }
        let Some(id) = id else {
            // A notification: run it, answer nothing, not even an error.
            let mut scratch = Vec::new();
            let outcome = self.dispatch(&method, &env, extras, &mut scratch);
            self.observe(&method, &outcome, seen.as_deref_mut());
            return false;
        };
        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"result\":");
        let mark = out.len();
        let outcome = self.dispatch(&method, &env, extras, out);
        self.observe(&method, &outcome, seen);
        match outcome {
            Ok(()) => {
                out.extend_from_slice(b",\"id\":");
                out.extend_from_slice(id.as_bytes());
                out.push(b'}');
            }
            Err(failure) => {
                out.truncate(mark - b"{\"jsonrpc\":\"2.0\",\"result\":".len());
                self.write_failure(out, failure, id);
            }
        }
        true
    }

    /// Checks `jsonrpc`, `method` and `params`; returns the method name.
    fn validate<'a>(&self, env: &Envelope<'a>) -> Result<std::borrow::Cow<'a, str>, String> {
        if let Some(dup) = env.duplicate {
            return Err(format!("member \"{dup}\" given twice"));
        }
        match env.jsonrpc {
            // Raw value text: "2.0" is either exactly that or written with escapes.
            Some("\"2.0\"") => {}
            Some(v) if v.contains('\\') && serde_json::from_str::<String>(v).is_ok_and(|s| s == "2.0") => {}
            _ => return Err("jsonrpc must be exactly \"2.0\"".into()),
        }
        let method = match env.method {
            // Most names have no escapes: borrow them between the quotes.
            // (A plain loop: names are short, and memchr's setup costs more than it saves.)
            Some(m) if m.len() >= 2 && m.starts_with('"') && !m.bytes().any(|b| b == b'\\') => {
                std::borrow::Cow::Borrowed(&m[1..m.len() - 1])
            }
            Some(m) => match serde_json::from_str::<crate::json::Key>(m) {
                Ok(k) => k.0,
                Err(_) => return Err("method must be a string".into()),
            },
            None => return Err("method must be a string".into()),
        };
        if let Some(p) = env.params {
            if !matches!(p.as_bytes()[0], b'[' | b'{') {
                return Err("params must be an array or an object".into());
            }
            if p.len() > self.limits.max_depth && crate::json::valid::depth(p) > self.limits.max_depth {
                return Err(format!("params nested deeper than {}", self.limits.max_depth));
            }
        }
        Ok(method)
    }

    /// Finds, binds and runs a method, appending its result to `out`.
    fn dispatch(&self, method: &str, env: &Envelope<'_>, extras: &Extras, out: &mut Vec<u8>) -> Result<(), Failure> {
        let entry = self.methods.get(method).ok_or(Failure::NotFound(None))?;
        let procedure = self.procedure(method, &entry)?;
        let mut args = Args::new(procedure.signature(), env.params, extras);
        args.bind()?;
        match catch_unwind(AssertUnwindSafe(|| procedure.call(&args, out))) {
            Ok(r) => r,
            Err(panic) => {
                let msg = panic_message(&*panic);
                log::warn!("procedure {method} panicked: {msg}");
                Err(Failure::Internal(format!("procedure panicked: {msg}")))
            }
        }
    }

    /// The procedure of `method`'s entry, its library loaded on the first call. A target that
    /// fails is logged with its `module:symbol` (which may be a path); the client's answer
    /// names only the method.
    fn procedure<'e>(&self, method: &str, entry: &'e Entry) -> Result<&'e Arc<dyn Procedure>, Failure> {
        let crate::table::Kind::Lazy { target, resolved, warned } = &entry.0 else {
            return Ok(entry.procedure().expect("native entries have a procedure"));
        };
        if let Some(p) = resolved.get() {
            return Ok(p);
        }
        let Some(resolver) = &self.resolver else {
            log::warn!("cannot resolve {target} for {method}: no resolver for lazy targets");
            return Err(Failure::NotFound(Some(format!("{method:?} could not be loaded"))));
        };
        match resolver.resolve(target) {
            Ok(p) => Ok(resolved.get_or_init(|| p)),
            Err(e) => {
                if warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    log::debug!("cannot resolve {target} for {method}: {e}");
                } else {
                    log::warn!("cannot resolve {target} for {method}: {e} (further failures are logged at debug)");
                }
                Err(Failure::NotFound(Some(format!("{method:?} could not be loaded"))))
            }
        }
    }

    /// Tells the observer and `seen`, if any, how a call ended.
    fn observe(&self, method: &str, outcome: &Result<(), Failure>, seen: Option<&mut Seen>) {
        if let Some(seen) = seen {
            seen.call(method, outcome.as_ref().err().map(|f| self.code_of(f)));
        }
        let Some(observer) = &self.observer else { return };
        match outcome {
            Ok(()) => observer(method, None),
            Err(Failure::NotFound(None)) => observer(UNKNOWN_METHOD, Some(error::METHOD_NOT_FOUND)),
            Err(failure) => observer(method, Some(self.code_of(failure))),
        }
    }

    /// The error code a failure is answered with.
    fn code_of(&self, failure: &Failure) -> i64 {
        match failure {
            Failure::NotFound(_) => error::METHOD_NOT_FOUND,
            Failure::InvalidParams(_) => error::INVALID_PARAMS,
            Failure::Internal(_) => error::INTERNAL_ERROR,
            Failure::App(e) => self.errors.get(&e.kind).copied().unwrap_or(error::SERVER_ERROR),
        }
    }

    fn write_failure(&self, out: &mut Vec<u8>, failure: Failure, id: &str) {
        let code = self.code_of(&failure);
        match failure {
            Failure::NotFound(detail) => write_error(out, code, detail.as_deref(), None, id),
            Failure::InvalidParams(detail) => write_error(out, code, Some(&detail), None, id),
            Failure::Internal(detail) => {
                log::debug!("internal error: {detail}");
                write_error(out, code, None, None, id)
            }
            Failure::App(AppError { message, data, .. }) => write_app_error(out, code, &message, data.as_deref(), id),
        }
    }
}

const NULL_ID: &str = "null";

/// Which methods a caller may call; `None` for every method.
type MayCall<'a> = Option<&'a dyn Fn(&str) -> bool>;

/// An id may be a string, a number or null; never an object, array or boolean.
fn valid_id(id: &str) -> bool {
    matches!(id.as_bytes()[0], b'"' | b'-' | b'0'..=b'9' | b'n')
}

/// Writes an error response with the specification's message and an optional detail in `data`.
fn write_error(out: &mut Vec<u8>, code: i64, detail: Option<&str>, data: Option<&RawValue>, id: &str) {
    let message = error::spec_message(code).expect("a predefined code");
    let detail = detail.map(|d| serde_json::to_string(d).expect("a string serializes"));
    let data = data.map(RawValue::get).or(detail.as_deref());
    write_raw_error(out, code, &format!("\"{message}\""), data, id);
}

fn write_app_error(out: &mut Vec<u8>, code: i64, message: &str, data: Option<&RawValue>, id: &str) {
    let message = serde_json::to_string(message).expect("a string serializes");
    write_raw_error(out, code, &message, data.map(RawValue::get), id);
}

fn write_raw_error(out: &mut Vec<u8>, code: i64, message: &str, data: Option<&str>, id: &str) {
    use std::io::Write;
    let _ = write!(out, "{{\"jsonrpc\":\"2.0\",\"error\":{{\"code\":{code},\"message\":{message}");
    if let Some(data) = data {
        out.extend_from_slice(b",\"data\":");
        out.extend_from_slice(data.as_bytes());
    }
    out.extend_from_slice(b"},\"id\":");
    out.extend_from_slice(id.as_bytes());
    out.push(b'}');
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "procedure panicked".to_owned()
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
