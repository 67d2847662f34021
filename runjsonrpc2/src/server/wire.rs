//! The JSON-RPC answers on the wire: status line, headers and body composed in one buffer.
//!
//! `Request::respond` frames an answer with some thirty small writes through `fmt` and a dozen
//! allocations (the `Date` header formatted anew each time, `Server` inserted at the front of
//! the header list, `Content-Length` formatted into a new header): about 7,000 instructions a
//! request, more than the JSON-RPC engine and the plugin call together. The hot path's two
//! answers (200 with a JSON body, 204) are composed here instead, with the same headers in the
//! same order, and written at once (a large body right after its head, not copied); every
//! other answer still goes through `respond`.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// A body up to this size is copied behind its head and written with it; a larger one is
/// written after the head straight from the caller's buffer.
const COPIED: usize = 16 * 1024;

/// What the RPC path answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer<'a> {
    /// 200 with this JSON body.
    Json(&'a [u8]),
    /// 204: only notifications were sent. No body, and no `Content-Length` (RFC 9110, 8.6).
    NoContent,
}

/// A worker's buffer for composed answers, and its `Date` value, formatted once a second.
pub(crate) struct Wire {
    buf: Vec<u8>,
    /// The second `date` was formatted for (seconds since the epoch).
    second: u64,
    date: String,
}

impl Wire {
    pub(crate) fn new() -> Wire {
        Wire { buf: Vec::new(), second: u64::MAX, date: String::new() }
    }

    /// Answers `request` and hands the connection back to tiny_http (when the writer drops),
    /// which then reads the next request or closes as the request asked. Write errors (a
    /// client gone) are ignored, as `respond` ignores them.
    pub(crate) fn send(&mut self, request: tiny_http::Request, answer: Answer<'_>) {
        let version = request.http_version();
        let (major, minor) = (version.0, version.1);
        let rest: &[u8] = match answer {
            Answer::Json(body) if body.len() > COPIED => body,
            _ => &[],
        };
        let head = self.compose((major, minor), answer, SystemTime::now(), rest.is_empty());
        let mut writer = request.into_writer();
        let _ = writer.write_all(head).and_then(|()| writer.write_all(rest)).and_then(|()| writer.flush());
    }

    /// The answer as `Request::respond` would frame it for an HTTP/`major`.`minor` request at
    /// `now` (except that a 204 has no `Content-Length: 0`): the head, and the body too when
    /// `with_body`.
    fn compose(&mut self, (major, minor): (u8, u8), answer: Answer<'_>, now: SystemTime, with_body: bool) -> &[u8] {
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.date = httpdate::fmt_http_date(now);
        }
        let buf = &mut self.buf;
        buf.clear();
        buf.extend_from_slice(b"HTTP/");
        buf.extend_from_slice(&[b'0' + major % 10, b'.', b'0' + minor % 10]);
        buf.extend_from_slice(match answer {
            Answer::Json(_) => b" 200 OK\r\n",
            Answer::NoContent => b" 204 No Content\r\n",
        });
        buf.extend_from_slice(b"Server: tiny-http (Rust)\r\nDate: ");
        buf.extend_from_slice(self.date.as_bytes());
        if let Answer::Json(body) = answer {
            buf.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
            decimal(buf, body.len());
            buf.extend_from_slice(b"\r\n\r\n");
            if with_body {
                buf.extend_from_slice(body);
            }
        } else {
            buf.extend_from_slice(b"\r\n\r\n");
        }
        &self.buf
    }

    /// Drops a buffer a rare large answer grew, so it does not stay for the life of the worker.
    pub(crate) fn shrink(&mut self, max: usize) {
        if self.buf.capacity() > max {
            self.buf = Vec::new();
        }
    }
}

/// Appends `n` in decimal.
fn decimal(buf: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::{Answer, Wire};
    use std::time::{Duration, UNIX_EPOCH};

    /// Each answer, byte for byte.
    #[test]
    fn answers_are_framed_as_tiny_http_frames_them() {
        let now = UNIX_EPOCH + Duration::from_secs(1_764_618_006); // Mon, 01 Dec 2025 19:40:06 GMT
        let date = "Date: Mon, 01 Dec 2025 19:40:06 GMT\r\n";
        let json = "Content-Type: application/json\r\nContent-Length:";
        let body = br#"{"jsonrpc":"2.0","result":3,"id":1}"#;
        let big = vec![b' '; 1_234_567];
        #[rustfmt::skip]
        let cases: &[((u8, u8), Answer<'_>, String)] = &[
            ((1, 1), Answer::Json(body), format!("HTTP/1.1 200 OK\r\nServer: tiny-http (Rust)\r\n{date}{json} 35\r\n\r\n{}", std::str::from_utf8(body).unwrap())),
            ((1, 0), Answer::Json(body), format!("HTTP/1.0 200 OK\r\nServer: tiny-http (Rust)\r\n{date}{json} 35\r\n\r\n{}", std::str::from_utf8(body).unwrap())),
            ((1, 1), Answer::Json(b""), format!("HTTP/1.1 200 OK\r\nServer: tiny-http (Rust)\r\n{date}{json} 0\r\n\r\n")),
            ((1, 1), Answer::Json(&big), format!("HTTP/1.1 200 OK\r\nServer: tiny-http (Rust)\r\n{date}{json} 1234567\r\n\r\n{}", " ".repeat(1_234_567))),
            ((1, 1), Answer::NoContent, format!("HTTP/1.1 204 No Content\r\nServer: tiny-http (Rust)\r\n{date}\r\n")),
        ];
        let mut wire = Wire::new();
        for (version, answer, want) in cases {
            let got = String::from_utf8(wire.compose(*version, *answer, now, true).to_vec()).unwrap();
            assert!(got == *want, "{version:?} {:.80?}: {:.200?}", answer, got);
            // Without the body: the same head.
            let head = wire.compose(*version, *answer, now, false).len();
            assert_eq!(got[..head], got[..got.find("\r\n\r\n").unwrap() + 4], "{version:?}");
        }
    }

    /// The date is formatted again when the second changes, and only then.
    #[test]
    fn the_date_follows_the_clock() {
        let mut wire = Wire::new();
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms);
        #[rustfmt::skip]
        let cases = [
            (at(0, 0), "Thu, 01 Jan 1970 00:00:00 GMT"),
            (at(0, 999), "Thu, 01 Jan 1970 00:00:00 GMT"),
            (at(1, 0), "Thu, 01 Jan 1970 00:00:01 GMT"),
            (at(951_782_400, 0), "Tue, 29 Feb 2000 00:00:00 GMT"),
            (at(4_102_444_799, 500), "Thu, 31 Dec 2099 23:59:59 GMT"),
        ];
        for (now, date) in cases {
            let text = String::from_utf8(wire.compose((1, 1), Answer::NoContent, now, true).to_vec()).unwrap();
            assert!(text.contains(&format!("\r\nDate: {date}\r\n")), "{now:?}: {text:?}");
        }
    }
}
