//! `Page`: the master's side of `/metrics`: its own counts (worker starts and exits by
//! cause) plus those of the workers that have ended, and the file the page is written to,
//! which the workers serve.

use super::policy::{self, State};
use crate::metrics::Snapshot;
use std::path::PathBuf;
use std::process::ExitStatus;

pub(super) struct Page {
    pub(super) path: PathBuf,
    counts: Snapshot,
    dirty: bool,
}

impl Page {
    /// The page of the master with process id `pid`, in the temporary directory.
    pub(super) fn new(pid: u32) -> Page {
        let path = std::env::temp_dir().join(format!("runjsonrpc2-{pid}.metrics"));
        Page { path, counts: Snapshot::default(), dirty: true }
    }

    /// A worker started.
    pub(super) fn started(&mut self) {
        self.counts.worker_starts += 1;
        self.dirty = true;
    }

    /// A worker's counts changed.
    pub(super) fn changed(&mut self) {
        self.dirty = true;
    }

    /// A worker in `state` ended with `status`, having last sent `counts`: they are kept.
    pub(super) fn ended(&mut self, state: State, status: ExitStatus, counts: Option<&Snapshot>) {
        *self.counts.worker_exits.entry(policy::exit_cause(state, status)).or_default() += 1;
        if let Some(counts) = counts {
            self.counts.add(counts);
        }
        self.dirty = true;
    }

    /// Writes the page (by rename, so a worker never reads half of it) when a count has
    /// changed: these counts plus the running workers' `live` ones.
    pub(super) fn write<'a>(&mut self, live: impl Iterator<Item = &'a Snapshot>) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let mut total = self.counts.clone();
        for counts in live {
            total.add(counts);
        }
        let partial = self.path.with_extension("metrics.new");
        let written = std::fs::write(&partial, total.render(true)).and_then(|()| std::fs::rename(&partial, &self.path));
        if let Err(e) = written {
            log::warn!("cannot write the metrics page {}: {e}", self.path.display());
        }
    }
}
