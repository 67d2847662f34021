//! `Watch`: the files `--reload` watches, polled once a second: a changed size, time or inode
//! (a file replaced by rename) starts a reload once it has held still for a poll (a file still
//! being written is not loaded half-way).

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

pub(super) struct Watch {
    /// Each file, its stamp when the watch began, and its stamp at the last poll.
    files: Vec<(PathBuf, Option<Stamp>, Option<Stamp>)>,
    last: Instant,
}

type Stamp = (u64, u64, Option<SystemTime>);

impl Watch {
    pub(super) fn new(files: Vec<PathBuf>) -> Watch {
        let files = files
            .into_iter()
            .map(|f| {
                let now = stamp(&f);
                (f, now, now)
            })
            .collect();
        Watch { files, last: Instant::now() }
    }

    /// A file that changed since the watch began and held still since the last look.
    pub(super) fn changed(&mut self) -> Option<PathBuf> {
        if self.last.elapsed() < Duration::from_secs(1) {
            return None;
        }
        self.last = Instant::now();
        let mut changed = None;
        for (file, baseline, seen) in &mut self.files {
            let now = stamp(file);
            if now != *baseline && now == *seen {
                changed.get_or_insert_with(|| file.clone());
            }
            *seen = now;
        }
        changed
    }
}

fn stamp(file: &std::path::Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(file).ok()?;
    Some((m.len(), m.ino(), m.modified().ok()))
}
