//! Stopping a server: no new connections, idle ones closed once quiet, calls in flight
//! finished; and retiring one under a supervisor.
//!
//! A connection idle at a stop is closed once it has been idle for [`QUIET`], not at once: a
//! client that just read an answer may already be sending its next request, and closing under
//! it would lose that request (it is served instead, its answer saying `Connection: close`).

use super::ServeError;
use super::listen::Stream;
use std::io::Write;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a connection must have been idle before a stop closes it.
const QUIET: Duration = Duration::from_millis(100);

/// Nanoseconds since the first call, plus one (so 0 can mean "not idle").
fn now_nanos() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX) + 1
}

/// Called once, with the reason, when a supervised server retires: it stops taking work,
/// finishes its calls and ends serving with `Ok`, for a fresh process to take its place.
pub type Retire = Box<dyn Fn(&RetireReason) + Send + Sync>;

/// Why a supervised server retires; its `Display` is the log's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetireReason {
    /// It served `max_requests` requests.
    MaxRequests(u64),
    /// A call ran past its deadline: its thread may never come back.
    Deadline {
        /// The methods of the overdue call (a batch's, joined).
        methods: String,
        /// The deadline, `--timeout`.
        timeout: Duration,
    },
    /// A fault that would end serving (accepting failed), in words.
    Other(String),
}

impl std::fmt::Display for RetireReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetireReason::MaxRequests(max) => write!(f, "served {max} requests (--max-requests)"),
            RetireReason::Deadline { methods, timeout } => {
                write!(f, "a call to {methods} ran past its deadline of {} s", timeout.as_secs_f64())
            }
            RetireReason::Other(text) => f.write_str(text),
        }
    }
}

/// One open connection, shared by the thread serving it, the stop and the deadline watchdog.
pub(crate) struct Link {
    pub(crate) stream: Stream,
    /// Since when it waits for the first byte of its next request ([`now_nanos`]), or 0 when
    /// busy: a stop closes it once it has been idle for [`QUIET`].
    idle_since: AtomicU64,
}

/// Stops a server: no new connections, and its threads finish.
#[derive(Clone)]
pub struct Stopper(Arc<StopState>);

struct StopState {
    stopping: AtomicBool,
    /// The fault that stopped an unsupervised server, which serving ends with.
    error: Mutex<Option<ServeError>>,
    retire: Option<Retire>,
    retired: AtomicBool,
    /// Written once at a stop: wakes the accept loop's poll.
    wake: Mutex<Option<std::io::PipeWriter>>,
    /// Open connections, to close the idle ones at a stop.
    links: Mutex<Links>,
    /// Told of a stop: the pool's waiting threads.
    on_stop: Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,
    /// A thread closes idle connections after a stop.
    closing: AtomicBool,
}

#[derive(Default)]
struct Links {
    slots: Vec<Option<Arc<Link>>>,
    free: Vec<usize>,
}

/// A connection's place among the open ones, given back when dropped.
pub(crate) struct Registered<'s> {
    stopper: &'s Stopper,
    index: usize,
    pub(crate) link: Arc<Link>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut links = self.stopper.0.links.lock().unwrap_or_else(|e| e.into_inner());
        links.slots[self.index] = None;
        links.free.push(self.index);
    }
}

impl Registered<'_> {
    /// Marks the connection idle (waiting for a request) or busy. Once idle for [`QUIET`] after
    /// a stop, it is closed.
    pub(crate) fn idle(&self, idle: bool) {
        self.link.idle_since.store(if idle { now_nanos() } else { 0 }, Ordering::SeqCst);
        if idle && self.stopper.stopping() {
            self.stopper.close_idle();
        }
    }
}

impl Stopper {
    pub(crate) fn new(retire: Option<Retire>, wake: Option<std::io::PipeWriter>) -> Stopper {
        Stopper(Arc::new(StopState {
            stopping: AtomicBool::new(false),
            error: Mutex::new(None),
            retire,
            retired: AtomicBool::new(false),
            wake: Mutex::new(wake),
            links: Mutex::new(Links::default()),
            on_stop: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
        }))
    }

    /// Stops taking work: this process's accept loop ends (others sharing the socket go on
    /// accepting), idle connections close, and each busy one closes after its answer.
    pub fn stop(&self) {
        if self.0.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(mut wake) = self.0.wake.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = wake.write_all(b"x");
        }
        self.close_idle();
        for tell in self.0.on_stop.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            tell();
        }
    }

    /// Starts the thread that closes connections idle for [`QUIET`] (once: it runs until no
    /// connection is left).
    fn close_idle(&self) {
        if self.0.closing.swap(true, Ordering::SeqCst) {
            return;
        }
        let state = self.0.clone();
        let spawned = std::thread::Builder::new().name("rpc-close-idle".into()).spawn(move || {
            loop {
                let quiet = u64::try_from(QUIET.as_nanos()).unwrap_or(u64::MAX);
                let now = now_nanos();
                let links = state.links.lock().unwrap_or_else(|e| e.into_inner());
                if links.slots.iter().all(Option::is_none) {
                    // A connection registered later starts another thread when it idles.
                    state.closing.store(false, Ordering::SeqCst);
                    return;
                }
                for link in links.slots.iter().flatten() {
                    let since = link.idle_since.load(Ordering::SeqCst);
                    if since != 0 && now.saturating_sub(since) >= quiet {
                        // Its thread's read returns at once, and it closes.
                        let _ = link.stream.shutdown(Shutdown::Read);
                    }
                }
                drop(links);
                std::thread::sleep(QUIET / 4);
            }
        });
        if let Err(e) = spawned {
            self.0.closing.store(false, Ordering::SeqCst);
            log::warn!("cannot start the thread closing idle connections ({e}): they close at their idle timeout");
        }
    }

    /// Runs `tell` at a stop.
    pub(crate) fn on_stop(&self, tell: impl Fn() + Send + Sync + 'static) {
        self.0.on_stop.lock().unwrap_or_else(|e| e.into_inner()).push(Box::new(tell));
    }

    /// Counts `stream` among the open connections until the returned guard drops.
    pub(crate) fn register(&self, stream: Stream) -> Registered<'_> {
        let link = Arc::new(Link { stream, idle_since: AtomicU64::new(0) });
        let mut links = self.0.links.lock().unwrap_or_else(|e| e.into_inner());
        let index = match links.free.pop() {
            Some(i) => {
                links.slots[i] = Some(link.clone());
                i
            }
            None => {
                links.slots.push(Some(link.clone()));
                links.slots.len() - 1
            }
        };
        Registered { stopper: self, index, link }
    }

    /// Something is wrong with this server: a supervised one retires, an unsupervised one
    /// stops and serving ends with `error` (the first one; a fault during a stop is none).
    pub(crate) fn fail(&self, error: ServeError) {
        let text = crate::error::chain(&error);
        if self.0.retire.is_some() {
            return self.retire(RetireReason::Other(text));
        }
        if !self.stopping() {
            log::error!("{text}; shutting down");
            self.0.error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(error);
        }
        self.stop();
    }

    /// A supervised server tells its master why it retires, once, and stops; an
    /// unsupervised one only logs the reason.
    pub(crate) fn retire(&self, reason: RetireReason) {
        match &self.0.retire {
            Some(tell) if !self.0.retired.swap(true, Ordering::SeqCst) => {
                log::warn!("retiring: {reason}");
                tell(&reason);
                self.stop();
            }
            Some(_) => {}
            None => log::warn!("{reason} (with --workers 0 nothing replaces this process)"),
        }
    }

    /// Whether a stop has begun (answers then ask clients to close their connections).
    pub(crate) fn stopping(&self) -> bool {
        self.0.stopping.load(Ordering::SeqCst)
    }

    /// The fault serving ends with, if any.
    pub(crate) fn take_error(&self) -> Option<ServeError> {
        self.0.error.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}
