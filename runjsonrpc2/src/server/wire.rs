//! The JSON-RPC answers on the wire: status line, headers and body composed in one buffer.
//!
//! `Request::respond` frames an answer with some thirty small writes through `fmt` and a dozen
//! allocations (the `Date` header formatted anew each time, `Server` inserted at the front of
//! the header list, `Content-Length` formatted into a new header), which costs more than the
//! JSON-RPC engine and the plugin call together (BENCHMARKS.md has the counts). The hot path's two answers (200 with a JSON body, 204) are composed
//! here instead, with the headers `respond` sends, in its order, and written at once (a large
//! body right after its head, not copied); every other answer still goes through `respond`.
//! Two differences: a 204 has no `Content-Length: 0` (RFC 9110, 8.6 forbids it), and a
//! request that sent `TE: chunked` gets `Content-Length` where `respond` chose chunked.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A body up to this size is copied behind its head and written with it; a larger one is
/// written after the head straight from the caller's buffer. (So the buffer stays small.)
const COPIED: usize = 16 * 1024;

/// What the RPC path answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer<'a> {
    /// 200 with this JSON body.
    Json(&'a [u8]),
    /// 204: only notifications were sent. No body, and no `Content-Length`.
    NoContent,
}

impl<'a> Answer<'a> {
    /// The part of the body written on its own, after the head: all of a large body, else none.
    fn uncopied(self) -> &'a [u8] {
        match self {
            Answer::Json(body) if body.len() > COPIED => body,
            _ => &[],
        }
    }
}

/// A worker's buffer for composed answers (a head and at most [`COPIED`] bytes of body), and
/// its `Date` value, formatted once a second.
pub(crate) struct Wire {
    buf: Vec<u8>,
    /// The second `date` was formatted for (seconds since the epoch).
    second: u64,
    date: String,
    /// Whether the next answer says `Connection: close`.
    close: bool,
}

impl Wire {
    pub(crate) fn new() -> Wire {
        Wire { buf: Vec::new(), second: u64::MAX, date: String::new(), close: false }
    }

    /// The answer to `request` framed at the current time: the head (with the body when it
    /// is copied behind it) and the rest of the body, to be written in that order (see
    /// `exit::answer`). With `close`, it asks the client to close the connection.
    pub(crate) fn frame<'b>(
        &mut self,
        request: &tiny_http::Request,
        answer: Answer<'b>,
        close: bool,
    ) -> (&[u8], &'b [u8]) {
        let version = request.http_version();
        let rest = answer.uncopied();
        self.close = close;
        (self.compose((version.0, version.1), answer, SystemTime::now(), rest.is_empty()), rest)
    }

    /// The answer as `Request::respond` frames it for an HTTP/`major`.`minor` request at `now`
    /// (but see the module docs): the head, and the body too when `with_body`.
    fn compose(&mut self, (major, minor): (u8, u8), answer: Answer<'_>, now: SystemTime, with_body: bool) -> &[u8] {
        // A clock before 1970 shows 1970 (formatting the time itself would panic).
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(second));
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
        if self.close {
            buf.extend_from_slice(b"\r\nConnection: close");
        }
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
    use super::{Answer, COPIED, Wire};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// What tiny_http's own `respond` writes for the same answer at the same time.
    fn tiny_http_frames(version: (u8, u8), answer: Answer<'_>, date: &str) -> Vec<u8> {
        use tiny_http::{HTTPVersion, Header, Response, StatusCode};
        let header = |name: &str, value: &str| Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap();
        let (status, body, mut headers) = match answer {
            Answer::Json(body) => (200, body, vec![header("Content-Type", "application/json")]),
            Answer::NoContent => (204, &[][..], vec![]),
        };
        headers.insert(0, header("Date", date));
        let response = Response::new(StatusCode(status), headers, body, Some(body.len()), None);
        let mut out = Vec::new();
        response.raw_print(&mut out, HTTPVersion(version.0, version.1), &[], false, None).unwrap();
        out
    }

    /// Each answer, byte for byte as tiny_http frames it, but for the 204's Content-Length.
    #[test]
    fn answers_are_framed_as_tiny_http_frames_them() {
        let now = UNIX_EPOCH + Duration::from_secs(1_764_618_006);
        let date = "Mon, 01 Dec 2025 19:40:06 GMT";
        let body = br#"{"jsonrpc":"2.0","result":3,"id":1}"#;
        let (at_limit, over) = (vec![b' '; COPIED], vec![b' '; COPIED + 1]);
        #[rustfmt::skip]
        let cases: &[((u8, u8), Answer<'_>)] = &[
            ((1, 1), Answer::Json(body)),
            ((1, 0), Answer::Json(body)),
            ((1, 1), Answer::Json(b"")),
            ((1, 1), Answer::Json(&at_limit)),
            ((1, 1), Answer::Json(&over)),
            ((1, 1), Answer::NoContent),
            ((1, 0), Answer::NoContent),
        ];
        let mut wire = Wire::new();
        for &(version, answer) in cases {
            let mut want = tiny_http_frames(version, answer, date);
            if answer == Answer::NoContent {
                let text = String::from_utf8(want).unwrap();
                assert!(text.contains("Content-Length: 0\r\n"), "{text:?}");
                want = text.replace("Content-Length: 0\r\n", "").into_bytes();
            }
            let got = wire.compose(version, answer, now, true).to_vec();
            assert!(
                got == want,
                "{version:?}, {} bytes: {:?}",
                got.len(),
                String::from_utf8_lossy(&got[..got.len().min(200)])
            );
            // The head alone, when the body goes out on its own.
            let head = wire.compose(version, answer, now, false).len();
            assert_eq!(got[..head], got[..got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4]);
        }
    }

    /// Up to 16 KiB the body is copied behind its head; above, it is written on its own.
    #[test]
    fn only_large_bodies_go_out_uncopied() {
        let (at_limit, over) = (vec![b' '; COPIED], vec![b' '; COPIED + 1]);
        #[rustfmt::skip]
        let cases: &[(Answer<'_>, usize)] = &[
            (Answer::NoContent, 0),
            (Answer::Json(b"{}"), 0),
            (Answer::Json(&at_limit), 0),
            (Answer::Json(&over), COPIED + 1),
        ];
        for &(answer, uncopied) in cases {
            assert_eq!(answer.uncopied().len(), uncopied);
        }
    }

    /// The date is formatted again when the second changes, either way, and only then.
    #[test]
    fn the_date_follows_the_clock() {
        let mut wire = Wire::new();
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms);
        let before_1970 = UNIX_EPOCH - Duration::from_secs(10);
        #[rustfmt::skip]
        let cases = [
            (at(0, 0), "Thu, 01 Jan 1970 00:00:00 GMT"),
            (at(0, 999), "Thu, 01 Jan 1970 00:00:00 GMT"),
            (at(1, 0), "Thu, 01 Jan 1970 00:00:01 GMT"),
            (at(2, 0), "Thu, 01 Jan 1970 00:00:02 GMT"),
            (at(1, 500), "Thu, 01 Jan 1970 00:00:01 GMT"),
            (at(951_782_400, 0), "Tue, 29 Feb 2000 00:00:00 GMT"),
            (at(4_102_444_799, 500), "Thu, 31 Dec 2099 23:59:59 GMT"),
            (before_1970, "Thu, 01 Jan 1970 00:00:00 GMT"),
        ];
        for (now, date) in cases {
            let text = String::from_utf8(wire.compose((1, 1), Answer::NoContent, now, true).to_vec()).unwrap();
            assert!(text.contains(&format!("\r\nDate: {date}\r\n")), "{now:?}: {text:?}");
        }
        // Within the same second the cached text is used as it is.
        let now = SystemTime::now();
        wire.compose((1, 1), Answer::NoContent, now, true);
        wire.date = "cached".into();
        let text = String::from_utf8(wire.compose((1, 1), Answer::NoContent, now, true).to_vec()).unwrap();
        assert!(text.contains("\r\nDate: cached\r\n"), "{text:?}");
    }
}
