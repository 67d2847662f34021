//! The master's decisions about one worker, as pure functions of what it knows (and of the
//! time, given): whether a retirement counts as a death, when a reload's workers take over,
//! which workers a reload retires, when a dead worker can be buried, and what its end means.

use crate::protocol::Reason;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// A worker's state, as the master sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Booting,
    Ready,
    /// It said it retires (a replacement is started at once).
    Retiring,
    /// Told to stop.
    Stopping,
}

/// How long a worker's last words may take to arrive after its exit.
const LAST_WORDS: Duration = Duration::from_secs(1);

/// Retiring on a fault counts like a death for the restart rate: a fault that comes back at
/// once (a socket that cannot accept, a call that always hangs) must not spin. Retiring
/// after `--max-requests` is the plan, not a fault.
pub(super) fn counts_as_death(reason: &Reason) -> bool {
    !matches!(reason, Reason::MaxRequests(_))
}

/// Whether a reload's workers (their states) take over: none still booting, one ready.
pub(super) fn takes_over(new: &[State]) -> bool {
    !new.contains(&State::Booting) && new.contains(&State::Ready)
}

/// Whether a reload to `new` retires a worker of generation `generation` in `state`: the
/// older ones that boot or serve (those stopping or retiring already go).
pub(super) fn retired_by(new: u64, generation: u64, state: State) -> bool {
    generation < new && matches!(state, State::Booting | State::Ready)
}

/// Whether a worker of `generation` in `state` counts among those serving `serving`.
pub(super) fn serves(serving: u64, generation: u64, state: State) -> bool {
    generation == serving && matches!(state, State::Booting | State::Ready)
}

/// Whether a worker that exited at `exited` can be buried at `now`: its channels have closed
/// (its last words are in), or they have had [`LAST_WORDS`] to (a child of it may hold them).
pub(super) fn gone(exited: Option<Instant>, closed: bool, now: Instant) -> bool {
    exited.is_some_and(|at| closed || now.saturating_duration_since(at) > LAST_WORDS)
}

/// What a worker's end means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    /// It never started and none has: the master exits with its message.
    Fatal,
    /// A reload's worker could not start: the reload is abandoned.
    ReloadFailed,
    /// It could not start (a replacement): a death.
    FailedToStart,
    /// It stopped or retired as asked.
    Stopped,
    /// It was told to stop and ended otherwise.
    DiedStopping,
    /// It died serving: a death, replaced.
    Died,
}

/// What the end (`success`: exit code 0) of a worker in `state` means, given whether one
/// has ever been ready (`booted`) and whether it belonged to a reload under way.
pub(super) fn fate(state: State, success: bool, booted: bool, reloading: bool) -> Fate {
    match state {
        State::Booting if !booted => Fate::Fatal,
        State::Booting if reloading => Fate::ReloadFailed,
        State::Booting => Fate::FailedToStart,
        State::Stopping | State::Retiring if success => Fate::Stopped,
        State::Stopping => Fate::DiedStopping,
        State::Ready | State::Retiring => Fate::Died,
    }
}

/// The cause a worker's end is counted under on `/metrics`.
pub(super) fn exit_cause(state: State, status: ExitStatus) -> String {
    match (state, status.signal()) {
        (State::Booting, _) => "failed to start".to_owned(),
        (_, Some(signal)) => format!("signal {}", signal_name(signal)),
        (State::Stopping | State::Retiring, None) if status.success() => "stopped or retired".to_owned(),
        (_, None) => format!("exit code {}", status.code().unwrap_or(-1)),
    }
}

/// How a worker ended, for the log: `exited with code 1`, `killed by signal 11 (SIGSEGV)`.
pub(super) fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal} ({})", signal_name(signal)),
        (None, None) => format!("ended ({status})"),
    }
}

fn signal_name(signal: i32) -> &'static str {
    use signal_hook::consts::*;
    match signal {
        SIGSEGV => "SIGSEGV",
        SIGBUS => "SIGBUS",
        SIGILL => "SIGILL",
        SIGFPE => "SIGFPE",
        SIGABRT => "SIGABRT",
        SIGKILL => "SIGKILL",
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        SIGQUIT => "SIGQUIT",
        SIGPIPE => "SIGPIPE",
        _ => "another signal",
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
