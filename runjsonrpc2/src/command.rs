//! What each command does, given settings: serve, list, call, stdio, `auth add`.

use crate::cli::{Common, Remote};
use crate::client::{Answer as Answer204, Client};
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
    // The name `list` prints (`sample.subtract`) works as well as the bare one.
    let method = match built.rpc.methods().contains(method) {
        true => method,
        false => built
            .plugins
            .iter()
            .find_map(|p| method.strip_prefix(p.descriptor.name.as_str())?.strip_prefix('.'))
            .filter(|bare| built.rpc.methods().contains(bare))
            .unwrap_or(method),
    };
    let body = request(method, params)?;
    let answer = built.rpc.handle(body.as_bytes(), &local_extras(s)).expect("a request with an id is answered");
    let answer: Answer<'_> = serde_json::from_slice(&answer).expect("the engine writes one response object");
    match (answer.result, answer.error) {
        (_, Some(e)) => Err(CommandError::Answered(e.get().to_owned())),
        (Some(r), None) => Ok(r.get().to_owned()),
        (None, None) => Ok("null".to_owned()),
    }
}

/// A response's members, borrowed as they are (no depth limit, numbers untouched).
#[derive(serde::Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    jsonrpc: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    id: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    result: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    error: Option<&'a serde_json::value::RawValue>,
}

/// The request of a call: METHOD with PARAMS (a JSON array or object), id 1.
fn request(method: &str, params: Option<&str>) -> Result<String, CommandError> {
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
    Ok(format!("{{\"jsonrpc\":\"2.0\",\"method\":{method}{params},\"id\":1}}"))
}

/// `call`: in-process (`MODULE METHOD [PARAMS]`), or on the server at `--url` (`METHOD
/// [PARAMS]`, or `-` for requests on stdin). The result goes to stdout.
pub fn call_command(args: &[String], remote: &Remote, common: &Common) -> Result<(), CommandError> {
    let print = |result: String| -> Result<(), CommandError> {
        let text = if remote.pretty { crate::pretty::pretty(&result) } else { result };
        writeln!(std::io::stdout().lock(), "{text}")?;
        Ok(())
    };
    let Some(url) = &remote.url else {
        let [module, method, params @ ..] = args else {
            return Err(CommandError::Usage("call needs MODULE METHOD [PARAMS], or --url URL METHOD [PARAMS]".into()));
        };
        let mut settings = common.settings(std::slice::from_ref(module));
        settings.prefix = false;
        return print(call(&settings, method, params.first().map(String::as_str))?);
    };
    if !common.plugin_path.is_empty() || common.no_prefix || !common.map.is_empty() {
        return Err(CommandError::Usage(
            "--plugin-path, --no-prefix and --map are for in-process calls, not --url".into(),
        ));
    }
    if !common.error.is_empty() || !common.extra.is_empty() {
        return Err(CommandError::Usage("--error and --extra are the server's to set, not --url's".into()));
    }
    let [method, params @ ..] = args else { unreachable!("clap requires one argument") };
    if params.len() > 1 {
        return Err(CommandError::Usage(format!(
            "with --url, call takes METHOD [PARAMS] (no MODULE): {} arguments given",
            args.len()
        )));
    }
    let url = crate::client::Url::parse(url).map_err(CommandError::Usage)?;
    let secret = remote.user.as_deref().map(secret_for).transpose()?;
    let credentials = remote.user.as_deref().zip(secret.as_deref());
    let timeout = remote.timeout.unwrap_or(crate::client::DEFAULT_TIMEOUT);
    let shown = url.text.clone();
    let mut client = Client::new(url, credentials, timeout);
    if method == "-" {
        if !params.is_empty() {
            return Err(CommandError::Usage("METHOD - reads its requests from stdin: give no PARAMS".into()));
        }
        return lines(&mut client, std::io::stdin().lock(), std::io::stdout().lock());
    }
    let body = request(method, params.first().map(String::as_str))?;
    let remote_error = |why: &dyn std::fmt::Display| CommandError::Remote(format!("{shown}: {why}"));
    let answer = match client.post(body.as_bytes()).map_err(|e| remote_error(&e))? {
        Answer204::NoContent => return Err(remote_error(&"answered 204 No Content to a call with an id")),
        Answer204::Json(body) => body,
    };
    let answer: Answer<'_> = serde_json::from_slice(&answer)
        .map_err(|e| remote_error(&format_args!("the answer is not a JSON-RPC response: {e}")))?;
    let (jsonrpc, id) = (answer.jsonrpc.map(|v| v.get()), answer.id.map(|v| v.get()));
    if jsonrpc != Some("\"2.0\"") || id != Some("1") {
        let got = |v: Option<&str>| v.unwrap_or("missing").to_owned();
        return Err(remote_error(&format_args!(
            "the answer has jsonrpc {} and id {}, expected \"2.0\" and 1",
            got(jsonrpc),
            got(id)
        )));
    }
    match (answer.result, answer.error) {
        (_, Some(e)) => Err(CommandError::Answered(e.get().to_owned())),
        (Some(r), None) => print(r.get().to_owned()),
        (None, None) => Err(remote_error(&"the answer has neither result nor error")),
    }
}

/// The secret of user `name`: RUNJSONRPC2_SECRET, else asked for on the terminal (when stdin
/// is one). Never an argument: those show in `ps`.
fn secret_for(name: &str) -> Result<Vec<u8>, CommandError> {
    use std::io::IsTerminal;
    use std::os::unix::ffi::OsStringExt;
    if name.is_empty() || name.contains(':') {
        return Err(CommandError::Usage(format!("user name {name:?} is empty or holds a ':'")));
    }
    if let Some(secret) = std::env::var_os(SECRET_VARIABLE) {
        return Ok(secret.into_vec());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::Usage(format!(
            "--user {name} needs a secret: set {SECRET_VARIABLE}, or run in a terminal to be asked for it"
        )));
    }
    let mut tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty")?;
    write!(tty, "secret for {name}: ")?;
    let mut line = String::new();
    std::io::BufReader::new(&tty).read_line(&mut line)?;
    let secret = line.trim_end_matches(['\n', '\r']);
    Ok(secret.as_bytes().to_vec())
}

/// Where `call --url --user NAME` finds the secret.
pub const SECRET_VARIABLE: &str = "RUNJSONRPC2_SECRET";

/// `call --url URL -`: each non-blank line of `input` is POSTed as it is, on one kept-alive
/// connection, and each answer written on a line of its own, in order (notifications get
/// none). An answer that is, or holds, an error makes it fail (exit 1) once all are sent.
pub fn lines(client: &mut Client, input: impl BufRead, mut output: impl Write) -> Result<(), CommandError> {
    let (mut answers, mut errors) = (0usize, 0usize);
    let remote_error =
        |client: &Client, why: &dyn std::fmt::Display| CommandError::Remote(format!("{}: {why}", client.url()));
    for line in input.split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut body = match client.post(&line).map_err(|e| remote_error(client, &e))? {
            Answer204::NoContent => continue,
            Answer204::Json(body) => body,
        };
        answers += 1;
        errors += usize::from(holds_error(&body).map_err(|e| remote_error(client, &e))?);
        // A raw newline in JSON is whitespace between tokens (strings escape theirs).
        body.retain(|b| !matches!(b, b'\n' | b'\r'));
        body.push(b'\n');
        output.write_all(&body)?;
        output.flush()?;
    }
    match errors {
        0 => Ok(()),
        n => Err(CommandError::Answered(format!("{n} of {answers} answers held an error"))),
    }
}

/// Whether a JSON-RPC answer (one response or a batch of them) holds an error.
fn holds_error(body: &[u8]) -> Result<bool, String> {
    #[derive(serde::Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        error: Option<&'a serde_json::value::RawValue>,
    }
    let bad = |e: serde_json::Error| format!("the answer is not a JSON-RPC response: {e}");
    if body.trim_ascii_start().starts_with(b"[") {
        let batch: Vec<Probe<'_>> = serde_json::from_slice(body).map_err(bad)?;
        Ok(batch.iter().any(|p| p.error.is_some()))
    } else {
        Ok(serde_json::from_slice::<Probe<'_>>(body).map_err(bad)?.error.is_some())
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
