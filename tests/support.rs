//! Test support: building the plugins, starting the real server on port 0, a raw HTTP/1.1 client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The conformance checker: the shared kit's beside the checkout when there is one, else the
/// copy in tests/conformance.
pub fn conformance_checker() -> PathBuf {
    let shared = root().join("../shared/conformance/check.py");
    if shared.is_file() { shared } else { root().join("tests/conformance/check.py") }
}

/// The parent of process `pid` (from /proc), if it is still there.
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command's closing parenthesis: state, ppid, ...
    let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// The runjsonrpc2 binary cargo built for these tests.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_runjsonrpc2")
}

/// The directory holding the plugins: target/<profile>, beside the binary.
pub fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(bin()).parent().unwrap().to_path_buf();
        // The plugins are built with the profile that built the binary (cargo mutants uses its
        // own); target/debug is the dev profile's.
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(name) => name,
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root())
            .args(["build", "-q", "-p", "hello", "-p", "sample", "--profile", profile])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the sample plugins failed");
        // The C plugin, and its deliberately broken variants for fault tests.
        let c = root().join("sample-plugins/c/cgreet.c");
        let include = root().join("plugin-api/include");
        let cdir = dir.join("c-plugins");
        std::fs::create_dir_all(&cdir).unwrap();
        // As C11 and as C++17, with hidden visibility and every warning an error: the
        // header's RJ2_EXPORT must be all a plugin needs.
        let strict = ["-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror", "-I"];
        let c_variants = C_VARIANTS.iter().map(|v| (v, "CC", "cc", "c11"));
        for ((name, define), env, default, std) in
            c_variants.chain(CXX_VARIANTS.iter().map(|v| (v, "CXX", "c++", "c++17")))
        {
            let out = cdir.join(format!("lib{name}.so"));
            let mut cc = Command::new(std::env::var(env).unwrap_or_else(|_| default.into()));
            if std == "c++17" {
                cc.args(["-x", "c++"]);
            }
            cc.arg(format!("-std={std}")).args(strict).arg(&include).arg(&c).arg("-o").arg(&out);
            if let Some(d) = define {
                cc.arg(format!("-D{d}"));
            }
            let compiler = cc.get_program().to_string_lossy().into_owned();
            let package = if std == "c++17" { "g++" } else { "gcc" };
            let status = cc.status().unwrap_or_else(|_| missing(&compiler, &format!("apt-get install {package}")));
            assert!(status.success(), "compiling {name} failed");
        }
        // A plugin of ABI version 2, from its own copy of that header.
        let v2 = root().join("tests/v2");
        let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
        cc.arg("-std=c11").args(strict).arg(&v2).arg(v2.join("cv2.c")).arg("-o").arg(cdir.join("libcv2.so"));
        let status = cc.status().unwrap_or_else(|_| missing("cc", "apt-get install gcc"));
        assert!(status.success(), "compiling cv2 failed");
        dir
    })
}

/// C plugin builds: the library name and the fault switch it is compiled with.
pub const C_VARIANTS: &[(&str, Option<&str>)] = &[
    ("cgreet", None),
    ("cbadabi", Some("RJ2_TEST_BAD_ABI")),
    ("cdup", Some("RJ2_TEST_DUP")),
    ("cnull", Some("RJ2_TEST_NULL")),
    ("cbadjson", Some("RJ2_TEST_BADJSON")),
    ("cmissing", Some("RJ2_TEST_MISSING")),
    ("cstatus", Some("RJ2_TEST_BAD_STATUS")),
    ("cflags", Some("RJ2_TEST_FLAGS")),
    ("chuge", Some("RJ2_TEST_HUGE")),
    ("ccolon", Some("RJ2_TEST_COLON")),
    ("cfault", Some("RJ2_TEST_FAULTS")),
    ("chowdy", Some("RJ2_TEST_HOWDY")),
    ("csmall", Some("RJ2_TEST_SMALL")),
    ("chint", Some("RJ2_TEST_HINT")),
    ("cfuture", Some("RJ2_TEST_FUTURE")),
];

/// The same source built as C++17: the sample, and a variant whose procedure throws.
pub const CXX_VARIANTS: &[(&str, Option<&str>)] = &[("cgreetxx", None), ("cthrow", Some("RJ2_TEST_THROW"))];

/// The path of a compiled C plugin variant.
pub fn c_plugin(name: &str) -> String {
    plugin_dir().join("c-plugins").join(format!("lib{name}.so")).display().to_string()
}

/// A running runjsonrpc2 server, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// Kept open so the server's later writes to stdout do not fail.
    pub _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts `runjsonrpc2 --port 0 ARGS...` with the plugin directory on the search path
    /// and waits for its `listening on` line.
    pub fn start(args: &[&str]) -> Server {
        let mut cmd = Command::new(bin());
        cmd.current_dir(root()).arg("--plugin-path").arg(plugin_dir()).args(["--port", "0", "-q"]).args(args);
        Server::spawn(&mut cmd, Stdio::piped())
    }

    /// Starts `runjsonrpc2 serve run.toml --port 0` in `dir`.
    pub fn serve_config(dir: &Path) -> Server {
        Server::spawn(Command::new(bin()).current_dir(dir).args(["serve", "run.toml", "--port", "0"]), Stdio::null())
    }

    /// Starts `cmd` with stdout piped and waits for its `listening on` line.
    pub fn spawn(cmd: &mut Command, stderr: Stdio) -> Server {
        let mut child = cmd.stdout(Stdio::piped()).stderr(stderr).spawn().expect("runjsonrpc2 starts");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Server::wait_listening(child, stdout)
    }

    /// Reads the first stdout line, `listening on http://HOST:PORT/`.
    pub fn wait_listening(mut child: Child, mut stdout: BufReader<ChildStdout>) -> Server {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(addr) = line.strip_prefix("listening on http://").and_then(|l| l.trim_end().strip_suffix('/')) else {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut err);
            }
            let _ = child.kill();
            panic!("no listening line: {line:?}, stderr: {err}");
        };
        Server { addr: addr.parse().unwrap(), child, _stdout: stdout }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// POSTs a JSON body; returns (status, body).
    pub fn post(&self, body: &str) -> (u16, String) {
        let r = self.request(&post_request("/", "application/json", body.as_bytes()));
        (r.status, r.body_text())
    }

    /// Sends raw bytes on a new connection and reads one response.
    pub fn request(&self, raw: &[u8]) -> Response {
        let mut conn = self.connect();
        conn.write_all(raw).unwrap();
        read_response(&mut BufReader::new(conn)).expect("a response")
    }

    /// A connection the server has surely accepted (it answered one call on it), on which
    /// `body` is then sent; returns the reader for the answer.
    pub fn accepted_call(&self, body: &str) -> BufReader<TcpStream> {
        let mut conn = self.connect();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let add = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
        conn.write_all(&post_request("/", "application/json", add.as_bytes())).unwrap();
        assert_eq!(read_response(&mut reader).unwrap().body_text(), r#"{"jsonrpc":"2.0","result":3,"id":1}"#);
        conn.write_all(&post_request("/", "application/json", body.as_bytes())).unwrap();
        reader
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }
}

impl Drop for Server {
    /// Stops the server as an operator would, SIGQUIT (its master then ends its workers and
    /// waits for them); SIGKILL after 5 s.
    fn drop(&mut self) {
        stop(&mut self.child, libc::SIGQUIT, Duration::from_secs(5));
    }
}

/// A POST with Content-Length.
pub fn post_request(path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// One HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn body_text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// Reads one response (Content-Length bodies, or none); None on a closed connection.
pub fn read_response(r: &mut impl BufRead) -> Option<Response> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status = line.split_whitespace().nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_owned(), v.trim().to_owned()));
    }
    let len: usize =
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Response { status, headers, body })
}

/// Runs the binary to completion: (exit code, stdout, stderr).
pub fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(bin())
        .current_dir(root())
        .env("RUNJSONRPC2_PLUGIN_PATH", plugin_dir())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command may exit without reading its input (a usage error): its stdin is then closed.
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing stdin: {e}"),
        _ => {}
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

impl Server {
    /// Starts `runjsonrpc2 --port 0 ARGS...` (plugin directory on the search path, logging at
    /// the default level) and returns it with its log.
    pub fn start_logged(args: &[&str]) -> (Server, Log) {
        let mut cmd = Command::new(bin());
        cmd.current_dir(root()).arg("--plugin-path").arg(plugin_dir()).args(["--port", "0"]).args(args);
        cmd.env_remove("RUST_LOG");
        let mut server = Server::spawn(&mut cmd, Stdio::piped());
        let log = Log::of(&mut server.child);
        (server, log)
    }

    /// POSTs `body` on `conn` (a kept-alive connection) and reads the answer.
    pub fn call_on(conn: &mut BufReader<TcpStream>, body: &str) -> Option<Response> {
        conn.get_mut().write_all(&post_request("/", "application/json", body.as_bytes())).ok()?;
        read_response(conn)
    }

    /// A new kept-alive connection.
    pub fn keep_alive(&self) -> BufReader<TcpStream> {
        BufReader::new(self.connect())
    }

    /// Sends SIGNAL (a name such as `HUP`) to the server's process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(status.unwrap().success(), "kill -{signal}");
    }
}

/// A process's stderr, read on a thread as it comes, so a test can wait for a line.
pub struct Log {
    text: std::sync::Arc<(std::sync::Mutex<String>, std::sync::Condvar)>,
}

impl Log {
    /// Takes `child`'s piped stderr.
    pub fn of(child: &mut Child) -> Log {
        let stderr = child.stderr.take().expect("stderr is piped");
        let text = std::sync::Arc::new((std::sync::Mutex::new(String::new()), std::sync::Condvar::new()));
        let shared = text.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let (lock, changed) = &*shared;
                // (A test that failed while holding the lock poisoned it; the log goes on.)
                let mut text = lock.lock().unwrap_or_else(|e| e.into_inner());
                text.push_str(&line);
                text.push('\n');
                changed.notify_all();
            }
        });
        Log { text }
    }

    /// Waits until the log holds `needle`, at most `within`; returns the log, or panics with it.
    pub fn wait_for(&self, needle: &str, within: Duration) -> String {
        let (lock, changed) = &*self.text;
        let deadline = std::time::Instant::now() + within;
        let mut text = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !text.contains(needle) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "no {needle:?} in the log within {within:?}:\n{text}");
            text = changed.wait_timeout(text, left).unwrap().0;
        }
        text.clone()
    }

    /// Waits until `done` holds for the log, at most `within`; returns the log, or panics with
    /// it and `what`.
    pub fn wait_until(&self, what: &str, within: Duration, done: impl Fn(&str) -> bool) -> String {
        let (lock, changed) = &*self.text;
        let deadline = std::time::Instant::now() + within;
        let mut text = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !done(&text) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "no {what} in the log within {within:?}:\n{text}");
            text = changed.wait_timeout(text, left).unwrap().0;
        }
        text.clone()
    }

    /// The log so far.
    pub fn text(&self) -> String {
        self.text.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Stops `child`: `signal`, then SIGKILL if it still runs after `within`; reaps it either way.
/// (A child already reaped is not signalled: its pid may be another process's by now.)
pub fn stop(child: &mut Child, signal: i32, within: Duration) {
    if let Ok(None) = child.try_wait() {
        // Our own child, not reaped (try_wait said it runs): its pid is still its own.
        send_signal(&child.id().to_string(), signal);
        let deadline = std::time::Instant::now() + within;
        while let Ok(None) = child.try_wait() {
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let _ = child.wait();
}

/// Sends `signal` (a number) to `target`, a pid or `-PGID` for a process group, with kill(1).
pub fn send_signal(target: &str, signal: i32) {
    let status = Command::new("kill").arg(format!("-{signal}")).arg("--").arg(target).status();
    assert!(status.is_ok_and(|s| s.success()), "kill -{signal} {target}");
}

/// The live processes (zombies left out) of process group `pgid`, from /proc.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            // After the command's closing parenthesis: state, ppid, pgrp, ...
            let mut after = stat[stat.rfind(')').map_or(0, |i| i + 1)..].split_whitespace();
            let state = after.next();
            state != Some("Z") && after.nth(1).and_then(|g| g.parse().ok()) == Some(pgid)
        })
        .collect()
}

/// Waits until process group `pgid` has no live process, at most `within`; returns those
/// left (empty once it is gone).
pub fn wait_group_gone(pgid: u32, within: Duration) -> Vec<u32> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let left = group_members(pgid);
        if left.is_empty() || std::time::Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The opt-out: `RUNJSONRPC2_TESTS_WITHOUT=nginx,systemd,node` skips the tests that need those
/// tools (DEVELOPERS.md). Nothing else skips a test.
const WITHOUT: &str = "RUNJSONRPC2_TESTS_WITHOUT";

/// True, with a line on stderr, when RUNJSONRPC2_TESTS_WITHOUT lists `group`.
pub fn opted_out(group: &str, what: &str) -> bool {
    let listed = std::env::var(WITHOUT).unwrap_or_default();
    let out = listed.split(',').any(|g| g.trim() == group);
    if out {
        eprintln!("SKIPPED: this test needs {what}, and {WITHOUT}={listed} leaves out {group}");
    }
    out
}

/// The one-line failure for a missing tool: what it is and how to get it.
#[track_caller]
pub fn missing(what: &str, how: &str) -> ! {
    panic!("{what} is not installed: {how} (tests/run installs what the suite needs)")
}

/// A program the tests run, looked up on PATH and then in /usr/sbin and /sbin (where nginx
/// lives, often not on a user's PATH). Missing, the test fails with one line naming it and
/// its Debian package; `None` only when RUNJSONRPC2_TESTS_WITHOUT lists `group`.
#[track_caller]
pub fn tool(name: &str, group: &str, package: &str) -> Option<PathBuf> {
    if opted_out(group, name) {
        return None;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let executable = |p: &PathBuf| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin", "/sbin"].map(PathBuf::from));
    match dirs.map(|d| d.join(name)).find(executable) {
        Some(found) => Some(found),
        None => missing(name, &format!("apt-get install {package}")),
    }
}

/// Checks that python3 can import `modules` (comma-separated); fails the test with one line
/// naming pip's `spec` otherwise.
#[track_caller]
pub fn python_modules(modules: &str, spec: &str) {
    let out = match Command::new("python3").args(["-c", &format!("import {modules}")]).output() {
        Ok(out) => out,
        Err(_) => missing("python3", "apt-get install python3"),
    };
    if !out.status.success() {
        missing(&format!("Python's {spec}"), &format!("python3 -m pip install '{spec}'"));
    }
}

/// A client calling `body` without pause on one kept-alive connection, on a thread of its
/// own, until [`Caller::finish`]: it connects again after `Connection: close` or a failure,
/// and counts as a failure every answer `ok` refuses (or none at all).
pub struct Caller {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(usize, Vec<String>)>,
}

impl Caller {
    pub fn start(addr: SocketAddr, body: &'static str, ok: impl Fn(&Response) -> bool + Send + 'static) -> Caller {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let connect = || {
                let conn = TcpStream::connect(addr).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                BufReader::new(conn)
            };
            let (mut calls, mut failures) = (0, Vec::new());
            let mut conn = connect();
            while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                calls += 1;
                match Server::call_on(&mut conn, body) {
                    Some(r) if ok(&r) => {
                        if r.header("Connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
                            conn = connect();
                        }
                    }
                    other => {
                        failures.push(format!("call {calls}: {other:?}"));
                        conn = connect();
                    }
                }
            }
            (calls, failures)
        });
        Caller { stop, thread }
    }

    /// Stops calling; the number of calls made and the failures.
    pub fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// The pids of `parent`'s children.
pub fn children(parent: u32) -> Vec<u32> {
    let pids = std::fs::read_dir("/proc").unwrap().flatten();
    let pids = pids.filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok());
    pids.filter(|&pid| parent_of(pid) == Some(parent)).collect()
}
