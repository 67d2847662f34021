//! Settings for a server, from command-line options or a `run.toml` file (the original's `run.ini`).

use crate::engine::Limits;
use crate::server::HttpConfig;
use crate::signature::Extras;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything needed to build and serve an engine.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub http: HttpConfig,
    pub modules: Vec<String>,
    pub plugin_paths: Vec<PathBuf>,
    /// Register methods as `module.method` (true) or bare `method`.
    pub prefix: bool,
    /// Lazy entries: method name and `module:symbol` target.
    pub maps: Vec<(String, String)>,
    /// Application error kinds and their codes.
    pub errors: Vec<(String, i64)>,
    pub extras: Extras,
    pub limits: Limits,
    /// The auth file (`--auth`): users, hashed secrets, method patterns. Read by each
    /// process that serves, so a reload reads it again.
    pub auth: Option<PathBuf>,
    /// Do not serve `rpc.discover` (`--no-discover`, `discover = false`).
    pub no_discover: bool,
    /// Worker processes and their supervision.
    pub process: crate::master::ProcessConfig,
}

/// A configuration file that cannot be used: the file, the key and the reason.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The file's layout; unknown keys are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    host: Option<String>,
    port: Option<u16>,
    threads: Option<toml::Value>,
    unix: Option<PathBuf>,
    max_connections: Option<usize>,
    header_timeout: Option<f64>,
    body_timeout: Option<f64>,
    keepalive_timeout: Option<f64>,
    write_timeout: Option<f64>,
    max_header_bytes: Option<usize>,
    max_headers: Option<usize>,
    access_log: Option<PathBuf>,
    rpc_path: Option<String>,
    #[serde(rename = "static")]
    static_dir: Option<PathBuf>,
    modules: Option<Vec<String>>,
    plugin_path: Option<Vec<PathBuf>>,
    prefix: Option<bool>,
    max_body: Option<usize>,
    max_batch: Option<usize>,
    max_depth: Option<usize>,
    grace_seconds: Option<u64>,
    workers: Option<usize>,
    timeout: Option<u64>,
    reload: Option<bool>,
    max_requests: Option<u64>,
    max_requests_jitter: Option<u64>,
    metrics: Option<bool>,
    auth: Option<PathBuf>,
    allow_from: Option<Vec<String>>,
    discover: Option<bool>,
    #[serde(default)]
    methods: BTreeMap<String, String>,
    #[serde(default)]
    errors: BTreeMap<String, i64>,
    #[serde(default)]
    extras: BTreeMap<String, toml::Value>,
}

/// Reads a `run.toml`. Relative paths in it (plugin_path, static, module paths) are
/// relative to the file's directory.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let err = |line, reason: String| ConfigError { file: path.to_owned(), line, reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(None, e.to_string()))?;
    let file: File = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
        err(line, e.message().trim().replace('\n', " "))
    })?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let near = |p: PathBuf| if p.is_absolute() { p } else { dir.join(p) };
    let mut s = Settings { prefix: file.prefix.unwrap_or(true), ..Settings::default() };
    if let Some(host) = file.host {
        s.http.host = host;
    }
    s.http.port = file.port.unwrap_or(s.http.port);
    if file.threads.is_some() {
        return Err(err(
            None,
            "threads is retired: each connection has a thread of its own; use max_connections".into(),
        ));
    }
    s.http.unix = file.unix.map(near);
    s.http.max_connections = file.max_connections.unwrap_or(s.http.max_connections);
    let timeouts = [
        ("header_timeout", file.header_timeout, &mut s.http.header_timeout),
        ("body_timeout", file.body_timeout, &mut s.http.body_timeout),
        ("keepalive_timeout", file.keepalive_timeout, &mut s.http.keepalive_timeout),
        ("write_timeout", file.write_timeout, &mut s.http.write_timeout),
    ];
    for (key, value, field) in timeouts {
        if let Some(value) = value {
            *field = seconds(&value.to_string()).map_err(|e| err(None, format!("{key}: {e}")))?;
        }
    }
    s.http.max_header_bytes = file.max_header_bytes.unwrap_or(s.http.max_header_bytes);
    s.http.access_log = file.access_log.map(|p| if p == std::path::Path::new("-") { p } else { near(p) });
    if let Some(n) = file.max_headers {
        if !(1..=512).contains(&n) {
            return Err(err(None, format!("max_headers: {n} is not in 1..=512")));
        }
        s.http.max_headers = n;
    }
    if let Some(p) = file.rpc_path {
        if !p.starts_with('/') {
            return Err(err(None, format!("rpc_path {p:?} must start with '/'")));
        }
        s.http.rpc_path = p;
    }
    s.http.static_dir = file.static_dir.map(near);
    s.http.max_body = file.max_body.unwrap_or(s.http.max_body);
    if let Some(g) = file.grace_seconds {
        s.http.grace = std::time::Duration::from_secs(g);
    }
    s.process.workers = file.workers.unwrap_or(s.process.workers);
    s.process.reload = file.reload.unwrap_or(false);
    s.process.max_requests_jitter = file.max_requests_jitter.unwrap_or(0);
    if let Some(t) = file.timeout {
        s.http.timeout = (t > 0).then(|| std::time::Duration::from_secs(t));
    }
    s.http.max_requests = file.max_requests.filter(|&n| n > 0);
    s.http.metrics = file.metrics.unwrap_or(false);
    s.auth = file.auth.map(near);
    s.no_discover = !file.discover.unwrap_or(true);
    for cidr in file.allow_from.unwrap_or_default() {
        s.http.allow_from.push(cidr.parse().map_err(|e| err(None, format!("allow_from: {e}")))?);
    }
    s.limits.max_batch = file.max_batch.unwrap_or(s.limits.max_batch);
    s.limits.max_depth = file.max_depth.unwrap_or(s.limits.max_depth);
    s.plugin_paths = file.plugin_path.unwrap_or_default().into_iter().map(near).collect();
    s.modules = file
        .modules
        .unwrap_or_default()
        .into_iter()
        .map(|m| if crate::plugin::is_path(&m) { near(PathBuf::from(m)).display().to_string() } else { m })
        .collect();
    s.maps = file.methods.into_iter().collect();
    s.errors = file.errors.into_iter().collect();
    for (key, value) in file.extras {
        let json = serde_json::value::to_raw_value(&value).map_err(|e| err(None, format!("extras.{key}: {e}")))?;
        s.extras.insert_raw(&key, json);
    }
    Ok(s)
}

/// A positive number of seconds, fractions allowed.
pub(crate) fn seconds(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<f64>() {
        Ok(n) if n > 0.0 && n < 1e9 => Ok(std::time::Duration::from_secs_f64(n)),
        _ => Err(format!("{s:?} is not a positive number of seconds")),
    }
}
