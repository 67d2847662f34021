//! The access log (`--access-log`) on the real binary: a JSON line per request with its
//! methods, user and status; no torn line when workers write at once; reopened on SIGUSR1.

use crate::support::{Server, post_request, read_response};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ADD: &str = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
const ANSWER: &str = r#"{"jsonrpc":"2.0","result":3,"id":1}"#;

/// A directory of its own for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rj2-access-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The log's lines, each parsed, once it holds at least `n` (at most 10 s).
fn lines(path: &Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.lines().count() >= n || Instant::now() > deadline {
            assert!(text.is_empty() || text.ends_with('\n'), "a torn last line: {text:?}");
            return text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"))).collect();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_line_per_request_with_methods_user_and_status() {
    let dir = scratch("lines");
    let users = dir.join("users.auth");
    let (code, line, _) = crate::support::run(&["auth", "add", "alice", "--allow", "*"], "s3cret\n");
    assert_eq!(code, 0);
    std::fs::write(&users, line).unwrap();
    let log = dir.join("access.log");
    let server = Server::start(&[
        "--workers",
        "0",
        "--auth",
        users.to_str().unwrap(),
        "--access-log",
        log.to_str().unwrap(),
        "--no-prefix",
        "sample",
    ]);
    let authorized = |body: &str| {
        let head =
            "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6czNjcmV0\r\nContent-Type: application/json\r\n";
        format!("{head}Content-Length: {}\r\n\r\n{body}", body.len())
    };
    let batch = r#"[{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1},{"jsonrpc":"2.0","method":"nope","id":2},{"jsonrpc":"2.0","method":"update","params":[1]}]"#;
    assert_eq!(server.request(authorized(ADD).as_bytes()).body_text(), ANSWER);
    assert_eq!(server.request(authorized(batch).as_bytes()).status, 200);
    assert_eq!(server.request(&post_request("/", "application/json", ADD.as_bytes())).status, 401);
    assert_eq!(server.request(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
    let got = lines(&log, 4);
    #[rustfmt::skip]
    let want: &[(&str, serde_json::Value, u16, serde_json::Value, serde_json::Value)] = &[
        ("POST /", "alice".into(), 200, serde_json::json!(["add"]), serde_json::json!([])),
        ("POST /", "alice".into(), 200, serde_json::json!(["add", "nope", "update"]), serde_json::json!([-32601])),
        ("POST /", serde_json::Value::Null, 401, serde_json::Value::Null, serde_json::Value::Null),
        ("GET /health", serde_json::Value::Null, 200, serde_json::Value::Null, serde_json::Value::Null),
    ];
    // Each line is written after its answer, so two requests' lines may come in either order.
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (request, user, status, methods, errors) in want {
        let line = got
            .iter()
            .find(|l| l["request"] == *request && l["status"] == *status && l["methods"] == *methods)
            .unwrap_or_else(|| panic!("no line for {request} {status} {methods}: {got:#?}"));
        assert_eq!((&line["user"], &line["errors"]), (user, errors), "{line}");
        assert_eq!(line["remote"], "127.0.0.1", "{line}");
        assert!(line["bytes"].as_u64().unwrap() > 0 && line["us"].as_u64().is_some(), "{line}");
        assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");
    }
    let batch_line = got.iter().find(|l| l["methods"].as_array().is_some_and(|m| m.len() == 3)).unwrap();
    assert_eq!(batch_line["calls"], 3);
}

/// Two workers and eight clients at once: every line whole, one per request.
#[test]
fn workers_writing_at_once_never_tear_a_line() {
    let dir = scratch("torn");
    let log = dir.join("access.log");
    let server = Server::start(&["--workers", "2", "--access-log", log.to_str().unwrap(), "--no-prefix", "sample"]);
    let addr = server.addr;
    // A long method name makes each line long, so a torn write would show.
    let long = format!(r#"{{"jsonrpc":"2.0","method":"{}","id":1}}"#, "m".repeat(2000));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let long = long.clone();
            std::thread::spawn(move || {
                let conn = std::net::TcpStream::connect(addr).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let mut conn = BufReader::new(conn);
                for i in 0..200 {
                    let body = if i % 2 == 0 { ADD } else { long.as_str() };
                    conn.get_mut().write_all(&post_request("/", "application/json", body.as_bytes())).unwrap();
                    assert_eq!(read_response(&mut conn).expect("answered").status, 200);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let got = lines(&log, 1600);
    assert_eq!(got.len(), 1600);
    assert_eq!(got.iter().filter(|l| l["errors"] == serde_json::json!([-32601])).count(), 800);
}

/// SIGUSR1 reopens the file (logrotate moves it away first), in one process and under a
/// master, which passes it on to its workers.
#[test]
fn sigusr1_reopens_the_file() {
    for workers in ["0", "2"] {
        let dir = scratch(&format!("reopen{workers}"));
        let log = dir.join("access.log");
        let server =
            Server::start(&["--workers", workers, "--access-log", log.to_str().unwrap(), "--no-prefix", "sample"]);
        assert_eq!(server.post(ADD).1, ANSWER);
        assert_eq!(lines(&log, 1).len(), 1);
        let rotated = dir.join("access.log.1");
        std::fs::rename(&log, &rotated).unwrap();
        server.signal("USR1");
        // Until the new file appears with the calls made after the signal.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !log.exists() {
            assert!(Instant::now() < deadline, "--workers {workers}: no new file after SIGUSR1");
            assert_eq!(server.post(ADD).1, ANSWER);
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(server.post(ADD).1, ANSWER);
        assert!(!lines(&log, 1).is_empty(), "--workers {workers}");
        assert!(!lines(&rotated, 1).is_empty(), "--workers {workers}: the old lines stay in the old file");
        let mut server = server;
        assert!(server.child.try_wait().unwrap().is_none(), "--workers {workers}: SIGUSR1 did not end the server");
    }
}
