//! The per-call deadline (`--timeout`): a request whose calls still run at its deadline is
//! answered with a JSON-RPC error on its own connection, by a watchdog thread that takes the
//! request from the stuck call thread; the server then retires, since that thread may never
//! come back (a supervised one: a fresh worker takes over; with `--workers 0` it only logs).

use super::pool::Shared;
use super::wire::{Answer, Wire};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tiny_http::Request;

/// The error code of an answer given at the deadline (in the specification's range for
/// server errors, -32099..-32000, at the far end from the codes users map).
pub const TIMEOUT_CODE: i64 = -32099;

/// How often the watchdog looks: a twentieth of the deadline, within these bounds (so a
/// 30 s deadline is kept to within a second, and an idle server is barely woken).
const TICKS: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// The call threads' slots, for the watchdog.
pub(crate) struct Deadlines {
    timeout: Option<Duration>,
    slots: Mutex<Vec<Arc<Slot>>>,
}

/// Where a call thread keeps the request whose calls it runs.
pub(crate) struct Slot {
    call: Mutex<State>,
}

enum State {
    Idle,
    Running(Call),
    /// The watchdog took the request and answered it.
    Answered,
}

struct Call {
    request: Request,
    /// The body, shared with the call thread, for the ids the error answer needs.
    body: Arc<Vec<u8>>,
    due: Instant,
}

impl Deadlines {
    pub(crate) fn new(timeout: Option<Duration>) -> Deadlines {
        Deadlines { timeout, slots: Mutex::new(Vec::new()) }
    }

    /// A slot for a new call thread, or `None` without a deadline.
    pub(crate) fn register(&self) -> Option<Arc<Slot>> {
        self.timeout?;
        let slot = Arc::new(Slot { call: Mutex::new(State::Idle) });
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).push(slot.clone());
        Some(slot)
    }

    pub(crate) fn unregister(&self, slot: Option<Arc<Slot>>) {
        if let Some(slot) = slot {
            self.slots.lock().unwrap_or_else(|e| e.into_inner()).retain(|s| !Arc::ptr_eq(s, &slot));
        }
    }
}

impl Slot {
    /// Holds `request` while the calls of `body` run.
    pub(crate) fn begin(&self, shared: &Shared, request: Request, body: &Arc<Vec<u8>>) {
        // Slots exist only with a deadline (`Deadlines::register`); one too far to reckon
        // (`--timeout` in the billions of seconds) is as good as none.
        let now = Instant::now();
        let timeout = shared.deadlines.timeout.expect("a slot means a deadline");
        let due = now.checked_add(timeout).unwrap_or_else(|| now + Duration::from_secs(1 << 32));
        *self.call.lock().unwrap_or_else(|e| e.into_inner()) =
            State::Running(Call { request, body: body.clone(), due });
    }

    /// The request back to answer, or `None` when the watchdog answered it at its deadline
    /// (or none was held: after a panic, `pool.rs` calls this to clear the slot).
    pub(crate) fn end(&self, shared: &Shared) -> Option<Request> {
        let state = std::mem::replace(&mut *self.call.lock().unwrap_or_else(|e| e.into_inner()), State::Idle);
        match state {
            State::Running(call) => Some(call.request),
            State::Answered => {
                shared.pool.overdue.fetch_sub(1, Ordering::SeqCst);
                None
            }
            State::Idle => None,
        }
    }
}

/// Starts the watchdog, which runs until the server has stopped.
pub(crate) fn watch(shared: Arc<Shared>) {
    let spawned = std::thread::Builder::new().name("rpc-deadline".into()).spawn(move || {
        let tick = (shared.deadlines.timeout.unwrap_or_default() / 20).clamp(TICKS.0, TICKS.1);
        while !(shared.stopper.stopping() && shared.pool.waited_for() == 0) {
            std::thread::sleep(tick);
            let now = Instant::now();
            let overdue: Vec<Call> = {
                let slots = shared.deadlines.slots.lock().unwrap_or_else(|e| e.into_inner());
                slots
                    .iter()
                    .filter_map(|slot| {
                        let mut state = slot.call.lock().unwrap_or_else(|e| e.into_inner());
                        if !matches!(&*state, State::Running(c) if c.due <= now) {
                            return None;
                        }
                        // Counted under the slot's lock, so `end` never counts it out first.
                        shared.pool.overdue.fetch_add(1, Ordering::SeqCst);
                        match std::mem::replace(&mut *state, State::Answered) {
                            State::Running(call) => Some(call),
                            _ => None,
                        }
                    })
                    .collect()
            };
            for call in overdue {
                answer(&shared, call);
            }
        }
    });
    if let Err(e) = spawned {
        log::error!("cannot start the deadline watchdog ({e}): calls run without a deadline");
    }
}

/// Retires the server and answers an overdue call's requests with the timeout error, on a
/// thread of its own: the write can wait (behind an earlier answer on the same connection, or
/// for a client that does not read), and the watchdog must not.
fn answer(shared: &Shared, call: Call) {
    let timeout = shared.deadlines.timeout.unwrap_or_default();
    let message = format!("Call timed out: still running after the server's deadline of {}", seconds(timeout));
    let mut out = Vec::new();
    let (answered, methods) = shared.rpc.overdue_into(&call.body, TIMEOUT_CODE, &message, &mut out);
    drop(call.body);
    shared.stopper.retire(&format!("a call to {methods} ran past its deadline of {}", seconds(timeout)));
    let request = call.request;
    let spawned = std::thread::Builder::new().name("rpc-overdue".into()).spawn(move || {
        let answer = if answered { Answer::Json(&out) } else { Answer::NoContent };
        super::exit::answer(&mut Wire::new(), request, answer, true);
    });
    if let Err(e) = spawned {
        log::error!("cannot start a thread to answer an overdue call ({e}): its client gets no answer");
    }
}

/// A duration as `2 s` or `0.5 s`.
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    #[test]
    fn deadlines_read_as_seconds() {
        use std::time::Duration;
        #[rustfmt::skip]
        let cases = [
            (Duration::from_secs(30), "30 s"),
            (Duration::from_millis(500), "0.5 s"),
            (Duration::from_secs(2), "2 s"),
        ];
        for (d, want) in cases {
            assert_eq!(super::seconds(d), want);
        }
    }
}
