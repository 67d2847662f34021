//! Error types: the JSON-RPC error codes, application errors and procedure failures.

use serde_json::value::RawValue;
use std::fmt;

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid Request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist or is not available.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal JSON-RPC error.
pub const INTERNAL_ERROR: i64 = -32603;
/// The code of an application error whose kind has no mapped code.
pub const SERVER_ERROR: i64 = -32000;
/// The caller may not call the method (`--auth`'s patterns). Answered before the method is
/// looked up: the same whether it exists or not.
pub const FORBIDDEN: i64 = -32098;

/// An error and its sources, `outer: inner: ...` (as anyhow's `{:#}` prints them).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// The specification's message for a predefined code.
pub fn spec_message(code: i64) -> Option<&'static str> {
    Some(match code {
        PARSE_ERROR => "Parse error",
        INVALID_REQUEST => "Invalid Request",
        METHOD_NOT_FOUND => "Method not found",
        INVALID_PARAMS => "Invalid params",
        INTERNAL_ERROR => "Internal error",
        _ => return None,
    })
}

/// An error a procedure returns on purpose: the counterpart of raising an exception.
///
/// The `kind` (a type name such as `MyException`) selects the JSON-RPC code
/// through the engine's error map; unmapped kinds answer [`SERVER_ERROR`].
#[derive(Debug, Clone)]
pub struct AppError {
    /// What kind of error this is, matched by the error map (`--error KIND=CODE`).
    pub kind: String,
    /// The error object's `message`, for people.
    pub message: String,
    /// JSON text for the error object's `data` member.
    pub data: Option<Box<RawValue>>,
}

impl AppError {
    /// An application error with a kind and a message and no data.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError { kind: kind.into(), message: message.into(), data: None }
    }

    /// Attaches `data`, serialized to JSON. Data that cannot be serialized (a map with
    /// non-string keys, say) is replaced by a string saying why, so the client learns of it.
    pub fn with_data(mut self, data: &impl serde::Serialize) -> AppError {
        let raw = serde_json::value::to_raw_value(data).unwrap_or_else(|e| {
            let why = format!("the error's data could not be serialized: {e}");
            serde_json::value::to_raw_value(&why).expect("a string serializes")
        });
        self.data = Some(raw);
        self
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for AppError {}

/// Why a procedure call did not produce a result.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// No such method, or its lazy target could not be resolved (the detail says which).
    NotFound(Option<String>),
    /// The arguments do not fit the procedure (-32602); the detail names the parameter.
    InvalidParams(String),
    /// The procedure reported an application error.
    App(AppError),
    /// The procedure failed in a way the client cannot fix (-32603): a panic, bad output.
    Internal(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NotFound(None) => f.write_str("method not found"),
            Failure::NotFound(Some(detail)) => write!(f, "method not found: {detail}"),
            Failure::InvalidParams(detail) => write!(f, "invalid params: {detail}"),
            Failure::App(e) => write!(f, "application error {e}"),
            Failure::Internal(detail) => write!(f, "internal error: {detail}"),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::App(e) => Some(e),
            _ => None,
        }
    }
}

impl Failure {
    /// Shorthand for an [`Failure::InvalidParams`] naming a parameter.
    pub fn param(name: &str, what: impl fmt::Display) -> Failure {
        Failure::InvalidParams(format!("{what} \"{name}\""))
    }
}

/// A mistake in setting up the engine: a bad signature, target or error code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetupError {
    /// A parameter list that cannot be bound (duplicates, variadic not last, bad default).
    Signature(String),
    /// A lazy target that is not `module:symbol`.
    Target(String),
    /// An error code inside the range the specification reserves.
    ReservedCode {
        /// The application error kind being mapped.
        kind: String,
        /// The reserved code it was to get.
        code: i64,
    },
    /// A native procedure whose arity differs from its parameter list.
    Arity {
        /// Parameters in the list.
        params: usize,
        /// Arguments the procedure takes.
        expected: usize,
    },
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Signature(s) => write!(f, "bad parameter list: {s}"),
            SetupError::Target(t) => write!(f, "bad lazy target {t:?}: expected module:symbol"),
            SetupError::ReservedCode { kind, code } => match spec_message(*code) {
                Some(m) => write!(f, "error code {code} for {kind} is reserved by JSON-RPC 2.0 ({m})"),
                None => {
                    write!(f, "error code {code} for {kind} is in the range JSON-RPC 2.0 reserves (-32768 to -32100)")
                }
            },
            SetupError::Arity { params, expected } => {
                write!(f, "{params} parameters declared, the procedure takes {expected}")
            }
        }
    }
}

impl std::error::Error for SetupError {}
