//! The per-call deadline (`--timeout`): a request whose calls still run at its deadline is
//! answered with a JSON-RPC error on its own connection by a watchdog, and the connection is
//! then ended; the thread stuck in the call never writes on it again (it finds its slot
//! answered). The server then retires, since that thread may never come back (a supervised
//! one: a fresh worker takes over; with `--workers 0` it only logs).

use super::stop::{Link, Stopper};
use super::wire::{Answer, Then, Wire};
use crate::engine::JsonRpc;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The error code of an answer given at the deadline (in the specification's range for
/// server errors, -32099..-32000, at the far end from the codes users map).
pub const TIMEOUT_CODE: i64 = -32099;

/// How often the watchdog looks: a twentieth of the deadline, within these bounds (so a
/// 30 s deadline is kept to within a second, and an idle server is barely woken).
const TICKS: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// The connection threads' slots, for the watchdog.
pub(crate) struct Deadlines {
    timeout: Option<Duration>,
    slots: Mutex<Vec<Arc<Slot>>>,
    /// Threads in a call already answered past its deadline.
    overdue: AtomicUsize,
    /// Answers at the deadline being written (the process waits for them before it ends).
    answering: Arc<AtomicUsize>,
}

/// Where a connection thread keeps the request whose calls it runs.
pub(crate) struct Slot {
    call: Mutex<State>,
}

enum State {
    Idle,
    Running(Call),
    /// The watchdog answered the request.
    Answered,
}

struct Call {
    link: Arc<Link>,
    minor: u8,
    /// The body, shared with the thread, for the ids the error answer needs.
    body: Arc<Vec<u8>>,
    due: Instant,
}

impl Deadlines {
    pub(crate) fn new(timeout: Option<Duration>) -> Deadlines {
        Deadlines {
            timeout,
            slots: Mutex::new(Vec::new()),
            overdue: AtomicUsize::new(0),
            answering: Default::default(),
        }
    }

    /// A slot for a new thread, or `None` without a deadline.
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

    /// Threads stuck in calls already answered past their deadline.
    pub(crate) fn overdue(&self) -> usize {
        self.overdue.load(Ordering::SeqCst)
    }

    /// Answers at the deadline still being written.
    pub(crate) fn answering(&self) -> usize {
        self.answering.load(Ordering::SeqCst)
    }

    /// The request on `link` runs the calls of `body` in `slot` from now.
    pub(crate) fn begin(&self, slot: &Slot, link: &Arc<Link>, minor: u8, body: &Arc<Vec<u8>>) {
        // Slots exist only with a deadline; one too far to reckon (`--timeout` in the
        // billions of seconds) is as good as none.
        let now = Instant::now();
        let timeout = self.timeout.expect("a slot means a deadline");
        let due = now.checked_add(timeout).unwrap_or_else(|| now + Duration::from_secs(1 << 32));
        let call = Call { link: link.clone(), minor, body: body.clone(), due };
        *slot.call.lock().unwrap_or_else(|e| e.into_inner()) = State::Running(call);
    }

    /// The calls returned: `true` when the thread answers them, `false` when the watchdog
    /// already did (the thread must then leave the connection without a word).
    pub(crate) fn end(&self, slot: &Slot) -> bool {
        let state = std::mem::replace(&mut *slot.call.lock().unwrap_or_else(|e| e.into_inner()), State::Idle);
        match state {
            State::Running(_) | State::Idle => true,
            State::Answered => {
                self.overdue.fetch_sub(1, Ordering::SeqCst);
                false
            }
        }
    }
}

/// Starts the watchdog, which runs until `done` says so.
pub(crate) fn watch(
    deadlines: Arc<Deadlines>,
    rpc: Arc<JsonRpc>,
    stopper: Stopper,
    done: impl Fn() -> bool + Send + 'static,
) {
    let spawned = std::thread::Builder::new().name("rpc-deadline".into()).spawn(move || {
        let timeout = deadlines.timeout.unwrap_or_default();
        let tick = (timeout / 20).clamp(TICKS.0, TICKS.1);
        while !done() {
            std::thread::sleep(tick);
            let now = Instant::now();
            let overdue: Vec<Call> = {
                let slots = deadlines.slots.lock().unwrap_or_else(|e| e.into_inner());
                slots
                    .iter()
                    .filter_map(|slot| {
                        let mut state = slot.call.lock().unwrap_or_else(|e| e.into_inner());
                        if !matches!(&*state, State::Running(c) if c.due <= now) {
                            return None;
                        }
                        // Counted under the slot's lock, so `end` never counts it out first.
                        deadlines.overdue.fetch_add(1, Ordering::SeqCst);
                        match std::mem::replace(&mut *state, State::Answered) {
                            State::Running(call) => Some(call),
                            _ => None,
                        }
                    })
                    .collect()
            };
            for call in overdue {
                answer(&rpc, &stopper, timeout, call, &deadlines.answering);
            }
        }
    });
    if let Err(e) = spawned {
        log::error!("cannot start the deadline watchdog ({e}): calls run without a deadline");
    }
}

/// Retires the server and answers an overdue call's requests with the timeout error, then
/// ends the connection, on a thread of its own: the write can wait for a client that does not
/// read, and the watchdog must not.
fn answer(rpc: &JsonRpc, stopper: &Stopper, timeout: Duration, call: Call, answering: &Arc<AtomicUsize>) {
    // Counted before the retirement can end the process.
    answering.fetch_add(1, Ordering::SeqCst);
    let answered_by = answering.clone();
    let message = format!("Call timed out: still running after the server's deadline of {}", seconds(timeout));
    let mut out = Vec::new();
    let (answered, methods) = rpc.overdue_into(&call.body, TIMEOUT_CODE, &message, &mut out);
    stopper.retire(super::stop::RetireReason::Deadline { methods, timeout });
    let Call { link, minor, .. } = call;
    let spawned = std::thread::Builder::new().name("rpc-overdue".into()).spawn(move || {
        let answer = if answered { Answer::Json(&out) } else { Answer::NoContent };
        let mut wire = Wire::new();
        let (head, rest) = wire.frame(minor, answer, Then::Close);
        let mut stream = &link.stream;
        let _ = stream.write_all(head).and_then(|()| stream.write_all(rest));
        // The stuck thread still holds the connection: end it for the client now.
        let _ = link.stream.shutdown(std::net::Shutdown::Both);
        answered_by.fetch_sub(1, Ordering::SeqCst);
    });
    if let Err(e) = spawned {
        answering.fetch_sub(1, Ordering::SeqCst);
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
