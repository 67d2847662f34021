//! The master process: owns the listening socket and supervises `--workers N` worker
//! processes (`worker.rs`) that accept on it. A worker that dies is replaced at once (at a
//! bounded rate); SIGHUP or a changed file under `--reload` starts fresh workers and retires
//! the old ones once the new are ready; TERM/INT stop gracefully, QUIT at once, TTIN/TTOU
//! add or remove a worker. Workers are started by exec of this same binary, never by a bare
//! fork of this multi-threaded process.

mod backoff;
mod child;
mod page;
mod policy;
mod reload;
mod stop;
mod watch;

use crate::protocol::{Down, Up};
use crate::server::Listener;
use backoff::Backoff;
use child::{Event, Recipe, Worker};
use page::Page;
use policy::{Fate, State};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use watch::Watch;

/// How the master runs its workers.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// Worker processes; 0 serves in this process, with no master.
    pub workers: usize,
    /// Reload when a module file or the configuration file changes.
    pub reload: bool,
    /// A worker's `max_requests` is raised by a random amount below this plus one.
    pub max_requests_jitter: u64,
    /// Add up the workers' counts for `/metrics` (set from the HTTP settings).
    pub metrics: bool,
}

impl Default for ProcessConfig {
    fn default() -> ProcessConfig {
        ProcessConfig { workers: DEFAULT_WORKERS, reload: false, max_requests_jitter: 0, metrics: false }
    }
}

/// Two workers: while one is replaced after a crash or a deadline, the other serves (see
/// the README for the measurements behind it).
pub const DEFAULT_WORKERS: usize = 2;

/// How often the master looks at the clock (restarts due, files under `--reload`).
const TICK: Duration = Duration::from_millis(250);
/// What a worker told to stop gets beyond the grace period before SIGKILL.
const MARGIN: Duration = Duration::from_secs(2);

/// Why the master stopped without being asked.
#[derive(Debug)]
pub enum MasterError {
    /// Signal handlers could not be installed.
    Signals(std::io::Error),
    /// No worker could be started at all.
    Spawn(std::io::Error),
    /// The first workers could not start: the exit code and what the worker said.
    Start { code: u8, message: String },
}

impl std::fmt::Display for MasterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MasterError::Signals(e) => write!(f, "cannot install signal handlers: {e}"),
            MasterError::Spawn(e) => write!(f, "cannot start a worker process: {e}"),
            MasterError::Start { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for MasterError {}

/// Runs workers on `listener` until a stop signal; `on_ready` is called once, when the first
/// worker is ready to serve. `watched` lists the files `--reload` watches.
pub fn run(
    listener: Listener,
    config: &ProcessConfig,
    grace: Duration,
    watched: &dyn Fn() -> Vec<PathBuf>,
    on_ready: impl FnOnce(),
) -> Result<(), MasterError> {
    use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTTIN, SIGTTOU, SIGUSR1};
    let (events, rx) = mpsc::channel();
    let mut signals =
        signal_hook::iterator::Signals::new([SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTTIN, SIGTTOU, SIGUSR1])
            .map_err(MasterError::Signals)?;
    let handle = signals.handle();
    let to_master = events.clone();
    let signal_thread = std::thread::spawn(move || {
        for signal in signals.forever() {
            if to_master.send(Event::Signal(signal)).is_err() {
                break;
            }
        }
    });
    let page = config.metrics.then(|| Page::new(std::process::id()));
    let recipe = Recipe {
        exe: std::env::current_exe().map_err(MasterError::Spawn)?,
        args: std::env::args_os().skip(1).collect(),
        page: page.as_ref().map(|p| p.path.clone()),
    };
    let mut master = Master {
        listener: Some(listener),
        recipe,
        events,
        workers: Vec::new(),
        target: config.workers.max(1),
        generation: 0,
        generations: 0,
        pending: None,
        backoff: Backoff::default(),
        booted: false,
        stopping: None,
        grace,
        page,
    };
    let mut watch = config.reload.then(|| Watch::new(watched()));
    let mut on_ready = Some(on_ready);
    for _ in 0..master.target {
        master.spawn(0).map_err(MasterError::Spawn)?;
    }
    let result = loop {
        match rx.recv_timeout(TICK) {
            Ok(Event::Signal(signal)) => master.signal(signal),
            Ok(Event::Said(pid, line)) => {
                for heard in crate::protocol::decode_torn(&line) {
                    match heard {
                        Ok(up) => master.said(pid, up, &mut on_ready),
                        Err(unreadable) => log::warn!("worker {pid} said {unreadable}"),
                    }
                }
            }
            Ok(Event::Closed(pid)) => {
                if let Some(w) = master.worker(pid) {
                    w.closed();
                }
            }
            Err(_) => {}
        }
        master.reap();
        if let Err(e) = master.bury() {
            break Err(e);
        }
        master.cut_off();
        if master.stopping.is_some() {
            if master.workers.is_empty() {
                break Ok(());
            }
            continue;
        }
        if let Some(generation) = master.pending {
            master.commit(generation);
        }
        master.maintain();
        // After the replacements have started, so a death and its replacement show together.
        master.write_page();
        if let Some(watch) = watch.as_mut()
            && let Some(changed) = watch.changed()
            && master.reload(&format!("{} changed", changed.display()))
        {
            // The new baseline is taken as the reload starts: a change from now on (the rest
            // of a write, a fix after a failed reload) starts another once this one is over.
            *watch = Watch::new(watched());
        }
    };
    handle.close();
    let _ = signal_thread.join();
    if let Some(page) = &master.page {
        let _ = std::fs::remove_file(&page.path);
    }
    result
}

struct Master {
    /// The listening socket, until a stop: then only the workers' copies keep it open.
    listener: Option<Listener>,
    recipe: Recipe,
    events: mpsc::Sender<Event>,
    workers: Vec<Worker>,
    /// How many workers should serve.
    target: usize,
    /// The generation serving; a reload starts the next.
    generation: u64,
    /// The last generation started (reloads abandoned included): numbers are never reused.
    generations: u64,
    /// A reload under way: its generation.
    pending: Option<u64>,
    /// The restart rate.
    backoff: Backoff,
    /// A worker has been ready once: failures to start are no longer fatal.
    booted: bool,
    /// Stopping: when the workers left get SIGKILL.
    stopping: Option<Instant>,
    grace: Duration,
    /// The `/metrics` page the workers serve, when counting.
    page: Option<Page>,
}

impl Master {
    /// Writes the `/metrics` page when a count has changed.
    fn write_page(&mut self) {
        if let Some(page) = &mut self.page {
            page.write(self.workers.iter().filter_map(|w| w.counts.as_ref()));
        }
    }

    fn worker(&mut self, pid: u32) -> Option<&mut Worker> {
        self.workers.iter_mut().find(|w| w.pid == pid)
    }

    /// Starts a worker of `generation` (see `child::Worker::start`).
    fn spawn(&mut self, generation: u64) -> std::io::Result<()> {
        let listener = self.listener.as_ref().ok_or_else(|| std::io::Error::other("stopping"))?;
        let worker = Worker::start(&self.recipe, listener, generation, &self.events)?;
        self.workers.push(worker);
        if let Some(page) = &mut self.page {
            page.started();
        }
        Ok(())
    }

    /// Starts a worker in place of one gone, unless restarts are backing off; false when
    /// none was started (a failure to start counts as a death).
    fn restart(&mut self, generation: u64) -> bool {
        if !self.backoff.may_start(Instant::now()) {
            return false;
        }
        match self.spawn(generation) {
            Ok(()) => true,
            Err(e) => {
                log::error!("cannot start a worker: {e}");
                self.died(Instant::now());
                false
            }
        }
    }

    fn said(&mut self, pid: u32, up: Up, on_ready: &mut Option<impl FnOnce()>) {
        let Some(w) = self.worker(pid) else { return };
        match up {
            Up::Ready if w.state == State::Booting => {
                w.state = State::Ready;
                log::debug!("worker {pid} ready");
                if let Some(announce) = on_ready.take() {
                    self.booted = true;
                    announce();
                }
            }
            Up::Ready => {}
            Up::Failed { message } => w.failure = Some(message),
            Up::Crash { method } => w.crashed_in = Some(method),
            Up::Metrics(counts) => {
                w.counts = Some(counts);
                if let Some(page) = &mut self.page {
                    page.changed();
                }
            }
            Up::Retiring { reason } => {
                log::warn!("worker {pid} retires: {reason}; starting another");
                if w.state != State::Stopping {
                    w.state = State::Retiring;
                }
                if policy::counts_as_death(&reason) {
                    self.died(Instant::now());
                }
            }
        }
    }

    /// Notes the exit status of every worker that has exited.
    fn reap(&mut self) {
        for w in self.workers.iter_mut().filter(|w| w.exit.is_none()) {
            if let Ok(Some(status)) = w.child.try_wait() {
                w.exit = Some((status, Instant::now()));
            }
        }
    }

    /// Removes the workers that have exited (once their last words are in), logs why, and
    /// counts the unexpected deaths. A worker that could not start before any was ready
    /// ends the master.
    fn bury(&mut self) -> Result<(), MasterError> {
        let now = Instant::now();
        let gone = |w: &Worker| policy::gone(w.exit.map(|(_, at)| at), w.heard_all(), now);
        let (dead, alive): (Vec<Worker>, Vec<Worker>) = self.workers.drain(..).partition(gone);
        self.workers = alive;
        for w in dead {
            let status = w.exit.expect("exited").0;
            if let Some(page) = &mut self.page {
                page.ended(w.state, status, w.counts.as_ref());
            }
            let how = policy::describe(status);
            let running = w.crashed_in.as_deref().map(|m| format!(" while running {m}")).unwrap_or_default();
            let reloading = self.pending == Some(w.generation);
            match policy::fate(w.state, status.success(), self.booted, reloading) {
                Fate::Fatal => {
                    for other in &mut self.workers {
                        let _ = other.child.kill();
                        let _ = other.child.wait();
                    }
                    self.workers.clear();
                    let message = w.failure.unwrap_or_else(|| format!("a worker {how} while starting{running}"));
                    let code = status.code().and_then(|c| u8::try_from(c).ok()).filter(|&c| c != 0).unwrap_or(2);
                    return Err(MasterError::Start { code, message });
                }
                Fate::ReloadFailed => {
                    let why = w.failure.unwrap_or(how);
                    log::error!("reload failed: worker {} could not start: {why}; the old workers keep serving", w.pid);
                    self.abandon(w.generation);
                }
                Fate::FailedToStart => {
                    let why = w.failure.unwrap_or(how);
                    log::error!("worker {} could not start: {why}{running}", w.pid);
                    self.died(now);
                }
                Fate::Stopped => log::debug!("worker {} stopped", w.pid),
                Fate::DiedStopping => log::info!("worker {} {how} while stopping{running}", w.pid),
                Fate::Died => {
                    log::error!("worker {} {how}{running}; starting another", w.pid);
                    self.died(now);
                }
            }
        }
        Ok(())
    }

    /// Counts an unexpected death for the restart rate (`backoff.rs`).
    fn died(&mut self, now: Instant) {
        if let Some(wait) = self.backoff.died(now) {
            let window = backoff::WINDOW.as_secs();
            log::warn!(
                "{} worker deaths in {window} s: the next start waits {} s",
                self.backoff.recent(),
                wait.as_secs()
            );
        }
    }

    /// Starts workers up to the target (when restarts are not backing off), and stops the
    /// newest beyond it.
    fn maintain(&mut self) {
        let generation = self.generation;
        let serving = |w: &&mut Worker| policy::serves(generation, w.generation, w.state);
        let mut count = self.workers.iter_mut().filter(serving).count();
        while count > self.target {
            if let Some(w) =
                self.workers.iter_mut().rev().find(|w| w.generation == generation && w.state == State::Ready)
            {
                log::info!("worker {} stops (fewer workers)", w.pid);
                w.order(Down::Stop);
                w.state = State::Stopping;
            }
            count -= 1;
        }
        while count < self.target && self.restart(generation) {
            count += 1;
        }
    }
}
