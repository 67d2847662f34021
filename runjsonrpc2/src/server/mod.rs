//! The HTTP/1.1 server: the listening socket, a thread per connection, limits, stopping.
//!
//! One [`Listening`] serves one process: the whole service with `--workers 0`, or one worker
//! of the master in `master/`, which shares its listening socket with every worker.
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
//! let config = HttpConfig::new("127.0.0.1", 0);
//! let listening = bind(&config).unwrap();
//! let addr = listening.local_addr().expect("a TCP socket");
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

mod access;
mod allow;
mod config;
mod conn;
mod deadline;
mod framing;
mod gate;
mod listen;
mod pool;
mod reader;
mod route;
mod shared;
mod stop;
mod wire;

use crate::engine::JsonRpc;
use crate::signature::Extras;
use shared::{Shared, Users};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use allow::{BadCidr, Cidr};
pub use config::{DEFAULT_MAX_CONNECTIONS, HttpConfig};
pub use deadline::TIMEOUT_CODE;
pub use listen::{Address, Listener, bind_unix};
pub(crate) use route::unknown_caller;
pub use route::{CALLER, REMOTE_ADDR};
pub use stop::{Retire, RetireReason, Stopper};

/// Why serving failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// The socket could not be made, bound or set up.
    Bind {
        /// The address asked for, `HOST:PORT` or the socket's path.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The signal handlers could not be installed.
    Signals(std::io::Error),
    /// The accept loop could not run.
    Accept(std::io::Error),
    /// The access log could not be opened.
    AccessLog {
        /// Its path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Bind { addr, .. } => write!(f, "cannot listen on {addr}"),
            ServeError::Signals(_) => write!(f, "cannot install signal handlers"),
            ServeError::Accept(_) => write!(f, "accepting connections failed"),
            ServeError::AccessLog { path, .. } => write!(f, "cannot open the access log {path}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Bind { source, .. }
            | ServeError::Signals(source)
            | ServeError::Accept(source)
            | ServeError::AccessLog { source, .. } => Some(source),
        }
    }
}

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

/// Binds the listening TCP socket, with the options every accepted connection inherits.
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

/// Sets what accepted TCP sockets inherit on Linux: TCP_NODELAY (small answers are not held
/// back by Nagle's algorithm) and keep-alive probes (a vanished client is found). Also
/// restricts who may connect (`allow_from`).
pub(crate) fn tune(socket: &socket2::Socket, config: &HttpConfig) -> std::io::Result<()> {
    allow::apply(socket, &config.allow_from)?;
    socket.set_tcp_nodelay(true)?;
    let keepalive =
        socket2::TcpKeepalive::new().with_time(Duration::from_secs(60)).with_interval(Duration::from_secs(10));
    socket.set_tcp_keepalive(&keepalive)
}

/// Binds and returns the socket ready to serve: `config.unix` when set, else TCP
/// ([`bind_socket`]), then [`Listening::on`].
pub fn bind(config: &HttpConfig) -> Result<Listening, ServeError> {
    match &config.unix {
        Some(path) => {
            let listener =
                bind_unix(path).map_err(|source| ServeError::Bind { addr: path.display().to_string(), source })?;
            Listening::on(listener, config)
        }
        None => Listening::on(bind_socket(config)?, config),
    }
}

/// A listening socket, not yet serving.
pub struct Listening {
    listener: Listener,
    address: Address,
    config: HttpConfig,
    /// The users `--auth` checks, replaced whole when a single process reloads them on SIGHUP.
    users: Users,
    access: Option<Arc<access::AccessLog>>,
}

impl Listening {
    /// Serves on `listener`: bound here, inherited from the master, or passed by systemd.
    pub fn on(listener: impl Into<Listener>, config: &HttpConfig) -> Result<Listening, ServeError> {
        let listener = listener.into();
        let address = listener.address().map_err(ServeError::Accept)?;
        let bind_err = |source| ServeError::Bind { addr: address.to_string(), source };
        match &listener {
            Listener::Tcp(l) => tune(&socket2::SockRef::from(l), config).map_err(bind_err)?,
            Listener::Unix(_) if !config.allow_from.is_empty() => {
                return Err(bind_err(std::io::Error::other("allow_from does not apply to a Unix socket")));
            }
            Listener::Unix(_) => {}
        }
        let users = Arc::new(std::sync::RwLock::new(config.auth.clone()));
        let access = match &config.access_log {
            Some(path) => Some(Arc::new(
                access::AccessLog::open(path)
                    .map_err(|source| ServeError::AccessLog { path: path.display().to_string(), source })?,
            )),
            None => None,
        };
        Ok(Listening { listener, address, config: config.clone(), users, access })
    }

    /// The TCP address the socket is bound to (the real port when 0 was asked for); `None`
    /// for a Unix socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self.address {
            Address::Tcp(addr) => Some(addr),
            Address::Unix(_) => None,
        }
    }

    /// Where the socket listens.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Reopens the access log, if any (logrotate moved it): what SIGUSR1 does.
    pub(crate) fn log_reopener(&self) -> impl Fn() + Send + Sync + 'static {
        let access = self.access.clone();
        move || {
            if let Some(access) = &access
                && let Err(e) = access.reopen()
            {
                log::error!("cannot reopen the access log: {e}; it goes on in the old file");
            }
        }
    }

    /// Serves until SIGINT or SIGTERM (graceful: calls in flight finish within the grace
    /// period) or SIGQUIT (quick: the process exits at once). SIGHUP reads the `--auth` file
    /// again and, like SIGUSR1, reopens the access log.
    pub fn serve_until_signal(self, rpc: Arc<JsonRpc>, extras: Arc<Extras>) -> Result<(), ServeError> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1])
            .map_err(ServeError::Signals)?;
        let handle = signals.handle();
        let users = self.users.clone();
        let reopen = self.log_reopener();
        let (stopper, running) = self.start(rpc, extras, None);
        let signal_thread = std::thread::spawn(move || {
            for sig in signals.forever() {
                if sig == SIGHUP || sig == SIGUSR1 {
                    reopen();
                }
                if sig == SIGUSR1 {
                    continue;
                }
                if sig == SIGHUP {
                    reload_users(&users);
                    continue;
                }
                if sig == SIGQUIT {
                    log::info!("signal {sig}: quitting at once");
                    crate::sys::exit_now(0);
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

    /// Starts accepting; returns a handle to stop and one to wait for the end. With `retire`,
    /// faults that would end serving (a call past its deadline, `max_requests`) retire the
    /// server instead.
    pub fn start(self, rpc: Arc<JsonRpc>, extras: Arc<Extras>, retire: Option<Retire>) -> (Stopper, Running) {
        let (wake_rx, wake_tx) = match std::io::pipe() {
            Ok((rx, tx)) => (Some(rx), Some(tx)),
            Err(e) => {
                log::warn!("no pipe to wake the accept loop ({e}): it looks for a stop ten times a second");
                (None, None)
            }
        };
        let stopper = Stopper::new(retire, wake_tx);
        let pool = pool::Pool::new();
        let woken = pool.clone();
        stopper.on_stop(move || woken.wake_all());
        let deadlines = Arc::new(deadline::Deadlines::new(self.config.timeout));
        let shared = Arc::new(Shared {
            rpc: rpc.clone(),
            extras,
            config: self.config,
            stopper: stopper.clone(),
            deadlines: deadlines.clone(),
            failures: Default::default(),
            users: self.users,
            served: Default::default(),
            calls: Default::default(),
            access: self.access,
        });
        if shared.config.timeout.is_some() {
            let (watched, done_shared) = (pool.clone(), shared.clone());
            let done = move || done_shared.stopper.stopping() && watched.live() <= done_shared.deadlines.overdue();
            deadline::watch(deadlines, rpc, stopper.clone(), done);
        }
        pool::start(self.listener, wake_rx, shared.clone(), pool.clone());
        (stopper, Running { shared, pool })
    }
}

/// A server running.
pub struct Running {
    shared: Arc<Shared>,
    pool: Arc<pool::Pool>,
}

impl Running {
    /// Waits for a stop ([`Stopper::stop`]), then until every connection thread has left, or
    /// the grace period counted from the stop has passed; calls still running then are cut
    /// off, and logged. Threads stuck in calls already answered past their deadline are not
    /// waited for.
    pub fn wait(self) -> Result<(), ServeError> {
        let shared = &self.shared;
        self.pool.wait(&|_| shared.stopper.stopping(), None);
        let until = Instant::now() + shared.config.grace;
        let overdue = || shared.deadlines.overdue();
        let deadlines = &shared.deadlines;
        let live = self.pool.wait(&|live| live <= overdue() && deadlines.answering() == 0, Some(until));
        if live > overdue() {
            let calls = shared.calls.load(std::sync::atomic::Ordering::SeqCst).saturating_sub(overdue());
            log::warn!("grace period over: cutting off {calls} call(s) still running");
        }
        if let Some(access) = &shared.access {
            access.flush();
        }
        match shared.stopper.take_error() {
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
        let config = HttpConfig { port: 0, grace: Duration::from_secs(60), ..HttpConfig::default() };
        let socket = bind_socket(&config).expect("binds 127.0.0.1:0");
        let other = Listening::on(socket.try_clone().unwrap(), &config).unwrap();
        let listening = Listening::on(socket, &config).unwrap();
        let addr = listening.local_addr().unwrap();
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
