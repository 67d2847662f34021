//! The process model on the real binary: a master and its workers, faults from real plugins
//! (a C procedure that segfaults, one that never returns), reloads, and hostile framing.

use crate::support::{Log, Server, bin, c_plugin, children, post_request, read_response, root};
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ADD: &str = r#"{"jsonrpc":"2.0","method":"sample.add","params":[1,2],"id":1}"#;
const ANSWER: &str = r#"{"jsonrpc":"2.0","result":3,"id":1}"#;
const PID: &str = r#"{"jsonrpc":"2.0","method":"sample.pid","id":1}"#;

fn sleep_call(ms: u64) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"sample.sleep","params":[{ms}],"id":7}}"#)
}

/// The `result` of an answer.
fn result(body: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["result"].clone()
}

/// The worker serving a kept-alive connection.
fn pid_on(conn: &mut BufReader<TcpStream>) -> u32 {
    let answer = Server::call_on(conn, PID).expect("sample.pid answers");
    result(&answer.body_text()).as_u64().expect("a pid") as u32
}

/// A kept-alive connection to each of two different workers, with the worker's pid. A
/// worker just started in place of a dead one may not accept yet: new connections are tried
/// for up to 10 s.
fn two_workers(server: &Server) -> [(BufReader<TcpStream>, u32); 2] {
    let mut first = server.keep_alive();
    let first_pid = pid_on(&mut first);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tries = 0;
    while Instant::now() < deadline {
        let mut conn = server.keep_alive();
        let pid = pid_on(&mut conn);
        if pid != first_pid {
            return [(first, first_pid), (conn, pid)];
        }
        tries += 1;
    }
    panic!("{tries} connections in 10 s all reached worker {first_pid}");
}

/// A copy of the C plugin `variant` as `libcgreet.so` in a directory of its own, removed
/// when dropped; `replace` puts another variant in its place by rename, as a deployment must.
struct Module {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl Module {
    fn new(tag: &str, variant: &str) -> Module {
        let dir = std::env::temp_dir().join(format!("rj2-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("libcgreet.so");
        std::fs::copy(c_plugin(variant), &path).unwrap();
        Module { dir, path }
    }

    fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }

    fn replace(&self, variant: &str) {
        let new = self.dir.join("libcgreet.so.new");
        std::fs::copy(c_plugin(variant), &new).unwrap();
        std::fs::rename(&new, &self.path).unwrap();
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits, at most `within`, for process `pid` to be gone; false if it is still there.
fn gone_within(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for its parent to read its status.
        if stat.is_empty() || stat[stat.rfind(')').map_or(0, |i| i + 1)..].trim_start().starts_with('Z') {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// (a) A C procedure that writes through a null pointer kills its worker only: a call in
/// flight on the other worker completes, the next call is answered within 2 s, the master
/// names the method, and a new worker takes the dead one's place.
#[test]
fn a_segfault_costs_one_worker_and_the_log_names_the_method() {
    let fault = c_plugin("cfault");
    let (server, log) = Server::start_logged(&[&fault, "sample"]);
    let [(mut calm, calm_pid), (mut doomed, doomed_pid)] = two_workers(&server);
    calm.get_mut().write_all(&post_request("/", "application/json", sleep_call(1500).as_bytes())).unwrap();
    let crash = r#"{"jsonrpc":"2.0","method":"cgreet.crash","id":2}"#;
    assert!(Server::call_on(&mut doomed, crash).is_none(), "the crashing call's connection closes unanswered");
    let after = Instant::now();
    assert_eq!(server.post(ADD), (200, ANSWER.to_owned()));
    assert!(after.elapsed() < Duration::from_secs(2), "next call took {:?}", after.elapsed());
    let slow = read_response(&mut calm).expect("the call in flight on the other worker is answered");
    assert_eq!(result(&slow.body_text()), 1500);
    let text = format!("worker {doomed_pid} was killed by signal 11 (SIGSEGV) while running cgreet.crash");
    log.wait_for(&text, Duration::from_secs(5));
    // Two workers again: the calm one and a new one.
    let [(_, a), (_, b)] = two_workers(&server);
    assert!(![a, b].contains(&doomed_pid) && [a, b].contains(&calm_pid), "{a} {b}");
}

/// (b) A procedure that never returns: with `--timeout 2` its client gets error -32099
/// between 2 and 3.5 s, later calls are answered, and the stuck worker retires and is gone
/// within its grace period.
#[test]
fn a_hung_call_is_answered_at_its_deadline_and_its_worker_retires() {
    let fault = c_plugin("cfault");
    let (server, log) = Server::start_logged(&["--timeout", "2", &fault, "sample"]);
    let mut conn = server.keep_alive();
    let stuck = pid_on(&mut conn);
    let started = Instant::now();
    let hang = r#"{"jsonrpc":"2.0","method":"cgreet.hang","id":"h"}"#;
    let answer = Server::call_on(&mut conn, hang).expect("an answer at the deadline");
    let took = started.elapsed();
    // Not before the deadline; after it, within the watchdog's tick and a busy machine's delay
    // (the call itself never returns, so any answer at all is the watchdog's).
    assert!((Duration::from_secs(2)..Duration::from_secs(10)).contains(&took), "answered after {took:?}");
    assert_eq!(answer.status, 200);
    let want = r#"{"jsonrpc":"2.0","error":{"code":-32099,"message":"Call timed out: still running after the server's deadline of 2 s"},"id":"h"}"#;
    assert_eq!(answer.body_text(), want);
    for _ in 0..5 {
        assert_eq!(server.post(ADD), (200, ANSWER.to_owned()));
    }
    log.wait_for(
        &format!("worker {stuck} retires: a call to cgreet.hang ran past its deadline of 2 s"),
        Duration::from_secs(5),
    );
    assert!(gone_within(stuck, Duration::from_secs(12)), "the stuck worker {stuck} is still running");
    assert_eq!(server.post(ADD), (200, ANSWER.to_owned()));
}

/// (c) 300 requests with two different Content-Lengths, each on its own connection: every
/// one is refused and its connection closed, nothing is held for them (no worker retires),
/// and the service answers throughout.
#[test]
fn three_hundred_ambiguous_lengths_leave_the_service_answering() {
    for workers in ["2", "1"] {
        let (server, log) = Server::start_logged(&["--workers", workers, "sample"]);
        let ambiguous = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nContent-Length: 5\r\n\r\n{ADD}",
            ADD.len()
        );
        for i in 1..=300 {
            let mut conn = server.connect();
            conn.write_all(ambiguous.as_bytes()).unwrap();
            let mut reader = BufReader::new(conn);
            let answer = read_response(&mut reader).expect("an answer");
            assert_eq!(answer.status, 400, "--workers {workers}, request {i}");
            let mut rest = Vec::new();
            assert_eq!(reader.read_to_end(&mut rest).expect("the end of the stream"), 0, "closed");
        }
        assert_eq!(server.post(ADD), (200, ANSWER.to_owned()), "--workers {workers}");
        assert!(!log.text().contains("retir"), "--workers {workers}: {}", log.text());
    }
}

/// (d) SIGHUP while a client keeps calling: no call fails, and the plugin file replaced by
/// rename is served by the new workers.
#[test]
fn sighup_reloads_a_rebuilt_plugin_without_failing_a_call() {
    let module = Module::new("reload", "cgreet");
    let (server, log) = Server::start_logged(&[module.arg()]);
    let (said, heard) = std::sync::mpsc::channel::<String>();
    let greet = r#"{"jsonrpc":"2.0","method":"cgreet.greet","params":["you"],"id":1}"#;
    let client = crate::support::Caller::start(server.addr, greet, move |r| {
        let _ = said.send(result(&r.body_text()).as_str().unwrap_or("").to_owned());
        r.status == 200
    });
    let wait_for = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match heard.recv_timeout(left) {
                Ok(greeting) if greeting == want => return,
                Ok(_) => {}
                Err(_) => panic!("no {want:?} within 20 s:\n{}", log.text()),
            }
        }
    };
    for _ in 0..50 {
        wait_for("Hello, you!");
    }
    module.replace("chowdy");
    server.signal("HUP");
    wait_for("Howdy, you!");
    log.wait_for("reloaded", Duration::from_secs(10));
    for _ in 0..50 {
        wait_for("Howdy, you!");
    }
    let (calls, failures) = client.finish();
    assert!(failures.is_empty(), "{} of {calls} calls failed: {failures:#?}", failures.len());
}

/// (f) A module that cannot be loaded: the master exits 2 with the worker's error, once,
/// and never prints the listening line.
#[test]
fn a_module_that_fails_to_load_exits_2_without_a_restart_loop() {
    let bad = c_plugin("cbadabi");
    let mut child = Command::new(bin())
        .current_dir(root())
        .args(["--port", "0", &bad])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Log::of(&mut child);
    let (done, ended) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output().unwrap();
        let _ = done.send(());
        output
    });
    ended.recv_timeout(Duration::from_secs(20)).expect("the master exits (no restart loop)");
    let output = waiter.join().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "{:?}", String::from_utf8_lossy(&output.stdout));
    let text = log.wait_for("abi version", Duration::from_secs(5));
    assert_eq!(text.lines().filter(|l| l.starts_with("runjsonrpc2:")).count(), 1, "{text}");
    assert!(!text.contains("starting another"), "{text}");
}

/// (g) At the default settings, four slow calls do not hold up a quick one: each connection
/// has a thread of its own. Shown by order, not by time: the quick calls are all answered
/// while none of the slow ones is.
#[test]
fn four_slow_calls_do_not_delay_a_quick_one() {
    let (server, log) = Server::start_logged(&["-v", "sample"]);
    let _guard = DumpOnPanic(&log);
    assert_eq!(server.post(ADD), (200, ANSWER.to_owned()));
    let started = Instant::now();
    let mut slow: Vec<_> = (0..4)
        .map(|_| {
            let mut conn = server.keep_alive();
            conn.get_mut().write_all(&post_request("/", "application/json", sleep_call(5000).as_bytes())).unwrap();
            conn
        })
        .collect();
    for _ in 0..5 {
        assert_eq!(server.post(ADD), (200, ANSWER.to_owned()));
    }
    for conn in &slow {
        conn.get_ref().set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let pending = matches!(conn.get_ref().peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        assert!(pending && conn.buffer().is_empty(), "a slow call was answered before the quick ones");
        conn.get_ref().set_nonblocking(false).unwrap();
    }
    // (Unless the quick calls took 5 s: then the check above fails, and says so.)
    assert!(started.elapsed() < Duration::from_secs(5), "the quick calls took {:?}", started.elapsed());
    for conn in &mut slow {
        let r = read_response(conn).expect("a slow call's answer");
        assert_eq!(result(&r.body_text()), 5000);
    }
}

/// (h) Refused framings with a request pipelined behind them in the same write, each on its
/// own connection, closed or left open: the pipelined request never runs (the call counts
/// of /metrics never show it), and a clean call on a new connection is answered after each
/// batch of 50. With worker processes (300 writes) and without (200).
#[test]
fn requests_pipelined_behind_refused_framings_hold_no_thread() {
    let sleep = sleep_call(60_000);
    let behind = [
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        String::from_utf8(post_request("/", "application/json", sleep.as_bytes())).unwrap(),
    ];
    for (workers, batches) in [("2", 6), ("0", 4)] {
        let server = Server::start(&["--workers", workers, "--metrics", "sample"]);
        let mut open = Vec::new();
        for batch in 0..batches {
            for i in 0..50 {
                let lengths = match i % 2 {
                    0 => format!("Content-Length: {}\r\nContent-Length: {}\r\n", ADD.len(), ADD.len() + 40),
                    _ => format!("Content-Length: +{}\r\n", ADD.len()),
                };
                let write = format!(
                    "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{lengths}\r\n{ADD}{}",
                    behind[(i / 2) % 2]
                );
                let mut conn = server.connect();
                conn.write_all(write.as_bytes()).unwrap();
                let mut reader = BufReader::new(conn);
                let answer = read_response(&mut reader)
                    .unwrap_or_else(|| panic!("--workers {workers}, batch {batch}, write {i}: no refusal"));
                assert_eq!(answer.status, 400, "--workers {workers}, batch {batch}, write {i}");
                if i % 3 == 0 {
                    open.push(reader);
                }
            }
            assert_eq!(server.post(ADD), (200, ANSWER.to_owned()), "--workers {workers}, after batch {batch}");
        }
        // Workers send their counts once a second: the add calls show, the sleep never does.
        let deadline = Instant::now() + Duration::from_secs(10);
        let metrics = loop {
            let page = server.request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").body_text();
            if page.contains("method=\"sample.add\"") || Instant::now() > deadline {
                break page;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(metrics.contains("method=\"sample.add\""), "--workers {workers}: {metrics}");
        assert!(!metrics.contains("sleep"), "--workers {workers}: a pipelined request ran: {metrics}");
    }
}

struct DumpOnPanic<'a>(&'a Log);
impl Drop for DumpOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("LOG:\n{}", self.0.text());
        }
    }
}

/// How many lines of `log` contain `needle`.
fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// TTIN adds a worker, TTOU removes one (never the last), QUIT ends the master at once.
#[test]
fn ttin_ttou_and_quit_as_gunicorn_users_expect() {
    let (mut server, log) = Server::start_logged(&["-v", "sample"]);
    let master = server.child.id();
    let second = Duration::from_secs(10);
    log.wait_until("2 workers ready", second, |l| count(l, "] worker ready") == 2);
    server.signal("TTIN");
    log.wait_until("a third worker ready", second, |l| count(l, "] worker ready") == 3);
    assert_eq!(children(master).len(), 3);
    server.signal("TTOU");
    log.wait_until("one worker stopped", second, |l| count(l, " stopped") == 1);
    server.signal("TTOU");
    log.wait_until("two workers stopped", second, |l| count(l, " stopped") == 2);
    server.signal("TTOU");
    log.wait_for("SIGTTOU: one worker is the fewest", second);
    assert_eq!(server.post(ADD), (200, ANSWER.to_owned()));
    let alive: Vec<u32> = children(master).into_iter().filter(|&p| !gone_within(p, Duration::ZERO)).collect();
    assert_eq!(alive.len(), 1, "{alive:?}");
    server.signal("QUIT");
    let quit = Instant::now();
    assert_eq!(server.child.wait().unwrap().code(), Some(0));
    assert!(quit.elapsed() < Duration::from_secs(5), "QUIT took {:?}", quit.elapsed());
    assert!(gone_within(alive[0], Duration::from_secs(5)), "the worker outlived its master");
}

/// `--reload`: a module file replaced by rename is served by new workers, with no signal.
#[test]
fn reload_flag_follows_a_replaced_module_file() {
    let module = Module::new("watch", "cgreet");
    let (server, log) = Server::start_logged(&["-v", "--reload", module.arg()]);
    let greet = r#"{"jsonrpc":"2.0","method":"cgreet.greet","params":["you"],"id":1}"#;
    assert_eq!(result(&server.post(greet).1), "Hello, you!");
    module.replace("chowdy");
    log.wait_for("libcgreet.so changed: reloading", Duration::from_secs(10));
    log.wait_for("reloaded", Duration::from_secs(10));
    // The old workers take no connection once they have stopped.
    log.wait_until("the 2 old workers stopped", Duration::from_secs(10), |l| count(l, " stopped") == 2);
    for _ in 0..10 {
        assert_eq!(result(&server.post(greet).1), "Howdy, you!");
    }
}

/// A reload whose new workers cannot load the module leaves the old workers serving.
#[test]
fn a_failed_reload_keeps_the_old_workers_serving() {
    let module = Module::new("badreload", "cgreet");
    let (server, log) = Server::start_logged(&[module.arg()]);
    module.replace("cbadabi");
    server.signal("HUP");
    let text = log.wait_for("the old workers keep serving", Duration::from_secs(10));
    assert!(text.contains("reload failed") && text.contains("abi version"), "{text}");
    let greet = r#"{"jsonrpc":"2.0","method":"cgreet.greet","params":["you"],"id":1}"#;
    for _ in 0..10 {
        assert_eq!(result(&server.post(greet).1), "Hello, you!");
    }
}

/// `--max-requests`: workers retire after their share and are replaced; no call fails.
#[test]
fn max_requests_recycles_workers_without_failing_a_call() {
    let (server, log) = Server::start_logged(&["--max-requests", "20", "--max-requests-jitter", "5", "sample"]);
    let mut pids = std::collections::HashSet::new();
    for i in 0..150 {
        let (status, body) = server.post(PID);
        assert_eq!(status, 200, "call {i}: {body}");
        pids.insert(result(&body).as_u64().unwrap());
    }
    assert!(pids.len() >= 5, "150 calls reached only {} workers", pids.len());
    log.wait_for("retires: served", Duration::from_secs(5));
}

/// Repeated deaths back off: past 5 in 10 s the next start waits, and says so.
#[test]
fn repeated_crashes_back_off_instead_of_a_fork_storm() {
    let fault = c_plugin("cfault");
    let (server, log) = Server::start_logged(&[&fault, "sample"]);
    let crash = r#"{"jsonrpc":"2.0","method":"cgreet.crash","id":2}"#;
    for _ in 0..6 {
        let (mut conn, _) = two_workers(&server).into_iter().next().unwrap();
        assert!(Server::call_on(&mut conn, crash).is_none());
    }
    log.wait_for("worker deaths in 10 s: the next start waits 1 s", Duration::from_secs(10));
    // Served again once the wait is over.
    let mut conn = server.keep_alive();
    assert!(pid_on(&mut conn) > 0);
}

/// Socket activation: the master serves on the socket passed as descriptor 3 with
/// `LISTEN_FDS=1` and `LISTEN_PID` (systemd's protocol; here a Python shim binds port 0,
/// moves the socket to descriptor 3 and executes runjsonrpc2 in its own process).
#[test]
fn serves_on_a_socket_passed_as_systemd_passes_it() {
    let shim = "import os, socket, sys\n\
s = socket.socket()\n\
s.bind(('127.0.0.1', 0))\n\
s.listen(128)\n\
os.dup2(s.fileno(), 3)\n\
os.set_inheritable(3, True)\n\
os.environ['LISTEN_FDS'] = '1'\n\
os.environ['LISTEN_PID'] = str(os.getpid())\n\
os.execv(sys.argv[1], sys.argv[1:])\n";
    let mut cmd = Command::new("python3");
    cmd.current_dir(root()).args(["-c", shim, bin(), "--plugin-path"]);
    cmd.arg(crate::support::plugin_dir()).arg("sample").env_remove("RUST_LOG");
    let mut server = Server::spawn(&mut cmd, Stdio::piped());
    let log = Log::of(&mut server.child);
    assert_ne!(server.addr.port(), 0);
    for _ in 0..4 {
        assert_eq!(server.post(ADD), (200, ANSWER.to_owned()));
    }
    log.wait_for("serving on the socket systemd passed (LISTEN_FDS)", Duration::from_secs(5));
}

/// Two hung calls pipelined on one connection: the first gets its deadline answer, which says
/// `Connection: close`, and the connection ends; the second was never read (its thread is
/// still stuck in the first), so the client sends it again (RFC 9112, 9.3.2). A third on
/// another connection is answered at its deadline too: the watchdog answers every overdue call.
#[test]
fn pipelined_hung_calls_are_all_answered_at_their_deadlines() {
    let fault = c_plugin("cfault");
    let (server, _log) = Server::start_logged(&["--timeout", "1", &fault, "sample"]);
    let hang = |id: u32| format!(r#"{{"jsonrpc":"2.0","method":"cgreet.hang","id":{id}}}"#);
    let mut conn = server.keep_alive();
    let mut both = post_request("/", "application/json", hang(1).as_bytes());
    both.extend(post_request("/", "application/json", hang(2).as_bytes()));
    conn.get_mut().write_all(&both).unwrap();
    let mut other = server.keep_alive();
    other.get_mut().write_all(&post_request("/", "application/json", hang(3).as_bytes())).unwrap();
    for (id, reader) in [(1, &mut conn), (3, &mut other)] {
        let answer = read_response(reader).unwrap_or_else(|| panic!("no answer to call {id}"));
        assert_eq!(answer.header("Connection"), Some("close"));
        let v: serde_json::Value = serde_json::from_str(&answer.body_text()).unwrap();
        assert_eq!((v["id"].as_u64(), v["error"]["code"].as_i64()), (Some(id), Some(-32099)), "{v}");
    }
    let mut rest = Vec::new();
    assert_eq!(conn.read_to_end(&mut rest).expect("the end of the stream, not a timeout"), 0, "{rest:?}");
    assert_eq!(server.post(ADD), (200, ANSWER.to_owned()));
}

/// A fatal signal sent to a worker (not a fault of its own) still ends it, and it is replaced.
#[test]
fn a_worker_sent_sigsegv_dies_and_is_replaced() {
    let (server, log) = Server::start_logged(&["sample"]);
    let mut conn = server.keep_alive();
    let victim = pid_on(&mut conn);
    assert!(Command::new("kill").args(["-SEGV", &victim.to_string()]).status().unwrap().success());
    log.wait_for(
        &format!("worker {victim} was killed by signal 11 (SIGSEGV); starting another"),
        Duration::from_secs(5),
    );
    let [(_, a), (_, b)] = two_workers(&server);
    assert!(![a, b].contains(&victim));
}

/// The last thread waiting for work stays past its idle time while the others are busy: a
/// call that comes after 10 s of slow calls is not left waiting for one of them to finish.
/// (The test waits out the pool's 10 s idle time: the behaviour is about that time.)
#[test]
fn a_thread_stays_waiting_while_the_others_are_busy() {
    let server = Server::start(&["--workers", "0", "sample"]);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut slow: Vec<_> = (0..cores + 1)
        .map(|_| {
            let mut conn = server.keep_alive();
            conn.get_mut().write_all(&post_request("/", "application/json", sleep_call(14_000).as_bytes())).unwrap();
            conn
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(11));
    let quick = Instant::now();
    assert_eq!(server.post(ADD), (200, ANSWER.to_owned()));
    // Served at once; 3 s tells "waited for a slow call to end" (at 14 s, 3 s later)
    // from a busy machine.
    assert!(quick.elapsed() < Duration::from_secs(3), "the quick call waited {:?}", quick.elapsed());
    assert!(started.elapsed() < Duration::from_secs(14), "the slow calls had ended");
    for conn in &mut slow {
        assert_eq!(result(&read_response(conn).expect("a slow call's answer").body_text()), 14_000);
    }
}

/// (i) A C++ exception that escapes a procedure (the plugin built as C++17) is defined
/// behaviour: the host calls procedures as `C-unwind`, so its worker aborts, the master names
/// the method, and the next call is answered.
#[test]
fn a_cxx_exception_out_of_a_procedure_costs_one_worker() {
    let thrower = c_plugin("cthrow");
    let (server, log) = Server::start_logged(&[&thrower, "sample"]);
    let mut conn = server.keep_alive();
    let throw = r#"{"jsonrpc":"2.0","method":"cgreet.throw","id":1}"#;
    assert!(Server::call_on(&mut conn, throw).is_none(), "the throwing call's connection closes unanswered");
    assert_eq!(server.post(ADD), (200, ANSWER.to_owned()));
    log.wait_for("was killed by signal 6 (SIGABRT) while running cgreet.throw", Duration::from_secs(5));
    let greet = r#"{"jsonrpc":"2.0","method":"cgreet.greet","params":["C++"],"id":1}"#;
    assert_eq!(server.post(greet), (200, r#"{"jsonrpc":"2.0","result":"Hello, C++!","id":1}"#.to_owned()));
}
