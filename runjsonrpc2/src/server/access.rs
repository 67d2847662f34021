//! The access log (`--access-log`): one JSON line per HTTP request answered. Each connection
//! thread appends whole lines to a buffer of its own (no lock shared with other threads); a
//! writer thread writes the buffers out every 100 ms (or sooner when one holds 64 KiB) with
//! `write` to a file opened for appending, so lines from many threads and worker processes
//! never interleave, and a request costs no system call of its own. Reopened on request
//! (logrotate's SIGUSR1, or a reload).
//!
//! JSON lines, because every log tool reads them without a format string (jq, Vector, Loki,
//! Elasticsearch), field names travel with the values, and method names, which a client picks,
//! cannot break the line: they are JSON strings, escaped.

use super::wire::decimal;
use crate::seen::Seen;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often waiting lines are written out.
const EVERY: Duration = Duration::from_millis(100);
/// Waiting lines past this are written out at once.
const SOON: usize = 64 * 1024;
/// The largest single write to a pipe (stderr): pipes keep writes up to PIPE_BUF whole.
const PIPE_BUF: usize = 4096;

/// Where the lines go.
pub(crate) struct AccessLog(Arc<Inner>);

/// A connection thread's lines not yet written, shared with the writer.
pub(crate) type Buffer = Arc<Mutex<Vec<u8>>>;

struct Inner {
    /// The file's path; `None` for stderr (`-`).
    path: Option<PathBuf>,
    file: RwLock<Option<File>>,
    /// Each thread's buffer of whole lines not yet written.
    buffers: Mutex<Vec<Buffer>>,
    /// Wakes the writer early (a buffer past [`SOON`]).
    wake: Mutex<bool>,
    soon: Condvar,
    /// Serialises writers: the writer thread and a flush at the end.
    writing: Mutex<Vec<u8>>,
}

impl AccessLog {
    /// Opens `path` for appending (made if missing); `-` is stderr. Starts the writer thread,
    /// which ends with the log.
    pub(crate) fn open(path: &Path) -> io::Result<AccessLog> {
        let path = (path != Path::new("-")).then(|| path.to_owned());
        let file = path.as_deref().map(open).transpose()?;
        let inner = Arc::new(Inner {
            path,
            file: RwLock::new(file),
            buffers: Mutex::new(Vec::new()),
            wake: Mutex::new(false),
            soon: Condvar::new(),
            writing: Mutex::new(Vec::new()),
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new().name("rpc-access-log".into()).spawn(move || write_out(&weak))?;
        Ok(AccessLog(inner))
    }

    /// Opens the file again: logrotate has moved it away. The old one stays in use if the
    /// new one cannot be opened (the error says why).
    pub(crate) fn reopen(&self) -> io::Result<()> {
        let Some(path) = &self.0.path else { return Ok(()) };
        let fresh = open(path)?;
        self.0.flush();
        *self.0.file.write().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
        Ok(())
    }

    /// Queues one whole line (ending in a newline) in the calling thread's buffer, `own`
    /// (made and registered on first use).
    pub(crate) fn write(&self, own: &mut Option<Buffer>, line: &[u8]) {
        let buffer = own.get_or_insert_with(|| {
            let fresh = Buffer::default();
            self.0.buffers.lock().unwrap_or_else(|e| e.into_inner()).push(fresh.clone());
            fresh
        });
        let mut lines = buffer.lock().unwrap_or_else(|e| e.into_inner());
        lines.extend_from_slice(line);
        if lines.len() >= SOON {
            drop(lines);
            *self.0.wake.lock().unwrap_or_else(|e| e.into_inner()) = true;
            self.0.soon.notify_one();
        }
    }

    /// Writes out every line queued so far (at the end of serving).
    pub(crate) fn flush(&self) {
        self.0.flush();
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.0.flush();
    }
}

impl Inner {
    /// Writes the queued lines. A failed write is not retried: a full disk must not stop the
    /// service.
    fn flush(&self) {
        let mut out = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        {
            let mut buffers = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
            for buffer in buffers.iter() {
                out.append(&mut buffer.lock().unwrap_or_else(|e| e.into_inner()));
            }
            // A thread that has ended leaves its buffer, emptied just now, to this one alone.
            buffers.retain(|b| Arc::strong_count(b) > 1);
        }
        if out.is_empty() {
            return;
        }
        let file = self.file.read().unwrap_or_else(|e| e.into_inner());
        let _ = match &*file {
            Some(file) => (&*file).write_all(&out),
            None => {
                let mut stderr = io::stderr().lock();
                lines_within(&out, PIPE_BUF).try_for_each(|chunk| stderr.write_all(chunk))
            }
        };
        out.clear();
    }
}

/// The writer thread: writes the queued lines every [`EVERY`], or when [`SOON`] are waiting.
fn write_out(inner: &Weak<Inner>) {
    while let Some(inner) = inner.upgrade() {
        let mut wake = inner.wake.lock().unwrap_or_else(|e| e.into_inner());
        if !*wake {
            wake = inner.soon.wait_timeout(wake, EVERY).unwrap_or_else(|e| e.into_inner()).0;
        }
        *wake = false;
        drop(wake);
        inner.flush();
    }
}

/// `text` (whole lines) in chunks of whole lines of at most `most` bytes (a longer line alone).
fn lines_within(text: &[u8], most: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = 0;
        for (i, _) in rest.iter().enumerate().filter(|&(_, &b)| b == b'\n') {
            if i + 1 > most && end > 0 {
                break;
            }
            end = i + 1;
        }
        let end = if end == 0 { rest.len() } else { end };
        let (chunk, more) = rest.split_at(end);
        rest = more;
        Some(chunk)
    })
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).open(path)
}

/// One request, as the access log shows it.
pub(crate) struct Line<'a> {
    /// The client's address as JSON text (`"127.0.0.1"`, or `null`).
    pub(crate) remote: &'a str,
    pub(crate) user: Option<&'a str>,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) status: u16,
    /// The JSON-RPC calls, for a request on the RPC path.
    pub(crate) seen: Option<&'a Seen>,
    /// Bytes written: status line, headers and body.
    pub(crate) bytes: usize,
    /// From the request's head read to its answer written.
    pub(crate) took: Duration,
}

/// A thread's buffer for lines, and the time of day formatted once a second.
#[derive(Default)]
pub(crate) struct Lines {
    pub(crate) buf: Vec<u8>,
    second: u64,
    /// `2026-12-08T10:00:00` for `second`.
    stamp: Vec<u8>,
}

impl Line<'_> {
    /// The JSON line, newline included, into `lines.buf` (cleared first):
    /// `{"time":"2026-12-08T10:00:00.123Z","remote":"127.0.0.1","user":null,"request":"POST /",
    /// "status":200,"calls":1,"methods":["add"],"errors":[],"bytes":150,"us":213}`.
    pub(crate) fn write_to(&self, now: SystemTime, lines: &mut Lines) {
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        if since.as_secs() != lines.second || lines.stamp.is_empty() {
            lines.second = since.as_secs();
            lines.stamp.clear();
            rfc3339(since.as_secs(), &mut lines.stamp);
        }
        let out = &mut lines.buf;
        out.clear();
        out.extend_from_slice(b"{\"time\":\"");
        out.extend_from_slice(&lines.stamp);
        let ms = since.subsec_millis();
        out.extend_from_slice(&[b'.', b'0' + (ms / 100) as u8, b'0' + (ms / 10 % 10) as u8, b'0' + (ms % 10) as u8]);
        out.extend_from_slice(b"Z\",\"remote\":");
        out.extend_from_slice(self.remote.as_bytes());
        out.extend_from_slice(b",\"user\":");
        match self.user {
            Some(user) => string(&[user], out),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"request\":");
        string(&[self.method, " ", self.path], out);
        out.extend_from_slice(b",\"status\":");
        decimal(out, u64::from(self.status));
        if let Some(seen) = self.seen {
            out.extend_from_slice(b",\"calls\":");
            decimal(out, seen.calls as u64);
            out.extend_from_slice(b",\"methods\":[");
            for (i, method) in seen.methods().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(&[method], out);
            }
            out.extend_from_slice(b"],\"errors\":[");
            for (i, &code) in seen.codes.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if code < 0 {
                    out.push(b'-');
                }
                decimal(out, code.unsigned_abs());
            }
            out.push(b']');
        }
        out.extend_from_slice(b",\"bytes\":");
        decimal(out, self.bytes as u64);
        out.extend_from_slice(b",\"us\":");
        decimal(out, u64::try_from(self.took.as_micros()).unwrap_or(u64::MAX));
        out.extend_from_slice(b"}\n");
    }
}

/// The pieces as one JSON string: copied as they are when nothing needs escaping.
fn string(pieces: &[&str], out: &mut Vec<u8>) {
    let plain = |s: &str| s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if pieces.iter().all(|p| plain(p)) {
        out.push(b'"');
        pieces.iter().for_each(|p| out.extend_from_slice(p.as_bytes()));
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, &pieces.concat()).expect("a string serializes");
    }
}

/// `secs` since the epoch as RFC 3339's date and time in UTC, to the second:
/// `2026-12-08T10:00:00`.
fn rfc3339(secs: u64, out: &mut Vec<u8>) {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = write!(out, "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_out_whole_within_a_pipe_write() {
        #[rustfmt::skip]
        let cases: &[(&str, usize, &[&str])] = &[
            ("a\nb\nc\n", 4, &["a\nb\n", "c\n"]),
            ("a\nb\nc\n", 100, &["a\nb\nc\n"]),
            ("long line\nb\n", 4, &["long line\n", "b\n"]),
            ("", 4, &[]),
        ];
        for &(text, most, want) in cases {
            let got: Vec<&[u8]> = lines_within(text.as_bytes(), most).collect();
            let want: Vec<&[u8]> = want.iter().map(|w| w.as_bytes()).collect();
            assert_eq!(got, want, "{text:?} within {most}");
        }
    }

    #[test]
    fn times_read_as_rfc3339() {
        #[rustfmt::skip]
        let cases = [
            (0, 0, "1970-01-01T00:00:00.000Z"),
            (951_782_400, 5, "2000-02-29T00:00:00.005Z"),
            (1_765_152_000, 999, "2025-12-08T00:00:00.999Z"),
            (4_102_444_799, 0, "2099-12-31T23:59:59.000Z"),
        ];
        for (secs, ms, want) in cases {
            let line = Line {
                remote: "null",
                user: None,
                method: "GET",
                path: "/",
                status: 200,
                seen: None,
                bytes: 0,
                took: Duration::ZERO,
            };
            let mut lines = Lines::default();
            line.write_to(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms), &mut lines);
            let v: serde_json::Value = serde_json::from_slice(&lines.buf).unwrap();
            assert_eq!(v["time"], want);
        }
    }

    #[test]
    fn lines_are_json() {
        let mut seen = Seen::default();
        seen.call("add", None);
        seen.call("we\"ird\n", Some(-32601));
        let line = Line {
            remote: "\"127.0.0.1\"",
            user: Some("alice"),
            method: "POST",
            path: "/",
            status: 200,
            seen: Some(&seen),
            bytes: 150,
            took: Duration::from_micros(213),
        };
        let mut lines = Lines::default();
        line.write_to(UNIX_EPOCH, &mut lines);
        let text = String::from_utf8(lines.buf.clone()).unwrap();
        assert!(text.ends_with("}\n") && text.matches('\n').count() == 1, "{text:?}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let want = serde_json::json!({"time": "1970-01-01T00:00:00.000Z", "remote": "127.0.0.1", "user": "alice",
            "request": "POST /", "status": 200, "calls": 2, "methods": ["add", "we\"ird\n"], "errors": [-32601],
            "bytes": 150, "us": 213});
        assert_eq!(v, want);
        let bare = Line { remote: "null", user: None, seen: None, status: 404, ..line };
        bare.write_to(UNIX_EPOCH, &mut lines);
        let v: serde_json::Value = serde_json::from_slice(&lines.buf).unwrap();
        assert_eq!((v["remote"].is_null(), v["user"].is_null(), v.get("methods")), (true, true, None));
    }
}
