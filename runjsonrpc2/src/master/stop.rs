//! The master's signals: TERM and INT stop the workers gracefully (a second makes it quick),
//! QUIT at once, HUP reloads, TTIN and TTOU add and remove a worker; and the kill of those
//! that do not stop in time.

use super::policy::State;
use super::{MARGIN, Master};
use crate::protocol::Down;
use std::time::Instant;

impl Master {
    pub(super) fn signal(&mut self, signal: i32) {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTTIN, SIGTTOU, SIGUSR1};
        match signal {
            // logrotate's: every worker reopens its access log.
            SIGUSR1 => {
                for w in &self.workers {
                    crate::sys::signal(w.pid, SIGUSR1);
                }
            }
            SIGTERM | SIGINT => self.stop(false, signal),
            SIGQUIT => self.stop(true, signal),
            SIGHUP => {
                self.reload("SIGHUP");
            }
            SIGTTIN => {
                self.target += 1;
                log::info!("SIGTTIN: {} workers", self.target);
            }
            SIGTTOU if self.target > 1 => {
                self.target -= 1;
                log::info!("SIGTTOU: {} workers", self.target);
            }
            SIGTTOU => log::info!("SIGTTOU: one worker is the fewest"),
            _ => {} // SIGCHLD: `reap` follows every event
        }
    }

    /// Orders every worker to stop, gracefully or at once; those left at the deadline are
    /// killed. A second TERM or INT during a graceful stop makes it quick.
    fn stop(&mut self, quick: bool, signal: i32) {
        let quick = quick || self.stopping.is_some();
        let how = if quick { "quitting at once" } else { "finishing calls in flight" };
        log::info!("signal {signal}: stopping {} worker(s), {how}", self.workers.len());
        let wait = if quick { MARGIN } else { self.grace + MARGIN };
        self.stopping = Some(Instant::now());
        self.listener = None;
        for w in &mut self.workers {
            w.order(if quick { Down::Quit } else { Down::Stop });
            w.state = State::Stopping;
            let at = Instant::now() + wait;
            w.kill_at = Some(w.kill_at.map_or(at, |before| before.min(at)));
        }
    }

    /// Kills the workers told to stop that are still running at their deadline.
    pub(super) fn cut_off(&mut self) {
        let now = Instant::now();
        for w in self.workers.iter_mut().filter(|w| w.exit.is_none() && w.kill_at.is_some_and(|at| now >= at)) {
            log::warn!("worker {} did not stop in time: killed", w.pid);
            let _ = w.child.kill();
            w.kill_at = None;
        }
    }
}
