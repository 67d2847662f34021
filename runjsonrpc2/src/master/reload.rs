//! Reloading: a new generation of workers starts beside the serving one and takes over once
//! all of it is ready (`commit`), or is given up when one of it cannot start (`abandon`).

use super::policy::{self, State};
use super::{MARGIN, Master};

impl Master {
    /// Starts a new generation of workers, which take over once they are ready; false when
    /// no reload started (one is under way, or the master is stopping).
    pub(super) fn reload(&mut self, why: &str) -> bool {
        if self.stopping.is_some() || self.pending.is_some() {
            log::info!("{why}: no reload now (one is under way, or the master stops)");
            return false;
        }
        self.generations += 1;
        let generation = self.generations;
        log::info!("{why}: reloading with {} new worker(s)", self.target);
        self.pending = Some(generation);
        for _ in 0..self.target {
            if let Err(e) = self.spawn(generation) {
                log::error!("reload failed: cannot start a worker ({e}); the old workers keep serving");
                self.abandon(generation);
                break;
            }
        }
        true
    }

    /// Gives up a reload: its workers stop (gracefully: some may already serve), the old go on.
    pub(super) fn abandon(&mut self, generation: u64) {
        self.pending = None;
        let grace = self.grace;
        for w in self.workers.iter_mut().filter(|w| w.generation == generation && w.exit.is_none()) {
            w.retire(grace + MARGIN);
        }
    }

    /// When every worker of a pending reload is ready, the older ones are told to stop.
    pub(super) fn commit(&mut self, generation: u64) {
        if self.pending != Some(generation) {
            return;
        }
        let new: Vec<State> = self.workers.iter().filter(|w| w.generation == generation).map(|w| w.state).collect();
        if !policy::takes_over(&new) {
            return;
        }
        self.pending = None;
        self.generation = generation;
        let mut retired = 0;
        let grace = self.grace;
        for w in self.workers.iter_mut().filter(|w| policy::retired_by(generation, w.generation, w.state)) {
            w.retire(grace + MARGIN);
            retired += 1;
        }
        log::info!("reloaded: the new workers serve; {retired} old worker(s) finish their calls and stop");
    }
}
