//! The call threads: a pool that grows while every thread is busy, and the intake through
//! which every request reaches one of them.
//!
//! The intake takes requests off tiny_http's queue one at a time, under a lock, and reads
//! their framing there. A request whose body's end is ambiguous is refused and its connection
//! stranded; tiny_http may already have read a request pipelined behind it (a small body is
//! read whole before the request is queued), and that request must never run: it may be the
//! body as a proxy saw it. Because the intake judges a connection's requests in the order
//! tiny_http queued them, the stranded connection is known before any request behind it is
//! taken, and those are discarded at once: never run, never answered, holding no thread
//! (answering would block for ever behind the stranded answer, which is never finished).

use super::deadline::Deadlines;
use super::kick::{Kicker, Recent};
use super::route::{self, Verdict};
use super::{Event, HttpConfig, ServeError, Stopper, guard};
use crate::engine::JsonRpc;
use crate::signature::Extras;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A thread above the pool's starting size leaves after this long without a request.
const IDLE: Duration = Duration::from_secs(10);
/// Stopping: the queue must stay empty this long, with no call running, before threads leave.
const QUIET: Duration = Duration::from_millis(100);

/// What every call thread shares.
pub(crate) struct Shared {
    pub(crate) rpc: Arc<JsonRpc>,
    pub(crate) extras: Arc<Extras>,
    pub(crate) config: HttpConfig,
    pub(crate) guard: guard::Guard,
    pub(crate) stopper: Stopper,
    pub(crate) pool: Pool,
    pub(crate) deadlines: Deadlines,
    /// Failed logins per address (`--auth`).
    pub(crate) failures: crate::auth::Failures,
    /// The users `--auth` checks (see `Listening`).
    pub(crate) users: super::Users,
    kicker: Arc<Kicker>,
    intake: Mutex<Intake>,
    /// Peers whose connection is stranded, with when a request last came from each (locked
    /// briefly, never while waiting for a request).
    stranded: Mutex<HashMap<SocketAddr, Instant>>,
    /// Requests taken, for `max_requests`.
    served: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        rpc: Arc<JsonRpc>,
        extras: Arc<Extras>,
        config: HttpConfig,
        users: super::Users,
        stopper: Stopper,
        addr: SocketAddr,
    ) -> Arc<Shared> {
        let cap = match config.threads {
            0 => super::DEFAULT_THREADS,
            n => n,
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let done = stopper.clone();
        Arc::new(Shared {
            kicker: Kicker::start(addr, move || done.stopping()),
            deadlines: Deadlines::new(config.timeout),
            failures: Default::default(),
            users,
            rpc,
            extras,
            config,
            guard: guard::Guard::default(),
            stopper,
            pool: Pool {
                live: AtomicUsize::new(0),
                busy: AtomicUsize::new(0),
                overdue: AtomicUsize::new(0),
                min: cores.min(cap),
                cap,
            },
            intake: Mutex::new(Intake::default()),
            stranded: Mutex::new(HashMap::new()),
            served: AtomicU64::new(0),
        })
    }

    /// Marks the connection of `request` stranded: requests read from it later are discarded.
    pub(crate) fn strand(&self, peer: Option<SocketAddr>) {
        if let Some(peer) = peer {
            remember(&mut self.stranded.lock().unwrap_or_else(|e| e.into_inner()), peer);
        }
    }
}

/// The call threads' counts.
pub(crate) struct Pool {
    /// Threads running.
    live: AtomicUsize,
    /// Threads handling a request.
    busy: AtomicUsize,
    /// Threads in a call already answered past its deadline (see `deadline`).
    pub(crate) overdue: AtomicUsize,
    /// The pool's starting size, below which idle threads stay.
    min: usize,
    /// The most threads.
    cap: usize,
}

impl Pool {
    pub(crate) fn busy(&self) -> usize {
        self.busy.load(Ordering::SeqCst)
    }

    /// The threads a stop waits for: all but those stuck past their deadline.
    pub(crate) fn waited_for(&self) -> usize {
        self.live.load(Ordering::SeqCst).saturating_sub(self.overdue.load(Ordering::SeqCst))
    }
}

/// What the intake lock guards (held while waiting for a request).
#[derive(Default)]
struct Intake {
    /// Connections seen lately, to notice new ones (see `kick`).
    recent: Recent,
    /// Requests discarded from stranded connections.
    discarded: usize,
    /// Stopping, the queue stayed empty: threads leave once it is empty again.
    drained: bool,
}

/// Starts the pool's first threads and, with a deadline, its watchdog.
pub(crate) fn start(server: &Arc<tiny_http::Server>, shared: &Arc<Shared>) {
    for _ in 0..shared.pool.min {
        spawn(server, shared);
    }
    if shared.config.timeout.is_some() {
        super::deadline::watch(shared.clone());
    }
}

/// Starts one more call thread, unless the pool is at its cap.
fn spawn(server: &Arc<tiny_http::Server>, shared: &Arc<Shared>) {
    let pool = &shared.pool;
    if pool.live.fetch_add(1, Ordering::SeqCst) >= pool.cap {
        pool.live.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let (server, thread_shared) = (server.clone(), shared.clone());
    let spawned = std::thread::Builder::new().name("rpc-call".into()).spawn(move || run(&server, &thread_shared));
    if let Err(e) = spawned {
        pool.live.fetch_sub(1, Ordering::SeqCst);
        log::warn!("cannot start a call thread: {e}");
        if pool.live.load(Ordering::SeqCst) == 0 {
            shared.stopper.fail(ServeError::Accept(e));
        }
    }
}

/// Counts a thread out when it leaves, however it leaves.
struct Leave<'a>(&'a Shared);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.pool.live.fetch_sub(1, Ordering::SeqCst);
        self.0.stopper.send(Event::Left);
    }
}

fn run(server: &Arc<tiny_http::Server>, shared: &Arc<Shared>) {
    let _leave = Leave(shared);
    let slot = shared.deadlines.register();
    let mut scratch = route::Scratch::new(&shared.extras);
    while let Some((request, verdict)) = next(server, shared) {
        let pool = &shared.pool;
        let busy = pool.busy.fetch_add(1, Ordering::SeqCst) + 1;
        if busy >= pool.live.load(Ordering::SeqCst) && !shared.stopper.stopping() {
            // Every thread is busy: one more waits for the next request.
            spawn(server, shared);
        }
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            route::handle(request, verdict, shared, slot.as_deref(), &mut scratch)
        }));
        if let Err(panic) = handled {
            let message = crate::engine::panic_message(panic.as_ref());
            log::error!("a call thread panicked outside any procedure ({message}); it goes on");
            // A request left in the slot is let go (tiny_http answers it 500).
            if let Some(slot) = &slot {
                drop(slot.end(shared));
            }
        }
        pool.busy.fetch_sub(1, Ordering::SeqCst);
        if let Some(max) = shared.config.max_requests
            && shared.served.fetch_add(1, Ordering::SeqCst) + 1 == max
        {
            shared.stopper.retire(&format!("served {max} requests (--max-requests)"));
        }
        scratch.shrink();
    }
    shared.deadlines.unregister(slot);
}

/// The next request for this thread with its framing read, or `None` when the thread should
/// leave (stopping and drained, or idle above the pool's starting size).
fn next(server: &tiny_http::Server, shared: &Shared) -> Option<(tiny_http::Request, Verdict)> {
    let mut intake = shared.intake.lock().unwrap_or_else(|e| e.into_inner());
    let (pool, stopper) = (&shared.pool, &shared.stopper);
    loop {
        let request = if stopper.stopping() {
            if intake.drained {
                match server.try_recv() {
                    Ok(Some(r)) => r,
                    _ => return None,
                }
            } else {
                // Answer what is queued, then leave once the queue stays empty with no call
                // running (their connections may still send). The stop's unblock token and
                // the accept loop's final error come through here too.
                let asked = Instant::now();
                match server.recv_timeout(QUIET) {
                    Ok(Some(r)) => r,
                    Ok(None) if asked.elapsed() < QUIET => continue,
                    Err(_) => {
                        stopper.0.accept.ended();
                        continue;
                    }
                    Ok(None) if pool.busy() > pool.overdue.load(Ordering::SeqCst) => continue,
                    Ok(None) => {
                        intake.drained = true;
                        return None;
                    }
                }
            }
        } else if pool.live.load(Ordering::SeqCst) > pool.min {
            match server.recv_timeout(IDLE) {
                Ok(Some(r)) => r,
                Ok(None) if stopper.stopping() => continue,
                // Idle: the pool shrinks by this thread, unless it is the only one waiting
                // (the others busy, maybe for long): a request must find a thread waiting.
                Ok(None) if pool.live.load(Ordering::SeqCst) - pool.busy() > 1 => return None,
                Ok(None) => continue,
                Err(e) => {
                    accept_failed(shared, e);
                    continue;
                }
            }
        } else {
            match server.recv() {
                Ok(r) => r,
                // A stop's unblock token (stopping is set before it is sent).
                Err(_) if stopper.stopping() => continue,
                Err(e) => {
                    accept_failed(shared, e);
                    continue;
                }
            }
        };
        let peer = request.remote_addr().copied();
        let mut stranded = shared.stranded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(peer) = peer.filter(|p| !stranded.is_empty() && stranded.contains_key(p)) {
            remember(&mut stranded, peer);
            drop(stranded);
            intake.discarded += 1;
            log::debug!("discarded a request behind a stranded connection from {peer}");
            super::exit::discard(request);
            if intake.discarded == guard::MAX_DISCARDED {
                stopper.fail(ServeError::Stranded);
            }
            continue;
        }
        let verdict = Verdict::of(&request);
        if let Some(peer) = peer.filter(|_| verdict.framing.is_err()) {
            remember(&mut stranded, peer);
        }
        drop(stranded);
        if let Some(peer) = peer
            && intake.recent.is_new(peer)
        {
            shared.kicker.new_connection();
        }
        return Some((request, verdict));
    }
}

/// A stranded peer is forgotten after this long without a request: only once its connection
/// is dead (it is never closed here; TCP keep-alive finds a vanished client after about 150 s)
/// can another connection come from the same address and port.
const FORGET_STRANDED: Duration = Duration::from_secs(600);

/// Notes a request from a stranded peer now, and forgets those silent for [`FORGET_STRANDED`].
fn remember(stranded: &mut HashMap<SocketAddr, Instant>, peer: SocketAddr) {
    let now = Instant::now();
    if stranded.insert(peer, now).is_none() && stranded.len().is_power_of_two() {
        stranded.retain(|_, last| now.duration_since(*last) < FORGET_STRANDED);
    }
}

/// tiny_http's accept loop ended on an error of its own (not our stop).
fn accept_failed(shared: &Shared, error: std::io::Error) {
    shared.stopper.0.accept.ended();
    shared.stopper.fail(ServeError::Accept(error));
}
