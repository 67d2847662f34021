//! Refusing bodies announced over the limit without letting tiny_http 0.12 abort the process,
//! and chunked bodies without letting their rest be read as the next request.
//!
//! tiny_http drains an unread body when its request is dropped, allocating
//! `vec![0; remaining]` per turn, where `remaining` is what the client announced. Above what
//! the kernel will map (about RAM + swap) the allocation fails and the process aborts; below
//! it the pages stay untouched but the dropping thread blocks until the client sends the rest
//! or hangs up. There is no API to skip the drain, so:
//!
//! - announced up to [`DRAIN_LIMIT`]: answer 413 on a drainer thread (at most
//!   [`MAX_DRAINERS`] at once), so a silent client pins no worker;
//! - above it, or with every drainer busy: answer 413 through `upgrade`, which hands back the
//!   connection's stream (with `Connection: close`, so clients do not reuse it), and never
//!   drop that stream ("strand" it). Each stranded connection
//!   keeps one parked tiny_http thread and one socket until the process exits: a bounded
//!   leak of a few KiB of RSS, with a cap of [`MAX_STRANDED`]. At the cap the server stops
//!   gracefully and exits 1, for its supervisor to restart it, rather than grow further.
//!
//! A chunked body refused after part of it was read (over the limit, or not decodable), or a
//! body whose end is ambiguous, has no such drain, and tiny_http would read its rest as the
//! next request: [`refuse_over_long_chunked`] reads an over-long chunked one to its end on a
//! drainer thread before answering (or strands the connection when it cannot), and
//! [`refuse_and_close`] strands the connection of any other.

use super::ServeError;
use super::exit::{self, reply};
use super::pool::Shared;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tiny_http::Request;

/// The largest announced body that is drained rather than stranded: 64 MiB, which even a
/// small machine with strict overcommit maps 64 times over (the drainers' most). Also the
/// most of a refused chunked body that is read and discarded to find its end.
pub const DRAIN_LIMIT: usize = 64 << 20;
/// The most drainer threads at once.
pub const MAX_DRAINERS: usize = 64;
/// The most stranded connections before the server retires (or stops).
pub const MAX_STRANDED: usize = 256;
/// The most requests discarded behind stranded ones before the server retires (or stops):
/// each keeps a few hundred bytes that tiny_http would not let go.
pub const MAX_DISCARDED: usize = 4096;

/// Counts of drains under way and connections stranded.
#[derive(Default)]
pub struct Guard {
    drainers: Arc<AtomicUsize>,
    stranded: AtomicUsize,
}

/// What a drainer or a strand needs of the server, owned, to outlive the thread's borrow.
type Ward = Arc<Shared>;

/// Runs `work` on a drainer thread if one is free; gives the request back if not (every
/// drainer busy, or no thread can be started), for the caller to strand.
fn on_drainer(ward: &Ward, request: Request, work: impl FnOnce(Request, Ward) + Send + 'static) -> Option<Request> {
    let drainers = &ward.guard.drainers;
    // The slot is given back when the thread ends, or here if it is not taken or never starts.
    let slot = Slot(drainers.clone());
    if drainers.fetch_add(1, Ordering::SeqCst) >= MAX_DRAINERS {
        return Some(request);
    }
    // The request goes over only once the thread runs: a failed spawn would drop it (and
    // tiny_http would answer 500 and read on from wherever its body stopped).
    let (send, receive) = std::sync::mpsc::sync_channel::<Request>(1);
    let ward = ward.clone();
    let spawned = std::thread::Builder::new().name("rpc-drain".into()).spawn(move || {
        let _slot = slot;
        if let Ok(request) = receive.recv() {
            work(request, ward);
        }
    });
    match spawned {
        Ok(_) => send.send(request).err().map(|unsent| unsent.0),
        Err(e) => {
            log::warn!("cannot start a drainer thread ({e}): stranding the connection instead");
            Some(request)
        }
    }
}

/// A drainer's place among [`MAX_DRAINERS`], given back when dropped (a panic included).
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers 413 to a request whose announced body is over the limit, without reading it.
#[cold]
#[inline(never)]
pub fn refuse(request: Request, shared: &Arc<Shared>, announced: usize) {
    let message = format!("body of {announced} bytes is over the limit of {} bytes", shared.config.max_body);
    let what = format!("announcing {announced} bytes");
    if announced > DRAIN_LIMIT {
        return strand(request, shared, 413, &message, &what);
    }
    // `reply` drops the request after answering, which drains what the client still sends;
    // that ends when the client sends the rest or hangs up.
    let answer = message.clone();
    drain_or_strand(request, shared, move |request, _| reply(request, 413, &answer, None), &message, &what);
}

/// Answers 413 to a chunked body cut at the limit: its rest is read and discarded on a
/// drainer thread, then the answer goes out and the connection goes on (tiny_http does not
/// drain a chunked body, and would read its rest as the next request). One that goes on past
/// [`DRAIN_LIMIT`], breaks off, or finds no drainer is refused and closed instead.
#[cold]
#[inline(never)]
pub fn refuse_over_long_chunked(request: Request, shared: &Arc<Shared>, message: String) {
    let answer = message.clone();
    let drain = move |mut request: Request, ward: Ward| {
        let mut rest = request.as_reader().take(DRAIN_LIMIT as u64 + 1);
        match std::io::copy(&mut rest, &mut std::io::sink()) {
            Ok(n) if n <= DRAIN_LIMIT as u64 => reply(request, 413, &answer, None),
            Ok(_) => strand(request, &ward, 413, &answer, "whose chunked body went on past the drain limit"),
            Err(_) => strand(request, &ward, 413, &answer, "whose chunked body broke off"),
        }
    };
    drain_or_strand(request, shared, drain, &message, "with an over-long chunked body");
}

/// Answers a request whose body's rest must never be read as the next request, and closes:
/// a body whose end is ambiguous (see `framing`), or a chunked one that does not decode or
/// is not read at all (an upgrade). The answer says `Connection: close`; the connection is
/// stranded.
#[cold]
#[inline(never)]
pub fn refuse_and_close(request: Request, shared: &Arc<Shared>, status: u16, message: &str) {
    strand(request, shared, status, message, "whose body could not be delimited");
}

/// Runs `work` (which answers 413) on a drainer thread, or strands the connection with a 413
/// when no drainer can take it.
fn drain_or_strand(
    request: Request,
    shared: &Arc<Shared>,
    work: impl FnOnce(Request, Ward) + Send + 'static,
    message: &str,
    what: &str,
) {
    if let Some(request) = on_drainer(shared, request, work) {
        strand(request, shared, 413, message, what);
    }
}

/// Strands the connection (`exit::strand`) and counts it; at [`MAX_STRANDED`] the server
/// retires (or stops). Requests tiny_http read behind it are discarded by the intake.
fn strand(request: Request, ward: &Ward, status: u16, message: &str, what: &str) {
    ward.strand(request.remote_addr().copied());
    let stranded = ward.guard.stranded.fetch_add(1, Ordering::SeqCst) + 1;
    exit::strand(request, status, message);
    log::warn!("stranded a connection {what} ({stranded} of at most {MAX_STRANDED})");
    if stranded == MAX_STRANDED {
        ward.stopper.fail(ServeError::Stranded);
    }
}
