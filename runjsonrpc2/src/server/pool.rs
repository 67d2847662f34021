//! The threads: one accepts connections, each connection is served start to end by a thread
//! of its own, and threads are reused from one connection to the next.
//!
//! The accept loop polls the listening socket together with a wake pipe (as gunicorn's sync
//! worker does), so a stop ends it at once without touching the socket other workers share.
//! At `max_connections` it stops accepting until one closes: new connections wait in the
//! kernel's backlog, where another worker sharing the socket may take them.

use super::conn::{self, Scratch};
use super::listen::{Listener, Stream};
use super::shared::Shared;
use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A thread above the pool's kept ones leaves after this long without a connection.
const IDLE: Duration = Duration::from_secs(10);

/// A connection accepted, not yet served.
type Accepted = (Stream, Option<SocketAddr>);

/// The connection threads' counts, and the connections waiting for one.
pub(crate) struct Pool {
    state: Mutex<State>,
    /// Threads waiting for a connection.
    work: Condvar,
    /// The accept loop waiting for a connection to close.
    room: Condvar,
    /// `Running::wait` waiting for threads to leave.
    left: Condvar,
    /// Threads kept waiting for connections, however long they wait: one per core.
    keep: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Accepted>,
    /// Threads waiting for a connection.
    waiting: usize,
    /// Threads running (waiting ones included).
    live: usize,
    /// Connections accepted and not yet closed.
    open: usize,
}

impl Pool {
    pub(crate) fn new() -> Arc<Pool> {
        let keep = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Pool {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            room: Condvar::new(),
            left: Condvar::new(),
            keep,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes every waiting thread and the accept loop (a stop).
    pub(crate) fn wake_all(&self) {
        let _state = self.lock();
        self.work.notify_all();
        self.room.notify_all();
        self.left.notify_all();
    }

    /// Threads running.
    pub(crate) fn live(&self) -> usize {
        self.lock().live
    }

    /// Waits until `done` holds for the number of threads running, or `until` passes;
    /// returns that number.
    pub(crate) fn wait(&self, done: &dyn Fn(usize) -> bool, until: Option<std::time::Instant>) -> usize {
        let mut state = self.lock();
        while !done(state.live) {
            state = match until {
                None => self.left.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(until) => {
                    let left = until.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    // Woken now and then: a thread stuck past its deadline changes `done`.
                    let wait = left.min(Duration::from_millis(100));
                    self.left.wait_timeout(state, wait).unwrap_or_else(|e| e.into_inner()).0
                }
            };
        }
        state.live
    }
}

/// Starts the accept loop on `listener`, which ends at a stop (the wake pipe).
pub(crate) fn start(listener: Listener, wake: Option<std::io::PipeReader>, shared: Arc<Shared>, pool: Arc<Pool>) {
    // The accept loop counts as a thread running: a stop waits for it, so a connection it
    // takes at the last moment is handed to a thread before the process can end.
    pool.lock().live += 1;
    let spawned = std::thread::Builder::new().name("rpc-accept".into()).spawn({
        let (shared, pool) = (shared.clone(), pool.clone());
        move || {
            accept_loop(&listener, wake.as_ref(), &shared, &pool);
            drop(listener); // this process's descriptor only
            let mut state = pool.lock();
            state.live -= 1;
            pool.left.notify_all();
        }
    });
    if let Err(e) = spawned {
        pool.lock().live -= 1;
        shared.stopper.fail(super::ServeError::Accept(e));
    }
}

fn accept_loop(listener: &Listener, wake: Option<&std::io::PipeReader>, shared: &Arc<Shared>, pool: &Arc<Pool>) {
    let stopper = &shared.stopper;
    let max = shared.config.max_connections.max(1);
    // Another process sharing the socket may take a connection this one was woken for.
    if let Err(e) = listener.set_nonblocking(true) {
        return shared.stopper.fail(super::ServeError::Accept(e));
    }
    let mut pause = None;
    while !stopper.stopping() {
        {
            let mut state = pool.lock();
            while state.open >= max && !stopper.stopping() {
                state = pool.room.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        }
        let polled = match wake {
            Some(wake) => crate::sys::poll_readable([listener.as_fd(), wake.as_fd()], pause.take()).map(|_| ()),
            // No wake pipe could be made: look for a stop ten times a second.
            None => crate::sys::poll_readable([listener.as_fd()], pause.take().or(Some(Duration::from_millis(100))))
                .map(|_| ()),
        };
        match polled {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return stopper.fail(super::ServeError::Accept(e)),
        }
        if stopper.stopping() {
            break;
        }
        // Every connection waiting, while there is room: among a thousand busy connection
        // threads this one runs seldom, and a burst must not wait for its turns one by one.
        loop {
            match listener.accept() {
                Ok(accepted) => {
                    if !hand(accepted, shared, pool, max) {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // A connection aborted before it was taken is no fault.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): the
                    // connection waits in the backlog; try again in a while, as nginx does.
                    log::warn!("cannot accept a connection ({e}); trying again in 100 ms");
                    pause = Some(Duration::from_millis(100));
                    break;
                }
            }
        }
    }
    log::debug!("no longer accepting");
}

/// Gives a connection to a waiting thread, or to a new one; whether there is room for another.
fn hand(accepted: Accepted, shared: &Arc<Shared>, pool: &Arc<Pool>, max: usize) -> bool {
    let mut state = pool.lock();
    state.open += 1;
    let room = state.open < max;
    if state.waiting > state.queue.len() {
        state.queue.push_back(accepted);
        pool.work.notify_one();
        return room;
    }
    state.live += 1;
    drop(state);
    let (thread_shared, thread_pool) = (shared.clone(), pool.clone());
    let (send, first) = std::sync::mpsc::sync_channel::<Accepted>(1);
    let spawned = std::thread::Builder::new().name("rpc-conn".into()).spawn(move || {
        if let Ok(accepted) = first.recv() {
            run(accepted, &thread_shared, &thread_pool);
        }
    });
    match spawned {
        Ok(_) => {
            let _ = send.send(accepted);
        }
        Err(e) => {
            log::warn!("cannot start a thread for a connection ({e}): answering 503");
            let mut state = pool.lock();
            (state.live, state.open) = (state.live - 1, state.open - 1);
            drop(state);
            let mut stream = &accepted.0;
            let body = "no thread for the connection\n";
            let busy = format!(
                "HTTP/1.1 503 Service Unavailable\r\nServer: runjsonrpc2\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            crate::metrics::refused(503);
            let _ = stream.write_all(busy.as_bytes());
        }
    }
    room
}

/// A connection thread: serves connections one after another, until it has waited too long
/// for the next (above the kept ones) or the server stops.
fn run(first: Accepted, shared: &Arc<Shared>, pool: &Arc<Pool>) {
    let slot = shared.deadlines.register();
    let mut scratch = Scratch::new(shared, slot.clone());
    let mut next = Some(first);
    while let Some((stream, peer)) = next.take() {
        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            conn::serve(stream, peer, shared, &mut scratch);
        }));
        if let Err(panic) = served {
            let message = crate::engine::panic_message(panic.as_ref());
            log::error!("a connection thread panicked outside any procedure ({message}); it goes on");
            if let Some(slot) = scratch.slot() {
                shared.deadlines.end(slot);
            }
            scratch = Scratch::new(shared, slot.clone());
        }
        let mut state = pool.lock();
        state.open -= 1;
        pool.room.notify_one();
        next = loop {
            if let Some(accepted) = state.queue.pop_front() {
                break Some(accepted);
            }
            if shared.stopper.stopping() {
                break None;
            }
            state.waiting += 1;
            let (again, waited) = pool.work.wait_timeout(state, IDLE).unwrap_or_else(|e| e.into_inner());
            state = again;
            state.waiting -= 1;
            if waited.timed_out() && state.queue.is_empty() && state.live > pool.keep {
                break None;
            }
        };
        if next.is_none() {
            state.live -= 1;
            pool.left.notify_all();
        }
    }
    shared.deadlines.unregister(slot);
}
