//! The master's decisions, one case a line, with the clock given.

use super::State::{Booting, Ready, Retiring, Stopping};
use super::*;

#[test]
fn only_max_requests_is_a_planned_retirement() {
    let deadline = Reason::Deadline { methods: "m".into(), timeout: Duration::from_secs(2) };
    #[rustfmt::skip]
    let cases = [
        (Reason::MaxRequests(10), false),
        (deadline, true),
        (Reason::Other("accept failed".into()), true),
        // The words no longer decide: a fault that mentions the flag is still a fault.
        (Reason::Other("served 10 requests (--max-requests)".into()), true),
    ];
    for (reason, want) in cases {
        assert_eq!(counts_as_death(&reason), want, "{reason:?}");
    }
}

#[test]
fn a_reload_takes_over_once_none_boots_and_one_serves() {
    #[rustfmt::skip]
    let cases: [(&[State], bool); 8] = [
        (&[], false),
        (&[Booting], false),
        (&[Ready], true),
        (&[Ready, Booting], false),
        (&[Ready, Ready], true),
        (&[Ready, Retiring], true),
        (&[Retiring, Stopping], false),
        (&[Stopping], false),
    ];
    for (states, want) in cases {
        assert_eq!(takes_over(states), want, "{states:?}");
    }
}

#[test]
fn a_reload_retires_the_older_workers_that_boot_or_serve() {
    #[rustfmt::skip]
    let cases = [
        (2, 1, Booting, true),
        (2, 1, Ready, true),
        (2, 0, Ready, true),
        (2, 1, Retiring, false),
        (2, 1, Stopping, false),
        (2, 2, Ready, false),
        (2, 3, Ready, false),
    ];
    for (new, generation, state, want) in cases {
        assert_eq!(retired_by(new, generation, state), want, "{new} {generation} {state:?}");
    }
}

#[test]
fn the_serving_count_is_of_the_serving_generation_booting_or_ready() {
    #[rustfmt::skip]
    let cases = [
        (1, 1, Booting, true),
        (1, 1, Ready, true),
        (1, 1, Retiring, false),
        (1, 1, Stopping, false),
        (1, 0, Ready, false),
        (1, 2, Ready, false),
    ];
    for (serving, generation, state, want) in cases {
        assert_eq!(serves(serving, generation, state), want, "{serving} {generation} {state:?}");
    }
}

#[test]
fn a_dead_worker_is_buried_once_its_words_are_in_or_after_a_second() {
    let exit = Instant::now();
    let after = |ms: u64| exit + Duration::from_millis(ms);
    #[rustfmt::skip]
    let cases = [
        (None, true, after(5000), false),
        (None, false, after(5000), false),
        (Some(exit), true, after(0), true),
        (Some(exit), false, after(0), false),
        (Some(exit), false, after(1000), false),
        (Some(exit), false, after(1001), true),
    ];
    for (exited, closed, now, want) in cases {
        assert_eq!(gone(exited, closed, now), want, "{exited:?} {closed} {now:?}");
    }
}

#[test]
fn a_worker_end_means_what_its_state_says() {
    #[rustfmt::skip]
    let cases = [
        (Booting, false, false, false, Fate::Fatal),
        (Booting, true, false, true, Fate::Fatal),
        (Booting, false, true, true, Fate::ReloadFailed),
        (Booting, false, true, false, Fate::FailedToStart),
        (Booting, true, true, false, Fate::FailedToStart),
        (Stopping, true, true, false, Fate::Stopped),
        (Retiring, true, true, false, Fate::Stopped),
        (Stopping, false, true, false, Fate::DiedStopping),
        (Retiring, false, true, false, Fate::Died),
        (Ready, true, true, false, Fate::Died),
        (Ready, false, true, true, Fate::Died),
    ];
    for (state, success, booted, reloading, want) in cases {
        assert_eq!(fate(state, success, booted, reloading), want, "{state:?} {success} {booted} {reloading}");
    }
}

#[test]
fn exits_are_counted_by_cause() {
    use std::os::unix::process::ExitStatusExt;
    let (code, signal) = (|c: i32| ExitStatus::from_raw(c << 8), ExitStatus::from_raw);
    #[rustfmt::skip]
    let cases = [
        (Booting, code(2), "failed to start"),
        (Booting, signal(11), "failed to start"),
        (Ready, signal(11), "signal SIGSEGV"),
        (Stopping, signal(9), "signal SIGKILL"),
        (Stopping, code(0), "stopped or retired"),
        (Retiring, code(0), "stopped or retired"),
        (Ready, code(0), "exit code 0"),
        (Stopping, code(1), "exit code 1"),
        (Retiring, code(3), "exit code 3"),
    ];
    for (state, status, want) in cases {
        assert_eq!(exit_cause(state, status), want, "{state:?} {status:?}");
    }
}

#[test]
fn deaths_are_described() {
    use std::os::unix::process::ExitStatusExt;
    #[rustfmt::skip]
    let cases = [
        (ExitStatus::from_raw(1 << 8), "exited with code 1"),
        (ExitStatus::from_raw(11), "was killed by signal 11 (SIGSEGV)"),
        (ExitStatus::from_raw(6), "was killed by signal 6 (SIGABRT)"),
        (ExitStatus::from_raw(9), "was killed by signal 9 (SIGKILL)"),
        (ExitStatus::from_raw(7), "was killed by signal 7 (SIGBUS)"),
        (ExitStatus::from_raw(4), "was killed by signal 4 (SIGILL)"),
        (ExitStatus::from_raw(8), "was killed by signal 8 (SIGFPE)"),
        (ExitStatus::from_raw(15), "was killed by signal 15 (SIGTERM)"),
        (ExitStatus::from_raw(2), "was killed by signal 2 (SIGINT)"),
        (ExitStatus::from_raw(3), "was killed by signal 3 (SIGQUIT)"),
        (ExitStatus::from_raw(13), "was killed by signal 13 (SIGPIPE)"),
        (ExitStatus::from_raw(10), "was killed by signal 10 (another signal)"),
    ];
    for (status, want) in cases {
        assert_eq!(describe(status), want);
    }
}
