//! `HttpConfig`: how a server listens, what it accepts, and the limits it holds clients to.

use super::allow::Cidr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The most connections per process, by default: gunicorn's `worker_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

/// How the server listens and what it accepts.
///
/// The limits' defaults come from nginx (timeouts: `client_header_timeout`,
/// `client_body_timeout`, `keepalive_timeout`, `send_timeout`; the head's size:
/// `large_client_header_buffers 4 8k`) and gunicorn (`limit_request_fields`,
/// `worker_connections`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    /// The address to bind (default `127.0.0.1`).
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// Serve on this Unix domain socket instead of TCP (`host` and `port` are then unused).
    pub unix: Option<PathBuf>,
    /// The path that takes JSON-RPC POSTs (default `/`).
    pub rpc_path: String,
    /// The largest request body in bytes (default 1 MiB); larger ones answer 413.
    pub max_body: usize,
    /// Files served on GET, `index.html` for a directory.
    pub static_dir: Option<PathBuf>,
    /// How long in-flight calls may run after SIGINT or SIGTERM.
    pub grace: Duration,
    /// How long one request's calls may run (a batch counts as one) before it is answered
    /// with [`super::TIMEOUT_CODE`]; `None` for no deadline.
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
    /// The most open connections, each served by a thread of its own (default 1000). Past
    /// it, new connections wait in the kernel's backlog (or go to another worker).
    pub max_connections: usize,
    /// How long a request head may take from its first byte (default 60 s); then 408.
    pub header_timeout: Duration,
    /// How long a request body may take from the end of its head (default 60 s); then 408.
    pub body_timeout: Duration,
    /// How long a connection may wait idle for its next request (default 75 s).
    pub keepalive_timeout: Duration,
    /// How long one write to a client may block (default 60 s): a client that does not read.
    pub write_timeout: Duration,
    /// The most bytes of a request head (default 32 KiB); more is 431, or 414 for a request
    /// line alone.
    pub max_header_bytes: usize,
    /// The most header fields (default 100, at most 512); more is 431.
    pub max_headers: usize,
    /// A JSON line per request answered is appended to this file (`-`: stderr); `None`
    /// for no access log.
    pub access_log: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            host: "127.0.0.1".into(),
            port: 8080,
            unix: None,
            rpc_path: "/".into(),
            max_body: 1024 * 1024,
            static_dir: None,
            grace: Duration::from_secs(10),
            timeout: Some(Duration::from_secs(30)),
            max_requests: None,
            metrics: false,
            auth: None,
            allow_from: Vec::new(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(75),
            write_timeout: Duration::from_secs(60),
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            access_log: None,
        }
    }
}

impl HttpConfig {
    /// The defaults, serving on `port` of `host`.
    pub fn new(host: &str, port: u16) -> HttpConfig {
        HttpConfig { host: host.to_owned(), port, ..HttpConfig::default() }
    }
}
