//! The HTTP transport, the only user of tiny_http: the listening socket, call threads, stopping.
//!
//! One [`Listening`] serves one process: the whole service with `--workers 0`, or one worker
//! of the master in `master.rs`, which shares its listening socket with every worker.
//!
//! An embedder serves an engine it keeps, and changes the table while it serves (the seed
//! page's `app.rpc.methods['sample.add'] = ...`):
//!
//! ```
//! use runjsonrpc2::server::{HttpConfig, bind};
//! use runjsonrpc2::{Extras, JsonRpc, procedure};
//! use std::io::{Read, Write};
//! use std::sync::Arc;
//!
//! let rpc = Arc::new(JsonRpc::new());
//! let config = HttpConfig { port: 0, ..HttpConfig::default() };
//! let listening = bind(&config).unwrap();
//! let addr = listening.local_addr();
//! let (stopper, running) = listening.start(rpc.clone(), Arc::new(Extras::new()), None);
//! let call = || {
//!     let body = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
//!     let mut conn = std::net::TcpStream::connect(addr).unwrap();
//!     write!(conn, "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n").unwrap();
//!     write!(conn, "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
//!     let mut answer = String::new();
//!     conn.read_to_string(&mut answer).unwrap();
//!     answer.split("\r\n\r\n").nth(1).unwrap().to_owned()
//! };
//! assert!(call().contains("Method not found"));
//! rpc.methods().insert("add", procedure(&["a", "b"], |a: i64, b: i64| Ok(a + b)).unwrap());
//! assert_eq!(call(), r#"{"jsonrpc":"2.0","result":3,"id":1}"#);
//! rpc.methods().remove("add");
//! assert!(call().contains("Method not found"));
//! stopper.stop();
//! running.wait().unwrap();
//! ```

mod accept;
mod allow;
mod deadline;
mod exit;
mod framing;
mod gate;
mod guard;
mod kick;
mod pool;
mod route;
mod watch;
mod wire;

use crate::engine::JsonRpc;
use crate::signature::Extras;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub use allow::{BadCidr, Cidr};
pub use deadline::TIMEOUT_CODE;
pub(crate) use route::unknown_caller;
pub use route::{CALLER, REMOTE_ADDR};

/// The most call threads when `threads` is 0: a pool grows to it only while every thread is busy.
pub const DEFAULT_THREADS: usize = 64;

/// How the server listens and what it accepts.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The address to bind (default `127.0.0.1`).
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// The most call threads (0: [`DEFAULT_THREADS`]). The pool starts with one per core and
    /// grows while every thread is busy, up to this cap; threads idle for 10 s leave again.
    pub threads: usize,
    /// The path that takes JSON-RPC POSTs (default `/`).
    pub rpc_path: String,
    /// The largest request body in bytes (default 1 MiB); larger ones answer 413.
    pub max_body: usize,
    /// Files served on GET, `index.html` for a directory.
    pub static_dir: Option<PathBuf>,
    /// How long in-flight calls may run after SIGINT or SIGTERM.
    pub grace: Duration,
    /// How long a write to a client may block (a client that does not read its answer).
    pub write_timeout: Duration,
    /// How long one request's calls may run (a batch counts as one) before it is answered
    /// with [`TIMEOUT_CODE`]; `None` for no deadline.
    pub timeout: Option<Duration>,
    /// A supervised server retires after this many requests; `None` for never.
    pub max_requests: Option<u64>,
    /// Serve `GET /metrics` (see `metrics.rs`).
    pub metrics: bool,
    /// With users, every request but `GET /health` needs HTTP Basic credentials of one of
    /// them, and may call only the methods that user's patterns allow.
    pub auth: Option<Arc<crate::auth::Users>>,
    /// Networks that may connect; empty for any. Others' packets are dropped in the kernel.
    pub allow_from: Vec<Cidr>,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            host: "127.0.0.1".into(),
            port: 8080,
            threads: 0,
            rpc_path: "/".into(),
            max_body: 1024 * 1024,
            static_dir: None,
            grace: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            timeout: Some(Duration::from_secs(30)),
            max_requests: None,
            metrics: false,
            auth: None,
            allow_from: Vec::new(),
        }
    }
}

/// Why serving failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// The socket could not be made, bound or set up.
    Bind {
        /// The address asked for, `HOST:PORT`.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The signal handlers could not be installed.
    Signals(std::io::Error),
    /// The accept loop died (for example out of file descriptors).
    Accept(std::io::Error),
    /// Too many connections were stranded by refused bodies (see `guard`).
    Stranded,
    /// tiny_http's accept thread panicked (see `watch`).
    AcceptDied,
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Bind { addr, .. } => write!(f, "cannot listen on {addr}"),
            ServeError::Signals(_) => write!(f, "cannot install signal handlers"),
            ServeError::Accept(_) => write!(f, "accepting connections failed"),
            ServeError::Stranded => write!(
                f,
                "stopped after {} connections were stranded by refused bodies (or {} requests behind them)",
                guard::MAX_STRANDED,
                guard::MAX_DISCARDED
            ),
            ServeError::AcceptDied => {
                write!(f, "stopped: the accept thread panicked (out of file descriptors or threads?)")
            }
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Bind { source, .. } | ServeError::Signals(source) | ServeError::Accept(source) => Some(source),
            ServeError::Stranded | ServeError::AcceptDied => None,
        }
    }
}

/// Called once, with the reason, when a supervised server retires: it stops taking work,
/// finishes its calls and ends serving with `Ok`, for a fresh process to take its place.
pub type Retire = Box<dyn Fn(&str) + Send + Sync>;

/// SIGHUP in a single process: the auth file is read again (with workers, the master starts
/// new workers, which read it). A file that does not load keeps the users as they were.
fn reload_users(users: &Users) {
    let current = users.read().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(current) = current else {
        log::info!("SIGHUP: nothing to reload in one process (modules reload with worker processes)");
        return;
    };
    match crate::auth::Users::load(current.file()) {
        Ok(fresh) => {
            let count = fresh.len();
            *users.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(fresh));
            // Said once it holds: whoever reads the log may rely on the new users.
            log::info!("SIGHUP: reloaded {} ({count} users)", current.file().display());
        }
        Err(e) => log::error!("SIGHUP: {e}; the users stay as they were"),
    }
}

/// Binds the listening socket, with the options every accepted connection inherits.
pub fn bind_socket(config: &HttpConfig) -> Result<TcpListener, ServeError> {
    let addr_text = format!("{}:{}", config.host, config.port);
    let bind_err = |source| ServeError::Bind { addr: addr_text.clone(), source };
    let addr = addr_text
        .to_socket_addrs()
        .map_err(bind_err)?
        .next()
        .ok_or_else(|| bind_err(std::io::Error::other("no address")))?;
    let socket =
        socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None).map_err(bind_err)?;
    socket.set_reuse_address(true).map_err(bind_err)?;
    tune(&socket, config).map_err(bind_err)?;
    socket.bind(&addr.into()).map_err(bind_err)?;
    socket.listen(1024).map_err(bind_err)?;
    Ok(socket.into())
}

/// Sets what accepted sockets inherit on Linux (tiny_http offers no per-connection options):
/// TCP_NODELAY (small answers are not held back by Nagle's algorithm), the write timeout and
/// keep-alive probes. (A read timeout cannot be set this way: accept() would time out and
/// end tiny_http's accept loop. See SECURITY.md.)
/// Also restricts who may connect (`allow_from`).
pub(crate) fn tune(socket: &socket2::Socket, config: &HttpConfig) -> std::io::Result<()> {
    allow::apply(socket, &config.allow_from)?;
    socket.set_tcp_nodelay(true)?;
    socket.set_write_timeout(Some(config.write_timeout))?;
    let keepalive =
        socket2::TcpKeepalive::new().with_time(Duration::from_secs(60)).with_interval(Duration::from_secs(10));
    socket.set_tcp_keepalive(&keepalive)
}

/// Binds and returns the socket ready to serve ([`bind_socket`], then [`Listening::on`]).
pub fn bind(config: &HttpConfig) -> Result<Listening, ServeError> {
    Listening::on(bind_socket(config)?, config)
}

/// A listening socket with tiny_http on it, not yet serving.
pub struct Listening {
    server: Arc<tiny_http::Server>,
    accept: accept::Accept,
    addr: SocketAddr,
    pub(crate) config: HttpConfig,
    /// The users `--auth` checks, replaced whole when a single process reloads them on SIGHUP.
    users: Users,
}

/// The current users of `--auth`, if any.
pub(crate) type Users = Arc<std::sync::RwLock<Option<Arc<crate::auth::Users>>>>;

impl Listening {
    /// Serves on `listener`: bound here, inherited from the master, or passed by systemd.
    pub fn on(listener: TcpListener, config: &HttpConfig) -> Result<Listening, ServeError> {
        // Every connection holds a thread and two descriptors in tiny_http, and its accept loop
        // ends for good when a descriptor cannot be had: take all the descriptors allowed.
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) => log::debug!("open file limit: {n}"),
            Err(e) => log::warn!("cannot raise the open file limit: {e}"),
        }
        let addr = listener.local_addr().map_err(ServeError::Accept)?;
        let bind_err = |source| ServeError::Bind { addr: addr.to_string(), source };
        // A socket passed in may be non-blocking (systemd's NonBlocking=yes): tiny_http's
        // accept loop would end at once on EAGAIN.
        listener.set_nonblocking(false).map_err(bind_err)?;
        let socket = socket2::Socket::from(listener);
        tune(&socket, config).map_err(bind_err)?;
        let (accept, for_tiny_http) = accept::Accept::new(socket, addr).map_err(bind_err)?;
        let server = tiny_http::Server::from_listener(for_tiny_http, None)
            .map_err(|e| bind_err(std::io::Error::other(e.to_string())))?;
        let users = Arc::new(std::sync::RwLock::new(config.auth.clone()));
        Ok(Listening { server: Arc::new(server), accept, addr, config: config.clone(), users })
    }

    /// The address the socket is bound to (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until SIGINT or SIGTERM (graceful: calls in flight finish within the grace
    /// period) or SIGQUIT (quick: the process exits at once).
    pub fn serve_until_signal(self, rpc: Arc<JsonRpc>, extras: Arc<Extras>) -> Result<(), ServeError> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
        let mut signals =
            signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGQUIT, SIGHUP]).map_err(ServeError::Signals)?;
        let handle = signals.handle();
        let users = self.users.clone();
        let (stopper, running) = self.start(rpc, extras, None);
        let signal_thread = std::thread::spawn(move || {
            for sig in signals.forever() {
                if sig == SIGHUP {
                    reload_users(&users);
                    continue;
                }
                if sig == SIGQUIT {
                    log::info!("signal {sig}: quitting at once");
                    std::process::exit(0);
                }
                log::info!("signal {sig}: no new connections, finishing calls in flight");
                stopper.stop();
            }
        });
        let result = running.wait();
        handle.close();
        let _ = signal_thread.join();
        result
    }

    /// Starts the call threads; returns a handle to stop them and one to wait for them. With
    /// `retire`, faults that would end serving (too many stranded connections, a dead accept
    /// loop, a call past its deadline, `max_requests`) retire the server instead.
    pub fn start(self, rpc: Arc<JsonRpc>, extras: Arc<Extras>, retire: Option<Retire>) -> (Stopper, Running) {
        let (events, events_rx) = mpsc::channel();
        let stopper = Stopper(Arc::new(StopState {
            stopping: AtomicBool::new(false),
            error: Mutex::new(None),
            server: self.server.clone(),
            accept: self.accept,
            retire,
            retired: AtomicBool::new(false),
            events: Mutex::new(events),
        }));
        let shared = pool::Shared::new(rpc, extras, self.config, self.users, stopper.clone(), self.addr);
        pool::start(&self.server, &shared);
        let watched = watch::watch(&stopper);
        (stopper, Running { events: events_rx, shared, watched })
    }
}

/// Stops a server: no new connections, and the call threads finish.
#[derive(Clone)]
pub struct Stopper(Arc<StopState>);

struct StopState {
    stopping: AtomicBool,
    /// The fault that stopped an unsupervised server, which serving ends with.
    error: Mutex<Option<ServeError>>,
    server: Arc<tiny_http::Server>,
    accept: accept::Accept,
    retire: Option<Retire>,
    retired: AtomicBool,
    events: Mutex<mpsc::Sender<Event>>,
}

/// What [`Running::wait`] hears about.
enum Event {
    /// A stop began: the grace period starts now.
    Stopping,
    /// A call thread ended.
    Left,
}

impl Stopper {
    /// Stops taking work: tiny_http's accept loop ends (other processes sharing the socket
    /// go on accepting), queued requests are answered, then the call threads leave.
    pub fn stop(&self) {
        if self.0.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        self.0.accept.stop();
        self.0.server.unblock();
        self.send(Event::Stopping);
    }

    /// Something is wrong with this server: a supervised one retires, an unsupervised one
    /// stops and serving ends with `error` (the first one; a fault during a stop is none).
    pub(crate) fn fail(&self, error: ServeError) {
        let text = crate::error::chain(&error);
        if self.0.retire.is_some() {
            return self.retire(&text);
        }
        if !self.stopping() {
            log::error!("{text}; shutting down");
            self.0.error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(error);
        }
        self.stop();
    }

    /// A supervised server tells its master why it retires, once, and stops; an
    /// unsupervised one only logs the reason.
    pub(crate) fn retire(&self, reason: &str) {
        match &self.0.retire {
            Some(tell) if !self.0.retired.swap(true, Ordering::SeqCst) => {
                log::warn!("retiring: {reason}");
                tell(reason);
                self.stop();
            }
            Some(_) => {}
            None => log::warn!("{reason} (with --workers 0 nothing replaces this process)"),
        }
    }

    /// Whether a stop has begun (answers then ask clients to close their connections).
    pub(crate) fn stopping(&self) -> bool {
        self.0.stopping.load(Ordering::SeqCst)
    }

    fn send(&self, event: Event) {
        let _ = self.0.events.lock().unwrap_or_else(|e| e.into_inner()).send(event);
    }
}

/// The running call threads.
pub struct Running {
    events: mpsc::Receiver<Event>,
    shared: Arc<pool::Shared>,
    /// The id under which `watch` looks out for the accept thread's death.
    watched: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        watch::unwatch(self.watched);
    }
}

impl Running {
    /// Waits until every call thread has left (after [`Stopper::stop`]), or the grace period
    /// counted from the stop has passed; calls still running then are cut off, and logged.
    /// Threads stuck in calls already answered past their deadline are not waited for.
    pub fn wait(self) -> Result<(), ServeError> {
        let mut deadline: Option<std::time::Instant> = None;
        while self.shared.pool.waited_for() > 0 {
            let event = match deadline {
                None => self.events.recv().map_err(|_| ()),
                Some(d) => {
                    self.events.recv_timeout(d.saturating_duration_since(std::time::Instant::now())).map_err(|_| ())
                }
            };
            match event {
                Ok(Event::Stopping) => deadline = Some(std::time::Instant::now() + self.shared.config.grace),
                Ok(Event::Left) => {}
                Err(()) => {
                    let busy = self.shared.pool.busy();
                    log::warn!("grace period over: cutting off {busy} call(s) still running");
                    break;
                }
            }
        }
        match self.shared.stopper.0.error.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every call thread wakes on a stop, and the stop leaves the listening socket open for
    /// others sharing it (a second tiny_http on a copy of it still answers).
    #[test]
    fn a_stop_ends_this_servers_accepting_only() {
        let config = HttpConfig { port: 0, threads: 4, grace: Duration::from_secs(60), ..HttpConfig::default() };
        let socket = bind_socket(&config).expect("binds 127.0.0.1:0");
        let other = Listening::on(socket.try_clone().unwrap(), &config).unwrap();
        let listening = Listening::on(socket, &config).unwrap();
        let addr = listening.local_addr();
        let (stopper, running) = listening.start(Arc::new(JsonRpc::new()), Arc::new(Extras::new()), None);
        let (other_stopper, other_running) = other.start(Arc::new(JsonRpc::new()), Arc::new(Extras::new()), None);
        let call = || {
            let mut client = std::net::TcpStream::connect(addr).expect("connects");
            let body = r#"{"jsonrpc":"2.0","method":"m","id":1}"#;
            let head = format!(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            std::io::Write::write_all(&mut client, format!("{head}{body}").as_bytes()).expect("sends");
            let mut answer = [0u8; 512];
            let n = std::io::Read::read(&mut client, &mut answer).expect("an answer");
            String::from_utf8_lossy(&answer[..n]).into_owned()
        };
        assert!(call().contains("-32601"), "method not found");
        let stopped = std::time::Instant::now();
        stopper.stop();
        running.wait().expect("a clean stop");
        assert!(stopped.elapsed() < Duration::from_secs(30), "a thread waited out the grace period");
        for _ in 0..20 {
            assert!(call().contains("-32601"), "the other server still answers");
        }
        other_stopper.stop();
        other_running.wait().expect("a clean stop");
    }
}
