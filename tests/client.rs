//! The shell client, `runjsonrpc2 call --url URL ...`, against the real server: results, error
//! answers, credentials, stdin lines, Unix sockets, and its exit codes.

use crate::support::{Server, bin, plugin_dir};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Runs `runjsonrpc2 call --url URL ARGS...` with `stdin` and, when given, the secret in
/// RUNJSONRPC2_SECRET: (exit code, stdout, stderr).
fn call(url: &str, args: &[&str], secret: Option<&str>, stdin: &str) -> (i32, String, String) {
    let mut cmd = Command::new(bin());
    cmd.args(["call", "--url", url]).args(args).env_remove("RUNJSONRPC2_SECRET");
    if let Some(secret) = secret {
        cmd.env("RUNJSONRPC2_SECRET", secret);
    }
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_owned();
    // Written on a thread: the answers may fill stdout's pipe before the input is all read.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// An auth file of one user, alice (secret `alice-secret`, may call `sample.*`), made by
/// `runjsonrpc2 auth add`.
fn auth_file() -> PathBuf {
    let dir = plugin_dir().join(format!("client-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (code, line, err) = crate::support::run(&["auth", "add", "alice", "--allow", "sample.*"], "alice-secret\n");
    assert_eq!(code, 0, "{err}");
    let file = dir.join("users.auth");
    std::fs::write(&file, line).unwrap();
    file
}

/// One call a line: arguments after the URL, the secret, then exit code, stdout, and text
/// stderr must hold (one line of it when the code is 3).
type Case<'a> = (&'a [&'a str], Option<&'a str>, i32, &'a str, &'a str);

fn check(url: &str, cases: &[Case<'_>]) {
    for (args, secret, code, stdout, stderr) in cases {
        let (c, out, err) = call(url, args, *secret, "");
        assert_eq!((c, out.as_str()), (*code, *stdout), "{args:?}: {err}");
        assert!(err.contains(stderr), "{args:?}: {err}");
        if *code != 0 && !err.starts_with("error:") {
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(err.starts_with("runjsonrpc2: ") && !err.contains("panicked"), "{args:?}: {err}");
        }
    }
}

#[test]
fn calls_without_auth() {
    let server = Server::start(&["hello", "sample"]);
    #[rustfmt::skip]
    let cases: &[Case<'_>] = &[
        (&["sample.subtract", "[42,23]"], None, 0, "19\n", ""),
        (&["hello.greeting"], None, 0, "\"Hello, world!\"\n", ""),
        (&["hello.greeting", r#"{"name":"you"}"#], None, 0, "\"Hello, you!\"\n", ""),
        (&["sample.subtract", r#"{"subtrahend":1,"minuend":3}"#], None, 0, "2\n", ""),
        (&["sample.echo", r#"[{"a":[]}]"#], None, 0, "{\"a\":[]}\n", ""),
        (&["sample.get_data", "--pretty"], None, 0, "[\n  \"hello\",\n  5\n]\n", ""),
        (&["--pretty", "sample.echo", r#"[{"a":[]}]"#], None, 0, "{\n  \"a\": []\n}\n", ""),
        (&["sample.fail", r#"["out of cheese"]"#], None, 1, "", r#"runjsonrpc2: {"code":-32000,"message":"out of cheese"}"#),
        (&["sample.subtract", "[1]"], None, 1, "", r#""data":"missing parameter \"subtrahend\"""#),
        (&["nope"], None, 1, "", r#"{"code":-32601,"message":"Method not found"}"#),
        (&["sample.add", "3"], None, 2, "", "PARAMS must be a JSON array or object"),
        (&["sample.add", "\"x\""], None, 2, "", "PARAMS must be a JSON array or object"),
        (&["sample.add", "[1,"], None, 2, "", "PARAMS is not JSON"),
        (&["sample", "add", "[1,2]"], None, 2, "", "with --url, call takes METHOD [PARAMS] (no MODULE): 3 arguments given"),
        (&["-", "[1]"], None, 2, "", "METHOD - reads its requests from stdin: give no PARAMS"),
        (&["sample.add", "--extra", "b=1", "[1]"], None, 2, "", "--error and --extra are the server's to set"),
        (&["sample.add", "--plugin-path", "/x"], None, 2, "", "--plugin-path, --no-prefix and --map are for in-process calls"),
        (&["sample.add", "--timeout", "0"], None, 2, "", "\"0\" is not a positive number of seconds"),
        (&["sample.sleep", "[3000]", "--timeout", "0.3"], None, 3, "", "timed out waiting for the answer (--timeout 0.3 s)"),
    ];
    check(&server.url(), cases);
}

#[test]
fn calls_with_auth() {
    let file = auth_file();
    let server = Server::start(&["--auth", file.to_str().unwrap(), "hello", "sample"]);
    let url = server.url();
    #[rustfmt::skip]
    let cases: &[Case<'_>] = &[
        (&["--user", "alice", "sample.add", "[1,2]"], Some("alice-secret"), 0, "3\n", ""),
        (&["--user", "alice", "sample.whoami"], Some("alice-secret"), 0, "{\"caller\":\"alice\",\"remote_addr\":\"127.0.0.1\"}\n", ""),
        (&["--user", "alice", "hello.greeting"], Some("alice-secret"), 1, "", r#"{"code":-32098,"message":"Forbidden","data":"not allowed for this caller"}"#),
        (&["sample.add", "[1,2]"], None, 3, "", &format!("runjsonrpc2: {url}: answered 401 Unauthorized: authentication required")),
        (&["--user", "alice", "sample.add", "[1,2]"], Some("wrong"), 3, "", &format!("runjsonrpc2: {url}: answered 401 Unauthorized")),
        (&["--user", "alice", "sample.add", "[1,2]"], None, 2, "", "--user alice needs a secret: set RUNJSONRPC2_SECRET, or run in a terminal"),
        (&["--user", "al:ice", "sample.add"], Some("x"), 2, "", "user name \"al:ice\" is empty or holds a ':'"),
    ];
    check(&url, cases);
    let (code, out, err) = call(&url, &["--user", "alice", "-"], Some("alice-secret"), &lines(ADD_NOTIFY_FAIL));
    assert_eq!((code, out.as_str()), (1, ANSWERS), "{err}");
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

/// Request lines: a call, a blank line, a notification, a batch holding an error.
const ADD_NOTIFY_FAIL: &[&str] = &[
    r#"{"jsonrpc":"2.0","method":"sample.add","params":[1,2],"id":1}"#,
    "",
    r#"{"jsonrpc":"2.0","method":"sample.update","params":[1]}"#,
    r#"[{"jsonrpc":"2.0","method":"sample.add","params":[2,3],"id":"a"},{"jsonrpc":"2.0","method":"sample.fail","params":["no"],"id":"b"}]"#,
];

const ANSWERS: &str = concat!(
    r#"{"jsonrpc":"2.0","result":3,"id":1}"#,
    "\n",
    r#"[{"jsonrpc":"2.0","result":5,"id":"a"},{"jsonrpc":"2.0","error":{"code":-32000,"message":"no"},"id":"b"}]"#,
    "\n"
);

fn lines(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// METHOD `-`: one answer line per request line, in order, none for notifications; exit 1
/// when an answer is or holds an error, 0 otherwise.
#[test]
fn stdin_lines_are_answered_in_order() {
    let server = Server::start(&["hello", "sample"]);
    let add = |n: u32| format!(r#"{{"jsonrpc":"2.0","method":"sample.add","params":[{n},1],"id":{n}}}"#);
    let answer = |n: u32| format!("{{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":{n}}}\n", n + 1);
    let notify = r#"{"jsonrpc":"2.0","method":"sample.update"}"#;
    let fail = r#"{"jsonrpc":"2.0","method":"sample.fail","params":["no"],"id":"f"}"#;
    let failed = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":\"no\"},\"id\":\"f\"}\n";
    let many: String = (0..200).map(|n| format!("{}\n", add(n))).collect();
    let many_answers: String = (0..200).map(answer).collect();
    #[rustfmt::skip]
    let cases: &[(String, i32, String, &str)] = &[
        (lines(ADD_NOTIFY_FAIL), 1, ANSWERS.to_owned(), "runjsonrpc2: 1 of 2 answers held an error"),
        (format!("{}\n\n{notify}\n  \n{}\r\n", add(1), add(2)), 0, format!("{}{}", answer(1), answer(2)), ""),
        (format!("{notify}\n[{notify},{notify}]\n"), 0, String::new(), ""),
        (format!("{fail}\n{}\n", add(7)), 1, format!("{failed}{}", answer(7)), "1 of 2 answers held an error"),
        ("not json\n".to_owned(), 1, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"Parse error\",\"data\":\"expected ident at line 1 column 2\"},\"id\":null}\n".to_owned(), "1 of 1 answers"),
        (String::new(), 0, String::new(), ""),
        (many, 0, many_answers, ""),
    ];
    for (input, code, stdout, stderr) in cases {
        let (c, out, err) = call(&server.url(), &["-"], None, input);
        assert_eq!((c, out.as_str()), (*code, stdout.as_str()), "{input:?}: {err}");
        assert!(err.contains(stderr), "{input:?}: {err}");
    }
}

/// A server that closes the connection between requests (`Connection: close` from a worker
/// retiring after `--max-requests`, or an idle connection past `--keepalive-timeout`) costs
/// nothing: the client connects again.
#[test]
fn stdin_lines_survive_closed_connections() {
    let add = |n: u32| format!("{{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[{n},1],\"id\":{n}}}\n");
    let answer = |n: u32| format!("{{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":{n}}}\n", n + 1);
    let retiring = Server::start(&["--workers", "1", "--max-requests", "2", "--no-prefix", "sample"]);
    let (code, out, err) = call(&retiring.url(), &["-"], None, &(0..7).map(add).collect::<String>());
    assert_eq!((code, out), (0, (0..7).map(answer).collect::<String>()), "{err}");

    // The idle close: the next line comes after the server has closed the kept connection.
    let idle = Server::start(&["--workers", "0", "--keepalive-timeout", "0.2", "--no-prefix", "sample"]);
    let mut child = Command::new(bin())
        .args(["call", "--url", &idle.url(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut output = BufReader::new(child.stdout.take().unwrap());
    for n in 0..3 {
        input.write_all(add(n).as_bytes()).unwrap();
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        assert_eq!(line, answer(n));
        // Past the keep-alive timeout: the server closes the idle connection.
        std::thread::sleep(Duration::from_millis(600));
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// No server at the URL: exit 3 with one line naming the URL and why.
#[test]
fn no_server_is_exit_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let missing = std::env::temp_dir().join(format!("rj2-client-none-{}.sock", std::process::id()));
    #[rustfmt::skip]
    let cases: &[(String, &str, i32, String)] = &[
        (format!("http://127.0.0.1:{port}/"), "sample.add", 3, format!("runjsonrpc2: http://127.0.0.1:{port}/: connection refused\n")),
        (format!("http://127.0.0.1:{port}/"), "-", 3, format!("runjsonrpc2: http://127.0.0.1:{port}/: connection refused\n")),
        (format!("unix:{}", missing.display()), "sample.add", 3, format!("runjsonrpc2: unix:{}: no such socket file\n", missing.display())),
        ("https://127.0.0.1/".to_owned(), "sample.add", 2, "runjsonrpc2: URL \"https://127.0.0.1/\" is https, which is not supported: give http://HOST:PORT/PATH or unix:PATH\n".to_owned()),
        ("127.0.0.1:8080".to_owned(), "sample.add", 2, "runjsonrpc2: URL \"127.0.0.1:8080\" is not http: give http://HOST:PORT/PATH or unix:PATH\n".to_owned()),
    ];
    for (url, method, code, stderr) in cases {
        let (c, out, err) = call(url, &[method], None, "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":1}\n");
        assert_eq!((c, out.as_str(), err.as_str()), (*code, "", stderr.as_str()), "{url}");
    }
}

/// A server on a Unix socket (`--unix PATH`), killed when dropped.
struct UnixServer {
    child: Child,
    dir: PathBuf,
}

impl UnixServer {
    fn start(path: &Path, args: &[&str]) -> UnixServer {
        let mut cmd = Command::new(bin());
        cmd.arg("--plugin-path").arg(plugin_dir()).arg("--unix").arg(path).arg("-q").args(args);
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("runjsonrpc2 starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim_end(), format!("listening on unix:{}", path.display()));
        UnixServer { child, dir: path.parent().unwrap().to_owned() }
    }
}

impl Drop for UnixServer {
    fn drop(&mut self) {
        crate::support::stop(&mut self.child, libc::SIGQUIT, Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn unix_socket_urls() {
    let dir = std::env::temp_dir().join(format!("rj2-client-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rpc.sock");
    let _server = UnixServer::start(&path, &["--workers", "0", "hello", "sample"]);
    let url = format!("unix:{}", path.display());
    #[rustfmt::skip]
    let cases: &[Case<'_>] = &[
        (&["sample.subtract", "[42,23]"], None, 0, "19\n", ""),
        (&["sample.whoami"], None, 0, "{\"caller\":null,\"remote_addr\":null}\n", ""),
        (&["sample.fail", r#"["no"]"#], None, 1, "", r#"{"code":-32000,"message":"no"}"#),
    ];
    check(&url, cases);
    let (code, out, err) = call(&url, &["-"], None, &lines(ADD_NOTIFY_FAIL));
    assert_eq!((code, out.as_str()), (1, ANSWERS), "{err}");
}

/// An HTTP error is exit 3 with one line naming the status, for one call and for stdin lines
/// (the answers before it are printed).
#[test]
fn http_errors_are_exit_3() {
    let server = Server::start(&["--max-body", "100", "--no-prefix", "sample"]);
    let big = format!("[\"{}\"]", "x".repeat(200));
    let url = server.url();
    let refused = format!("runjsonrpc2: {url}: answered 413 Content Too Large");
    let (code, out, err) = call(&url, &["echo", &big], None, "");
    assert_eq!((code, out.as_str(), err.lines().count()), (3, "", 1), "{err}");
    assert!(err.starts_with(&refused), "{err}");
    let small = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
    let input = format!("{small}\n{{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{big},\"id\":2}}\n{small}\n");
    let (code, out, err) = call(&url, &["-"], None, &input);
    assert_eq!(
        (code, out.as_str(), err.lines().count()),
        (3, "{\"jsonrpc\":\"2.0\",\"result\":3,\"id\":1}\n", 1),
        "{err}"
    );
    assert!(err.starts_with(&refused), "{err}");
}
