//! Answers on the wire: status line, headers and body composed in one buffer, written at once.
//!
//! Every answer has `Server` and `Date` (formatted once a second), `Connection: close` when
//! the connection ends after it (or `keep-alive` to an HTTP/1.0 client that asked for it),
//! and a `Content-Length`, except a 204 (RFC 9110, 8.6 forbids it there). A body up to
//! [`COPIED`] bytes is copied behind its head; a larger one is written after it, not copied.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A body up to this size is copied behind its head and written with it; a larger one is
/// written after the head straight from the caller's buffer. (So the buffer stays small.)
const COPIED: usize = 16 * 1024;

/// What the server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer<'a> {
    /// 200 with this JSON body: the RPC path.
    Json(&'a [u8]),
    /// 204: only notifications were sent. No body, and no `Content-Length`.
    NoContent,
    /// Anything else: health, files, metrics and every refusal.
    Other {
        status: u16,
        content_type: &'a str,
        /// One more header, as name and value.
        header: Option<(&'a str, &'a str)>,
        body: &'a [u8],
    },
}

impl<'a> Answer<'a> {
    fn status(self) -> u16 {
        match self {
            Answer::Json(_) => 200,
            Answer::NoContent => 204,
            Answer::Other { status, .. } => status,
        }
    }

    fn body(self) -> &'a [u8] {
        match self {
            Answer::Json(body) | Answer::Other { body, .. } => body,
            Answer::NoContent => &[],
        }
    }

    /// The part of the body written on its own, after the head: all of a large body, else none.
    fn uncopied(self) -> &'a [u8] {
        match self.body() {
            body if body.len() > COPIED => body,
            _ => &[],
        }
    }
}

/// Whether the connection goes on after an answer, and so what its `Connection` header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    KeepAlive,
    Close,
}

/// A thread's buffer for composed answers (a head and at most [`COPIED`] bytes of body), and
/// its `Date` value, formatted once a second.
pub(crate) struct Wire {
    buf: Vec<u8>,
    /// The second `date` was formatted for (seconds since the epoch).
    second: u64,
    date: String,
    /// The status and size of the last answer framed, for the access log.
    last: Option<(u16, usize)>,
}

impl Wire {
    pub(crate) fn new() -> Wire {
        Wire { buf: Vec::new(), second: u64::MAX, date: String::new(), last: None }
    }

    /// The status and size (head and body) of the answer framed since the last call, if any.
    pub(crate) fn take_last(&mut self) -> Option<(u16, usize)> {
        self.last.take()
    }

    /// The answer to an HTTP/1.`minor` request framed at the current time: the head (with the
    /// body when it is copied behind it) and the rest of the body, to be written in that order.
    pub(crate) fn frame<'b>(&mut self, minor: u8, answer: Answer<'b>, then: Then) -> (&[u8], &'b [u8]) {
        let rest = answer.uncopied();
        let head = self.compose(minor, answer, then, SystemTime::now(), rest.is_empty());
        self.last = Some((answer.status(), head.len() + rest.len()));
        (&self.buf, rest)
    }

    /// The answer for an HTTP/1.`minor` request at `now`: the head, and the body too when `with_body`.
    fn compose(&mut self, minor: u8, answer: Answer<'_>, then: Then, now: SystemTime, with_body: bool) -> &[u8] {
        // A clock before 1970 shows 1970 (formatting the time itself would panic).
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(second));
        }
        let buf = &mut self.buf;
        buf.clear();
        buf.extend_from_slice(if minor == 0 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
        let status = answer.status();
        decimal(buf, u64::from(status));
        buf.push(b' ');
        buf.extend_from_slice(reason(status).as_bytes());
        buf.extend_from_slice(b"\r\nServer: runjsonrpc2\r\nDate: ");
        buf.extend_from_slice(self.date.as_bytes());
        match (then, minor) {
            (Then::Close, _) => buf.extend_from_slice(b"\r\nConnection: close"),
            (Then::KeepAlive, 0) => buf.extend_from_slice(b"\r\nConnection: keep-alive"),
            (Then::KeepAlive, _) => {}
        }
        let content_type = match answer {
            Answer::Json(_) => "application/json",
            Answer::NoContent => {
                buf.extend_from_slice(b"\r\n\r\n");
                return &self.buf;
            }
            Answer::Other { content_type, header, .. } => {
                if let Some((name, value)) = header {
                    buf.extend_from_slice(b"\r\n");
                    buf.extend_from_slice(name.as_bytes());
                    buf.extend_from_slice(b": ");
                    buf.extend_from_slice(value.as_bytes());
                }
                content_type
            }
        };
        let body = answer.body();
        buf.extend_from_slice(b"\r\nContent-Type: ");
        buf.extend_from_slice(content_type.as_bytes());
        buf.extend_from_slice(b"\r\nContent-Length: ");
        decimal(buf, body.len() as u64);
        buf.extend_from_slice(b"\r\n\r\n");
        if with_body {
            buf.extend_from_slice(body);
        }
        &self.buf
    }
}

/// The reason phrase of each status the server sends.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Appends `n` in decimal (also the access log's numbers).
pub(crate) fn decimal(buf: &mut Vec<u8>, mut n: u64) {
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
    use super::{Answer, COPIED, Then, Wire};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// Each answer, byte for byte.
    #[test]
    fn answers_are_framed_whole() {
        let now = UNIX_EPOCH + Duration::from_secs(1_764_618_006);
        let head = "Server: runjsonrpc2\r\nDate: Mon, 01 Dec 2025 19:40:06 GMT\r\n";
        let body = br#"{"jsonrpc":"2.0","result":3,"id":1}"#;
        let json = "Content-Type: application/json\r\nContent-Length: 35\r\n\r\n";
        let text =
            Answer::Other { status: 405, content_type: "text/plain", header: Some(("Allow", "POST")), body: b"no\n" };
        #[rustfmt::skip]
        let cases: Vec<(u8, Answer<'_>, Then, String)> = vec![
            (1, Answer::Json(body), Then::KeepAlive, format!("HTTP/1.1 200 OK\r\n{head}{json}{}", std::str::from_utf8(body).unwrap())),
            (0, Answer::Json(body), Then::KeepAlive, format!("HTTP/1.0 200 OK\r\n{head}Connection: keep-alive\r\n{json}{}", std::str::from_utf8(body).unwrap())),
            (1, Answer::Json(body), Then::Close, format!("HTTP/1.1 200 OK\r\n{head}Connection: close\r\n{json}{}", std::str::from_utf8(body).unwrap())),
            (1, Answer::Json(b""), Then::KeepAlive, format!("HTTP/1.1 200 OK\r\n{head}Content-Type: application/json\r\nContent-Length: 0\r\n\r\n")),
            (1, Answer::NoContent, Then::KeepAlive, format!("HTTP/1.1 204 No Content\r\n{head}\r\n")),
            (0, Answer::NoContent, Then::Close, format!("HTTP/1.0 204 No Content\r\n{head}Connection: close\r\n\r\n")),
            (1, text, Then::KeepAlive, format!("HTTP/1.1 405 Method Not Allowed\r\n{head}Allow: POST\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nno\n")),
            (1, Answer::Other { status: 431, content_type: "text/plain", header: None, body: b"" }, Then::Close, format!("HTTP/1.1 431 Request Header Fields Too Large\r\n{head}Connection: close\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n")),
        ];
        let mut wire = Wire::new();
        for (minor, answer, then, want) in cases {
            let got = String::from_utf8(wire.compose(minor, answer, then, now, true).to_vec()).unwrap();
            assert_eq!(got, want);
            // The head alone, when the body goes out on its own.
            let head = wire.compose(minor, answer, then, now, false).len();
            assert_eq!(head, want.find("\r\n\r\n").unwrap() + 4);
        }
    }

    /// Up to 16 KiB the body is copied behind its head; above, it is written on its own.
    #[test]
    fn only_large_bodies_go_out_uncopied() {
        let (at_limit, over) = (vec![b' '; COPIED], vec![b' '; COPIED + 1]);
        let other = |body| Answer::Other { status: 200, content_type: "text/plain", header: None, body };
        #[rustfmt::skip]
        let cases: &[(Answer<'_>, usize)] = &[
            (Answer::NoContent, 0),
            (Answer::Json(b"{}"), 0),
            (Answer::Json(&at_limit), 0),
            (Answer::Json(&over), COPIED + 1),
            (other(&at_limit), 0),
            (other(&over), COPIED + 1),
        ];
        for &(answer, uncopied) in cases {
            assert_eq!(answer.uncopied().len(), uncopied);
        }
        let mut wire = Wire::new();
        let (head, rest) = wire.frame(1, Answer::Json(&over), Then::KeepAlive);
        assert!(head.ends_with(b"\r\n\r\n") && rest.len() == COPIED + 1);
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
        let compose = |wire: &mut Wire, now| {
            String::from_utf8(wire.compose(1, Answer::NoContent, Then::KeepAlive, now, true).to_vec()).unwrap()
        };
        for (now, date) in cases {
            let text = compose(&mut wire, now);
            assert!(text.contains(&format!("\r\nDate: {date}\r\n")), "{now:?}: {text:?}");
        }
        // Within the same second the cached text is used as it is.
        let now = SystemTime::now();
        compose(&mut wire, now);
        wire.date = "cached".into();
        let text = compose(&mut wire, now);
        assert!(text.contains("\r\nDate: cached\r\n"), "{text:?}");
    }
}
