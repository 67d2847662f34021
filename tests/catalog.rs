//! The catalog of bad input, one case a line, each against the real server, which must still serve after.

use crate::support::{Server, post_request, read_response};
use std::io::{BufReader, Read, Write};

const OK_CALL: &str = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;

fn still_serves(server: &Server) {
    assert_eq!(server.post(OK_CALL), (200, r#"{"jsonrpc":"2.0","result":3,"id":1}"#.to_owned()));
}

/// JSON bodies: what is sent, the HTTP status, and text the answer must contain.
#[test]
fn bad_json_bodies() {
    let server = Server::start(&["--no-prefix", "--max-batch", "10", "sample"]);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_params =
        format!(r#"{{"jsonrpc":"2.0","method":"echo","params":[{}1{}],"id":1}}"#, "[".repeat(200), "]".repeat(200));
    let long = format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["{}"],"id":1}}"#, "x".repeat(1_000_000));
    let too_long = format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["{}"],"id":1}}"#, "x".repeat(1 << 20));
    let batch = |n: usize| format!("[{}]", vec![OK_CALL; n].join(","));
    #[rustfmt::skip]
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("truncated object", r#"{"jsonrpc":"2.0","method":"add""#.into(), 200, r#""code":-32700"#),
        ("truncated string", r#"{"jsonrpc":"2.0","method":"ad"#.into(), 200, r#""code":-32700"#),
        ("trailing garbage", format!("{OK_CALL}x"), 200, r#""code":-32700"#),
        ("two objects", format!("{OK_CALL}{OK_CALL}"), 200, r#""code":-32700"#),
        ("trailing comma", r#"{"jsonrpc":"2.0","method":"add",}"#.into(), 200, r#""code":-32700"#),
        ("single quotes", "{'jsonrpc':'2.0'}".into(), 200, r#""code":-32700"#),
        ("bare word", "hello".into(), 200, r#""code":-32700"#),
        ("empty body", "".into(), 200, r#""code":-32700"#),
        ("whitespace body", " \n\t ".into(), 200, r#""code":-32700"#),
        ("UTF-8 BOM", format!("\u{feff}{OK_CALL}"), 200, r#""code":-32700"#),
        ("NaN", r#"{"jsonrpc":"2.0","method":"echo","params":[NaN],"id":1}"#.into(), 200, r#""code":-32700"#),
        ("control char in string", "{\"jsonrpc\":\"2.0\",\"method\":\"a\u{1}\",\"id\":1}".into(), 200, r#""code":-32700"#),
        ("bad escape", r#"{"jsonrpc":"2.0","method":"\q","id":1}"#.into(), 200, r#""code":-32700"#),
        ("lone surrogate in method", r#"{"jsonrpc":"2.0","method":"\ud800","id":1}"#.into(), 200, r#""code":-32600"#),
        ("lone surrogate in params", r#"{"jsonrpc":"2.0","method":"echo","params":["\udc00"],"id":1}"#.into(), 200, r#""code":-32602"#),
        ("number out of range", r#"{"jsonrpc":"2.0","method":"add","params":[1e999,1],"id":1}"#.into(), 200, r#""code":-32602"#),
        ("huge integer", r#"{"jsonrpc":"2.0","method":"add","params":[123456789012345678901234567890,1],"id":1}"#.into(), 200, r#""result":1.2345678901234568e+29"#),
        ("100,000-deep nesting", deep, 200, r#""code":-32600"#),
        ("params nested past max-depth", deep_params, 200, r#""code":-32600"#),
        ("1 MB string", long, 200, r#""result":"xxxxxxxx"#),
        ("body over max-body", too_long, 413, "over the limit of 1048576 bytes"),
        ("duplicate id", r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1,"id":2}"#.into(), 200, r#""code":-32600"#),
        ("duplicate params key", r#"{"jsonrpc":"2.0","method":"add","params":{"a":1,"a":1,"b":2},"id":1}"#.into(), 200, r#""code":-32602"#),
        ("missing jsonrpc", r#"{"method":"add","params":[1,2],"id":1}"#.into(), 200, r#""code":-32600"#),
        ("jsonrpc 1.0", r#"{"jsonrpc":"1.0","method":"add","params":[1,2],"id":1}"#.into(), 200, r#""code":-32600"#),
        ("jsonrpc number", r#"{"jsonrpc":2,"method":"add","params":[1,2],"id":1}"#.into(), 200, r#""code":-32600"#),
        ("method number", r#"{"jsonrpc":"2.0","method":1,"id":1}"#.into(), 200, r#""code":-32600"#),
        ("method missing", r#"{"jsonrpc":"2.0","id":1}"#.into(), 200, r#""code":-32600"#),
        ("params string", r#"{"jsonrpc":"2.0","method":"add","params":"x","id":1}"#.into(), 200, r#""code":-32600"#),
        ("params number", r#"{"jsonrpc":"2.0","method":"add","params":3,"id":1}"#.into(), 200, r#""code":-32600"#),
        ("id object", r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":{}}"#.into(), 200, r#""code":-32600"#),
        ("id array", r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":[]}"#.into(), 200, r#""code":-32600"#),
        ("id boolean", r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":false}"#.into(), 200, r#""code":-32600"#),
        ("request is a string", r#""hello""#.into(), 200, r#""code":-32600"#),
        ("request is null", "null".into(), 200, r#""code":-32600"#),
        ("empty batch", "[]".into(), 200, r#""code":-32600"#),
        ("batch of scalars", "[1,true,null]".into(), 200, r#""data":"not an object""#),
        ("batch at max-batch", batch(10), 200, r#""id":1}]"#),
        ("batch over max-batch", batch(11), 200, "batch larger than 10 requests"),
        ("unknown method", r#"{"jsonrpc":"2.0","method":"nope","id":1}"#.into(), 200, r#""code":-32601"#),
        ("rpc. reserved method", r#"{"jsonrpc":"2.0","method":"rpc.other","id":1}"#.into(), 200, r#""code":-32601"#),
        ("panicking procedure", r#"{"jsonrpc":"2.0","method":"boom","id":1}"#.into(), 200, r#""code":-32603"#),
        ("panicking raw procedure", r#"{"jsonrpc":"2.0","method":"raw_boom","id":1}"#.into(), 200, r#""code":-32603"#),
        ("notification of a panic", r#"{"jsonrpc":"2.0","method":"boom"}"#.into(), 204, ""),
        ("notification of unknown method", r#"{"jsonrpc":"2.0","method":"nope"}"#.into(), 204, ""),
    ];
    for (name, body, status, want) in &cases {
        let r = server.request(&post_request("/", "application/json", body.as_bytes()));
        assert_eq!(r.status, *status, "{name}");
        assert!(r.body_text().contains(want), "{name}: {}", r.body_text());
        still_serves(&server);
    }
    // Invalid UTF-8 is not a string the table above can hold.
    let r = server.request(&post_request(
        "/",
        "application/json",
        b"{\"jsonrpc\":\"2.0\",\"method\":\"\xff\xfe\",\"id\":1}",
    ));
    assert!(r.body_text().contains(r#""code":-32700"#), "{}", r.body_text());
    still_serves(&server);
}

/// Raw HTTP: what is sent and the status line it must get (None: the connection just closes).
#[test]
fn bad_http() {
    let server = Server::start(&["--no-prefix", "--max-body", "1000", "sample"]);
    let huge_header = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}",
        "a".repeat(100_000)
    );
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<u8>, Option<u16>)> = vec![
        ("missing Content-Length", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n{OK_CALL}").into_bytes(), Some(200)),
        ("Content-Length too small", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{OK_CALL}").into_bytes(), Some(200)),
        ("Content-Length not a number", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{OK_CALL}").into_bytes(), Some(400)),
        ("Content-Length with a sign", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: +{}\r\n\r\n{OK_CALL}", OK_CALL.len()).into_bytes(), Some(400)),
        ("two Content-Lengths that differ", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nContent-Length: 2\r\n\r\n{OK_CALL}", OK_CALL.len()).into_bytes(), Some(400)),
        ("two equal Content-Lengths", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {0}\r\nContent-Length: {0}\r\n\r\n{OK_CALL}", OK_CALL.len()).into_bytes(), Some(200)),
        ("Transfer-Encoding and Content-Length", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n{:x}\r\n{OK_CALL}\r\n0\r\n\r\n", OK_CALL.len()).into_bytes(), Some(400)),
        ("announced over max-body", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{}".to_vec(), Some(413)),
        ("Transfer-Encoding without chunked", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{OK_CALL}").into_bytes(), Some(400)),
        ("unknown coding before chunked", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n{OK_CALL}").into_bytes(), Some(501)),
        ("two Content-Lengths, the first over the limit", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\nContent-Length: {}\r\n\r\n{OK_CALL}", OK_CALL.len()).into_bytes(), Some(400)),
        ("a bare LF inside a header line", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX: a\nTransfer-Encoding: chunked\r\nContent-Length: {}\r\n\r\n{OK_CALL}", OK_CALL.len()).into_bytes(), Some(400)),
        ("Content-Length past usize", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n{OK_CALL}").into_bytes(), Some(400)),
        ("chunked over max-body", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n{}\r\n0\r\n\r\n", "x".repeat(2000)).into_bytes(), Some(413)),
        ("malformed request line", b"HELLO\r\n\r\n".to_vec(), Some(400)),
        ("malformed header", b"POST / HTTP/1.1\r\nHost x\r\n\r\n".to_vec(), Some(400)),
        ("oversized header", huge_header.into_bytes(), Some(431)),
        ("HTTP/1.0", format!("POST / HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{OK_CALL}", OK_CALL.len()).into_bytes(), Some(200)),
        ("Expect: 100-continue", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n{OK_CALL}", OK_CALL.len()).into_bytes(), Some(200)),
        ("upgrade inside a Connection token", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: keep-alive, x-Upgraded\r\nContent-Length: {}\r\n\r\n{OK_CALL}", OK_CALL.len()).into_bytes(), Some(400)),
        ("upgrade", format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: {}\r\n\r\n{OK_CALL}", OK_CALL.len()).into_bytes(), Some(400)),
        ("Expect: other", b"POST / HTTP/1.1\r\nHost: x\r\nExpect: nonsense\r\nContent-Length: 0\r\n\r\n".to_vec(), Some(417)),
    ];
    for (name, raw, want) in &cases {
        let mut conn = server.connect();
        conn.write_all(raw).unwrap();
        let mut reader = BufReader::new(conn);
        let mut got = read_response(&mut reader).map(|r| r.status);
        if got == Some(100) {
            got = read_response(&mut reader).map(|r| r.status);
        }
        assert_eq!(got, *want, "{name}");
        still_serves(&server);
    }
}

/// A request hidden in a body is never run: in the part of a chunked body past the limit (the
/// rest is read and discarded, and the connection goes on), in a chunked body sent to a route
/// that does not read it (read and discarded first), behind a chunk that does not decode or a
/// Content-Length that does not parse (`Connection: close`, and nothing more is read).
#[test]
fn requests_hidden_in_bodies_never_run() {
    // One process, counting calls (/metrics): the hidden request calls `subtract`, which
    // nothing else here calls, so its count proves whether it ever ran.
    let server = Server::start(&["--no-prefix", "--max-body", "100", "--workers", "0", "--metrics", "sample"]);
    let hidden =
        post_request("/", "application/json", br#"{"jsonrpc":"2.0","method":"subtract","params":[40,2],"id":7}"#);
    let chunked = |body: &[u8]| {
        let mut r =
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec();
        r.extend_from_slice(body);
        r
    };
    // Over the limit: 101 bytes are read, then the hidden request would start.
    let mut chunk = vec![b' '; 101];
    chunk.extend_from_slice(&hidden);
    let mut over = format!("{:x}\r\n", chunk.len()).into_bytes();
    over.extend_from_slice(&chunk);
    over.extend_from_slice(b"\r\n0\r\n\r\n");
    let mut conn = server.connect();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut sent = chunked(&over);
    sent.extend(post_request("/", "application/json", OK_CALL.as_bytes()));
    conn.write_all(&sent).unwrap();
    let first = read_response(&mut reader).expect("an answer");
    assert_eq!((first.status, first.body_text().trim()), (413, "body over the limit of 100 bytes"));
    let second = read_response(&mut reader).expect("the next request's answer");
    assert_eq!(second.body_text(), r#"{"jsonrpc":"2.0","result":3,"id":1}"#, "not the hidden request's");
    // A whole chunked body holding the request, sent where it is not read as JSON-RPC: it is
    // read and discarded before the answer, and the connection goes on.
    let short = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"; // within --max-body 100
    let mut whole = format!("{:x}\r\n", short.len()).into_bytes();
    whole.extend_from_slice(short);
    whole.extend_from_slice(b"\r\n0\r\n\r\n");
    #[rustfmt::skip]
    let routes: &[(&str, u16, bool)] = &[
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n", 415, true),
        ("POST /elsewhere HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", 404, true),
        ("PUT / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", 405, true),
        ("GET /health HTTP/1.1\r\nHost: x\r\n", 200, true),
        // An upgrade tiny_http does not see as one (no `Connection: upgrade`): refused, closed.
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nUpgrade: h2c\r\n", 400, false),
    ];
    for (head, status, goes_on) in routes {
        let mut conn = server.connect();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut sent = format!("{head}Transfer-Encoding: chunked\r\n\r\n").into_bytes();
        sent.extend_from_slice(&whole);
        sent.extend(post_request("/", "application/json", OK_CALL.as_bytes()));
        conn.write_all(&sent).unwrap();
        assert_eq!(read_response(&mut reader).expect("an answer").status, *status, "{head}");
        if !goes_on {
            silent(conn, reader);
            continue;
        }
        let next = read_response(&mut reader).expect("the next request's answer");
        assert_eq!(next.body_text(), r#"{"jsonrpc":"2.0","result":3,"id":1}"#, "{head}: not the hidden request's");
    }
    // A chunk size that is not hex, with the hidden request right behind it.
    let mut bad = b"zz\r\n".to_vec();
    bad.extend_from_slice(&hidden);
    let mut conn = server.connect();
    conn.write_all(&chunked(&bad)).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let answer = read_response(&mut reader).expect("an answer");
    // (tiny_http's `Connection: upgrade` comes first; the list says close.)
    let close = answer.headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("connection") && v == "close");
    assert!(answer.status == 400 && close, "{answer:?}");
    silent(conn, reader);
    // A Content-Length that does not parse (tiny_http would see no body, a proxy another end).
    let mut conn = server.connect();
    let mut sent =
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1e3\r\n\r\n".to_vec();
    sent.extend_from_slice(&hidden);
    conn.write_all(&sent).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let answer = read_response(&mut reader).expect("an answer");
    let close = answer.headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("connection") && v == "close");
    assert!(answer.status == 400 && close, "{answer:?}");
    silent(conn, reader);
    still_serves(&server);
    let metrics = server.request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").body_text();
    assert!(metrics.contains("runjsonrpc2_calls_total{method=\"add\",outcome=\"result\"}"), "{metrics}");
    assert!(!metrics.contains("subtract"), "a hidden request ran:\n{metrics}");
}

/// Nothing more comes on a connection after its answer: the server ends it (the end of the
/// stream, not a timeout), with no answer to a request hidden behind it.
fn silent(conn: std::net::TcpStream, mut reader: BufReader<std::net::TcpStream>) {
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut rest = Vec::new();
    let after = reader.read_to_end(&mut rest);
    assert!(after.is_ok() && rest.is_empty(), "{after:?}: {:?}", String::from_utf8_lossy(&rest));
}

/// Clients that go away at the wrong moment.
#[test]
fn clients_that_hang_up() {
    let server = Server::start(&["--no-prefix", "sample"]);
    // A body shorter than its Content-Length, then a hang-up.
    for len in [100, 5000, 1_000_000] {
        let mut conn = server.connect();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n{{\"a\""
        );
        conn.write_all(head.as_bytes()).unwrap();
        drop(conn);
        still_serves(&server);
    }
    // A body shorter than its Content-Length, then the client stops sending and waits for the
    // answer. (tiny_http reads bodies of up to 1 KiB itself, and drops such a request.)
    let mut conn = server.connect();
    let head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{}";
    conn.write_all(head.as_bytes()).unwrap();
    conn.shutdown(std::net::Shutdown::Write).unwrap();
    let answer = read_response(&mut BufReader::new(conn)).expect("an answer");
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    assert_eq!((answer.status, text.trim()), (400, "body ended after 2 of the 5000 bytes announced"));
    still_serves(&server);
    // A client that disconnects before reading its answer.
    for _ in 0..20 {
        let mut conn = server.connect();
        conn.write_all(&post_request(
            "/",
            "application/json",
            br#"{"jsonrpc":"2.0","method":"sleep","params":[5],"id":1}"#,
        ))
        .unwrap();
        drop(conn);
    }
    still_serves(&server);
    // Half a request line, then a hang-up.
    let mut conn = server.connect();
    conn.write_all(b"POST / HT").unwrap();
    drop(conn);
    still_serves(&server);
    // The answer arrives whole, and right, when read one byte at a time.
    let mut conn = server.connect();
    conn.write_all(&post_request("/", "application/json", OK_CALL.as_bytes())).unwrap();
    let answer = read_response(&mut BufReader::with_capacity(1, conn)).expect("an answer");
    assert_eq!((answer.status, answer.body_text()), (200, r#"{"jsonrpc":"2.0","result":3,"id":1}"#.to_owned()));
    still_serves(&server);
}

/// The server's resident memory in KiB.
fn rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// tiny_http 0.12 would allocate the announced size to drain it, and abort above RAM + swap:
/// 100 requests announcing 2 GB to 10^15 bytes each get 413, and memory stays bounded.
#[test]
fn absurd_content_lengths() {
    let server = Server::start(&["--no-prefix", "sample"]);
    still_serves(&server);
    let before = rss_kib(&server);
    let mut answered = 0;
    for i in 0..100 {
        let announced = (2e9 * 10f64.powf(5.7 * f64::from(i) / 99.0)) as u64;
        let mut conn = server.connect();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {announced}\r\n\r\n{{"
        );
        conn.write_all(head.as_bytes()).unwrap();
        let r = read_response(&mut BufReader::new(conn)).expect("answered");
        assert!(r.body_text().contains(&format!("body of {announced} bytes is over the limit")), "{r:?}");
        answered += usize::from(r.status == 413);
    }
    assert_eq!(answered, 100);
    still_serves(&server);
    let growth = rss_kib(&server).saturating_sub(before);
    assert!(growth < 8 * 1024, "RSS grew by {growth} KiB");
}
