//! The HTTP layer's limits on the real binary: slow and idle clients, oversized heads, the
//! head and body deadlines, stopping, reloading after a hostile burst, and Unix sockets.

use crate::support::{Log, Server, bin, plugin_dir, post_request, read_response};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADD: &str = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
const ANSWER: &str = r#"{"jsonrpc":"2.0","result":3,"id":1}"#;

/// Enough descriptors for this process's many connections.
fn room_for_connections() {
    rlimit::increase_nofile_limit(u64::MAX).expect("the open file limit can be raised");
}

/// The median of `n` fresh calls' times, each checked.
fn median_call(server: &Server, n: usize) -> Duration {
    let mut took: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(server.post(ADD), (200, ANSWER.to_owned()));
            start.elapsed()
        })
        .collect();
    took.sort();
    took[n / 2]
}

/// A process's resident memory in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// 200 clients trickling a body and 200 trickling a head, all held open: a separate client
/// calling one call at a time is answered every time, with a median under 50 ms.
#[test]
fn tricklers_do_not_hold_up_other_clients() {
    room_for_connections();
    let server = Server::start(&["--workers", "2", "--no-prefix", "sample"]);
    let mut tricklers = Vec::new();
    for i in 0..400 {
        let mut conn = server.connect();
        let start = if i % 2 == 0 {
            // A body announced, one byte of it sent.
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".to_owned()
        } else {
            "POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_owned()
        };
        conn.write_all(start.as_bytes()).unwrap();
        tricklers.push(conn);
    }
    for round in 0..3 {
        // Another byte from each, then the calls.
        for conn in &mut tricklers {
            conn.write_all(b" ").unwrap();
        }
        let median = median_call(&server, 21);
        assert!(median < Duration::from_millis(50), "round {round}: median {median:?}");
    }
}

/// 1,000 idle keep-alive connections on one process, and a call on a new one is answered
/// (median under 100 ms); the memory they cost is reported.
#[test]
fn a_thousand_idle_connections_leave_room_for_a_call() {
    room_for_connections();
    let server = Server::start(&["--workers", "0", "--max-connections", "1100", "--no-prefix", "sample"]);
    let before = rss_kib(server.child.id());
    let mut idle = Vec::new();
    for _ in 0..1000 {
        let mut conn = server.keep_alive();
        assert_eq!(Server::call_on(&mut conn, ADD).expect("answered").body_text(), ANSWER);
        idle.push(conn);
    }
    let median = median_call(&server, 11);
    let after = rss_kib(server.child.id());
    eprintln!("1,000 idle connections: RSS {before} KiB -> {after} KiB ({} KiB each)", (after - before) / 1000);
    assert!(median < Duration::from_millis(100), "median {median:?}");
    // Each is still served.
    for conn in idle.iter_mut().step_by(100) {
        assert_eq!(Server::call_on(conn, ADD).expect("still served").body_text(), ANSWER);
    }
}

/// At --max-connections a new connection waits in the backlog, and is served as soon as one
/// closes; with workers, another worker takes it.
#[test]
fn past_the_connection_cap_new_ones_wait_their_turn() {
    let server = Server::start(&["--workers", "0", "--max-connections", "2", "--no-prefix", "sample"]);
    let mut held: Vec<_> = (0..2).map(|_| server.keep_alive()).collect();
    for conn in &mut held {
        assert_eq!(Server::call_on(conn, ADD).expect("answered").body_text(), ANSWER);
    }
    let mut third = server.keep_alive();
    third.get_mut().write_all(&post_request("/", "application/json", ADD.as_bytes())).unwrap();
    held.pop();
    assert_eq!(read_response(&mut third).expect("served once one closed").body_text(), ANSWER);
    // Two workers with a cap of 1 each: two held connections, and the third is still served
    // once either closes.
    let server = Server::start(&["--workers", "2", "--max-connections", "1", "--no-prefix", "sample"]);
    let mut first = server.keep_alive();
    assert_eq!(Server::call_on(&mut first, ADD).expect("answered").body_text(), ANSWER);
    let mut second = server.keep_alive();
    assert_eq!(Server::call_on(&mut second, ADD).expect("another worker answers").body_text(), ANSWER);
    let mut third = server.keep_alive();
    third.get_mut().write_all(&post_request("/", "application/json", ADD.as_bytes())).unwrap();
    drop(first);
    assert_eq!(read_response(&mut third).expect("served once one closed").body_text(), ANSWER);
}

/// Heads past the limits are refused, 431 (414 for the request line), and closed.
#[test]
fn oversized_heads_are_refused() {
    let server = Server::start(&["--no-prefix", "sample"]);
    let long_field = format!("POST / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(70_000));
    let many_fields =
        format!("POST / HTTP/1.1\r\n{}\r\n", (0..500).map(|i| format!("X-{i}: y\r\n")).collect::<String>());
    let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(70_000));
    #[rustfmt::skip]
    let cases: &[(&str, &str, u16)] = &[
        ("a 70 KB header line", &long_field, 431),
        ("500 header fields", &many_fields, 431),
        ("a 70 KB request line", &long_line, 414),
    ];
    for &(name, raw, status) in cases {
        let mut conn = server.connect();
        // The server may close before the whole head is sent: that is the point.
        let _ = conn.write_all(raw.as_bytes());
        let mut reader = BufReader::new(conn);
        let r = read_response(&mut reader).unwrap_or_else(|| panic!("{name}: no answer"));
        assert_eq!((r.status, r.header("Connection")), (status, Some("close")), "{name}");
    }
    // Within the limits (100 fields, 32 KiB), served.
    let fields: String = (0..90).map(|i| format!("X-{i}: y\r\n")).collect();
    let head = format!("POST / HTTP/1.1\r\nHost: x\r\n{fields}X-Big: {}\r\n", "a".repeat(20_000));
    let raw = format!("{head}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{ADD}", ADD.len());
    assert_eq!(server.request(raw.as_bytes()).body_text(), ANSWER);
}

/// A head not whole within --header-timeout is answered 408 and closed; so is a body not
/// whole within --body-timeout; an idle connection is closed at --keepalive-timeout.
#[test]
fn slow_heads_and_bodies_time_out() {
    let server = Server::start(&[
        "--header-timeout",
        "0.5",
        "--body-timeout",
        "0.5",
        "--keepalive-timeout",
        "1",
        "--no-prefix",
        "sample",
    ]);
    #[rustfmt::skip]
    let cases: &[(&str, &str, Option<u16>)] = &[
        ("half a head", "POST / HTTP/1.1\r\nHost: x\r\n", Some(408)),
        ("half a body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", Some(408)),
        ("nothing at all", "", None),
    ];
    for &(name, sent, status) in cases {
        let mut conn = server.connect();
        conn.write_all(sent.as_bytes()).unwrap();
        let started = Instant::now();
        let mut reader = BufReader::new(conn);
        let r = read_response(&mut reader);
        assert_eq!(r.as_ref().map(|r| r.status), status, "{name}: {r:?}");
        let mut rest = Vec::new();
        assert_eq!(reader.read_to_end(&mut rest).expect("the end of the stream, not a timeout"), 0, "{name}");
        // Not before its time (the client's own timeout is 20 s, so closing proves the limit).
        assert!(started.elapsed() >= Duration::from_millis(400), "{name}: closed after {:?}", started.elapsed());
    }
    // A trickle that keeps sending does not stretch the head's time.
    let mut conn = server.connect();
    conn.write_all(b"POST / HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let trickle = std::thread::spawn(move || {
        for _ in 0..50 {
            if conn.write_all(b"X: y\r\n").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let r = read_response(&mut reader).expect("a 408");
    assert_eq!(r.status, 408);
    assert!(started.elapsed() < Duration::from_secs(2), "the trickle held the head for {:?}", started.elapsed());
    trickle.join().unwrap();
}

/// An idle server stops within 200 ms of SIGTERM, with and without a master, and with an
/// idle kept-alive connection open (best of three; every one within 2 s).
#[test]
fn an_idle_server_stops_at_once() {
    for workers in ["0", "2"] {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let mut server = Server::start(&["--workers", workers, "--host", "0.0.0.0", "--no-prefix", "sample"]);
            let mut conn = server.keep_alive();
            assert_eq!(Server::call_on(&mut conn, ADD).expect("answered").body_text(), ANSWER);
            let started = Instant::now();
            server.signal("TERM");
            assert_eq!(server.child.wait().unwrap().code(), Some(0));
            let took = started.elapsed();
            assert!(took < Duration::from_secs(2), "--workers {workers}: {took:?}");
            best = best.min(took);
        }
        assert!(best < Duration::from_millis(200), "--workers {workers}: best of three {best:?}");
    }
}

/// 300 hostile connections (ambiguous framings with requests behind them, half heads, half
/// bodies, bare hang-ups), then a reload while a client calls without pause: no call fails.
#[test]
fn a_reload_after_a_hostile_burst_fails_no_call() {
    room_for_connections();
    let (server, log) = Server::start_logged(&["--no-prefix", "sample"]);
    let mut hostile = Vec::new();
    for i in 0..300 {
        let mut conn = server.connect();
        let sent = match i % 4 {
            0 => format!(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nContent-Length: 5\r\n\r\n{ADD}{}",
                ADD.len(),
                String::from_utf8(post_request("/", "application/json", ADD.as_bytes())).unwrap()
            ),
            1 => "POST / HTTP/1.1\r\nHost: x\r\nX-Half: ".to_owned(),
            2 => "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n".to_owned(),
            _ => "GET /health HTTP/1.1\r\n".to_owned(),
        };
        conn.write_all(sent.as_bytes()).unwrap();
        if i % 4 == 3 {
            drop(conn);
        } else {
            hostile.push(conn);
        }
    }
    let client = crate::support::Caller::start(server.addr, ADD, |r| r.body_text() == ANSWER);
    std::thread::sleep(Duration::from_millis(300));
    let old = crate::support::children(server.child.id());
    assert_eq!(old.len(), 2, "two workers");
    server.signal("HUP");
    log.wait_for("reloaded", Duration::from_secs(20));
    // Until every old worker has gone (the connections it held end with it).
    let deadline = Instant::now() + Duration::from_secs(30);
    while old.iter().any(|pid| crate::support::parent_of(*pid) == Some(server.child.id())) {
        assert!(Instant::now() < deadline, "old workers {old:?} still running:\n{}", log.text());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let (calls, failures) = client.finish();
    assert!(calls > 10, "only {calls} calls");
    assert!(failures.is_empty(), "{} of {calls} calls failed: {failures:#?}", failures.len());
    drop(hostile);
}

/// A server on a Unix socket: started with `--unix PATH`, its first line names the socket.
struct UnixServer {
    child: Child,
    path: PathBuf,
    log: Log,
}

impl UnixServer {
    fn start(path: &Path, args: &[&str]) -> UnixServer {
        let mut cmd = Command::new(bin());
        cmd.arg("--plugin-path").arg(plugin_dir()).arg("--unix").arg(path).args(args).env_remove("RUST_LOG");
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("runjsonrpc2 starts");
        let log = Log::of(&mut child);
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim_end(), format!("listening on unix:{}", path.display()), "{}", log.text());
        UnixServer { child, path: path.to_owned(), log }
    }

    /// `curl --unix-socket` with a JSON body: its output.
    fn curl(&self, body: &str) -> String {
        let out = Command::new("curl")
            .args(["-sS", "--unix-socket"])
            .arg(&self.path)
            .args(["-H", "Content-Type: application/json", "-d", body, "http://localhost/"])
            .output()
            .expect("curl runs (apt-get install curl; tests/run does)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for UnixServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--unix`: served to curl's `--unix-socket`, with `remote_addr` null; the file is removed
/// at a clean stop, a stale one from a crash replaced, and `--allow-from` refused with it.
#[test]
fn unix_sockets_serve_and_clean_up() {
    let dir = std::env::temp_dir().join(format!("rj2-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rpc.sock");
    for workers in ["0", "2"] {
        let mut server = UnixServer::start(&path, &["--workers", workers, "--no-prefix", "sample"]);
        assert_eq!(server.curl(ADD), ANSWER);
        let whoami = r#"{"jsonrpc":"2.0","method":"whoami","id":1}"#;
        let answer: serde_json::Value = serde_json::from_str(&server.curl(whoami)).unwrap();
        assert_eq!(answer["result"]["remote_addr"], serde_json::Value::Null, "{answer}");
        let pid = server.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        assert_eq!(server.child.wait().unwrap().code(), Some(0), "{}", server.log.text());
        assert!(!path.exists(), "--workers {workers}: the socket file is removed at a clean stop");
    }
    // A crash leaves the file; the next start replaces it.
    let mut crashed = UnixServer::start(&path, &["--workers", "0", "--no-prefix", "sample"]);
    crashed.child.kill().unwrap();
    crashed.child.wait().unwrap();
    assert!(path.exists());
    let again = UnixServer::start(&path, &["--workers", "0", "--no-prefix", "sample"]);
    assert_eq!(again.curl(ADD), ANSWER);
    drop(again);
    let (code, _, stderr) = crate::support::run(
        &["--unix", path.to_str().unwrap(), "--allow-from", "10.0.0.0/8", "--workers", "0", "sample"],
        "",
    );
    assert_eq!((code, stderr.lines().count()), (2, 1), "{stderr}");
    assert!(stderr.contains("--allow-from does not apply to --unix"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
