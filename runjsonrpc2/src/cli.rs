//! The command line (clap): `runjsonrpc2 [OPTIONS] MODULE...` and its subcommands.

use crate::config::{Settings, seconds};
use crate::engine::Limits;
use crate::server::HttpConfig;
use crate::signature::Extras;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Serve procedures from plugins as JSON-RPC 2.0 over HTTP.
///
/// `runjsonrpc2 hello` loads libhello.so and serves its methods as hello.NAME on
/// http://127.0.0.1:8080/. Exit codes: 0 after a clean shutdown, 1 when serving or a call
/// fails, 2 for a usage, configuration or plugin-loading error, 3 when `call --url` gets no
/// JSON-RPC answer (no server, a timeout, an HTTP error).
#[derive(Parser, Debug)]
#[command(name = "runjsonrpc2", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    /// Modules to serve: NAME (libNAME.so on the plugin path) or a path to a .so
    pub(crate) modules: Vec<String>,
    #[command(flatten)]
    pub(crate) serve: ServeOptions,
    #[command(flatten)]
    pub(crate) common: Common,
    /// Answer newline-delimited JSON-RPC on stdin/stdout instead of HTTP
    #[arg(long)]
    pub(crate) stdio: bool,
    /// More logging (-v: debug, -vv: trace); RUST_LOG overrides
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// Less logging (errors only)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve what a run.toml file describes (the original's `paster serve run.ini`)
    ///
    /// Every serving option given here overrides the file's (one at its default does not).
    Serve {
        config: PathBuf,
        #[command(flatten)]
        overrides: Box<ServeOptions>,
    },
    /// Create a plugin project NAME/ with a greeting procedure, run.toml and a static page
    New { name: String },
    /// List the methods of modules with their parameters and docs
    List {
        #[arg(required = true)]
        modules: Vec<String>,
        /// Print the OpenRPC document that `rpc.discover` answers instead
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Manage an auth file's lines (see --auth)
    Auth {
        #[command(subcommand)]
        action: AuthCommand,
    },
    /// Call one method and print its result as JSON (exit 1 on an error answer): in-process
    /// (`call MODULE METHOD [PARAMS]`) or on a running server (`call --url URL METHOD [PARAMS]`;
    /// METHOD `-` sends each stdin line as a request and prints each answer on a line)
    Call {
        /// MODULE METHOD [PARAMS], or with --url METHOD [PARAMS]; PARAMS is a JSON array or object
        #[arg(value_name = "ARGS", required = true, num_args = 1..=3)]
        args: Vec<String>,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Print the auth-file line for user NAME: the secret is read from stdin, or generated and
    /// shown on stderr when stdin is a terminal (`auth add bob >> users.auth`)
    Add {
        name: String,
        /// A method pattern the user may call: `*`, `sample.*` or an exact name (repeatable;
        /// default `*`)
        #[arg(long, value_name = "PATTERN")]
        allow: Vec<String>,
    },
}

/// Options of `call`: the server to call, and how.
#[derive(Args, Debug, Clone, Default)]
pub struct Remote {
    /// Call a running server: http://HOST:PORT/PATH or unix:PATH (a Unix socket)
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Send HTTP Basic credentials of this user; the secret comes from RUNJSONRPC2_SECRET, or
    /// is asked for when stdin is a terminal
    #[arg(long, value_name = "NAME", requires = "url")]
    pub user: Option<String>,
    /// Seconds one request may take, from connecting to the answer's end (default 60); past
    /// it, or when the server cannot be reached or answers an HTTP error, the exit code is 3
    #[arg(long, value_name = "SECONDS", value_parser = seconds, requires = "url")]
    pub timeout: Option<Duration>,
    /// Indent the result
    #[arg(long)]
    pub pretty: bool,
}

/// Options about plugins and the engine, shared by every command.
#[derive(Args, Debug, Clone, Default)]
pub struct Common {
    /// A directory searched first for libNAME.so (repeatable)
    #[arg(long = "plugin-path", value_name = "DIR")]
    pub plugin_path: Vec<PathBuf>,
    /// Register methods by their bare names instead of MODULE.NAME
    #[arg(long)]
    pub no_prefix: bool,
    /// A lazy method: NAME=module:symbol, opened on its first call (repeatable)
    #[arg(long, value_name = "NAME=MODULE:SYMBOL", value_parser = pair)]
    pub map: Vec<(String, String)>,
    /// Map an application error kind to a code: KIND=CODE (repeatable)
    #[arg(long, value_name = "KIND=CODE", value_parser = error_code)]
    pub error: Vec<(String, i64)>,
    /// An extra variable for every call: KEY=JSON (repeatable)
    #[arg(long, value_name = "KEY=JSON", value_parser = extra)]
    pub extra: Vec<(String, String)>,
    /// The most requests in one batch
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_batch)]
    pub max_batch: usize,
    /// The deepest nesting of params
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_depth)]
    pub max_depth: usize,
    /// Do not serve rpc.discover (the OpenRPC document of the methods served)
    #[arg(long)]
    pub no_discover: bool,
}

/// Options of the HTTP server.
#[derive(Args, Debug, Clone)]
pub struct ServeOptions {
    /// Address to bind (use 0.0.0.0 to accept other hosts)
    #[arg(long, default_value_t = HttpConfig::default().host)]
    pub host: String,
    /// Port to bind; 0 picks a free one (the first stdout line tells which)
    #[arg(long, default_value_t = HttpConfig::default().port)]
    pub port: u16,
    /// Worker processes sharing the socket under a master; 0 serves in this one process
    #[arg(long, value_name = "N", default_value_t = crate::master::DEFAULT_WORKERS)]
    pub workers: usize,
    /// Serve on this Unix domain socket instead of TCP (made at start, removed at a clean stop)
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port"])]
    pub unix: Option<PathBuf>,
    /// Retired: each connection has a thread of its own; see --max-connections
    #[arg(long, value_name = "N", hide = true)]
    pub threads: Option<String>,
    /// The most open connections per process, each served by a thread of its own; more wait
    /// in the kernel's backlog
    #[arg(long, value_name = "N", default_value_t = HttpConfig::default().max_connections)]
    pub max_connections: usize,
    /// Seconds a request head may take from its first byte (then 408)
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "60")]
    pub header_timeout: Duration,
    /// Seconds a request body may take from the end of its head (then 408)
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "60")]
    pub body_timeout: Duration,
    /// Seconds a connection may wait idle for its next request
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "75")]
    pub keepalive_timeout: Duration,
    /// Seconds one write to a client may block
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "60")]
    pub write_timeout: Duration,
    /// The most bytes of a request head (then 431, or 414 for the request line)
    #[arg(long, value_name = "BYTES", default_value_t = HttpConfig::default().max_header_bytes)]
    pub max_header_bytes: usize,
    /// Append a JSON line per request answered to FILE (`-`: stderr); reopened on SIGUSR1
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<PathBuf>,
    /// The most header fields of a request (then 431; at most 512)
    #[arg(long, value_name = "N", default_value_t = HttpConfig::default().max_headers, value_parser = max_headers)]
    pub max_headers: usize,
    /// Seconds a request's calls may run before it is answered with error -32099 and its
    /// worker retires; 0 for no deadline
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
    /// Start fresh workers when a module file or the config file changes
    #[arg(long)]
    pub reload: bool,
    /// A worker retires after this many requests (plus up to --max-requests-jitter)
    #[arg(long, value_name = "N")]
    pub max_requests: Option<u64>,
    /// A random amount up to this is added to each worker's --max-requests
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_requests_jitter: u64,
    /// Serve GET /metrics (Prometheus text format: calls, latencies, refusals, workers)
    #[arg(long)]
    pub metrics: bool,
    /// Require HTTP Basic credentials of a user in FILE (made by `runjsonrpc2 auth add`), who
    /// may call only the methods their patterns allow; re-read on SIGHUP
    #[arg(long, value_name = "FILE")]
    pub auth: Option<PathBuf>,
    /// Accept connections only from this network, e.g. 10.0.0.0/8 or ::1 (repeatable); others
    /// are dropped by the kernel before a connection exists
    #[arg(long, value_name = "CIDR")]
    pub allow_from: Vec<crate::server::Cidr>,
    /// The largest request body in bytes
    #[arg(long, value_name = "BYTES", default_value_t = HttpConfig::default().max_body)]
    pub max_body: usize,
    /// The URL path that takes JSON-RPC POSTs
    #[arg(long, default_value = "/", value_parser = rpc_path)]
    pub rpc_path: String,
    /// Seconds in-flight calls may run after SIGINT/SIGTERM
    #[arg(long, value_name = "SECONDS", default_value_t = HttpConfig::default().grace.as_secs())]
    pub grace: u64,
}

fn pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

fn max_headers(s: &str) -> Result<usize, String> {
    s.parse().ok().filter(|n| (1..=512).contains(n)).ok_or_else(|| format!("{s:?} is not a number in 1..=512"))
}

/// What `--threads` and `threads` say now.
pub(crate) const THREADS_RETIRED: &str =
    "--threads is retired: each connection has a thread of its own; use --max-connections to cap them";

fn rpc_path(s: &str) -> Result<String, String> {
    if s.starts_with('/') { Ok(s.to_owned()) } else { Err(format!("{s:?} must start with '/'")) }
}

fn error_code(s: &str) -> Result<(String, i64), String> {
    let (k, v) = pair(s)?;
    let code = v.parse().map_err(|_| format!("code {v:?} is not an integer"))?;
    Ok((k, code))
}

fn extra(s: &str) -> Result<(String, String), String> {
    let (k, v) = pair(s)?;
    serde_json::from_str::<serde::de::IgnoredAny>(&v).map_err(|e| format!("value of {k} is not JSON: {e}"))?;
    Ok((k, v))
}

impl Cli {
    /// The logging level `-q` and `-v` ask for (`RUST_LOG` overrides it).
    pub fn log_level(&self) -> &'static str {
        match (self.quiet, self.verbose) {
            (true, _) => "error",
            (false, 0) => "info",
            (false, 1) => "debug",
            (false, _) => "trace",
        }
    }
}

impl Common {
    /// Settings for these options and modules (HTTP settings left at their defaults).
    pub fn settings(&self, modules: &[String]) -> Settings {
        let mut extras = Extras::new();
        for (k, v) in &self.extra {
            let raw = serde_json::value::RawValue::from_string(v.clone()).expect("checked when parsed");
            extras.insert_raw(k, raw);
        }
        Settings {
            modules: modules.to_vec(),
            plugin_paths: self.plugin_path.clone(),
            prefix: !self.no_prefix,
            maps: self.map.clone(),
            errors: self.error.clone(),
            extras,
            limits: Limits { max_batch: self.max_batch, max_depth: self.max_depth },
            http: HttpConfig::default(),
            process: Default::default(),
            auth: None,
            no_discover: self.no_discover,
        }
    }
}

impl ServeOptions {
    /// The serving options given other than at their defaults, by flag: what `--stdio`,
    /// which serves no HTTP, refuses rather than ignores.
    pub fn given(&self) -> Vec<&'static str> {
        let d = Cli::parse_from(["runjsonrpc2"]).serve;
        #[rustfmt::skip]
        let differ = [
            ("--host", self.host != d.host), ("--port", self.port != d.port),
            ("--workers", self.workers != d.workers), ("--unix", self.unix.is_some()),
            ("--threads", self.threads.is_some()), ("--max-connections", self.max_connections != d.max_connections),
            ("--header-timeout", self.header_timeout != d.header_timeout),
            ("--body-timeout", self.body_timeout != d.body_timeout),
            ("--keepalive-timeout", self.keepalive_timeout != d.keepalive_timeout),
            ("--write-timeout", self.write_timeout != d.write_timeout),
            ("--max-header-bytes", self.max_header_bytes != d.max_header_bytes),
            ("--access-log", self.access_log.is_some()), ("--max-headers", self.max_headers != d.max_headers),
            ("--timeout", self.timeout != d.timeout), ("--reload", self.reload),
            ("--max-requests", self.max_requests.is_some()),
            ("--max-requests-jitter", self.max_requests_jitter != d.max_requests_jitter),
            ("--metrics", self.metrics), ("--auth", self.auth.is_some()), ("--allow-from", !self.allow_from.is_empty()),
            ("--max-body", self.max_body != d.max_body), ("--rpc-path", self.rpc_path != d.rpc_path),
            ("--grace", self.grace != d.grace),
        ];
        differ.into_iter().filter_map(|(flag, given)| given.then_some(flag)).collect()
    }

    /// Sets the serving options given (not at their defaults) over `settings`: `serve
    /// run.toml`'s overrides of the file.
    pub fn apply_given(&self, settings: &mut Settings) -> Result<(), String> {
        let given = self.given();
        if given.is_empty() {
            return Ok(());
        }
        let mut all = settings.clone();
        self.apply(&mut all)?;
        let has = |flag: &str| given.contains(&flag);
        let (s, h, p) = (settings, all.http, all.process);
        // Each field of the file's settings, replaced when its flag was given.
        macro_rules! over {
            ($($flag:literal => $to:expr, $from:expr;)*) => { $(if has($flag) { $to = $from; })* };
        }
        over! {
            "--host" => s.http.host, h.host;
            "--port" => s.http.port, h.port;
            "--unix" => s.http.unix, h.unix;
            "--max-connections" => s.http.max_connections, h.max_connections;
            "--header-timeout" => s.http.header_timeout, h.header_timeout;
            "--body-timeout" => s.http.body_timeout, h.body_timeout;
            "--keepalive-timeout" => s.http.keepalive_timeout, h.keepalive_timeout;
            "--write-timeout" => s.http.write_timeout, h.write_timeout;
            "--max-header-bytes" => s.http.max_header_bytes, h.max_header_bytes;
            "--max-headers" => s.http.max_headers, h.max_headers;
            "--access-log" => s.http.access_log, h.access_log;
            "--timeout" => s.http.timeout, h.timeout;
            "--max-requests" => s.http.max_requests, h.max_requests;
            "--metrics" => s.http.metrics, h.metrics;
            "--allow-from" => s.http.allow_from, h.allow_from;
            "--max-body" => s.http.max_body, h.max_body;
            "--rpc-path" => s.http.rpc_path, h.rpc_path;
            "--grace" => s.http.grace, h.grace;
            "--workers" => s.process.workers, p.workers;
            "--reload" => s.process.reload, p.reload;
            "--max-requests-jitter" => s.process.max_requests_jitter, p.max_requests_jitter;
            "--auth" => s.auth, all.auth;
        }
        Ok(())
    }

    /// Sets the serving options in `settings`; a retired option is refused.
    pub fn apply(&self, settings: &mut Settings) -> Result<(), String> {
        if self.threads.is_some() {
            return Err(THREADS_RETIRED.into());
        }
        settings.process.workers = self.workers;
        settings.process.reload = self.reload;
        settings.process.max_requests_jitter = self.max_requests_jitter;
        settings.auth = self.auth.clone();
        let http = &mut settings.http;
        http.timeout = (self.timeout > 0).then(|| std::time::Duration::from_secs(self.timeout));
        http.max_requests = self.max_requests.filter(|&n| n > 0);
        http.metrics = self.metrics;
        http.allow_from = self.allow_from.clone();
        http.host = self.host.clone();
        http.port = self.port;
        http.unix = self.unix.clone();
        http.max_connections = self.max_connections;
        http.header_timeout = self.header_timeout;
        http.body_timeout = self.body_timeout;
        http.keepalive_timeout = self.keepalive_timeout;
        http.write_timeout = self.write_timeout;
        http.max_header_bytes = self.max_header_bytes;
        http.max_headers = self.max_headers;
        http.access_log = self.access_log.clone();
        http.max_body = self.max_body;
        http.rpc_path = self.rpc_path.clone();
        http.grace = std::time::Duration::from_secs(self.grace);
        Ok(())
    }
}
