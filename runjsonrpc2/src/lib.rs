//! runjsonrpc2: serve procedures from plugins as JSON-RPC 2.0 (a Rust rebuild of Python's jsonrpc2).
//!
//! Three layers, each usable alone:
//!
//! - [`JsonRpc`], the engine: a dict-like method table ([`Methods`]) of native procedures
//!   ([`procedure`], [`raw`]) and lazy `module:symbol` [`Target`]s, processing bodies to
//!   answers with no I/O ([`JsonRpc::handle_into`]).
//! - [`plugin`]: the [`plugin::Loader`] opens plugin libraries, registers their methods and
//!   resolves lazy targets (it is a [`Resolver`]).
//! - [`server`]: HTTP for an engine ([`server::bind`], [`server::Listening`]), and [`app`]:
//!   the whole `runjsonrpc2` command (master, workers, config files) as one call.
//!
//! ```
//! use runjsonrpc2::{Extras, JsonRpc, procedure};
//!
//! let rpc = JsonRpc::new();
//! rpc.methods().insert("add", procedure(&["a", "b"], |a: i64, b: i64| Ok(a + b)).unwrap());
//! let answer = rpc.handle(br#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#, &Extras::new());
//! assert_eq!(answer.unwrap(), br#"{"jsonrpc":"2.0","result":3,"id":1}"#);
//! ```
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod app;
pub mod auth;
mod cli;
mod client;
mod command;
mod config;
mod discover;
mod engine;
pub mod error;
mod failure;
mod json;
mod master;
mod metrics;
pub mod plugin;
mod pretty;
mod procedure;
mod protocol;
// Public for the fuzz target only (fuzz/, built with `cfg(fuzzing)`), which compares its two
// parsers; private otherwise.
#[cfg(fuzzing)]
#[allow(missing_docs)]
pub mod request;
#[cfg(not(fuzzing))]
mod request;
mod seen;
pub mod server;
mod setup;
mod signature;
mod sys;
mod table;
mod template;
mod worker;

pub use engine::{JsonRpc, Limits, Observer, UNKNOWN_METHOD};
pub use error::{AppError, Failure, SetupError};
pub use procedure::{Procedure, Raw, Typed, procedure, raw};
pub use signature::{Args, Extras, Param, ParamKind, Signature};
pub use table::{Entry, Methods, Resolver, Target};

/// The README's Rust examples, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
