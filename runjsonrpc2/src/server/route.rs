//! Where a request goes once its head is read: the RPC path, health, metrics, static files,
//! or a refusal; and the call itself, with the server's `caller` and `remote_addr`.

use super::gate;
use super::reader::{Method, Request};
use super::shared::Shared;
use crate::auth::{User, Users};
use crate::seen::Seen;
use crate::signature::Extras;
use serde_json::value::RawValue;
use std::net::IpAddr;
use std::path::{Component, Path};

/// An answer other than the RPC path's, owned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// One line of plain text, and maybe a header.
    Text { status: u16, message: String, header: Option<(&'static str, String)> },
    /// 200 with this body.
    Data { content_type: &'static str, body: Vec<u8> },
}

impl Reply {
    pub(crate) fn text(status: u16, message: impl Into<String>) -> Reply {
        Reply::Text { status, message: message.into(), header: None }
    }
}

/// Where a request goes.
pub(crate) enum Verdict<'u> {
    /// The RPC path: its body is read and its calls run for this user (none without `--auth`).
    Call(Option<&'u User>),
    Reply(Reply),
}

/// Judges a request by its head: refusals first, then the door (`--auth`), then the route.
pub(crate) fn judge<'u>(
    shared: &Shared,
    request: &Request,
    users: Option<&'u Users>,
    ip: Option<IpAddr>,
) -> Verdict<'u> {
    let config = &shared.config;
    let path = request.path.as_str();
    let get = matches!(request.method, Method::Get | Method::Head);
    let user = match users {
        Some(users) if !(get && path == "/health") => {
            match gate::check(request.authorization.as_deref(), ip, users, &shared.failures) {
                Ok(user) => Some(user),
                Err(no) => {
                    return Verdict::Reply(Reply::Text {
                        status: no.status,
                        message: no.message,
                        header: Some(no.header),
                    });
                }
            }
        }
        _ => None,
    };
    if path == config.rpc_path {
        if request.method != Method::Post {
            let allow = Some(("Allow", "POST".to_owned()));
            return Verdict::Reply(Reply::Text {
                status: 405,
                message: "method not allowed: use POST".into(),
                header: allow,
            });
        }
        if let Err(message) = &request.content_type {
            return Verdict::Reply(Reply::text(415, message.clone()));
        }
        return Verdict::Call(user);
    }
    Verdict::Reply(match config.static_dir.as_deref() {
        _ if get && path == "/health" => Reply::text(200, "ok"),
        _ if get && path == "/metrics" && config.metrics => {
            let body = crate::metrics::page().into_bytes();
            Reply::Data { content_type: "text/plain; version=0.0.4; charset=utf-8", body }
        }
        Some(root) if get => serve_file(root, path),
        _ => Reply::text(404, "not found"),
    })
}

/// Runs the calls of `body` for `user`, the answer appended to `out`; whether there is one
/// (a request of notifications only has none).
/// With `seen`, the methods called and the error codes answered are told to it (the access log).
pub(crate) fn call(
    shared: &Shared,
    body: &[u8],
    user: Option<&User>,
    extras: &Extras,
    out: &mut Vec<u8>,
    seen: Option<&mut Seen>,
) -> bool {
    let may_call = |m: &str| user.is_none_or(|user| user.may_call(m));
    match (user, seen) {
        (None, None) => shared.rpc.handle_into(body, extras, out),
        (Some(user), None) => shared.rpc.handle_into_for(body, extras, &|m| user.may_call(m), out),
        (None, Some(seen)) => shared.rpc.handle_into_seen(body, extras, None, out, seen),
        (Some(_), Some(seen)) => shared.rpc.handle_into_seen(body, extras, Some(&may_call), out, seen),
    }
}

/// The server's extras with `caller` and `remote_addr` set for the request at hand, which a
/// client cannot supply. Rewritten only when they change: requests on one connection repeat them.
pub(crate) struct Who {
    extras: Extras,
    caller: Option<String>,
    remote: Option<IpAddr>,
}

impl Who {
    pub(crate) fn new(base: &Extras) -> Who {
        Who { extras: unknown_caller(base), caller: None, remote: None }
    }

    pub(crate) fn set(&mut self, caller: Option<&str>, remote: Option<IpAddr>) -> &Extras {
        if self.caller.as_deref() != caller {
            self.caller = caller.map(str::to_owned);
            let value = serde_json::value::to_raw_value(&caller).expect("a string serializes");
            self.extras.insert_raw(CALLER, value);
        }
        if self.remote != remote {
            self.remote = remote;
            let value = serde_json::value::to_raw_value(&remote.map(|ip| ip.to_string())).expect("serializes");
            self.extras.insert_raw(REMOTE_ADDR, value);
        }
        &self.extras
    }
}

/// The parameter that receives the authenticated user's name (null without `--auth`).
pub const CALLER: &str = "caller";
/// The parameter that receives the client's IP address.
pub const REMOTE_ADDR: &str = "remote_addr";

/// `base` with `caller` and `remote_addr` set to null, over any value of those names: what a
/// call gets when the server knows neither (and where it starts before it learns them).
pub(crate) fn unknown_caller(base: &Extras) -> Extras {
    let null = || RawValue::from_string("null".to_owned()).expect("null is JSON");
    let mut extras = base.clone();
    extras.insert_raw(CALLER, null());
    extras.insert_raw(REMOTE_ADDR, null());
    extras
}

#[inline(never)]
fn serve_file(root: &Path, path: &str) -> Reply {
    let relative = Path::new(path.trim_start_matches('/'));
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) || path.contains('\\') {
        return Reply::text(404, "not found");
    }
    let mut file = root.join(relative);
    if file.is_dir() {
        file.push("index.html");
    }
    let Ok(body) = std::fs::read(&file) else { return Reply::text(404, "not found") };
    let content_type = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    Reply::Data { content_type, body }
}
