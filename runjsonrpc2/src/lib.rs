//! runjsonrpc2: serve procedures from plugins as JSON-RPC 2.0 (a Rust rebuild of Python's jsonrpc2).
//!
//! The core is [`JsonRpc`], a pure processor (bytes in, bytes out) with a dict-like method
//! table; the plugin loader resolves lazy `module:symbol` entries, and the server module
//! carries it over HTTP.

pub mod auth;
pub mod cli;
pub mod command;
pub mod config;
pub mod engine;
pub mod error;
mod json;
pub mod master;
pub mod metrics;
pub mod plugin;
pub mod procedure;
pub mod request;
pub mod server;
pub mod signature;
mod sys;
pub mod table;
pub mod template;
pub mod worker;

pub use engine::{JsonRpc, Limits};
pub use error::{AppError, Failure, SetupError};
pub use procedure::{Procedure, procedure, raw};
pub use signature::{Args, Extras, Param, ParamKind, Signature};
pub use table::{Entry, Methods, Resolver, Target};

/// The README's Rust examples, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
