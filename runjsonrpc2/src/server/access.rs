//! The access log (`--access-log`): one JSON line per HTTP request answered, written with one
//! `write` to a file opened for appending, so lines from many threads and worker processes
//! never interleave; reopened on request (logrotate's SIGUSR1, or a reload).
//!
//! JSON lines, because every log tool reads them without a format string (jq, Vector, Loki,
//! Elasticsearch), field names travel with the values, and method names, which a client picks,
//! cannot break the line: they are JSON strings, escaped.

use crate::seen::Seen;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the lines go.
pub(crate) struct AccessLog {
    /// The file's path; `None` for stderr (`-`).
    path: Option<PathBuf>,
    file: RwLock<Option<File>>,
}

impl AccessLog {
    /// Opens `path` for appending (made if missing); `-` is stderr.
    pub(crate) fn open(path: &Path) -> io::Result<AccessLog> {
        let path = (path != Path::new("-")).then(|| path.to_owned());
        let file = path.as_deref().map(open).transpose()?;
        Ok(AccessLog { path, file: RwLock::new(file) })
    }

    /// Opens the file again: logrotate has moved it away. The old one stays in use if the
    /// new one cannot be opened (the error says why).
    pub(crate) fn reopen(&self) -> io::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let fresh = open(path)?;
        *self.file.write().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
        Ok(())
    }

    /// Writes one line (ending in a newline) at once. A failed write is not retried: a full
    /// disk must not stop the service.
    pub(crate) fn write(&self, line: &[u8]) {
        let file = self.file.read().unwrap_or_else(|e| e.into_inner());
        let _ = match &*file {
            Some(file) => (&*file).write_all(line),
            None => io::stderr().lock().write_all(line),
        };
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).open(path)
}

/// One request, as the access log shows it.
pub(crate) struct Line<'a> {
    pub(crate) remote: Option<IpAddr>,
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

impl Line<'_> {
    /// The JSON line, newline included, into `out` (cleared first):
    /// `{"time":"2026-12-08T10:00:00.123Z","remote":"127.0.0.1","user":null,"request":"POST /",
    /// "status":200,"calls":1,"methods":["add"],"errors":[],"bytes":150,"ms":0.213}`.
    pub(crate) fn write_to(&self, now: SystemTime, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(b"{\"time\":\"");
        rfc3339(now, out);
        out.extend_from_slice(b"\",\"remote\":");
        match self.remote {
            Some(ip) => {
                let _ = write!(out, "\"{ip}\"");
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"user\":");
        match self.user {
            Some(user) => string(user, out),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"request\":");
        string(&format!("{} {}", self.method, self.path), out);
        let _ = write!(out, ",\"status\":{}", self.status);
        if let Some(seen) = self.seen {
            let _ = write!(out, ",\"calls\":{},\"methods\":[", seen.calls);
            for (i, method) in seen.methods().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(method, out);
            }
            out.extend_from_slice(b"],\"errors\":[");
            for (i, code) in seen.codes.iter().enumerate() {
                let _ = write!(out, "{}{code}", if i > 0 { "," } else { "" });
            }
            out.push(b']');
        }
        let _ = writeln!(out, ",\"bytes\":{},\"ms\":{:.3}}}", self.bytes, self.took.as_secs_f64() * 1e3);
    }
}

/// `text` as a JSON string.
fn string(text: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, text).expect("a string serializes");
}

/// `now` as RFC 3339 in UTC with milliseconds: `2026-12-08T10:00:00.123Z`.
fn rfc3339(now: SystemTime, out: &mut Vec<u8>) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
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
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let mut out = Vec::new();
            rfc3339(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn lines_are_json() {
        let mut seen = Seen::default();
        seen.call("add", None);
        seen.call("we\"ird\n", Some(-32601));
        let line = Line {
            remote: Some("127.0.0.1".parse().unwrap()),
            user: Some("alice"),
            method: "POST",
            path: "/",
            status: 200,
            seen: Some(&seen),
            bytes: 150,
            took: Duration::from_micros(213),
        };
        let mut out = Vec::new();
        line.write_to(UNIX_EPOCH, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n") && text.matches('\n').count() == 1, "{text:?}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let want = serde_json::json!({"time": "1970-01-01T00:00:00.000Z", "remote": "127.0.0.1", "user": "alice",
            "request": "POST /", "status": 200, "calls": 2, "methods": ["add", "we\"ird\n"], "errors": [-32601],
            "bytes": 150, "ms": 0.213});
        assert_eq!(v, want);
        let bare = Line { remote: None, user: None, seen: None, status: 404, ..line };
        let mut out = Vec::new();
        bare.write_to(UNIX_EPOCH, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!((v["remote"].is_null(), v["user"].is_null(), v.get("methods")), (true, true, None));
    }
}
