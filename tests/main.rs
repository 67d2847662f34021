//! Integration tests: the real runjsonrpc2 binary and library, real plugins built by cargo, real HTTP.

mod access;
mod auth;
mod catalog;
mod cli;
mod client;
mod deploy;
mod discover;
mod http;
mod limits;
mod plugins;
mod process;
mod smuggle;
mod support;
