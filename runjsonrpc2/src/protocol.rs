//! What the master and its workers say to each other: [`Up`] from a worker, [`Down`] from the
//! master, each one line of text (`encode`, `decode`), and the descriptors they travel on.
//!
//! A worker writes its `Up` lines on its stdout, a socket to the master, one whole line at a
//! time under a mutex; the master writes `Down` lines on the same socket. The one message a
//! worker cannot send that way is `crash METHOD`: a fatal-signal handler writes it, and a
//! handler may not take a mutex (the thread it interrupts may hold it), so it has a channel
//! of its own, a pipe the master passes as descriptor [`CRASH_FD`] and reads apart from the
//! socket. Only the handler writes on that pipe, and a write of at most `PIPE_BUF` bytes to a
//! pipe is atomic (POSIX), so two threads crashing at once still give two whole lines, and no
//! report is ever cut into the middle of another message. [`decode_torn`] still copes with a
//! torn line (a message cut short, then a crash report), as a worker killed half-way through a
//! write, or a peer writing both on one stream, could leave.

use crate::metrics::Snapshot;
use std::os::fd::RawFd;
use std::time::Duration;

pub use crate::server::RetireReason as Reason;

/// Set in a worker's environment by the master.
pub const WORKER_VAR: &str = "RUNJSONRPC2_WORKER";

/// The descriptor a worker inherits for its crash reports: the write end of a pipe.
pub const CRASH_FD: RawFd = 3;

/// How a crash report starts; the method's name follows, then a newline.
pub const CRASH_PREFIX: &[u8] = b"crash ";

/// What a worker tells the master.
#[derive(Debug, Clone, PartialEq)]
pub enum Up {
    /// It serves from now on.
    Ready,
    /// It could not start; it exits next (with the exit code the master reports).
    Failed { message: String },
    /// It stops taking work and finishes its calls; the master starts another.
    Retiring { reason: Reason },
    /// A fatal signal while it ran `method` (written by the signal handler).
    Crash { method: String },
    /// Its counts for `/metrics`.
    Metrics(Snapshot),
}

/// What the master tells a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Down {
    /// Finish the calls in flight, then exit.
    Stop,
    /// Exit at once.
    Quit,
}

/// A line that says nothing the protocol knows (kept for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = self.0.chars().take(200).collect();
        write!(f, "an unreadable line {text:?}")
    }
}

impl Up {
    /// The message as one line, newline included (newlines in the text become spaces).
    pub fn encode(&self) -> String {
        let body = match self {
            Up::Ready => "ready".to_owned(),
            Up::Failed { message } => format!("failed {message}"),
            Up::Retiring { reason: Reason::MaxRequests(max) } => format!("retiring max-requests {max}"),
            Up::Retiring { reason: Reason::Deadline { methods, timeout } } => {
                let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
                format!("retiring deadline {nanos} {methods}")
            }
            Up::Retiring { reason } => format!("retiring other {reason}"),
            Up::Crash { method } => format!("crash {method}"),
            Up::Metrics(counts) => format!("metrics {}", serde_json::to_string(counts).expect("counts serialize")),
        };
        one_line(body)
    }

    /// Reads one line (with or without its newline).
    pub fn decode(line: &str) -> Result<Up, Unreadable> {
        let unreadable = || Unreadable(line.to_owned());
        let (word, rest) = split(line);
        let up = match (word, rest) {
            ("ready", None) => Up::Ready,
            ("failed", Some(message)) => Up::Failed { message: message.to_owned() },
            ("retiring", Some(reason)) => Up::Retiring { reason: reason_of(reason).ok_or_else(unreadable)? },
            ("crash", Some(method)) if is_name(method) => Up::Crash { method: method.to_owned() },
            ("metrics", Some(json)) => Up::Metrics(serde_json::from_str(json).map_err(|_| unreadable())?),
            _ => return Err(unreadable()),
        };
        Ok(up)
    }
}

/// Reads a line that may have been torn: when it does not read whole but ends in a crash
/// report, the report is read and the text before it is unreadable. Never panics.
pub fn decode_torn(line: &str) -> Vec<Result<Up, Unreadable>> {
    let whole = Up::decode(line);
    if whole.is_ok() {
        return vec![whole];
    }
    let prefix = std::str::from_utf8(CRASH_PREFIX).expect("ascii");
    match line.rfind(prefix) {
        // (At 0 the report would be the whole line, which did not read.)
        Some(at) if Up::decode(&line[at..]).is_ok() => {
            vec![Err(Unreadable(line[..at].to_owned())), Up::decode(&line[at..])]
        }
        _ => vec![whole],
    }
}

impl Down {
    /// The order as one line, newline included.
    pub fn encode(self) -> &'static str {
        match self {
            Down::Stop => "stop\n",
            Down::Quit => "quit\n",
        }
    }

    /// Reads one line (with or without its newline).
    pub fn decode(line: &str) -> Result<Down, Unreadable> {
        match split(line) {
            ("stop", None) => Ok(Down::Stop),
            ("quit", None) => Ok(Down::Quit),
            _ => Err(Unreadable(line.to_owned())),
        }
    }
}

/// The first word, and the rest after one space (`None` without a space).
fn split(line: &str) -> (&str, Option<&str>) {
    let line = line.strip_suffix('\n').unwrap_or(line);
    match line.split_once(' ') {
        Some((word, rest)) => (word, Some(rest)),
        None => (line, None),
    }
}

fn reason_of(text: &str) -> Option<Reason> {
    match split(text) {
        ("max-requests", Some(max)) => Some(Reason::MaxRequests(max.parse().ok()?)),
        ("deadline", Some(rest)) => {
            let (nanos, methods) = rest.split_once(' ')?;
            Some(Reason::Deadline { methods: methods.to_owned(), timeout: Duration::from_nanos(nanos.parse().ok()?) })
        }
        ("other", Some(text)) => Some(Reason::Other(text.to_owned())),
        _ => None,
    }
}

/// A method's name as a crash report gives it: one word, not empty.
fn is_name(text: &str) -> bool {
    !text.is_empty() && !text.contains(char::is_whitespace)
}

/// `text` with its line breaks as spaces, then a newline.
fn one_line(text: String) -> String {
    let mut line = text.replace(['\n', '\r'], " ");
    line.push('\n');
    line
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
