//! A seeded generator of request framings, each with a request hidden in its body and a clean
//! one pipelined behind it, sent to the real server in random pieces: nothing panics, the
//! hidden request never runs, and a clean call is answered after every batch.
//!
//! `RUNJSONRPC2_FUZZ_CASES=N` (default 400) and `RUNJSONRPC2_FUZZ_SEED=S` run it longer or
//! elsewhere; a failure prints its seed and case.

use crate::support::{Server, post_request, read_response};
use std::io::{BufReader, Read, Write};
use std::time::Duration;

const ADD: &str = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
const ANSWER: &str = r#"{"jsonrpc":"2.0","result":3,"id":1}"#;

/// A small deterministic generator (xorshift64*), so a case can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The request hidden in bodies: `subtract` is called by nothing else, so its count in
/// /metrics says whether it ever ran.
fn hidden() -> Vec<u8> {
    post_request("/", "application/json", br#"{"jsonrpc":"2.0","method":"subtract","params":[40,2],"id":7}"#)
}

/// A header name in a random case.
fn name(rng: &mut Rng, name: &str) -> String {
    name.chars().map(|c| if rng.chance(30) { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
}

/// A body holding the hidden request among random bytes.
fn body(rng: &mut Rng) -> Vec<u8> {
    let mut body: Vec<u8> = (0..rng.below(40)).map(|_| *rng.pick(b"{}[]\":, 0a\r\n")).collect();
    body.extend(hidden());
    body.extend((0..rng.below(40)).map(|_| *rng.pick(b"{}[]\":, 0a\r\n")));
    body
}

/// `body` in chunks of random sizes, with random extensions, ended by a last chunk and maybe
/// a trailer.
fn chunked(rng: &mut Rng, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let n = (1 + rng.below(rest.len())).min(rest.len());
        let size = if rng.chance(20) { format!("{n:X}") } else { format!("{n:x}") };
        let ext = if rng.chance(20) { ";name=value" } else { "" };
        out.extend(format!("{size}{ext}\r\n").as_bytes());
        out.extend(&rest[..n]);
        out.extend(b"\r\n");
        rest = &rest[n..];
    }
    out.extend(b"0\r\n");
    if rng.chance(20) {
        out.extend(b"X-Trailer: 1\r\n");
    }
    out.extend(b"\r\n");
    out
}

/// How the server must treat a case.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Read whole (answered 200 or a 4xx) and the connection goes on: the clean request behind
    /// is answered.
    Read,
    /// Refused (400, 501) and closed: nothing behind it is answered.
    Refused,
}

/// One case: the bytes of a request whose body hides a request, and what must happen.
fn case(rng: &mut Rng) -> (Vec<u8>, Expect, &'static str) {
    let body = body(rng);
    let ct = format!("{}: application/json\r\n", name(rng, "Content-Type"));
    let cl = name(rng, "Content-Length");
    let te = name(rng, "Transfer-Encoding");
    let len = body.len();
    let mut extra = String::new();
    const HARMLESS: [&str; 5] =
        ["X-A: b\r\n", "Accept: */*\r\n", "User-Agent: fuzz\r\n", "X-Empty:\r\n", "X-Tab: a\tb\r\n"];
    for _ in 0..rng.below(4) {
        let harmless = HARMLESS[rng.below(HARMLESS.len())];
        extra.push_str(harmless);
    }
    if rng.chance(15) {
        extra.push_str("Expect: 100-continue\r\n");
    }
    if rng.chance(15) {
        extra.push_str("Connection: keep-alive\r\n");
    }
    let ows = *rng.pick(&["", " ", "  ", "\t"][..]);
    let (framing, rest, expect, what): (String, Vec<u8>, Expect, &str) = match rng.below(16) {
        0 => (format!("{cl}:{ows}{len}{ows}\r\n"), body, Expect::Read, "Content-Length"),
        1 => (format!("{te}:{ows}chunked\r\n"), chunked(rng, &body), Expect::Read, "chunked"),
        2 => (format!("{cl}: {len}\r\n{cl}: {len}\r\n"), body, Expect::Read, "two equal Content-Lengths"),
        3 => (format!("{cl}: {len}\r\n{cl}: {}\r\n", len + 1), body, Expect::Refused, "two Content-Lengths"),
        4 => (format!("{cl}: +{len}\r\n"), body, Expect::Refused, "a signed Content-Length"),
        5 => (format!("{cl}: {len}\r\n{te}: chunked\r\n"), chunked(rng, &body), Expect::Refused, "CL and TE"),
        6 => (format!("{te}: chunked\r\n{cl}: 0\r\n"), chunked(rng, &body), Expect::Refused, "TE and CL 0"),
        7 => (format!("{te}: gzip, chunked\r\n"), chunked(rng, &body), Expect::Refused, "gzip, chunked"),
        8 => (format!("{te}: chunked, identity\r\n"), body, Expect::Refused, "chunked not last"),
        9 => (format!("{te}: chunked\r\n{te}: chunked\r\n"), chunked(rng, &body), Expect::Refused, "two TEs"),
        10 => (format!("X: a\n{te}: chunked\r\n{cl}: {len}\r\n"), body, Expect::Refused, "a bare LF"),
        11 => (format!("{te} : chunked\r\n"), chunked(rng, &body), Expect::Refused, "a space before the colon"),
        12 => (format!("X: a\r\n {te}: chunked\r\n{cl}: {len}\r\n"), body, Expect::Refused, "obs-fold"),
        13 => (format!("{cl}: {len}e0\r\n"), body, Expect::Refused, "a Content-Length with a letter"),
        14 => {
            // A chunk size that lies: longer than its data, so the hidden request would sit
            // where the size says data is. Refused when the data does not end in CRLF.
            let mut lie = format!("{:x}\r\n", len + 7).into_bytes();
            lie.extend(&body);
            lie.extend(b"\r\n0\r\n\r\n");
            (format!("{te}: chunked\r\n"), lie, Expect::Refused, "a chunk size that lies")
        }
        _ => (format!("{te}: xchunked\r\n"), body, Expect::Refused, "an unknown coding"),
    };
    let version = if matches!(expect, Expect::Read) && rng.chance(10) && !framing.contains("chunked") {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    let connection = if version == "HTTP/1.0" { "Connection: keep-alive\r\n" } else { "" };
    let mut out = format!("POST / {version}\r\nHost: x\r\n{connection}{ct}{extra}{framing}\r\n").into_bytes();
    out.extend(rest);
    (out, expect, what)
}

/// Writes `bytes` in random pieces, now and then pausing, as a slow network would.
fn send_in_pieces(rng: &mut Rng, conn: &mut std::net::TcpStream, bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = (1 + rng.below(rest.len().min(200))).min(rest.len());
        if conn.write_all(&rest[..n]).is_err() {
            return; // the server closed early (a refusal): nothing more is read anyway
        }
        if rng.chance(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        rest = &rest[n..];
    }
}

#[test]
fn fuzzed_framings_smuggle_nothing() {
    let cases: usize = std::env::var("RUNJSONRPC2_FUZZ_CASES").map_or(400, |v| v.parse().expect("a number"));
    let seed: u64 = std::env::var("RUNJSONRPC2_FUZZ_SEED").map_or(0x5eed_f00d, |v| v.parse().expect("a number"));
    let server = Server::start(&["--workers", "0", "--metrics", "--max-body", "4096", "--no-prefix", "sample"]);
    let mut rng = Rng(seed);
    for i in 0..cases {
        let (bytes, expect, what) = case(&mut rng);
        let mut conn = server.connect();
        conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut sent = bytes.clone();
        sent.extend(post_request("/", "application/json", ADD.as_bytes()));
        send_in_pieces(&mut rng, &mut conn, &sent);
        let context = || format!("seed {seed}, case {i} ({what}): {:?}", String::from_utf8_lossy(&bytes));
        let mut first = read_response(&mut reader).unwrap_or_else(|| panic!("no answer: {}", context()));
        if first.status == 100 {
            first = read_response(&mut reader).unwrap_or_else(|| panic!("no answer after 100: {}", context()));
        }
        match expect {
            Expect::Read => {
                // The body was read whole (a JSON-RPC answer of some kind, 200), and the clean
                // request behind it is answered.
                assert_eq!(first.status, 200, "{}: {:?}", context(), first.body_text());
                let next = read_response(&mut reader).unwrap_or_else(|| panic!("no second answer: {}", context()));
                assert_eq!(next.body_text(), ANSWER, "{}", context());
            }
            Expect::Refused => {
                assert!(matches!(first.status, 400 | 501), "{}: {first:?}", context());
                assert_eq!(first.header("Connection"), Some("close"), "{}", context());
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
                assert!(rest.is_empty(), "{}: more came: {:?}", context(), String::from_utf8_lossy(&rest));
            }
        }
        if i % 50 == 49 || i + 1 == cases {
            assert_eq!(server.post(ADD), (200, ANSWER.to_owned()), "after case {i}");
            let metrics = server.request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").body_text();
            assert!(!metrics.contains("subtract"), "a hidden request ran by case {i} (seed {seed}):\n{metrics}");
        }
    }
}
