//! The HTTP transport, the only user of tiny_http: POST bodies to the engine, health and static files.

use crate::engine::JsonRpc;
use crate::signature::Extras;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;
use tiny_http::{Header, Method, Request, Response, StatusCode};

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
        }
    }
}

/// Why serving failed.
#[derive(Debug)]
pub enum ServeError {
    Bind {
        addr: String,
        source: std::io::Error,
    },
    Signals(std::io::Error),
    /// The accept loop died (for example out of file descriptors).
    Accept(std::io::Error),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            ServeError::Signals(e) => write!(f, "cannot install signal handlers: {e}"),
            ServeError::Accept(e) => write!(f, "accepting connections failed: {e}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// A bound socket, not yet serving.
pub struct Listening {
    server: Arc<tiny_http::Server>,
    listener: socket2::Socket,
    addr: SocketAddr,
    config: HttpConfig,
}

/// Binds the listening socket with TCP_NODELAY (inherited by accepted connections on Linux,
/// so small answers are not held back by Nagle's algorithm).
pub fn bind(config: &HttpConfig) -> Result<Listening, ServeError> {
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
    socket.set_tcp_nodelay(true).map_err(bind_err)?;
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
    server: Arc<tiny_http::Server>,
    listener: Arc<socket2::Socket>,
    threads: usize,
}

impl Stopper {
    pub fn stop(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // New connections are refused from here on: the accept loop sees an error and ends.
        let _ = self.listener.shutdown(std::net::Shutdown::Both);
        for _ in 0..self.threads {
            self.server.unblock();
        }
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
        let stopper = Stopper {
            stopping: Arc::new(AtomicBool::new(false)),
            server: self.server.clone(),
            listener: Arc::new(self.listener),
            threads,
        };
        let shared = Arc::new(Shared {
            rpc,
            extras,
            config: self.config,
            stopping: stopper.stopping.clone(),
            busy: AtomicUsize::new(0),
            json: Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).expect("valid header"),
        });
        let (done_tx, done_rx) = mpsc::channel();
        for i in 0..threads {
            let (server, shared, done) = (self.server.clone(), shared.clone(), done_tx.clone());
            let spawned = std::thread::Builder::new().name(format!("rpc-worker-{i}")).spawn(move || {
                let result = worker(&server, &shared);
                let _ = done.send(result);
            });
            if let Err(e) = spawned {
                let _ = done_tx.send(Err(ServeError::Accept(e)));
            }
        }
        let workers = Workers { done: done_rx, threads, shared, stopper: stopper.clone() };
        (stopper, workers)
    }
}

/// The running workers.
pub struct Workers {
    done: mpsc::Receiver<Result<(), ServeError>>,
    threads: usize,
    shared: Arc<Shared>,
    stopper: Stopper,
}

impl Workers {
    /// Waits until every worker has stopped (after [`Stopper::stop`]), or the grace period
    /// after the stop has passed; calls still running then are cut off, and logged.
    pub fn wait(self) -> Result<(), ServeError> {
        let mut result = Ok(());
        let mut left = self.threads;
        while left > 0 {
            let next = if self.shared.stopping.load(Ordering::SeqCst) {
                match self.done.recv_timeout(self.shared.config.grace) {
                    Ok(r) => r,
                    Err(_) => {
                        let busy = self.shared.busy.load(Ordering::SeqCst);
                        log::warn!("grace period over: cutting off {busy} call(s) still running");
                        break;
                    }
                }
            } else {
                match self.done.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            };
            left -= 1;
            if let Err(e) = next {
                log::error!("{e}; shutting down");
                self.stopper.stop();
                result = Err(e);
            }
        }
        result
    }
}

struct Shared {
    rpc: Arc<JsonRpc>,
    extras: Arc<Extras>,
    config: HttpConfig,
    stopping: Arc<AtomicBool>,
    busy: AtomicUsize,
    json: Header,
}

fn worker(server: &tiny_http::Server, shared: &Shared) -> Result<(), ServeError> {
    let mut body = Vec::new();
    let mut out = Vec::new();
    loop {
        let request = if shared.stopping.load(Ordering::SeqCst) {
            // Stopping: answer what is already queued, then leave.
            match server.recv_timeout(Duration::from_millis(50)) {
                Ok(Some(r)) => r,
                _ => return Ok(()),
            }
        } else {
            match server.recv() {
                Ok(r) => r,
                Err(_) if shared.stopping.load(Ordering::SeqCst) => continue,
                Err(e) => return Err(ServeError::Accept(e)),
            }
        };
        shared.busy.fetch_add(1, Ordering::SeqCst);
        handle(request, shared, &mut body, &mut out);
        shared.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

const ACCEPTED: &str = "application/json, application/json-rpc or application/jsonrequest";

fn handle(request: Request, shared: &Shared, body: &mut Vec<u8>, out: &mut Vec<u8>) {
    let config = &shared.config;
    let path = request.url().split('?').next().unwrap_or("/").to_owned();
    let path = path.as_str();
    log::debug!("{} {}", request.method(), request.url());
    if path == config.rpc_path {
        if *request.method() != Method::Post {
            let allow = Header::from_bytes(&b"Allow"[..], &b"POST"[..]).expect("valid header");
            return reply(request, 405, "method not allowed: use POST", Some(allow));
        }
        return rpc(request, shared, body, out);
    }
    match request.method() {
        Method::Get | Method::Head if path == "/health" => reply(request, 200, "ok", None),
        Method::Get | Method::Head if config.static_dir.is_some() => {
            serve_file(request, config.static_dir.as_deref().expect("checked"), path)
        }
        _ => reply(request, 404, "not found", None),
    }
}

fn rpc(mut request: Request, shared: &Shared, body: &mut Vec<u8>, out: &mut Vec<u8>) {
    if let Err(message) = check_content_type(&request) {
        return reply(request, 415, &message, None);
    }
    let chunked = request.headers().iter().find(|h| h.field.equiv("Transfer-Encoding")).map(|h| h.value.to_string());
    if let Some(te) = chunked
        && !te.eq_ignore_ascii_case("chunked")
    {
        return reply(request, 501, &format!("unsupported Transfer-Encoding {te:?}: use chunked"), None);
    }
    let max = shared.config.max_body;
    if let Some(announced) = request.body_length()
        && announced > max
    {
        return too_large(request, announced, max);
    }
    body.clear();
    match request.as_reader().take(max as u64 + 1).read_to_end(body) {
        Ok(_) if body.len() > max => return too_large(request, body.len(), max),
        Ok(_) => {}
        Err(e) => return reply(request, 400, &format!("cannot read the body: {e}"), None),
    }
    out.clear();
    if !shared.rpc.handle_into(body, &shared.extras, out) {
        let _ = request.respond(Response::empty(204));
        return;
    }
    let mut response = Response::new(StatusCode(200), vec![shared.json.clone()], &out[..], Some(out.len()), None)
        .with_chunked_threshold(usize::MAX);
    if shared.stopping.load(Ordering::Relaxed) {
        response.add_header(Header::from_bytes(&b"Connection"[..], &b"close"[..]).expect("valid header"));
    }
    let _ = request.respond(response);
}

/// Answers 413 without reading the body. See SECURITY.md: tiny_http drains an unread body
/// when the request is dropped, which this must keep bounded.
fn too_large(request: Request, size: usize, max: usize) {
    reply(request, 413, &format!("body of {size} bytes is over the limit of {max} bytes"), None)
}

/// Accepts the JSON types, any case, with parameters; a charset other than UTF-8 is refused.
fn check_content_type(request: &Request) -> Result<(), String> {
    let value = request.headers().iter().find(|h| h.field.equiv("Content-Type")).map(|h| h.value.as_str());
    let Some(value) = value else {
        return Err(format!("missing Content-Type: use {ACCEPTED}"));
    };
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    if !matches!(mime.as_str(), "application/json" | "application/json-rpc" | "application/jsonrequest") {
        return Err(format!("unsupported Content-Type {value:?}: use {ACCEPTED}"));
    }
    for param in parts {
        let (key, val) = param.split_once('=').unwrap_or((param, ""));
        let val = val.trim().trim_matches('"');
        if key.trim().eq_ignore_ascii_case("charset") && !val.eq_ignore_ascii_case("utf-8") {
            return Err(format!("unsupported charset {val:?}: use UTF-8"));
        }
    }
    Ok(())
}

/// A one-line plain-text answer.
fn reply(request: Request, status: u16, message: &str, header: Option<Header>) {
    let mut response = Response::from_string(format!("{message}\n")).with_status_code(status);
    response.add_header(Header::from_bytes(&b"Content-Type"[..], &b"text/plain; charset=utf-8"[..]).expect("valid"));
    if let Some(h) = header {
        response.add_header(h);
    }
    let _ = request.respond(response);
}

fn serve_file(request: Request, root: &Path, path: &str) {
    let relative = Path::new(path.trim_start_matches('/'));
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) || path.contains('\\') {
        return reply(request, 404, "not found", None);
    }
    let mut file = root.join(relative);
    if file.is_dir() {
        file.push("index.html");
    }
    let Ok(data) = std::fs::read(&file) else { return reply(request, 404, "not found", None) };
    let kind = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    let header = Header::from_bytes(&b"Content-Type"[..], kind.as_bytes()).expect("valid header");
    let _ = request.respond(Response::from_data(data).with_header(header));
}
