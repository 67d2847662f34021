//! The HTTP server: conformance vectors, content types, methods, status codes, keep-alive, signals.

use crate::support::{Server, post_request, read_response};
use std::io::{BufReader, Read, Write};
use std::process::Command;

#[test]
fn conformance_check_py() {
    let server = Server::start(&["--no-prefix", "sample"]);
    let checker = crate::support::conformance_checker();
    let out = Command::new("python3").arg(checker).arg(server.url()).output().expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim_end().ends_with("20 passed, 0 failed"), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
}

const ADD: &str = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
const ANSWER: &str = r#"{"jsonrpc":"2.0","result":3,"id":1}"#;

#[test]
fn content_types() {
    let server = Server::start(&["--no-prefix", "sample"]);
    #[rustfmt::skip]
    let cases: &[(&str, u16)] = &[
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("Application/JSON; Charset=\"UTF-8\"", 200),
        ("application/json-rpc", 200),
        ("APPLICATION/JSONREQUEST", 200),
        ("application/json;charset=latin-1", 415),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("", 415),
    ];
    for (ct, status) in cases {
        let r = server.request(&post_request("/", ct, ADD.as_bytes()));
        assert_eq!(r.status, *status, "{ct:?}");
        if *status == 200 {
            assert_eq!(r.body_text(), ANSWER);
            assert_eq!(r.header("Content-Type"), Some("application/json"));
            assert_eq!(r.header("Content-Length"), Some("35"));
        } else {
            assert!(
                r.body_text().contains("application/json, application/json-rpc or application/jsonrequest")
                    || r.body_text().contains("charset"),
                "{}",
                r.body_text()
            );
        }
    }
}

#[test]
fn methods_paths_and_statuses() {
    let server = Server::start(&["--no-prefix", "--max-body", "200", "sample"]);
    let get = server.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((get.status, get.header("Allow")), (405, Some("POST")));
    let put = server.request(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_eq!((put.status, put.body_text().as_str()), (405, "method not allowed: use POST\n"));
    let health = server.request(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((health.status, health.body_text().as_str()), (200, "ok\n"));
    let nope = server.request(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((nope.status, nope.body_text().as_str()), (404, "not found\n"));
    // A notification gets 204 and no body; an error answer is still 200.
    let note = server.request(&post_request("/", "application/json", br#"{"jsonrpc":"2.0","method":"foobar"}"#));
    assert_eq!((note.status, note.body.len()), (204, 0));
    let (status, body) = server.post("{");
    assert_eq!(status, 200);
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["error"]["code"], -32700, "{body}");
    assert_eq!(
        (&answer["error"]["message"], &answer["id"]),
        (&serde_json::json!("Parse error"), &serde_json::Value::Null)
    );
    assert!(answer["error"]["data"].as_str().is_some_and(|d| d.contains("EOF")), "{body}");
    // Over --max-body: 413; at the limit: served.
    let big = format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["{}"],"id":1}}"#, "x".repeat(200));
    let over = server.request(&post_request("/", "application/json", big.as_bytes()));
    let want = format!("body of {} bytes is over the limit of 200 bytes\n", big.len());
    assert_eq!((over.status, over.body_text()), (413, want));
    let exact = format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["{}"],"id":1}}"#, "x".repeat(200 - 54));
    assert_eq!(exact.len(), 200);
    let served = server.request(&post_request("/", "application/json", exact.as_bytes()));
    let want = format!(r#"{{"jsonrpc":"2.0","result":"{}","id":1}}"#, "x".repeat(200 - 54));
    assert_eq!((served.status, served.body_text()), (200, want));
}

/// The RPC path's answers (composed whole by the server, not by tiny_http): exact headers, a
/// 204 without Content-Length that still lets the connection go on, and the connection closed
/// when the client asked for it.
#[test]
fn rpc_answers_are_framed_whole() {
    let server = Server::start(&["--no-prefix", "sample"]);
    let mut conn = server.connect();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let notification = r#"{"jsonrpc":"2.0","method":"add","params":[1,2]}"#;
    let only_notifications = format!("[{notification},{notification}]");
    #[rustfmt::skip]
    let cases: &[(&str, u16, &str)] = &[
        (ADD, 200, ANSWER),
        (notification, 204, ""),
        (&only_notifications, 204, ""),
        (ADD, 200, ANSWER),
    ];
    for (body, status, answer) in cases {
        conn.write_all(&post_request("/", "application/json", body.as_bytes())).unwrap();
        let r = read_response(&mut reader).expect("answered on the same connection");
        assert_eq!((r.status, r.body_text().as_str()), (*status, *answer), "{body}");
        let date = r.header("Date").expect("a Date header");
        assert!(date.len() == 29 && date.ends_with(" GMT"), "{date:?}");
        assert_eq!(r.header("Server"), Some("runjsonrpc2"));
        let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
        match status {
            200 => {
                assert_eq!(names, ["Server", "Date", "Content-Type", "Content-Length"]);
                assert_eq!(r.header("Content-Type"), Some("application/json"));
            }
            _ => assert_eq!(names, ["Server", "Date"], "a 204 has no Content-Length"),
        }
    }
    // A large answer (its body written after the head, not copied behind it), then the
    // connection goes on.
    let long = "x".repeat(40_000);
    let echo = format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["{long}"],"id":2}}"#);
    conn.write_all(&post_request("/", "application/json", echo.as_bytes())).unwrap();
    let r = read_response(&mut reader).expect("a large answer");
    assert_eq!(r.body_text(), format!(r#"{{"jsonrpc":"2.0","result":"{long}","id":2}}"#));
    conn.write_all(&post_request("/", "application/json", ADD.as_bytes())).unwrap();
    assert_eq!(read_response(&mut reader).expect("answered after it").body_text(), ANSWER);
    // Asked to close: answered, then the connection ends.
    let head = "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n";
    conn.write_all(format!("{head}Content-Length: {}\r\n\r\n{ADD}", ADD.len()).as_bytes()).unwrap();
    assert_eq!(read_response(&mut reader).expect("answered").body_text(), ANSWER);
    let mut byte = [0u8; 1];
    assert_eq!(
        reader.read(&mut byte).expect("the end of the stream, not a timeout"),
        0,
        "closed after Connection: close"
    );
    // HTTP/1.0 without keep-alive: the answer speaks HTTP/1.0, then the connection ends.
    let mut conn = server.connect();
    let old =
        format!("POST / HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{ADD}", ADD.len());
    conn.write_all(old.as_bytes()).unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n") && text.ends_with(ANSWER), "{text}");
}

#[test]
fn chunked_bodies_and_keep_alive() {
    let server = Server::start(&["--no-prefix", "sample"]);
    let mut conn = server.connect();
    let (a, b) = ADD.split_at(20);
    let chunked = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    for _ in 0..3 {
        conn.write_all(chunked.as_bytes()).unwrap();
        let r = read_response(&mut reader).expect("answered on the same connection");
        assert_eq!((r.status, r.body_text().as_str()), (200, ANSWER));
    }
    // Pipelined: two requests in one write, two answers in order.
    let mut two = post_request("/", "application/json", ADD.as_bytes());
    two.extend(post_request("/", "application/json", ADD.replace("[1,2]", "[2,2]").as_bytes()));
    conn.write_all(&two).unwrap();
    assert_eq!(read_response(&mut reader).unwrap().body_text(), ANSWER);
    assert_eq!(read_response(&mut reader).unwrap().body_text(), ANSWER.replace('3', "4"));
}

#[test]
fn slow_procedure_does_not_hold_up_others() {
    let server = Server::start(&["--no-prefix", "sample"]);
    let slow = server.accepted_call(r#"{"jsonrpc":"2.0","method":"sleep","params":[3000],"id":"slow"}"#);
    // Another client is answered while the slow call still runs.
    let (status, body) = server.post(ADD);
    assert_eq!((status, body.as_str()), (200, ANSWER));
    slow.get_ref().set_nonblocking(true).unwrap();
    let mut probe = [0u8; 1];
    let pending = matches!(slow.get_ref().peek(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    assert!(pending && slow.buffer().is_empty(), "the slow call answered before the fast one");
    slow.get_ref().set_nonblocking(false).unwrap();
    let mut slow = slow;
    let r = read_response(&mut slow).unwrap();
    assert_eq!(r.body_text(), r#"{"jsonrpc":"2.0","result":3000,"id":"slow"}"#);
}

#[test]
fn sigterm_lets_the_call_in_flight_finish() {
    let (server, log) = Server::start_logged(&["--workers", "0", "-v", "--no-prefix", "sample"]);
    // The connection is accepted (it has been answered once) before the slow call goes out.
    let mut reader = server.accepted_call(r#"{"jsonrpc":"2.0","method":"sleep","params":[1500],"id":7}"#);
    // The server logs each request head as it reads it (-v): the second `POST /` is the slow
    // call's, whose connection is then busy until it is answered.
    log.wait_until("the slow call's head", std::time::Duration::from_secs(10), |t| t.matches("POST /").count() >= 2);
    let addr = server.addr;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let r = read_response(&mut reader).expect("the call in flight is answered");
    assert_eq!(r.body_text(), r#"{"jsonrpc":"2.0","result":1500,"id":7}"#);
    assert!(std::net::TcpStream::connect(addr).is_err(), "new connections are refused");
    let mut server = server;
    assert_eq!(server.child.wait().unwrap().code(), Some(0));
}

#[test]
fn sigterm_under_load_answers_every_accepted_call() {
    let server = Server::start(&["--no-prefix", "sample"]);
    let mut clients = Vec::new();
    for i in 0..32 {
        let call = format!(r#"{{"jsonrpc":"2.0","method":"sleep","params":[200],"id":{i}}}"#);
        clients.push((i, server.accepted_call(&call)));
    }
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // While the calls run (1.6 s of sleeping on 4 threads), the listener closes.
    let addr = server.addr;
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(addr).is_ok() {
        // The listener closes at once (the calls take 200 ms each); 10 s only tells a stuck
        // accept loop from a machine busy with other tests.
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "still accepting after SIGTERM");
    }
    for (i, mut reader) in clients {
        let r = read_response(&mut reader).unwrap_or_else(|| panic!("call {i} was not answered"));
        assert_eq!(r.body_text(), format!(r#"{{"jsonrpc":"2.0","result":200,"id":{i}}}"#));
    }
    let mut server = server;
    assert_eq!(server.child.wait().unwrap().code(), Some(0));
}

#[test]
fn sigterm_stops_every_idle_worker_without_waiting_out_the_grace_period() {
    use crate::support::{bin, plugin_dir};
    use std::io::Read;
    // Four idle workers after one answered call: the stop's wake-ups must reach all four. A
    // worker left blocked would hold the exit until the 60 s grace period ran out, and say so
    // in the log (at the default level, whatever RUST_LOG says here).
    let dir = plugin_dir().to_str().unwrap();
    let mut cmd = Command::new(bin());
    cmd.env_remove("RUST_LOG");
    cmd.args(["--plugin-path", dir, "--port", "0", "--grace", "60", "--no-prefix", "sample"]);
    let mut server = Server::spawn(&mut cmd, std::process::Stdio::piped());
    assert_eq!(server.post(ADD).1, ANSWER);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert_eq!(server.child.wait().unwrap().code(), Some(0));
    let mut log = String::new();
    server.child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(log.contains("stopped"), "{log}");
    assert!(!log.contains("grace period over"), "{log}");
}

#[test]
fn grace_period_cuts_off_long_calls_and_says_so() {
    use crate::support::{bin, plugin_dir};
    use std::io::{BufRead, Read};
    let mut cmd = Command::new(bin());
    // One worker: the grace period must run from the signal, not from a worker's end.
    let dir = plugin_dir().to_str().unwrap();
    cmd.args(["--plugin-path", dir, "--port", "0", "--grace", "1", "-v", "--no-prefix", "sample"]);
    let mut server = Server::spawn(&mut cmd, std::process::Stdio::piped());
    let mut stderr = BufReader::new(server.child.stderr.take().unwrap());
    let mut reader = server.accepted_call(r#"{"jsonrpc":"2.0","method":"sleep","params":[30000],"id":1}"#);
    // The worker logs each request as it takes it (-v): the second `POST /` is the long call.
    let mut log = String::new();
    while log.matches("POST /").count() < 2 {
        assert!(stderr.read_line(&mut log).unwrap() > 0, "{log}");
    }
    let started = std::time::Instant::now();
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert_eq!(server.child.wait().unwrap().code(), Some(0));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the 30 s call was cut off");
    stderr.read_to_string(&mut log).unwrap();
    assert!(log.contains("grace period over: cutting off 1 call(s) still running"), "{log}");
    assert!(read_response(&mut reader).is_none(), "the cut-off call gets no answer");
}

/// Out of descriptors, the server goes on: it serves the connections it has, says why it
/// cannot accept, leaves new ones waiting in the backlog, and takes them once one closes.
#[test]
fn out_of_descriptors_the_server_waits_and_goes_on() {
    use crate::support::{bin, plugin_dir};
    let script = "ulimit -n 40 && exec \"$0\" --port 0 --workers 0 --no-prefix --plugin-path \"$1\" sample";
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script, bin(), plugin_dir().to_str().unwrap()]).env_remove("RUST_LOG");
    let mut server = Server::spawn(&mut cmd, std::process::Stdio::piped());
    let log = crate::support::Log::of(&mut server.child);
    let mut open = Vec::new();
    let waiting = loop {
        assert!(open.len() < 64, "64 connections, still no shortage of descriptors");
        let mut conn = server.connect();
        conn.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
        conn.write_all(&post_request("/", "application/json", ADD.as_bytes())).unwrap();
        let mut reader = BufReader::new(conn);
        match read_response(&mut reader) {
            Some(r) => {
                assert_eq!(r.body_text(), ANSWER);
                open.push(reader);
            }
            None => break reader,
        }
    };
    log.wait_for("cannot accept a connection", std::time::Duration::from_secs(10));
    // Every connection the server holds is still served.
    for reader in &mut open {
        assert_eq!(Server::call_on(reader, ADD).expect("still served").body_text(), ANSWER);
    }
    // One closes: the waiting connection is taken and answered.
    open.truncate(open.len() - 3);
    let mut waiting = waiting;
    waiting.get_ref().set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let r = read_response(&mut waiting).expect("the waiting connection is answered once one closes");
    assert_eq!(r.body_text(), ANSWER);
    assert!(server.child.try_wait().unwrap().is_none(), "the server is still running");
}

/// A request whose body cannot be delimited is refused 400 and its connection closed; the
/// server goes on however many come (nothing is held for them), and counts each.
#[test]
fn ambiguous_framings_close_their_connections_and_nothing_is_held() {
    let server = Server::start(&["--workers", "0", "--metrics", "--no-prefix", "sample"]);
    let ambiguous =
        format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{ADD}");
    for i in 1..=300 {
        let mut conn = server.connect();
        conn.write_all(ambiguous.as_bytes()).unwrap();
        let mut reader = BufReader::new(conn);
        let answer = read_response(&mut reader).expect("an answer");
        assert_eq!((answer.status, answer.header("Connection")), (400, Some("close")), "request {i}");
        let mut rest = Vec::new();
        assert_eq!(reader.read_to_end(&mut rest).expect("the end, not a timeout"), 0, "request {i}: closed");
    }
    assert_eq!(server.post(ADD), (200, ANSWER.to_owned()));
    let metrics = server.request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").body_text();
    assert!(metrics.contains("runjsonrpc2_connections_closed_on_error_total 300\n"), "{metrics}");
    assert!(metrics.contains("runjsonrpc2_http_refused_total{status=\"400\"} 300\n"), "{metrics}");
}
