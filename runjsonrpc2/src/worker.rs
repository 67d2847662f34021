//! A worker process: started by the master (`master/`) with the listening socket as its
//! stdin, a socket to the master as its stdout and a pipe to it as descriptor 3. It loads the modules afresh, serves on the
//! shared socket, and tells the master when it is ready, why it retires, and which method
//! crashed it.
//!
//! What it says and hears is `protocol.rs`'s `Up` and `Down`: `Up` on the socket, one whole
//! line at a time under a mutex, except the crash report, which the fatal-signal handler
//! writes on its own pipe ([`CRASH_FD`]). The master's end closing means it is gone: stop.

use crate::config::Settings;
use crate::failure::CommandError;
use crate::protocol::{CRASH_FD, Down, Up, WORKER_VAR};
use crate::server::{Listener, Listening, Retire, Stopper};
use crate::setup;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, OnceLock};

/// Whether this process was started by a master as a worker.
pub fn is_worker() -> bool {
    std::env::var_os(WORKER_VAR).is_some()
}

/// Runs this process as a worker until it stops; returns its exit code (0 after a stop or a
/// retirement, 2 when the modules cannot be loaded, 1 when serving fails).
pub fn run(settings: &Settings) -> u8 {
    let (listener, master, crash_pipe) = match adopt() {
        Ok(adopted) => adopted,
        Err(e) => {
            log::error!("a worker needs the master's socket on stdin and stdout: {e}");
            return 2;
        }
    };
    let say = match master.try_clone() {
        Ok(s) => Arc::new(Mutex::new(s)),
        Err(e) => {
            log::error!("cannot copy the socket to the master: {e}");
            return 1;
        }
    };
    let tell = move |up: Up| {
        let line = up.encode();
        let mut master = say.lock().unwrap_or_else(|e| e.into_inner());
        let _ = master.write_all(line.as_bytes());
    };
    // Orders are followed from the start: a worker still loading its modules when the
    // master goes (or says stop) leaves, rather than keep a copy of the socket.
    let stopper = Arc::new(OnceLock::new());
    if let Err(e) = master.try_clone().and_then(|m| listen_to_master(m, stopper.clone())) {
        log::error!("cannot follow the master's orders: {e}");
        return 1;
    }
    let built = match setup::build(settings) {
        Ok(built) => built,
        Err(e) => return failed(&tell, &e),
    };
    // The crash reporter's own pipe, never closed: a number it could write to after being
    // closed might by then be another file's.
    let reporter = crash_pipe.and_then(crate::plugin::report_crashes_to);
    if let Err(e) = reporter {
        log::warn!("cannot install the crash reporter on descriptor {CRASH_FD}: {e}");
    }
    let mut http = match setup::http_config(settings) {
        Ok(http) => http,
        Err(e) => return failed(&tell, &e),
    };
    if let (Some(max), jitter) = (http.max_requests, settings.process.max_requests_jitter) {
        http.max_requests = Some(max + random_below(jitter + 1));
    }
    let listening = match Listening::on(listener, &http) {
        Ok(l) => l,
        Err(e) => return failed(&tell, &CommandError::Serve(e)),
    };
    let tell = Arc::new(tell);
    let retire: Retire = {
        let tell = tell.clone();
        Box::new(move |reason| tell(Up::Retiring { reason: reason.clone() }))
    };
    // Ready before the first request can be answered: the master reads this line before it
    // can hear of any death that follows, so a crash while serving is never taken for a
    // failure to start.
    tell(Up::Ready);
    log::debug!("worker ready");
    let reopen = listening.log_reopener();
    let (serving, running) = listening.start(Arc::new(built.rpc), Arc::new(settings.extras.clone()), Some(retire));
    let _ = stopper.set(serving.clone());
    if let Err(e) = listen_to_signals(serving, reopen) {
        log::error!("{e}");
        return 1;
    }
    if http.metrics {
        send_counts(tell.clone());
    }
    let code = match running.wait() {
        Ok(()) => 0,
        Err(e) => {
            log::error!("{e}");
            1
        }
    };
    if http.metrics {
        tell_counts(&*tell);
    }
    code
}

/// The listening socket, the master's socket and the crash pipe (or why it is missing).
type Adopted = (Listener, UnixStream, std::io::Result<OwnedFd>);

/// Takes the listening socket (stdin) and the master's socket (stdout) as descriptors of our
/// own that children do not inherit, and points stdin at /dev/null and stdout at stderr (so
/// a plugin's printf lands in the log, not in the master's socket). The crash pipe is kept
/// as it is (it is marked close-on-exec at once); it may be missing without stopping the worker.
fn adopt() -> std::io::Result<Adopted> {
    let crash_pipe = crate::sys::keep_inherited_pipe(CRASH_FD);
    let listener = std::io::stdin().as_fd().try_clone_to_owned()?;
    let master = std::io::stdout().as_fd().try_clone_to_owned()?;
    // A listening socket, TCP or Unix, not a terminal or a file.
    let listener = Listener::from_fd(listener)?;
    let null = std::fs::File::open("/dev/null")?;
    crate::sys::redirect_std(0, null.as_fd())?;
    crate::sys::redirect_std(1, std::io::stderr().as_fd())?;
    Ok((listener, UnixStream::from(master), crash_pipe))
}

fn failed(tell: &impl Fn(Up), e: &CommandError) -> u8 {
    tell(Up::Failed { message: crate::error::chain(e) });
    e.exit_code()
}

/// Follows the master's orders on a thread: `stop`, `quit`, or its end closing. Before the
/// server runs (`stopper` unset), a stop ends the process at once: nothing is served yet.
fn listen_to_master(master: UnixStream, stopper: Arc<OnceLock<Stopper>>) -> std::io::Result<()> {
    let stop = move || match stopper.get() {
        Some(stopper) => stopper.stop(),
        None => std::process::exit(0),
    };
    std::thread::Builder::new().name("rpc-master".into()).spawn(move || {
        for line in BufReader::new(master).lines() {
            let Ok(line) = line else { break };
            match Down::decode(&line) {
                Ok(Down::Stop) => stop(),
                Ok(Down::Quit) => std::process::exit(0),
                Err(unreadable) => log::warn!("the master sent {unreadable}"),
            }
        }
        log::info!("the master is gone: stopping");
        stop();
    })?;
    Ok(())
}

/// TERM stops gracefully, QUIT at once, USR1 reopens the access log; INT, HUP, TTIN and TTOU
/// are the master's (a terminal sends them to the whole process group) and ignored here.
fn listen_to_signals(stopper: Stopper, reopen: impl Fn() + Send + 'static) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTTIN, SIGTTOU, SIGUSR1};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGQUIT, SIGINT, SIGHUP, SIGTTIN, SIGTTOU, SIGUSR1])?;
    std::thread::Builder::new().name("rpc-signals".into()).spawn(move || {
        for signal in signals.forever() {
            match signal {
                SIGTERM => stopper.stop(),
                SIGUSR1 => reopen(),
                SIGQUIT => std::process::exit(0),
                _ => {}
            }
        }
    })?;
    Ok(())
}

/// Sends this worker's counts for `/metrics` to the master once a second.
fn send_counts(tell: Arc<impl Fn(Up) + Send + Sync + 'static>) {
    let spawned = std::thread::Builder::new().name("rpc-metrics".into()).spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            tell_counts(&*tell);
        }
    });
    if let Err(e) = spawned {
        log::warn!("cannot start the thread sending counts for /metrics: {e}");
    }
}

fn tell_counts(tell: &impl Fn(Up)) {
    tell(Up::Metrics(crate::metrics::snapshot()));
}

/// A number in `0..n` that differs between processes (for the `max_requests` jitter).
fn random_below(n: u64) -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::process::id()) % n.max(1)
}
