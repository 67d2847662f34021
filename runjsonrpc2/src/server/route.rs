//! Answering one HTTP request: the RPC path, health, static files, and every refusal (each
//! leaves through `exit.rs`).

use super::deadline::Slot;
use super::exit::{self, reply};
use super::framing::{Framing, Heads};
use super::gate;
use super::guard;
use super::pool::Shared;
use super::wire::{Answer, Wire};
use crate::auth::User;
use crate::signature::Extras;
use serde_json::value::RawValue;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Component, Path};
use std::sync::Arc;
use tiny_http::{Header, Method, Request};

const ACCEPTED: &str = "application/json, application/json-rpc or application/jsonrequest";
const NO_UPGRADES: &str = "protocol upgrades are not supported";

/// What the intake reads of a request's headers, in one pass (see `pool.rs`).
pub(crate) struct Verdict {
    /// How the body is delimited, or why that is ambiguous (the connection is then stranded).
    pub(crate) framing: Result<Framing, (u16, String)>,
    upgrade: bool,
    /// A POST's Content-Type, checked (a refusal allocates, so only POSTs are checked).
    content_type: Result<(), String>,
}

impl Verdict {
    pub(crate) fn of(request: &Request) -> Verdict {
        let heads = Heads::of(request);
        let post = *request.method() == Method::Post;
        Verdict {
            framing: heads.framing(),
            upgrade: heads.upgrade,
            content_type: if post { check_content_type(heads.content_type) } else { Ok(()) },
        }
    }
}

/// What a call thread keeps from one request to the next.
pub(crate) struct Scratch {
    body: Arc<Vec<u8>>,
    out: Vec<u8>,
    wire: Wire,
    who: Who,
}

impl Scratch {
    pub(crate) fn new(extras: &Extras) -> Scratch {
        Scratch { body: Arc::new(Vec::new()), out: Vec::new(), wire: Wire::new(), who: Who::new(extras) }
    }

    /// A rare large body or answer should not keep its memory for the life of the thread.
    pub(crate) fn shrink(&mut self) {
        if self.body.capacity() > 1 << 20 {
            self.body = Arc::new(Vec::new());
        }
        if self.out.capacity() > 1 << 20 {
            self.out = Vec::new();
        }
    }
}

/// The server's extras with `caller` and `remote_addr` set for the request at hand, which a
/// client cannot supply. Rewritten only when they change: requests on one connection repeat them.
struct Who {
    extras: Extras,
    caller: Option<String>,
    remote: Option<IpAddr>,
}

impl Who {
    fn new(base: &Extras) -> Who {
        Who { extras: unknown_caller(base), caller: None, remote: None }
    }

    fn set(&mut self, caller: Option<&str>, remote: Option<IpAddr>) -> &Extras {
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

pub(crate) fn handle(
    request: Request,
    verdict: Verdict,
    shared: &Arc<Shared>,
    slot: Option<&Slot>,
    scratch: &mut Scratch,
) {
    let Scratch { body, out, wire, who } = scratch;
    let mut request = request;
    let config = &shared.config;
    log::debug!("{} {}", request.method(), request.url());
    let Verdict { framing, upgrade, content_type } = verdict;
    let read = match framing {
        // The connection cannot go on: where this body ends is ambiguous.
        Err((status, message)) => return guard::refuse_and_close(request, shared, status, &message),
        // tiny_http may or may not take this for an upgrade (it looks at the first
        // `Connection` header only); either way the body is not read here, so nothing may be
        // read after it.
        Ok(Framing::Chunked) if upgrade => {
            return guard::refuse_and_close(request, shared, 400, NO_UPGRADES);
        }
        // Read before any answer, whatever the route: tiny_http does not drain an unread
        // chunked body, and would read it as the next request.
        Ok(Framing::Chunked) => match read_body(&mut request, config.max_body, Arc::make_mut(body)) {
            Ok(()) => true,
            Err(unread) => return refuse_unread(request, shared, unread),
        },
        Ok(Framing::Length) => match request.body_length() {
            // Whatever the route: a body this large is never read, and never drained here.
            Some(announced) if announced > config.max_body => return guard::refuse(request, shared, announced),
            _ => false,
        },
    };
    let url = request.url();
    let path = url.as_bytes().iter().position(|&b| b == b'?').map_or(url, |end| &url[..end]);
    let get = matches!(request.method(), Method::Get | Method::Head);
    // The users as they are now (a single process replaces them on SIGHUP).
    let users = match config.auth.is_some() && !(get && path == "/health") {
        true => shared.users.read().unwrap_or_else(|e| e.into_inner()).clone(),
        false => None,
    };
    let user = match &users {
        Some(users) => match gate::check(&request, users, &shared.failures) {
            Ok(user) => Some(user),
            Err(no) => return reply(request, no.status, &no.message, Some(no.header)),
        },
        None => None,
    };
    if path == config.rpc_path {
        if *request.method() != Method::Post {
            let allow = Header::from_bytes(&b"Allow"[..], &b"POST"[..]).expect("valid header");
            return reply(request, 405, "method not allowed: use POST", Some(allow));
        }
        if let Err(message) = content_type {
            return reply(request, 415, &message, None);
        }
        if upgrade {
            // tiny_http would hand the raw socket over as the body, whatever Content-Length
            // says; JSON-RPC has no use for it.
            return reply(request, 400, NO_UPGRADES, None);
        }
        if !read && let Err(unread) = read_body(&mut request, config.max_body, Arc::make_mut(body)) {
            return refuse_unread(request, shared, unread);
        }
        out.clear();
        let started = config.metrics.then(std::time::Instant::now);
        // With a deadline the request waits in the thread's slot, where the watchdog can
        // answer it in time if the calls do not return.
        let extras = who.set(user.map(User::name), request.remote_addr().map(|a| a.ip()));
        let run = |body: &[u8], out: &mut Vec<u8>| match user {
            None => shared.rpc.handle_into(body, extras, out),
            Some(user) => shared.rpc.handle_into_for(body, extras, &|m| user.may_call(m), out),
        };
        let (request, answered) = match slot {
            None => (Some(request), run(body, out)),
            Some(slot) => {
                slot.begin(shared, request, body);
                let answered = run(body, out);
                (slot.end(shared), answered)
            }
        };
        let Some(request) = request else { return }; // answered at the deadline
        let answer = if answered { Answer::Json(out) } else { Answer::NoContent };
        exit::answer(wire, request, answer, shared.stopper.stopping());
        if let Some(started) = started {
            crate::metrics::latency(started.elapsed());
        }
        return;
    }
    match config.static_dir.as_deref() {
        _ if get && path == "/health" => reply(request, 200, "ok", None),
        _ if get && path == "/metrics" && config.metrics => {
            let kind = Header::from_bytes(&b"Content-Type"[..], &b"text/plain; version=0.0.4; charset=utf-8"[..]);
            exit::respond(request, 200, vec![kind.expect("valid header")], crate::metrics::page().as_bytes())
        }
        Some(root) if get => {
            let path = path.to_owned();
            serve_file(request, root, &path)
        }
        _ => reply(request, 404, "not found", None),
    }
}

/// Why a body was not read whole.
enum Unread {
    /// Past `max` bytes (only a chunked body gets there: an announced length is within it).
    TooLarge(usize),
    /// The client stopped before the length it announced.
    Short { got: usize, announced: usize },
    /// Reading failed (for a chunked body: a chunk that does not decode).
    Failed(std::io::Error),
}

/// Reads the whole body, at most `max` bytes, into `body`.
fn read_body(request: &mut Request, max: usize, body: &mut Vec<u8>) -> Result<(), Unread> {
    body.clear();
    // An announced length is within the limit (see `handle`); the room for it is reserved
    // but only filled as bytes arrive.
    let announced = request.body_length();
    body.reserve(announced.unwrap_or(0));
    let read = match announced {
        // tiny_http stops at the announced length itself, and reads a short body at once;
        // except for an upgrade, where the body is the raw socket: those are refused first.
        Some(_) => request.as_reader().read_to_end(body),
        None => request.as_reader().take(max as u64 + 1).read_to_end(body),
    };
    match read {
        Ok(_) if body.len() > max => Err(Unread::TooLarge(max)),
        Ok(got) => match announced {
            Some(announced) if got < announced => Err(Unread::Short { got, announced }),
            _ => Ok(()),
        },
        Err(e) => Err(Unread::Failed(e)),
    }
}

/// Answers a body not read whole. The rest of a chunked one must not be read as a request,
/// which `guard` sees to; an announced one tiny_http drains (or the client has gone).
#[cold]
#[inline(never)]
fn refuse_unread(request: Request, shared: &Arc<Shared>, unread: Unread) {
    let chunked = request.body_length().is_none();
    let too_large = matches!(unread, Unread::TooLarge(_));
    let (status, message) = match unread {
        Unread::TooLarge(max) => (413, format!("body over the limit of {max} bytes")),
        Unread::Short { got, announced } => (400, format!("body ended after {got} of the {announced} bytes announced")),
        Unread::Failed(e) => (400, format!("cannot read the body: {e}")),
    };
    match (chunked, too_large) {
        (false, _) => reply(request, status, &message, None),
        (true, true) => guard::refuse_over_long_chunked(request, shared, message),
        (true, false) => guard::refuse_and_close(request, shared, status, &message),
    }
}

/// Accepts the JSON types, any case, with parameters; a charset other than UTF-8 is refused.
fn check_content_type(value: Option<&str>) -> Result<(), String> {
    let Some(value) = value else {
        return Err(format!("missing Content-Type: use {ACCEPTED}"));
    };
    if value.eq_ignore_ascii_case("application/json") {
        return Ok(()); // what nearly every client sends
    }
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or("").trim();
    let accepted = ["application/json", "application/json-rpc", "application/jsonrequest"];
    if !accepted.iter().any(|a| mime.eq_ignore_ascii_case(a)) {
        return Err(format!("unsupported Content-Type {value:?}: use {ACCEPTED}"));
    }
    for param in parts {
        let (key, val) = param.split_once('=').unwrap_or((param, ""));
        let val = val.trim().trim_matches('"');
        if key.trim().eq_ignore_ascii_case("charset") && !val.eq_ignore_ascii_case("utf-8") {
            return Err(format!("unsupported charset {val:?}: use UTF-8"));
        }
    }
    Ok(())
}

#[inline(never)]
fn serve_file(request: Request, root: &Path, path: &str) {
    let relative = Path::new(path.trim_start_matches('/'));
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) || path.contains('\\') {
        return reply(request, 404, "not found", None);
    }
    let mut file = root.join(relative);
    if file.is_dir() {
        file.push("index.html");
    }
    let Ok(data) = std::fs::read(&file) else { return reply(request, 404, "not found", None) };
    let kind = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    let header = Header::from_bytes(&b"Content-Type"[..], kind.as_bytes()).expect("valid header");
    exit::respond(request, 200, vec![header], &data);
}
