//! The master process: owns the listening socket and supervises `--workers N` worker
//! processes (`worker.rs`) that accept on it. A worker that dies is replaced at once (at a
//! bounded rate); SIGHUP or a changed file under `--reload` starts fresh workers and retires
//! the old ones once the new are ready; TERM/INT stop gracefully, QUIT at once, TTIN/TTOU
//! add or remove a worker. Workers are started by exec of this same binary, never by a bare
//! fork of this multi-threaded process.

use crate::server::Listener;
use crate::worker::WORKER_VAR;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

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

/// Deaths within [`WINDOW`] past which restarts back off.
const BURST: usize = 5;
const WINDOW: Duration = Duration::from_secs(10);
/// The longest wait between restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the master looks at the clock (restarts due, files under `--reload`).
const TICK: Duration = Duration::from_millis(250);

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

/// What the master is told.
enum Event {
    Signal(i32),
    /// A line from the worker with this pid.
    Said(u32, String),
    /// The worker's socket closed (it exited).
    Closed(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Booting,
    Ready,
    /// It said it retires (a replacement is started at once).
    Retiring,
    /// Told to stop.
    Stopping,
}

struct Worker {
    child: Child,
    pid: u32,
    /// The master's end of the worker's socket, for orders.
    orders: UnixStream,
    generation: u64,
    state: State,
    exit: Option<(ExitStatus, Instant)>,
    closed: bool,
    /// What it said before dying: the method that crashed it, why it failed to start.
    crashed_in: Option<String>,
    failure: Option<String>,
    /// Told to stop: when it gets SIGKILL if still running.
    kill_at: Option<Instant>,
    /// Its counts for `/metrics`, as it last sent them.
    counts: Option<crate::metrics::Snapshot>,
}

impl Worker {
    fn order(&mut self, order: &str) {
        let _ = self.orders.write_all(format!("{order}\n").as_bytes());
    }

    /// Tells it to stop gracefully (a booting worker stops once it has started), and kills it
    /// if it is still running `within` from now.
    fn retire(&mut self, within: Duration) {
        self.order("stop");
        self.state = State::Stopping;
        self.kill_at.get_or_insert(Instant::now() + within);
    }
}

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
    let mut master = Master {
        listener: Some(listener),
        exe: std::env::current_exe().map_err(MasterError::Spawn)?,
        args: std::env::args_os().skip(1).collect(),
        events,
        workers: Vec::new(),
        target: config.workers.max(1),
        generation: 0,
        generations: 0,
        pending: None,
        deaths: VecDeque::new(),
        next_start: None,
        booted: false,
        stopping: None,
        grace,
        page: config.metrics.then(|| Page {
            path: std::env::temp_dir().join(format!("runjsonrpc2-{}.metrics", std::process::id())),
            counts: crate::metrics::Snapshot::default(),
            dirty: true,
        }),
    };
    let mut watch = config.reload.then(|| Watch::new(watched()));
    let mut on_ready = Some(on_ready);
    for _ in 0..master.target {
        master.spawn(0).map_err(MasterError::Spawn)?;
    }
    let result = loop {
        match rx.recv_timeout(TICK) {
            Ok(Event::Signal(signal)) => master.signal(signal),
            Ok(Event::Said(pid, line)) => master.said(pid, &line, &mut on_ready),
            Ok(Event::Closed(pid)) => {
                if let Some(w) = master.worker(pid) {
                    w.closed = true;
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
    exe: PathBuf,
    args: Vec<std::ffi::OsString>,
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
    /// Recent unexpected deaths, for the restart rate.
    deaths: VecDeque<Instant>,
    /// Restarts wait until then.
    next_start: Option<Instant>,
    /// A worker has been ready once: failures to start are no longer fatal.
    booted: bool,
    /// Stopping: when the workers left get SIGKILL.
    stopping: Option<Instant>,
    grace: Duration,
    /// The `/metrics` page the workers serve, when counting.
    page: Option<Page>,
}

/// The master's side of `/metrics`: its own counts plus those of the workers that have
/// ended, and the file the page is written to.
struct Page {
    path: PathBuf,
    counts: crate::metrics::Snapshot,
    dirty: bool,
}

impl Master {
    /// Writes the `/metrics` page (by rename, so a worker never reads half of it) when a
    /// count has changed.
    fn write_page(&mut self) {
        let Some(page) = self.page.as_mut().filter(|p| p.dirty) else { return };
        page.dirty = false;
        let mut total = page.counts.clone();
        for counts in self.workers.iter().filter_map(|w| w.counts.as_ref()) {
            total.add(counts);
        }
        let partial = page.path.with_extension("metrics.new");
        let written = std::fs::write(&partial, total.render(true)).and_then(|()| std::fs::rename(&partial, &page.path));
        if let Err(e) = written {
            log::warn!("cannot write the metrics page {}: {e}", page.path.display());
        }
    }

    fn worker(&mut self, pid: u32) -> Option<&mut Worker> {
        self.workers.iter_mut().find(|w| w.pid == pid)
    }

    /// Starts a worker of `generation`: this binary again, with the same arguments, the
    /// listening socket as stdin and one end of a socket pair as stdout.
    fn spawn(&mut self, generation: u64) -> std::io::Result<()> {
        let (ours, theirs) = UnixStream::pair()?;
        let listener = self.listener.as_ref().ok_or_else(|| std::io::Error::other("stopping"))?;
        let socket = OwnedFd::from(listener.try_clone()?);
        let child = Command::new(&self.exe)
            .args(&self.args)
            .env(WORKER_VAR, "1")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .envs(self.page.as_ref().map(|p| (crate::metrics::PAGE_VAR, p.path.clone())))
            .stdin(Stdio::from(socket))
            .stdout(Stdio::from(OwnedFd::from(theirs)))
            .stderr(Stdio::inherit())
            .spawn()?;
        let pid = child.id();
        let (reader, events) = (ours.try_clone()?, self.events.clone());
        std::thread::Builder::new().name(format!("rpc-worker-{pid}")).spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                if events.send(Event::Said(pid, line)).is_err() {
                    return;
                }
            }
            let _ = events.send(Event::Closed(pid));
        })?;
        log::debug!("worker {pid} started");
        self.workers.push(Worker {
            child,
            pid,
            orders: ours,
            generation,
            state: State::Booting,
            exit: None,
            closed: false,
            crashed_in: None,
            failure: None,
            kill_at: None,
            counts: None,
        });
        if let Some(page) = &mut self.page {
            page.counts.worker_starts += 1;
            page.dirty = true;
        }
        Ok(())
    }

    fn signal(&mut self, signal: i32) {
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
        let wait = if quick { Duration::from_secs(2) } else { self.grace + Duration::from_secs(2) };
        self.stopping = Some(Instant::now());
        self.listener = None;
        for w in &mut self.workers {
            w.order(if quick { "quit" } else { "stop" });
            w.state = State::Stopping;
            let at = Instant::now() + wait;
            w.kill_at = Some(w.kill_at.map_or(at, |before| before.min(at)));
        }
    }

    /// Kills the workers told to stop that are still running at their deadline.
    fn cut_off(&mut self) {
        let now = Instant::now();
        for w in self.workers.iter_mut().filter(|w| w.exit.is_none() && w.kill_at.is_some_and(|at| now >= at)) {
            log::warn!("worker {} did not stop in time: killed", w.pid);
            let _ = w.child.kill();
            w.kill_at = None;
        }
    }

    /// Starts a new generation of workers, which take over once they are ready; false when
    /// no reload started (one is under way, or the master is stopping).
    fn reload(&mut self, why: &str) -> bool {
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
    fn abandon(&mut self, generation: u64) {
        self.pending = None;
        let grace = self.grace;
        for w in self.workers.iter_mut().filter(|w| w.generation == generation && w.exit.is_none()) {
            w.retire(grace + Duration::from_secs(2));
        }
    }

    fn said(&mut self, pid: u32, line: &str, on_ready: &mut Option<impl FnOnce()>) {
        let Some(w) = self.worker(pid) else { return };
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "ready" if w.state == State::Booting => {
                w.state = State::Ready;
                log::debug!("worker {pid} ready");
                if let Some(announce) = on_ready.take() {
                    self.booted = true;
                    announce();
                }
            }
            "ready" => {}
            "failed" => w.failure = Some(rest.to_owned()),
            "crash" => w.crashed_in = Some(rest.to_owned()),
            "metrics" => match serde_json::from_str(rest) {
                Ok(counts) => {
                    w.counts = Some(counts);
                    if let Some(page) = &mut self.page {
                        page.dirty = true;
                    }
                }
                Err(e) => log::warn!("worker {pid} sent counts that do not read: {e}"),
            },
            "retiring" => {
                log::warn!("worker {pid} retires: {rest}; starting another");
                if w.state != State::Stopping {
                    w.state = State::Retiring;
                }
                // Retiring on a fault counts like a death for the restart rate: a fault that
                // comes back at once (a socket that cannot accept) must not spin.
                if !rest.ends_with("(--max-requests)") {
                    self.died(Instant::now());
                }
            }
            _ => log::warn!("worker {pid} said {line:?}"),
        }
    }

    /// When every worker of a pending reload is ready, the older ones are told to stop.
    fn commit(&mut self, generation: u64) {
        if self.pending != Some(generation) {
            return;
        }
        let new: Vec<State> = self.workers.iter().filter(|w| w.generation == generation).map(|w| w.state).collect();
        if new.contains(&State::Booting) || !new.contains(&State::Ready) {
            return;
        }
        self.pending = None;
        self.generation = generation;
        let mut retired = 0;
        let grace = self.grace;
        for w in self.workers.iter_mut().filter(|w| w.generation < generation) {
            if matches!(w.state, State::Booting | State::Ready) {
                w.retire(grace + Duration::from_secs(2));
                retired += 1;
            }
        }
        log::info!("reloaded: the new workers serve; {retired} old worker(s) finish their calls and stop");
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
        let gone = |w: &Worker| w.exit.is_some_and(|(_, at)| w.closed || now - at > Duration::from_secs(1));
        let (dead, alive): (Vec<Worker>, Vec<Worker>) = self.workers.drain(..).partition(gone);
        self.workers = alive;
        for w in dead {
            let status = w.exit.expect("exited").0;
            if let Some(page) = &mut self.page {
                let cause = match (w.state, status.signal()) {
                    (State::Booting, _) => "failed to start".to_owned(),
                    (_, Some(signal)) => format!("signal {}", signal_name(signal)),
                    (State::Stopping | State::Retiring, None) if status.success() => "stopped or retired".to_owned(),
                    (_, None) => format!("exit code {}", status.code().unwrap_or(-1)),
                };
                *page.counts.worker_exits.entry(cause).or_default() += 1;
                if let Some(counts) = &w.counts {
                    page.counts.add(counts);
                }
                page.dirty = true;
            }
            let how = describe(status);
            let running = w.crashed_in.as_deref().map(|m| format!(" while running {m}")).unwrap_or_default();
            match w.state {
                State::Booting if !self.booted => {
                    for other in &mut self.workers {
                        let _ = other.child.kill();
                        let _ = other.child.wait();
                    }
                    self.workers.clear();
                    let message = w.failure.unwrap_or_else(|| format!("a worker {how} while starting{running}"));
                    let code = status.code().and_then(|c| u8::try_from(c).ok()).filter(|&c| c != 0).unwrap_or(2);
                    return Err(MasterError::Start { code, message });
                }
                State::Booting if self.pending == Some(w.generation) => {
                    let why = w.failure.unwrap_or(how);
                    log::error!("reload failed: worker {} could not start: {why}; the old workers keep serving", w.pid);
                    self.abandon(w.generation);
                }
                State::Booting => {
                    let why = w.failure.unwrap_or(how);
                    log::error!("worker {} could not start: {why}{running}", w.pid);
                    self.died(now);
                }
                State::Stopping | State::Retiring if status.success() => log::debug!("worker {} stopped", w.pid),
                State::Stopping => log::info!("worker {} {how} while stopping{running}", w.pid),
                _ => {
                    log::error!("worker {} {how}{running}; starting another", w.pid);
                    self.died(now);
                }
            }
        }
        Ok(())
    }

    /// Counts an unexpected death; past [`BURST`] in [`WINDOW`], restarts wait, longer each time.
    fn died(&mut self, now: Instant) {
        self.deaths.push_back(now);
        while self.deaths.front().is_some_and(|&at| now - at > WINDOW) {
            self.deaths.pop_front();
        }
        if self.deaths.len() > BURST {
            let doublings = (self.deaths.len() - BURST - 1).min(5) as u32;
            let wait = (Duration::from_secs(1) * 2u32.pow(doublings)).min(MAX_BACKOFF);
            log::warn!(
                "{} worker deaths in {} s: the next start waits {} s",
                self.deaths.len(),
                WINDOW.as_secs(),
                wait.as_secs()
            );
            self.next_start = Some(now + wait);
        }
    }

    /// Starts workers up to the target (when restarts are not backing off), and stops the
    /// newest beyond it.
    fn maintain(&mut self) {
        let generation = self.generation;
        let serving = |w: &&mut Worker| w.generation == generation && matches!(w.state, State::Booting | State::Ready);
        let mut count = self.workers.iter_mut().filter(serving).count();
        while count > self.target {
            if let Some(w) =
                self.workers.iter_mut().rev().find(|w| w.generation == generation && w.state == State::Ready)
            {
                log::info!("worker {} stops (fewer workers)", w.pid);
                w.order("stop");
                w.state = State::Stopping;
            }
            count -= 1;
        }
        if self.next_start.is_some_and(|at| Instant::now() < at) {
            return;
        }
        self.next_start = None;
        for _ in count..self.target {
            if let Err(e) = self.spawn(generation) {
                log::error!("cannot start a worker: {e}");
                self.died(Instant::now());
                return;
            }
        }
    }
}

/// How a worker ended, for the log: `exited with code 1`, `killed by signal 11 (SIGSEGV)`.
fn describe(status: ExitStatus) -> String {
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

/// The files `--reload` watches, polled once a second: a changed size, time or inode (a file
/// replaced by rename) starts a reload once it has held still for a poll (a file still being
/// written is not loaded half-way).
struct Watch {
    /// Each file, its stamp when the watch began, and its stamp at the last poll.
    files: Vec<(PathBuf, Option<Stamp>, Option<Stamp>)>,
    last: Instant,
}

type Stamp = (u64, u64, Option<SystemTime>);

impl Watch {
    fn new(files: Vec<PathBuf>) -> Watch {
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
    fn changed(&mut self) -> Option<PathBuf> {
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

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    #[test]
    fn deaths_are_described() {
        #[rustfmt::skip]
        let cases = [
            (ExitStatus::from_raw(1 << 8), "exited with code 1"),
            (ExitStatus::from_raw(11), "was killed by signal 11 (SIGSEGV)"),
            (ExitStatus::from_raw(6), "was killed by signal 6 (SIGABRT)"),
            (ExitStatus::from_raw(9), "was killed by signal 9 (SIGKILL)"),
        ];
        for (status, want) in cases {
            assert_eq!(super::describe(status), want);
        }
    }
}
