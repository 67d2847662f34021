//! `--auth` and `--allow-from` on the real binary: credentials, per-method access, `caller`,
//! reload on SIGHUP, malformed files, failed-login limits, and the kernel's connection filter.

use crate::support::{Server, read_response, run};
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

/// An auth file in a temporary directory, its lines made by `runjsonrpc2 auth add`.
struct AuthFile {
    dir: PathBuf,
}

impl AuthFile {
    fn new(name: &str, users: &[(&str, &str, &[&str])]) -> AuthFile {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("rj2-auth-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = AuthFile { dir };
        file.write(users);
        file
    }

    fn path(&self) -> String {
        self.dir.join("users.auth").display().to_string()
    }

    /// Writes the file whole, by rename, as an operator should.
    fn write(&self, users: &[(&str, &str, &[&str])]) {
        let text: String = users.iter().map(|(name, secret, allow)| line(name, secret, allow)).collect();
        let tmp = self.dir.join("users.tmp");
        std::fs::write(&tmp, format!("# made by runjsonrpc2 auth add\n{text}")).unwrap();
        std::fs::rename(tmp, self.path()).unwrap();
    }
}

impl Drop for AuthFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn line(name: &str, secret: &str, allow: &[&str]) -> String {
    let mut args = vec!["auth", "add", name];
    for pattern in allow {
        args.extend(["--allow", pattern]);
    }
    let (code, out, err) = run(&args, &format!("{secret}\n"));
    assert_eq!(code, 0, "auth add {name}: {err}");
    out
}

/// One request on a new connection, with `Authorization: Basic` for `user` (`name:secret`).
fn send(server: &Server, method: &str, path: &str, user: Option<&str>, body: &str) -> crate::support::Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n");
    if let Some(user) = user {
        head.push_str(&format!("Authorization: Basic {}\r\n", base64(user.as_bytes())));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let mut conn = server.connect();
    conn.write_all(head.as_bytes()).unwrap();
    read_response(&mut BufReader::new(conn)).expect("an answer")
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { A[(n >> (18 - 6 * i)) as usize & 63] as char } else { '=' });
        }
    }
    out
}

const ADD: &str = r#"{"jsonrpc":"2.0","method":"sample.add","params":[1,2],"id":1}"#;
/// What ADD gets when it is let in and allowed (a -32098 Forbidden would also be 200).
const ADDED: (u16, &str) = (200, r#"{"jsonrpc":"2.0","result":3,"id":1}"#);
/// What ADD gets with credentials the server does not take.
const REFUSED: (u16, &str) = (401, "authentication failed");

/// `send`'s answer as (status, body without its line end), to compare with ADDED or REFUSED.
fn outcome(r: crate::support::Response) -> (u16, String) {
    (r.status, r.body_text().trim_end().to_owned())
}

/// `want` in `outcome`'s shape.
fn owned((status, body): (u16, &str)) -> (u16, String) {
    (status, body.to_owned())
}
const CHALLENGE: &str = r#"Basic realm="runjsonrpc2", charset="UTF-8""#;

fn users() -> AuthFile {
    AuthFile::new(
        "users",
        &[("alice", "alice-secret", &["sample.*"]), ("bob", "bob:secret", &["hello.greeting", "sample.who*"])],
    )
}

#[test]
fn every_request_but_health_needs_the_right_credentials() {
    let file = users();
    let server = Server::start(&["--auth", &file.path(), "--metrics", "sample", "hello"]);
    let refused = "authentication failed";
    let cases: &[(&str, &str, Option<&str>, u16, &str)] = &[
        ("POST", "/", None, 401, "authentication required"),
        ("POST", "/", Some("mallory:alice-secret"), 401, refused), // a wrong user
        ("POST", "/", Some("alice:bob:secret"), 401, refused),     // a wrong secret
        ("POST", "/", Some("alice:"), 401, refused),
        ("POST", "/", Some("alice"), 401, refused), // no colon
        ("POST", "/", Some("alice:alice-secret"), 200, r#"{"jsonrpc":"2.0","result":3,"id":1}"#),
        ("POST", "/", Some("alice:alice-secret"), 200, r#"{"jsonrpc":"2.0","result":3,"id":1}"#), // cached
        ("GET", "/health", None, 200, "ok"),
        ("GET", "/metrics", None, 401, "authentication required"),
        ("GET", "/nothing", None, 401, "authentication required"),
        ("GET", "/metrics", Some("bob:wrong"), 401, refused),
    ];
    let check = |&(method, path, user, status, body): &(&str, &str, Option<&str>, u16, &str)| {
        let r = send(&server, method, path, user, ADD);
        assert_eq!((r.status, r.body_text().trim_end()), (status, body), "{method} {path} as {user:?}");
        let challenge = r.header("www-authenticate");
        assert_eq!(challenge, (status == 401).then_some(CHALLENGE), "{method} {path} as {user:?}");
    };
    // Four failures so far; a fifth could put one worker at the limit (5, counted per worker),
    // so the right credentials are tried on /metrics before the last case.
    let (last, first) = cases.split_last().unwrap();
    first.iter().for_each(check);
    let metrics = send(&server, "GET", "/metrics", Some("bob:bob:secret"), "");
    assert_eq!(metrics.status, 200);
    assert!(metrics.body_text().contains("runjsonrpc2_calls_total"), "{}", metrics.body_text());
    check(last);
}

#[test]
fn a_user_may_call_only_what_their_patterns_allow_and_learns_nothing_else() {
    let file = users();
    let server = Server::start(&["--auth", &file.path(), "sample", "hello"]);
    let forbidden = |id: u32| {
        format!(
            r#"{{"jsonrpc":"2.0","error":{{"code":-32098,"message":"Forbidden","data":"not allowed for this caller"}},"id":{id}}}"#
        )
    };
    let call = |m: &str, id: u32| format!(r#"{{"jsonrpc":"2.0","method":"{m}","id":{id}}}"#);
    let cases = [
        (
            "bob:bob:secret",
            call("hello.greeting", 1),
            r#"{"jsonrpc":"2.0","result":"Hello, world!","id":1}"#.to_owned(),
        ),
        ("bob:bob:secret", ADD.to_owned(), forbidden(1)),
        // A method that does not exist answers the same as one that does.
        ("bob:bob:secret", call("sample.nosuch", 1), forbidden(1)),
        ("bob:bob:secret", call("hello.greetings", 1), forbidden(1)),
        // Within their patterns, a user learns what exists, as anyone would without --auth.
        (
            "bob:bob:secret",
            call("sample.whonot", 1),
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}"#.to_owned(),
        ),
        ("alice:alice-secret", call("hello.greeting", 7), forbidden(7)),
        (
            "bob:bob:secret",
            format!(
                r#"[{},{ADD},{},{{"jsonrpc":"2.0","method":"sample.add","params":[1,2]}}]"#,
                call("hello.greeting", 1),
                call("sample.nosuch", 3)
            ),
            format!(r#"[{{"jsonrpc":"2.0","result":"Hello, world!","id":1}},{},{}]"#, forbidden(1), forbidden(3)),
        ),
    ];
    for (user, body, want) in cases {
        let r = send(&server, "POST", "/", Some(user), &body);
        assert_eq!((r.status, r.body_text()), (200, want), "{user} sends {body}");
    }
    // A batch of forbidden notifications has nothing to answer.
    let notes = r#"[{"jsonrpc":"2.0","method":"sample.add","params":[1,2]},{"jsonrpc":"2.0","method":"x"}]"#;
    assert_eq!(send(&server, "POST", "/", Some("bob:bob:secret"), notes).status, 204);
}

#[test]
fn caller_and_remote_addr_come_from_the_server_and_cannot_be_forged() {
    let file = users();
    let server = Server::start(&["--auth", &file.path(), "sample"]);
    let open = Server::start(&["sample"]);
    let who = |params: &str| format!(r#"{{"jsonrpc":"2.0","method":"sample.whoami","params":{params},"id":1}}"#);
    let result = |caller: &str| {
        format!(r#"{{"jsonrpc":"2.0","result":{{"caller":{caller},"remote_addr":"127.0.0.1"}},"id":1}}"#)
    };
    let too_many = r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"too many parameters: 2 given, at most 0"},"id":1}"#;
    let cases = [
        (&server, Some("alice:alice-secret"), who("{}"), result("\"alice\"")),
        (&server, Some("bob:bob:secret"), who("{}"), result("\"bob\"")),
        (
            &server,
            Some("alice:alice-secret"),
            who(r#"{"caller":"root","remote_addr":"10.9.9.9"}"#),
            result("\"alice\""),
        ),
        (&server, Some("alice:alice-secret"), who(r#"["root","10.9.9.9"]"#), too_many.to_owned()),
        (&open, None, who("{}"), result("null")),
        (&open, None, who(r#"{"caller":"root"}"#), result("null")),
    ];
    for (server, user, body, want) in cases {
        let r = send(server, "POST", "/", user, &body);
        assert_eq!((r.status, r.body_text()), (200, want), "{user:?} sends {body}");
    }
}

#[test]
fn the_auth_file_is_read_again_on_sighup() {
    let file = AuthFile::new("reload", &[("alice", "alice-secret", &["*"])]);
    let (server, log) = Server::start_logged(&["--auth", &file.path(), "sample"]);
    assert_eq!(outcome(send(&server, "POST", "/", Some("carol:carol-secret"), ADD)), owned(REFUSED));
    assert_eq!(outcome(send(&server, "POST", "/", Some("alice:alice-secret"), ADD)), owned(ADDED));
    file.write(&[("carol", "carol-secret", &["sample.add"])]);
    server.signal("HUP");
    log.wait_for("reloaded", Duration::from_secs(20));
    // An old worker may take a connection or two while it hears its order to stop.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while outcome(send(&server, "POST", "/", Some("carol:carol-secret"), ADD)) != owned(ADDED) {
        assert!(std::time::Instant::now() < deadline, "carol not let in 10 s after the reload:\n{}", log.text());
    }
    let cases = [("carol:carol-secret", ADDED), ("alice:alice-secret", REFUSED)];
    for (user, want) in cases {
        // Every worker is new: each one answers from the new file.
        for _ in 0..4 {
            assert_eq!(outcome(send(&server, "POST", "/", Some(user), ADD)), owned(want), "{user}");
        }
    }
    // A reload onto a malformed file keeps the workers serving the last good one.
    std::fs::write(file.dir.join("users.auth"), "carol\n").unwrap();
    server.signal("HUP");
    log.wait_for("users.auth:1: expected NAME HASH PATTERN..., found one field", Duration::from_secs(20));
    assert_eq!(outcome(send(&server, "POST", "/", Some("carol:carol-secret"), ADD)), owned(ADDED));
}

/// One process (`--workers 0`) reads the file again on SIGHUP itself, and keeps serving.
#[test]
fn one_process_reads_the_auth_file_again_on_sighup() {
    let file = AuthFile::new("reload1", &[("alice", "alice-secret", &["*"])]);
    let (server, log) = Server::start_logged(&["--workers", "0", "--auth", &file.path(), "sample"]);
    assert_eq!(outcome(send(&server, "POST", "/", Some("alice:alice-secret"), ADD)), owned(ADDED));
    file.write(&[("carol", "carol-secret", &["sample.add"])]);
    server.signal("HUP");
    log.wait_for("SIGHUP: reloaded", Duration::from_secs(20));
    let cases = [("carol:carol-secret", ADDED), ("alice:alice-secret", REFUSED)];
    for (user, want) in cases {
        assert_eq!(outcome(send(&server, "POST", "/", Some(user), ADD)), owned(want), "{user}");
    }
    std::fs::write(file.dir.join("users.auth"), "carol\n").unwrap();
    server.signal("HUP");
    log.wait_for("the users stay as they were", Duration::from_secs(20));
    assert_eq!(outcome(send(&server, "POST", "/", Some("carol:carol-secret"), ADD)), owned(ADDED));
}

/// The config keys: `auth` relative to run.toml, `allow_from` a list.
#[test]
fn run_toml_sets_auth_and_allow_from() {
    let file = users();
    let plugins = crate::support::plugin_dir().display().to_string();
    let config = format!(
        "plugin_path = [{plugins:?}]\nmodules = [\"sample\"]\nauth = \"users.auth\"\nallow_from = [\"127.0.0.0/8\", \"::1\"]\n"
    );
    std::fs::write(file.dir.join("run.toml"), config).unwrap();
    let server = Server::serve_config(&file.dir);
    assert_eq!(send(&server, "POST", "/", None, ADD).status, 401);
    assert_eq!(
        send(&server, "POST", "/", Some("alice:alice-secret"), ADD).body_text(),
        r#"{"jsonrpc":"2.0","result":3,"id":1}"#
    );
}

#[test]
fn a_malformed_auth_file_stops_start_up_with_its_line() {
    let file = AuthFile::new("bad", &[("alice", "alice-secret", &["*"])]);
    let good = std::fs::read_to_string(file.path()).unwrap();
    let cases = [
        (
            format!("{good}alice $argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo *\n"),
            "users.auth:3: user \"alice\" given twice (first on line 2)",
        ),
        ("bob plaintext *\n".to_owned(), "users.auth:1: hash is not a PHC string"),
        (good.replace(" *", ""), "users.auth:2: user \"alice\" has no method pattern (use * for every method)"),
    ];
    for (text, want) in cases {
        std::fs::write(file.path(), &text).unwrap();
        for workers in ["0", "2"] {
            let (code, out, err) = run(&["--port", "0", "--workers", workers, "--auth", &file.path(), "sample"], "");
            assert_eq!(code, 2, "{want}: {err}");
            assert!(out.is_empty(), "no listening line: {out}");
            assert!(err.contains(&format!("runjsonrpc2: {}", file.dir.join(want).display())), "{want}\n{err}");
        }
    }
    let missing = file.dir.join("missing.auth").display().to_string();
    let (code, _, err) = run(&["--port", "0", "--auth", &missing, "sample"], "");
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{missing}: cannot read: No such file")), "{err}");
}

#[test]
fn failed_logins_from_one_address_are_limited() {
    let file = users();
    // One worker: the limit is counted per process.
    let server = Server::start(&["--auth", &file.path(), "--workers", "1", "sample"]);
    for attempt in 1..=5 {
        assert_eq!(send(&server, "POST", "/", Some("alice:guess"), ADD).status, 401, "attempt {attempt}");
    }
    // Past the limit even the right secret is refused, unchecked, until the window ends.
    for user in ["alice:guess", "alice:alice-secret"] {
        let r = send(&server, "POST", "/", Some(user), ADD);
        assert_eq!(r.status, 429, "{user}");
        let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(
            r.body_text().starts_with("too many failed logins from this address: try again in"),
            "{}",
            r.body_text()
        );
    }
    assert_eq!(send(&server, "GET", "/health", None, "").status, 200);
}

#[test]
fn allow_from_drops_connections_from_other_networks() {
    let cases = [
        (&["--allow-from", "10.0.0.0/8", "--allow-from", "2001:db8::/32"][..], false),
        (&["--allow-from", "127.0.0.0/8"][..], true),
    ];
    for (args, connects) in cases {
        let server = Server::start(&[args, &["sample"]].concat());
        let got = TcpStream::connect_timeout(&server.addr, Duration::from_millis(1500));
        assert_eq!(got.is_ok(), connects, "{args:?}: {got:?}");
        if connects {
            assert_eq!(server.post(ADD), owned(ADDED));
        }
    }
    let (code, _, err) = run(&["--allow-from", "10.0.0.0/40", "sample"], "");
    assert_eq!(code, 2);
    assert!(err.contains("\"10.0.0.0/40\" is not ADDRESS/BITS: prefix length 40, at most 32"), "{err}");
}

#[test]
fn auth_add_prints_a_line_for_the_file() {
    let long = "x".repeat(127);
    let cases: &[(&[&str], &str, i32, &str)] = &[
        (&["carol"], "s3cret\n", 0, " *\n"),
        (&["carol"], &long, 0, " *\n"),
        (&["carol", "--allow", "sample.*", "--allow", "hello.greeting"], "s3cret", 0, " sample.* hello.greeting\n"),
        (&["carol"], "", 2, "runjsonrpc2: no secret on stdin"),
        (&["carol"], "one\ntwo\n", 2, "runjsonrpc2: the secret on stdin spans several lines"),
        (&["car:ol"], "s3cret", 2, "runjsonrpc2: bad user name \"car:ol\""),
        (&["carol"], &"x".repeat(128), 2, "runjsonrpc2: secret of 128 bytes, at most 127"),
        (&["carol", "--allow", "sa*mple"], "s3cret", 2, "runjsonrpc2: bad method pattern \"sa*mple\""),
    ];
    for (args, stdin, code, want) in cases {
        let (got, out, err) = run(&[&["auth", "add"], *args].concat(), stdin);
        assert_eq!(got, *code, "{args:?}: {err}");
        if *code == 0 {
            assert!(out.starts_with("carol $argon2id$v=19$m=19456,t=2,p=1$") && out.ends_with(want), "{out}");
        } else {
            assert!(err.starts_with(want), "{args:?}: {err}");
        }
    }
}

/// In a terminal, `auth add` makes the secret itself, shows it once on stderr and prints the
/// file's line on stdout; the server then lets that secret in. (Python's `pty` gives the
/// command a terminal for stdin, with stdout and stderr still pipes.)
#[test]
fn auth_add_in_a_terminal_generates_the_secret_and_shows_it_once() {
    let shim = "import os, pty, subprocess, sys\n\
master, slave = pty.openpty()\n\
p = subprocess.run(sys.argv[1:], stdin=slave, capture_output=True, timeout=60)\n\
os.close(slave)\n\
os.close(master)\n\
sys.stdout.write(p.stdout.decode())\n\
sys.stderr.write(p.stderr.decode())\n\
sys.exit(p.returncode)\n";
    let output = std::process::Command::new("python3")
        .args(["-c", shim, crate::support::bin(), "auth", "add", "dave", "--allow", "sample.add"])
        .output()
        .expect("python3 runs");
    let (out, err) = (String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap());
    assert!(output.status.success(), "{err}");
    let secret = err
        .strip_prefix("secret for dave (shown once; the file keeps only its hash): ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("stderr: {err:?}"));
    let url_safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    assert!(secret.len() == 43 && secret.chars().all(url_safe), "{secret:?}");
    assert!(out.starts_with("dave $argon2id$") && out.ends_with(" sample.add\n") && !out.contains(secret), "{out}");

    let file = AuthFile::new("terminal", &[]);
    std::fs::write(file.path(), &out).unwrap();
    let server = Server::start(&["--workers", "0", "--auth", &file.path(), "sample"]);
    assert_eq!(outcome(send(&server, "POST", "/", Some(&format!("dave:{secret}")), ADD)), owned(ADDED));
    assert_eq!(outcome(send(&server, "POST", "/", Some("dave:guess"), ADD)), owned(REFUSED));
}
