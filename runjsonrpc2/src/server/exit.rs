//! Every way a request leaves the server, and so every way its connection goes on or ends.
//!
//! | way | through | then the connection |
//! | --- | --- | --- |
//! | [`respond`], [`reply`] | tiny_http's `Request::respond`: refusals, `/health`, files | tiny_http drains an unread announced body, then reads the next request or closes as asked |
//! | [`answer`], [`composed`] | `Request::into_writer`: the RPC path's answers framed by `wire.rs`, bodies read to the end | the same |
//! | [`strand`] | `Request::upgrade`, with `Connection: close`; the stream is never dropped | is never read again (a request tiny_http read behind it is discarded) |
//! | [`discard`] | `mem::forget`: a request read behind a stranded one | is never answered |
//!
//! A `Request` dropped otherwise is answered 500 by tiny_http; only a panic unwinding through
//! a call thread does that (`pool.rs` logs it). Write errors (a client gone, the write
//! timeout) are ignored on every way: the connection ends with them.

use super::wire::{Answer, Wire};
use std::io::Write;
use tiny_http::{Header, Request, Response, StatusCode};

/// Answers through tiny_http, with the body's length. (The one call site of
/// `Request::respond`: with one, the compiler inlines tiny_http's header checks into it.)
pub(crate) fn respond(request: Request, status: u16, headers: Vec<Header>, body: &[u8]) {
    if status >= 400 {
        crate::metrics::refused(status);
    }
    let response =
        Response::new(StatusCode(status), headers, body, Some(body.len()), None).with_chunked_threshold(usize::MAX);
    let _ = request.respond(response);
}

/// A one-line plain-text answer.
#[inline(never)]
pub(crate) fn reply(request: Request, status: u16, message: &str, header: Option<Header>) {
    let text = format!("{message}\n");
    let mut headers = vec![Header::from_bytes(&b"Content-Type"[..], &b"text/plain; charset=utf-8"[..]).expect("valid")];
    headers.extend(header);
    respond(request, status, headers, text.as_bytes());
}

/// Answers `request`, whose body was read to the end, as `wire` frames it; with `close`, the
/// answer asks the client to close the connection (the server stops).
pub(crate) fn answer(wire: &mut Wire, request: Request, answer: Answer<'_>, close: bool) {
    let (head, rest) = wire.frame(&request, answer, close);
    composed(request, head, rest);
}

/// Writes an answer composed whole (`head`, then `rest` when the body was not copied behind
/// it) and hands the connection back to tiny_http when the writer drops. The body must have
/// been read to the end: tiny_http drops the request, and would drain an unread body, before
/// the answer is written.
pub(crate) fn composed(request: Request, head: &[u8], rest: &[u8]) {
    let mut writer = request.into_writer();
    let _ = writer.write_all(head).and_then(|()| writer.write_all(rest)).and_then(|()| writer.flush());
}

/// Answers with `Connection: close` and never lets go of the connection: tiny_http neither
/// drains this body nor reads its rest as the next request. The connection keeps one parked
/// tiny_http thread and its socket until the process exits (see `guard.rs` for the bound).
pub(crate) fn strand(request: Request, status: u16, message: &str) {
    crate::metrics::refused(status);
    crate::metrics::stranded();
    let body = format!("{message}\n");
    // tiny_http writes an upgraded response with no Content-Length, so a client would wait for
    // a close that never comes; the length and `Connection: close` ride on the `Upgrade` value,
    // which tiny_http 0.12 writes verbatim (ASCII checked) as one more header line.
    let headers = format!("none\r\nConnection: close\r\nContent-Length: {}", body.len());
    let mut stream = request.upgrade(&headers, Response::empty(status));
    // tiny_http sends no body with an upgraded response; the stream takes it.
    let _ = stream.write_all(body.as_bytes()).and_then(|()| stream.flush());
    // Never dropped: dropping it would drain an announced body, or let tiny_http read the rest
    // of a chunked one as the next request.
    std::mem::forget(stream);
}

/// Lets go of a request read behind a stranded one without answering it: an answer would wait
/// for ever behind the stranded one (tiny_http writes a connection's answers in order), and so
/// would the 500 tiny_http sends for a dropped request. Its few hundred bytes stay allocated.
pub(crate) fn discard(request: Request) {
    std::mem::forget(request);
}
