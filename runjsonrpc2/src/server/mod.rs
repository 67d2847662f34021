//! The HTTP transport, the only user of tiny_http: binding, worker threads, shutdown.

mod framing;
mod guard;
mod route;
mod watch;
mod wire;

use crate::engine::JsonRpc;
use crate::signature::Extras;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// How the server listens and what it accepts.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// Worker threads calling procedures; 0 means the number of available cores.
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
        }
    }
}

/// Why serving failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    Bind {
        addr: String,
        source: std::io::Error,
    },
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
            ServeError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            ServeError::Signals(e) => write!(f, "cannot install signal handlers: {e}"),
            ServeError::Accept(e) => write!(f, "accepting connections failed: {e}"),
            ServeError::Stranded => {
                write!(f, "stopped after {} connections were stranded by refused bodies", guard::MAX_STRANDED)
            }
            ServeError::AcceptDied => {
                write!(f, "stopped: the accept thread panicked (out of file descriptors?)")
            }
        }
    }
}

impl std::error::Error for ServeError {}

/// A bound socket, not yet serving.
pub struct Listening {
    server: Arc<tiny_http::Server>,
    listener: socket2::Socket,
    addr: SocketAddr,
    pub(crate) config: HttpConfig,
}

/// Binds the listening socket with TCP_NODELAY (inherited by accepted connections on Linux,
/// so small answers are not held back by Nagle's algorithm).
pub fn bind(config: &HttpConfig) -> Result<Listening, ServeError> {
    // Every connection holds a thread and two descriptors in tiny_http, and its accept loop
    // ends for good when a descriptor cannot be had: take all the descriptors allowed.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => log::debug!("open file limit: {n}"),
        Err(e) => log::warn!("cannot raise the open file limit: {e}"),
    }
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
    // Accepted sockets inherit these on Linux: tiny_http offers no per-connection options.
    // (A read timeout cannot be set this way: accept() would time out and end tiny_http's
    // accept loop. See SECURITY.md.)
    socket.set_tcp_nodelay(true).map_err(bind_err)?;
    socket.set_write_timeout(Some(config.write_timeout)).map_err(bind_err)?;
    let keepalive =
        socket2::TcpKeepalive::new().with_time(Duration::from_secs(60)).with_interval(Duration::from_secs(10));
    socket.set_tcp_keepalive(&keepalive).map_err(bind_err)?;
    socket.bind(&addr.into()).map_err(bind_err)?;
    socket.listen(1024).map_err(bind_err)?;
    let listener: TcpListener = socket.try_clone().map_err(bind_err)?.into();
    let addr = listener.local_addr().map_err(bind_err)?;
    let server =
        tiny_http::Server::from_listener(listener, None).map_err(|e| bind_err(std::io::Error::other(e.to_string())))?;
    Ok(Listening { server: Arc::new(server), listener: socket, addr, config: config.clone() })
}

/// Stops a server: closes the listening socket and lets the workers finish.
#[derive(Clone)]
pub struct Stopper {
    stopping: Arc<AtomicBool>,
    /// The [`Fault`] that stopped the server, as a number; 0 for none.
    fault: Arc<AtomicU8>,
    server: Arc<tiny_http::Server>,
    listener: Arc<socket2::Socket>,
    threads: usize,
    events: mpsc::Sender<Event>,
}

/// What [`Workers::wait`] hears about.
enum Event {
    /// A stop began: the grace period starts now.
    Stopping,
    /// A worker ended.
    Done(Result<(), ServeError>),
}

/// Why a server stopped on its own, and the error serving ends with.
#[derive(Clone, Copy)]
pub(crate) enum Fault {
    /// [`ServeError::Stranded`].
    Stranded = 1,
    /// [`ServeError::AcceptDied`].
    AcceptDied = 2,
}

impl Stopper {
    /// Stops because something is wrong: serving ends with the first fault's error (unless a
    /// worker's error comes first). A fault during a stop already under way is not one.
    pub(crate) fn fail(&self, fault: Fault) {
        if !self.stopping() {
            let _ = self.fault.compare_exchange(0, fault as u8, Ordering::SeqCst, Ordering::SeqCst);
        }
        self.stop();
    }

    pub fn stop(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // New connections are refused from here on: the accept loop sees an error and ends.
        let _ = self.listener.shutdown(std::net::Shutdown::Both);
        for _ in 0..self.threads {
            self.server.unblock();
        }
        let _ = self.events.send(Event::Stopping);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

impl Listening {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until SIGINT or SIGTERM, then lets in-flight calls finish within the grace period.
    pub fn serve_until_signal(self, rpc: Arc<JsonRpc>, extras: Arc<Extras>) -> Result<(), ServeError> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map_err(ServeError::Signals)?;
        let handle = signals.handle();
        let (stopper, workers) = self.start(rpc, extras);
        let on_signal = stopper.clone();
        let signal_thread = std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                log::info!("signal {sig}: no new connections, finishing calls in flight");
                on_signal.stop();
            }
        });
        let result = workers.wait();
        handle.close();
        let _ = signal_thread.join();
        result
    }

    /// Starts the worker threads; returns a handle to stop them and one to wait for them.
    pub fn start(self, rpc: Arc<JsonRpc>, extras: Arc<Extras>) -> (Stopper, Workers) {
        let threads = match self.config.threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let (events, events_rx) = mpsc::channel();
        let stopper = Stopper {
            stopping: Arc::new(AtomicBool::new(false)),
            fault: Arc::new(AtomicU8::new(0)),
            server: self.server.clone(),
            listener: Arc::new(self.listener),
            threads,
            events: events.clone(),
        };
        let shared = Arc::new(Shared {
            rpc,
            extras,
            config: self.config,
            busy: AtomicUsize::new(0),
            guard: guard::Guard::default(),
            stopper: stopper.clone(),
        });
        for i in 0..threads {
            let (server, shared, done) = (self.server.clone(), shared.clone(), events.clone());
            let spawned = std::thread::Builder::new().name(format!("rpc-worker-{i}")).spawn(move || {
                let result = worker(&server, &shared);
                let _ = done.send(Event::Done(result));
            });
            if let Err(e) = spawned {
                let _ = events.send(Event::Done(Err(ServeError::Accept(e))));
            }
        }
        let watched = watch::watch(&stopper);
        let workers = Workers { events: events_rx, threads, shared, watched };
        (stopper, workers)
    }
}

/// The running workers.
pub struct Workers {
    events: mpsc::Receiver<Event>,
    threads: usize,
    shared: Arc<Shared>,
    /// The id under which `watch` looks out for the accept thread's death.
    watched: u64,
}

impl Drop for Workers {
    fn drop(&mut self) {
        watch::unwatch(self.watched);
    }
}

impl Workers {
    /// Waits until every worker has stopped (after [`Stopper::stop`]), or the grace period
    /// counted from the stop has passed; calls still running then are cut off, and logged.
    pub fn wait(self) -> Result<(), ServeError> {
        let stopper = &self.shared.stopper;
        let mut result = Ok(());
        let mut left = self.threads;
        let mut deadline: Option<std::time::Instant> = None;
        while left > 0 {
            let event = match deadline {
                None => self.events.recv().map_err(|_| ()),
                Some(d) => {
                    self.events.recv_timeout(d.saturating_duration_since(std::time::Instant::now())).map_err(|_| ())
                }
            };
            match event {
                Ok(Event::Stopping) => deadline = Some(std::time::Instant::now() + self.shared.config.grace),
                Ok(Event::Done(done)) => {
                    left -= 1;
                    if let Err(e) = done {
                        log::error!("{e}; shutting down");
                        stopper.stop();
                        // The first error is the cause; later ones may follow from it.
                        if result.is_ok() {
                            result = Err(e);
                        }
                    }
                }
                Err(()) => {
                    let busy = self.shared.busy.load(Ordering::SeqCst);
                    log::warn!("grace period over: cutting off {busy} call(s) still running");
                    break;
                }
            }
        }
        match stopper.fault.load(Ordering::SeqCst) {
            _ if result.is_err() => result,
            f if f == Fault::Stranded as u8 => Err(ServeError::Stranded),
            f if f == Fault::AcceptDied as u8 => Err(ServeError::AcceptDied),
            _ => result,
        }
    }
}

pub(crate) struct Shared {
    pub(crate) rpc: Arc<JsonRpc>,
    pub(crate) extras: Arc<Extras>,
    pub(crate) config: HttpConfig,
    pub(crate) busy: AtomicUsize,
    pub(crate) guard: guard::Guard,
    pub(crate) stopper: Stopper,
}

fn worker(server: &tiny_http::Server, shared: &Shared) -> Result<(), ServeError> {
    let result = serve_requests(server, shared);
    // The stop's unblock tokens are not addressed: a draining worker may have taken those
    // meant for workers still blocked in `recv`. Each worker that leaves a stop passes a
    // token per worker on, so the blocked ones wake at once and none waits out the grace
    // period. (Not when it leaves on an error: the stop that follows sends the tokens.)
    if shared.stopper.stopping() {
        for _ in 0..shared.stopper.threads {
            server.unblock();
        }
    }
    result
}

fn serve_requests(server: &tiny_http::Server, shared: &Shared) -> Result<(), ServeError> {
    let (mut body, mut out, mut wire) = (Vec::new(), Vec::new(), wire::Wire::new());
    loop {
        let request = if shared.stopper.stopping() {
            // Stopping: answer what is queued, then leave once the queue stays empty for a
            // while. The stop's unblock tokens and the accept loop's final error come through
            // here too (an early `None`, an `Err`): they are not the end of the queue.
            let quiet = Duration::from_millis(100);
            let asked = std::time::Instant::now();
            match server.recv_timeout(quiet) {
                Ok(Some(r)) => r,
                Ok(None) if asked.elapsed() < quiet => continue,
                Err(_) => continue,
                Ok(None) => return Ok(()),
            }
        } else {
            match server.recv() {
                Ok(r) => r,
                Err(_) if shared.stopper.stopping() => continue,
                Err(e) => return Err(ServeError::Accept(e)),
            }
        };
        shared.busy.fetch_add(1, Ordering::SeqCst);
        route::handle(request, shared, &mut body, &mut out, &mut wire);
        shared.busy.fetch_sub(1, Ordering::SeqCst);
        // A rare large body or answer should not keep its memory for the life of the worker.
        for buf in [&mut body, &mut out] {
            if buf.capacity() > 1 << 20 {
                *buf = Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every worker blocked in `recv` wakes on a stop even when one of them takes every token:
    /// here the stop sends a single token for four workers. A worker left blocked would keep
    /// `wait` until the 60 s grace period ran out.
    #[test]
    fn a_stop_reaches_every_worker() {
        let config = HttpConfig { port: 0, threads: 4, grace: Duration::from_secs(60), ..HttpConfig::default() };
        let listening = bind(&config).expect("binds 127.0.0.1:0");
        let addr = listening.local_addr();
        let (stopper, workers) = listening.start(Arc::new(JsonRpc::new()), Arc::new(Extras::new()));
        // One call answered first: by then the workers have started and wait in `recv`.
        let mut client = std::net::TcpStream::connect(addr).expect("connects");
        let body = r#"{"jsonrpc":"2.0","method":"m","id":1}"#;
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        std::io::Write::write_all(&mut client, format!("{head}{body}").as_bytes()).expect("sends");
        let mut answer = [0u8; 512];
        let n = std::io::Read::read(&mut client, &mut answer).expect("an answer");
        assert!(String::from_utf8_lossy(&answer[..n]).contains("-32601"), "method not found");
        drop(client);
        let stopped = std::time::Instant::now();
        Stopper { threads: 1, ..stopper }.stop();
        workers.wait().expect("a clean stop");
        assert!(stopped.elapsed() < Duration::from_secs(30), "a worker waited out the grace period");
    }
}
