//! `Backoff`: the restart rate. Workers that die are replaced at once until more than
//! [`BURST`] die within [`WINDOW`]; then each start waits, 1 s and doubling with each further
//! death in the window, up to [`MAX_WAIT`]. The clock is an argument, so tests need no waiting.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Deaths within [`WINDOW`] past which restarts back off.
pub(super) const BURST: usize = 5;
pub(super) const WINDOW: Duration = Duration::from_secs(10);
/// The first wait; each further death in the window doubles it.
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between restarts.
pub(super) const MAX_WAIT: Duration = Duration::from_secs(30);

/// Recent unexpected deaths, and when restarts may start again.
#[derive(Debug, Default)]
pub(super) struct Backoff {
    deaths: VecDeque<Instant>,
    next_start: Option<Instant>,
}

impl Backoff {
    /// Counts an unexpected death at `now`; past [`BURST`] in [`WINDOW`], returns how long
    /// restarts wait from now on.
    pub(super) fn died(&mut self, now: Instant) -> Option<Duration> {
        self.deaths.push_back(now);
        while self.deaths.front().is_some_and(|&at| now.saturating_duration_since(at) > WINDOW) {
            self.deaths.pop_front();
        }
        if self.deaths.len() <= BURST {
            return None;
        }
        let doublings = (self.deaths.len() - BURST - 1).min(5) as u32;
        let wait = (FIRST_WAIT * 2u32.pow(doublings)).min(MAX_WAIT);
        self.next_start = Some(now + wait);
        Some(wait)
    }

    /// The deaths counted within the window (as of the last death).
    pub(super) fn recent(&self) -> usize {
        self.deaths.len()
    }

    /// Whether a worker may be started at `now`: no wait, or the wait is over.
    pub(super) fn may_start(&mut self, now: Instant) -> bool {
        if self.next_start.is_some_and(|at| now < at) {
            return false;
        }
        self.next_start = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The waits after deaths at these offsets (ms) from a start.
    fn waits(offsets: &[u64]) -> Vec<Option<u64>> {
        let start = Instant::now();
        let mut backoff = Backoff::default();
        let at = |ms: u64| start + Duration::from_millis(ms);
        offsets.iter().map(|&ms| backoff.died(at(ms)).map(|w| w.as_millis() as u64)).collect()
    }

    #[test]
    fn more_than_five_deaths_in_ten_seconds_back_off_doubling_to_thirty() {
        let (n, s) = (None, |secs: u64| Some(secs * 1000));
        #[rustfmt::skip]
        let cases: [(&[u64], Vec<Option<u64>>); 8] = [
            (&[], vec![]),
            (&[0, 1, 2, 3, 4], vec![n, n, n, n, n]),
            (&[0, 1, 2, 3, 4, 5], vec![n, n, n, n, n, s(1)]),
            (&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], vec![n, n, n, n, n, s(1), s(2), s(4), s(8), s(16), s(30), s(30)]),
            (&[0, 2000, 4000, 6000, 8000, 10_000], vec![n, n, n, n, n, s(1)]),
            (&[0, 2000, 4000, 6000, 8000, 10_001], vec![n, n, n, n, n, n]),
            (&[0, 0, 0, 0, 0, 0], vec![n, n, n, n, n, s(1)]),
            (&[0, 1, 2, 3, 4, 20_000, 20_001], vec![n, n, n, n, n, n, n]),
        ];
        for (offsets, want) in cases {
            assert_eq!(waits(offsets), want, "{offsets:?}");
        }
    }

    #[test]
    fn the_window_forgets_old_deaths() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        #[rustfmt::skip]
        let cases: [(&[u64], usize); 5] = [
            (&[0], 1),
            (&[0, 10_000], 2),
            (&[0, 10_001], 1),
            (&[0, 5000, 15_001], 1),
            (&[0, 1, 2, 3, 4, 5, 6], 7),
        ];
        for (offsets, want) in cases {
            let mut backoff = Backoff::default();
            for &ms in offsets {
                backoff.died(at(ms));
            }
            assert_eq!(backoff.recent(), want, "{offsets:?}");
        }
    }

    #[test]
    fn starts_wait_until_the_wait_is_over() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut backoff = Backoff::default();
        assert!(backoff.may_start(at(0)), "no death: no wait");
        for ms in 0..6 {
            backoff.died(at(ms));
        }
        #[rustfmt::skip]
        let cases = [
            (5, false),
            (1004, false),
            (1005, true),
            // The wait was cleared by the start it allowed.
            (6, true),
        ];
        for (ms, want) in cases {
            assert_eq!(backoff.may_start(at(ms)), want, "at {ms} ms");
        }
    }

    #[test]
    fn the_limits_are_the_documented_ones() {
        assert_eq!(
            (BURST, WINDOW, FIRST_WAIT, MAX_WAIT),
            (5, Duration::from_secs(10), Duration::from_secs(1), Duration::from_secs(30))
        );
    }
}
