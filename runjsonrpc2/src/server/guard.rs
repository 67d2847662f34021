//! Refusing bodies announced over the limit without letting tiny_http 0.12 abort the process.
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

use super::Shared;
use super::route::reply;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tiny_http::{Request, Response};

/// The largest announced body that is drained rather than stranded: 64 MiB, which even a
/// small machine with strict overcommit maps 64 times over (the drainers' most).
pub const DRAIN_LIMIT: usize = 64 << 20;
/// The most drainer threads at once.
pub const MAX_DRAINERS: usize = 64;
/// The most stranded connections before the server stops.
pub const MAX_STRANDED: usize = 256;

/// Counts of drains under way and connections stranded.
#[derive(Default)]
pub struct Guard {
    drainers: Arc<AtomicUsize>,
    stranded: AtomicUsize,
}

/// Answers 413 to a request whose announced body is over the limit, without reading it.
#[cold]
#[inline(never)]
pub fn refuse(request: Request, shared: &Shared, announced: usize) {
    let message = format!("body of {announced} bytes is over the limit of {} bytes", shared.config.max_body);
    let guard = &shared.guard;
    if announced <= DRAIN_LIMIT {
        if guard.drainers.fetch_add(1, Ordering::SeqCst) < MAX_DRAINERS {
            let drainers = guard.drainers.clone();
            // `reply` drops the request after answering, which drains what the client still
            // sends; that ends when the client sends the rest or hangs up.
            let spawned = std::thread::Builder::new().name("rpc-drain".into()).spawn(move || {
                reply(request, 413, &message, None);
                drainers.fetch_sub(1, Ordering::SeqCst);
            });
            if let Err(e) = spawned {
                guard.drainers.fetch_sub(1, Ordering::SeqCst);
                log::warn!("cannot start a drainer thread ({e}): the request was dropped unanswered");
            }
            return;
        }
        guard.drainers.fetch_sub(1, Ordering::SeqCst);
    }
    let stranded = guard.stranded.fetch_add(1, Ordering::SeqCst) + 1;
    let body = format!("{message}\n");
    // tiny_http writes an upgraded response with no Content-Length, so a client would wait for
    // a close that never comes; the length and `Connection: close` ride on the `Upgrade` value,
    // which tiny_http 0.12 writes verbatim (ASCII checked) as one more header line.
    let headers = format!("none\r\nConnection: close\r\nContent-Length: {}", body.len());
    let mut stream = request.upgrade(&headers, Response::empty(413));
    // tiny_http sends no body with an upgraded response; the stream takes it.
    let _ = stream.write_all(body.as_bytes()).and_then(|()| stream.flush());
    // Never dropped: dropping it would run tiny_http's drain of `announced` bytes.
    std::mem::forget(stream);
    log::warn!("stranded a connection announcing {announced} bytes ({stranded} of at most {MAX_STRANDED})");
    if stranded == MAX_STRANDED {
        log::error!("{MAX_STRANDED} connections stranded by over-long bodies: stopping for a restart");
        shared.stopper.fail(super::Fault::Stranded);
    }
}
