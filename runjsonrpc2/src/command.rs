//! What each command does, given settings: serve, list, call, stdio, `auth add`.

use crate::config::Settings;
pub use crate::failure::CommandError;
use crate::master;
use crate::plugin::{Found, SearchPath};
use crate::server::{self, Address, Listener, Listening, ServeError};
use crate::setup::{Built, build, http_config};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Serves over HTTP until SIGINT, SIGTERM or SIGQUIT: under a master with `--workers`
/// worker processes, or in this process alone with `--workers 0`. `on_bound` hears where it
/// listens once the service answers. `config` is the run.toml the settings came from, which
/// `--reload` watches.
pub fn serve(s: &Settings, config: Option<&Path>, on_bound: impl FnOnce(&Address)) -> Result<(), CommandError> {
    if s.process.workers == 0 && s.http.max_requests.is_some() {
        return Err(CommandError::Usage("--max-requests needs worker processes (--workers 1 or more)".into()));
    }
    if s.http.unix.is_some() && !s.http.allow_from.is_empty() {
        return Err(CommandError::Usage(
            "--allow-from does not apply to --unix: a Unix socket has no client address".into(),
        ));
    }
    raise_open_file_limit();
    let (listener, made) = listener(s)?;
    let address = listener.address()?;
    let served = if s.process.workers == 0 {
        let built = build(s)?;
        let listening = Listening::on(listener, &http_config(s)?)?;
        on_bound(&address);
        log::info!("listening on {address} with {}", served(&built));
        listening.serve_until_signal(Arc::new(built.rpc), Arc::new(s.extras.clone())).map_err(CommandError::from)
    } else {
        (|| {
            http_config(s)?; // a bad auth file stops start-up here, before any worker
            let watched = || match config.map(crate::config::load) {
                Some(Ok(fresh)) => watched_files(&fresh, config),
                _ => watched_files(s, config),
            };
            let ready = || {
                on_bound(&address);
                log::info!("listening on {address} with {} worker(s)", s.process.workers);
            };
            let process = master::ProcessConfig { metrics: s.http.metrics, ..s.process.clone() };
            master::run(listener, &process, s.http.grace, &watched, ready)?;
            Ok(())
        })()
    };
    // The socket file made here goes with the server (one passed by systemd is systemd's).
    if let Some(path) = made {
        let _ = std::fs::remove_file(path);
    }
    served?;
    log::info!("stopped");
    Ok(())
}

/// Each connection holds a thread and a descriptor: take all the descriptors allowed (the
/// binary's choice, not the library's: an embedder sets its own limits).
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => log::debug!("open file limit: {n}"),
        Err(e) => log::warn!("cannot raise the open file limit: {e}"),
    }
}

/// The socket systemd passed (socket activation: `LISTEN_FDS`), TCP or Unix, else one bound
/// here: `--unix`'s (with its path, to remove at the end) or TCP.
fn listener(s: &Settings) -> Result<(Listener, Option<PathBuf>), CommandError> {
    let mut fds = listenfd::ListenFd::from_env();
    let passed = match fds.take_tcp_listener(0) {
        Ok(Some(tcp)) => {
            server::tune(&socket2::SockRef::from(&tcp), &s.http)?;
            Some(Listener::Tcp(tcp))
        }
        Ok(None) => None,
        Err(_) => match fds.take_unix_listener(0) {
            Ok(unix) => unix.map(Listener::Unix),
            Err(e) => {
                return Err(CommandError::Usage(format!(
                    "LISTEN_FDS is set, but descriptor 3 is neither a TCP nor a Unix stream socket: {e}"
                )));
            }
        },
    };
    if let Some(listener) = passed {
        log::info!("serving on the socket systemd passed (LISTEN_FDS)");
        return Ok((listener, None));
    }
    match &s.http.unix {
        Some(path) => {
            let bound = server::bind_unix(path)
                .map_err(|source| ServeError::Bind { addr: path.display().to_string(), source })?;
            Ok((Listener::Unix(bound), Some(path.clone())))
        }
        None => Ok((Listener::Tcp(server::bind_socket(&s.http)?), None)),
    }
}

/// What a process serves, for the log.
fn served(built: &Built) -> String {
    let names: Vec<&str> = built.plugins.iter().map(|p| p.descriptor.name.as_str()).collect();
    format!("modules [{}], {} methods", names.join(", "), built.rpc.methods().len())
}

/// The files `--reload` watches: the module files found on the plugin path, the mapped
/// modules' files, and the configuration file.
fn watched_files(s: &Settings, config: Option<&Path>) -> Vec<PathBuf> {
    let search = SearchPath::standard(&s.plugin_paths);
    let mapped = s.maps.iter().filter_map(|(_, t)| crate::table::Target::parse(t).ok().map(|t| t.module.clone()));
    let mut files: Vec<PathBuf> = s
        .modules
        .iter()
        .cloned()
        .chain(mapped)
        .filter_map(|m| match search.find(&m) {
            Ok(Found::File(path)) => Some(path),
            _ => None,
        })
        .collect();
    files.extend(config.map(Path::to_path_buf));
    files.extend(s.auth.clone());
    files
}

/// The extras of a call made without HTTP: `caller` and `remote_addr` are null, never the
/// client's, as in the HTTP server without `--auth`.
fn local_extras(s: &Settings) -> crate::signature::Extras {
    server::unknown_caller(&s.extras)
}

/// Answers newline-delimited JSON-RPC from `input` on `output`, one line per answer.
pub fn stdio(s: &Settings, input: impl BufRead, mut output: impl Write) -> Result<(), CommandError> {
    let built = build(s)?;
    let extras = local_extras(s);
    let mut out = Vec::new();
    for line in input.split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.clear();
        if built.rpc.handle_into(&line, &extras, &mut out) {
            // A plugin may pretty-print its result. In valid JSON a raw newline can only be
            // whitespace between tokens (strings escape theirs), so dropping them keeps one line
            // and changes nothing else.
            out.retain(|b| !matches!(b, b'\n' | b'\r'));
            out.push(b'\n');
            output.write_all(&out)?;
            output.flush()?;
        }
    }
    Ok(())
}

/// The methods of the modules, their parameters and docs, one per line.
pub fn list(s: &Settings, json: bool, mut output: impl Write) -> Result<(), CommandError> {
    let built = build(s)?;
    if json {
        let (service, loader) = &built.service;
        let text = serde_json::to_string_pretty(&service.document(loader)).expect("a Value serializes");
        writeln!(output, "{text}")?;
        return Ok(());
    }
    for p in &built.plugins {
        let d = &p.descriptor;
        writeln!(output, "{} {} ({})", d.name, d.version, p.path)?;
        for m in &d.methods {
            let name = d.served_name(m, s.prefix);
            let sig = format!("{name}{}", m.signature);
            if m.doc.is_empty() {
                writeln!(output, "  {sig}")?;
            } else {
                writeln!(output, "  {sig:<40} {}", m.doc)?;
            }
        }
    }
    for (name, e) in built.rpc.methods().entries() {
        if let (Some(t), true) = (e.target(), s.maps.iter().any(|(n, _)| *n == name)) {
            writeln!(output, "  {name} -> {t} (lazy, not opened)")?;
        }
    }
    Ok(())
}

/// Calls one method in-process: the result's JSON on success, the error object as the message.
pub fn call(s: &Settings, method: &str, params: Option<&str>) -> Result<String, CommandError> {
    let built = build(s)?;
    let params = match params {
        None => String::new(),
        Some(p) => {
            let v: &serde_json::value::RawValue =
                serde_json::from_str(p).map_err(|e| CommandError::Usage(format!("PARAMS is not JSON: {e}")))?;
            if !v.get().starts_with(['[', '{']) {
                return Err(CommandError::Usage("PARAMS must be a JSON array or object".into()));
            }
            format!(",\"params\":{}", v.get())
        }
    };
    let method = serde_json::to_string(method).expect("a string serializes");
    let body = format!("{{\"jsonrpc\":\"2.0\",\"method\":{method}{params},\"id\":1}}");
    let answer = built.rpc.handle(body.as_bytes(), &local_extras(s)).expect("a request with an id is answered");
    /// The answer's members, borrowed as they are (no depth limit, numbers untouched).
    #[derive(serde::Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        result: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow)]
        error: Option<&'a serde_json::value::RawValue>,
    }
    let answer: Answer<'_> = serde_json::from_slice(&answer).expect("the engine writes one response object");
    match (answer.result, answer.error) {
        (_, Some(e)) => Err(CommandError::Answered(e.get().to_owned())),
        (Some(r), None) => Ok(r.get().to_owned()),
        (None, None) => Ok("null".to_owned()),
    }
}

/// `auth add`: writes the auth-file line for user `name` to `out`. The secret is read from
/// `input` (one line), or, when `input` is a terminal, generated and shown on `shown`.
pub fn auth_add(
    name: &str,
    allow: &[String],
    input: &mut dyn std::io::Read,
    terminal: bool,
    out: &mut dyn Write,
    shown: &mut dyn Write,
) -> Result<(), CommandError> {
    crate::auth::check_name(name).map_err(CommandError::Usage)?;
    crate::auth::check_patterns(allow).map_err(CommandError::Usage)?;
    let secret = if terminal {
        let secret = crate::auth::random_secret()?;
        writeln!(shown, "secret for {name} (shown once; the file keeps only its hash): {secret}")?;
        secret.into_bytes()
    } else {
        let mut secret = Vec::new();
        input.read_to_end(&mut secret)?;
        if secret.ends_with(b"\n") {
            secret.pop();
            if secret.ends_with(b"\r") {
                secret.pop();
            }
        }
        if secret.is_empty() {
            return Err(CommandError::Usage(
                "no secret on stdin (give one line, or run in a terminal to generate one)".into(),
            ));
        }
        if secret.contains(&b'\n') {
            return Err(CommandError::Usage("the secret on stdin spans several lines: give one line".into()));
        }
        if secret.len() > crate::auth::MAX_SECRET {
            let max = crate::auth::MAX_SECRET;
            return Err(CommandError::Usage(format!("secret of {} bytes, at most {max}", secret.len())));
        }
        secret
    };
    let hash = crate::auth::hash_secret(&secret)?;
    let patterns = if allow.is_empty() { "*".to_owned() } else { allow.join(" ") };
    writeln!(out, "{name} {hash} {patterns}")?;
    Ok(())
}
