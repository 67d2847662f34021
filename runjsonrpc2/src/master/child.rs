//! `Worker`: the master's handle on one worker process, and `start`, which runs one: this
//! binary again with the listening socket as stdin, a socket to the master as stdout and the
//! crash pipe as [`CRASH_FD`], each channel read by a thread of its own into the master's
//! events.

use super::policy::State;
use crate::metrics::Snapshot;
use crate::protocol::{CRASH_FD, Down, WORKER_VAR};
use crate::server::Listener;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What the master is told.
pub(super) enum Event {
    Signal(i32),
    /// A line from the worker with this pid.
    Said(u32, String),
    /// One of the worker's channels closed (it exited, or its last child did).
    Closed(u32),
}

/// The channels a worker's words come on: its socket and its crash pipe.
const CHANNELS: u8 = 2;

pub(super) struct Worker {
    pub(super) child: Child,
    pub(super) pid: u32,
    /// The master's end of the worker's socket, for orders.
    orders: UnixStream,
    pub(super) generation: u64,
    pub(super) state: State,
    pub(super) exit: Option<(ExitStatus, Instant)>,
    /// Its channels still open.
    open: u8,
    /// What it said before dying: the method that crashed it, why it failed to start.
    pub(super) crashed_in: Option<String>,
    pub(super) failure: Option<String>,
    /// Told to stop: when it gets SIGKILL if still running.
    pub(super) kill_at: Option<Instant>,
    /// Its counts for `/metrics`, as it last sent them.
    pub(super) counts: Option<Snapshot>,
}

/// How a worker is started: the binary, its arguments, and the `/metrics` page's path.
pub(super) struct Recipe {
    pub(super) exe: PathBuf,
    pub(super) args: Vec<std::ffi::OsString>,
    pub(super) page: Option<PathBuf>,
}

impl Worker {
    /// Starts a worker of `generation` serving on `listener`; what it says goes to `events`.
    pub(super) fn start(
        recipe: &Recipe,
        listener: &Listener,
        generation: u64,
        events: &mpsc::Sender<Event>,
    ) -> std::io::Result<Worker> {
        let (ours, theirs) = UnixStream::pair()?;
        let (crash_reader, crash_writer) = std::io::pipe()?;
        let socket = OwnedFd::from(listener.try_clone()?);
        let mut command = Command::new(&recipe.exe);
        command
            .args(&recipe.args)
            .env(WORKER_VAR, "1")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .envs(recipe.page.as_ref().map(|p| (crate::metrics::PAGE_VAR, p.clone())))
            .stdin(Stdio::from(socket))
            .stdout(Stdio::from(OwnedFd::from(theirs)))
            .stderr(Stdio::inherit());
        crate::sys::inherit_as(&mut command, OwnedFd::from(crash_writer), CRASH_FD);
        let child = command.spawn()?;
        // Our copy of the pipe's write end goes with `command`: the pipe ends with the worker.
        drop(command);
        let pid = child.id();
        listen(pid, "worker", ours.try_clone()?, events)?;
        listen(pid, "crash", crash_reader, events)?;
        log::debug!("worker {pid} started");
        Ok(Worker {
            child,
            pid,
            orders: ours,
            generation,
            state: State::Booting,
            exit: None,
            open: CHANNELS,
            crashed_in: None,
            failure: None,
            kill_at: None,
            counts: None,
        })
    }

    pub(super) fn order(&mut self, order: Down) {
        let _ = self.orders.write_all(order.encode().as_bytes());
    }

    /// Tells it to stop gracefully (a booting worker stops once it has started), and kills it
    /// if it is still running `within` from now.
    pub(super) fn retire(&mut self, within: Duration) {
        self.order(Down::Stop);
        self.state = State::Stopping;
        self.kill_at.get_or_insert(Instant::now() + within);
    }

    /// One of its channels closed.
    pub(super) fn closed(&mut self) {
        self.open = self.open.saturating_sub(1);
    }

    /// Whether all its channels have closed: every word it said has been heard.
    pub(super) fn heard_all(&self) -> bool {
        self.open == 0
    }
}

/// Reads `channel`'s lines on a thread of its own into `events`, then says it closed.
fn listen(
    pid: u32,
    name: &str,
    channel: impl Read + Send + 'static,
    events: &mpsc::Sender<Event>,
) -> std::io::Result<()> {
    let events = events.clone();
    std::thread::Builder::new().name(format!("rpc-{name}-{pid}")).spawn(move || {
        for line in BufReader::new(channel).lines() {
            let Ok(line) = line else { break };
            if events.send(Event::Said(pid, line)).is_err() {
                return;
            }
        }
        let _ = events.send(Event::Closed(pid));
    })?;
    Ok(())
}
