//! A connection's input: bytes read ahead into one buffer, request heads parsed by httparse
//! within the head limits, and bodies (by length, or chunked) read before their deadline.
//!
//! Reads block for at most a slice of time (the socket's receive timeout, set per
//! connection), so a deadline is checked however slowly a client sends; a stop wakes an idle
//! connection at once by shutting its reading down (see `pool.rs`).

use super::framing::{Framing, Heads};
use super::listen::Stream;
use std::io::{self, Read};
use std::time::Instant;

/// The most header fields the parser has room for (`max_headers` is capped to it).
pub(crate) const HEADERS_CAP: usize = 512;
/// The longest chunk-size line, extensions included, and the most trailer bytes.
const CHUNK_LINE: usize = 4096;
/// A buffer grown past this for one large head is let go at the end of its connection.
const KEPT: usize = 64 * 1024;

/// Why reading stopped.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The client closed the connection (or reset it), or a stop shut an idle one down.
    Closed,
    /// The deadline passed.
    TimedOut,
    /// Reading failed otherwise.
    Failed(io::Error),
}

/// Why no request head was read: `Idle` for a connection that ends between requests (no
/// answer is owed), else the status and one line to answer with before closing.
#[derive(Debug)]
pub(crate) enum HeadError {
    Idle(Stop),
    Refused(u16, String),
    /// The client stopped partway through a head.
    Broken(Stop),
}

/// How a request's body ended up.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Past the limit; `drained`: the rest was read and discarded, so the connection can go on.
    TooLarge {
        drained: bool,
    },
    /// A chunked body that does not decode (400).
    Bad(String),
    /// The client ended its side after `got` bytes of a body by length (400, if it still reads).
    Short {
        got: usize,
    },
    Stop(Stop),
}

/// The method, as far as routing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    Post,
    Other,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Other => "(another method)",
        }
    }
}

/// What the server keeps of one request head (its buffers are reused from one to the next).
#[derive(Debug)]
pub(crate) struct Request {
    pub method: Method,
    /// The target without its query.
    pub path: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Whether the connection may go on after the answer (as the client asked).
    pub keep_alive: bool,
    pub framing: Result<Framing, (u16, String)>,
    pub upgrade: bool,
    /// `Expect`: none, `100-continue`, or another (417).
    pub expect: Expect,
    /// A POST's `Content-Type`, checked (a refusal allocates, so only POSTs are checked).
    pub content_type: Result<(), String>,
    /// The `Authorization` value, if any.
    pub authorization: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    None,
    Continue,
    Other,
}

impl Request {
    pub(crate) fn new() -> Request {
        Request {
            method: Method::Other,
            path: String::new(),
            minor: 1,
            keep_alive: true,
            framing: Ok(Framing::Length(0)),
            upgrade: false,
            expect: Expect::None,
            content_type: Ok(()),
            authorization: None,
        }
    }

    /// Whether a body follows the head.
    pub(crate) fn has_body(&self) -> bool {
        !matches!(self.framing, Ok(Framing::Length(0)))
    }
}

/// The limits on a head.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadLimits {
    /// The most bytes of a head, request line included (431; 414 for a request line alone).
    pub bytes: usize,
    /// The most header fields (431).
    pub fields: usize,
}

/// Bytes read from a connection and not yet taken.
pub(crate) struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Input {
    pub(crate) fn new() -> Input {
        Input { buf: vec![0; 4096], start: 0, end: 0 }
    }

    /// Ready for a new connection.
    pub(crate) fn reset(&mut self) {
        (self.start, self.end) = (0, 0);
        if self.buf.len() > KEPT {
            self.buf = vec![0; 4096];
        }
    }

    /// Whether bytes of a next request are already here (pipelined).
    pub(crate) fn buffered(&self) -> bool {
        self.end > self.start
    }

    /// Reads more, blocking until some bytes come, the deadline passes, or `quit` says so
    /// when the socket's read times out. Makes room first: moves what is left to the front,
    /// and grows the buffer up to `max` bytes held.
    fn fill(&mut self, stream: &Stream, deadline: Instant, max: usize, quit: &dyn Fn() -> bool) -> Result<(), Stop> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(max.max(self.buf.len()));
            self.buf.resize(grown, 0);
        }
        let room = &mut self.buf[self.end..];
        if room.is_empty() {
            return Err(Stop::Failed(io::Error::other("no room")));
        }
        loop {
            match (&*stream).read(room) {
                Ok(0) => return Err(Stop::Closed),
                Ok(n) => {
                    self.end += n;
                    // A client that trickles never lets a read time out: the deadline is
                    // looked at after each read too.
                    return if Instant::now() >= deadline { Err(Stop::TimedOut) } else { Ok(()) };
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if Instant::now() >= deadline {
                        return Err(Stop::TimedOut);
                    }
                    if quit() {
                        return Err(Stop::Closed);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted) => {
                    return Err(Stop::Closed);
                }
                Err(e) => return Err(Stop::Failed(e)),
            }
        }
    }

    /// Reads the next request head into `request`. `idle` is the deadline for its first byte
    /// (keep-alive), `head_time` how long the whole head may take from there; `quit` ends a
    /// wait between requests, or for a slow head (a stop). `waiting` hears when the connection waits idle and
    /// when the first byte arrives.
    pub(crate) fn head(
        &mut self,
        stream: &Stream,
        request: &mut Request,
        limits: HeadLimits,
        (idle, head_time): (Instant, std::time::Duration),
        quit: &dyn Fn() -> bool,
        waiting: &dyn Fn(bool),
    ) -> Result<(), HeadError> {
        if self.start == self.end {
            waiting(true);
            let got = self.fill(stream, idle, limits.bytes, quit);
            waiting(false);
            got.map_err(HeadError::Idle)?;
        }
        let deadline = Instant::now() + head_time;
        loop {
            let held = self.end - self.start;
            match self.parse(request, limits)? {
                Some(len) if len <= limits.bytes => {
                    self.start += len;
                    return Ok(());
                }
                Some(_) => return Err(self.too_large(limits)),
                None if held >= limits.bytes => return Err(self.too_large(limits)),
                // A head still coming when the read times out at a stop is dropped: a client
                // that slow has sent no request yet.
                None => self.fill(stream, deadline, limits.bytes, quit).map_err(|stop| match stop {
                    Stop::TimedOut => HeadError::Refused(408, "the request head took too long".into()),
                    other => HeadError::Broken(other),
                })?,
            }
        }
    }

    /// The refusal of a head over the limit: 414 when its request line alone is.
    fn too_large(&self, limits: HeadLimits) -> HeadError {
        let text = &self.buf[self.start..self.end];
        match text[..text.len().min(limits.bytes)].contains(&b'\n') {
            true => HeadError::Refused(431, format!("request head over {} bytes", limits.bytes)),
            false => HeadError::Refused(414, format!("request line over {} bytes", limits.bytes)),
        }
    }

    /// Parses a whole head from the buffer: its length, or `None` when more must be read.
    fn parse(&self, request: &mut Request, limits: HeadLimits) -> Result<Option<usize>, HeadError> {
        let text = &self.buf[self.start..self.end];
        let mut fields = [const { std::mem::MaybeUninit::uninit() }; HEADERS_CAP];
        let fields = &mut fields[..limits.fields.min(HEADERS_CAP)];
        let mut parsed = httparse::Request::new(&mut []);
        let len = match parsed.parse_with_uninit_headers(text, fields) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HeadError::Refused(431, format!("more than {} header fields", limits.fields)));
            }
            Err(e) => return Err(HeadError::Refused(400, format!("malformed request head: {e}"))),
        };
        let mut heads = Heads::from_pairs(parsed.headers.iter().map(|h| (h.name, h.value)));
        heads.bare_line_end = bare_line_end(&text[..len]);
        let minor = parsed.version.unwrap_or(1);
        request.minor = minor;
        request.method = match parsed.method.unwrap_or("") {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            _ => Method::Other,
        };
        let target = parsed.path.unwrap_or("/");
        request.path.clear();
        request.path.push_str(target.split_once('?').map_or(target, |(path, _)| path));
        request.keep_alive = !heads.close && (minor == 1 || heads.keep_alive);
        request.framing = heads.framing();
        if minor == 0 && matches!(request.framing, Ok(Framing::Chunked)) {
            // HTTP/1.0 has no chunked coding: a proxy would not have read the body as such.
            request.framing = Err((400, "Transfer-Encoding in an HTTP/1.0 request".into()));
        }
        request.upgrade = heads.upgrade;
        request.expect = match heads.expect {
            None => Expect::None,
            Some(v) if v.trim_ascii().eq_ignore_ascii_case(b"100-continue") => Expect::Continue,
            Some(_) => Expect::Other,
        };
        request.content_type = match request.method {
            Method::Post => check_content_type(heads.content_type),
            _ => Ok(()),
        };
        match (heads.authorization, &mut request.authorization) {
            (None, kept) => *kept = None,
            (Some(value), Some(kept)) => {
                kept.clear();
                kept.extend_from_slice(value);
            }
            (Some(value), kept) => *kept = Some(value.to_vec()),
        }
        Ok(Some(len))
    }

    /// Reads a body of `len` bytes into `out` (cleared first) before `deadline`.
    pub(crate) fn body(
        &mut self,
        stream: &Stream,
        len: usize,
        deadline: Instant,
        out: &mut Vec<u8>,
    ) -> Result<(), BodyError> {
        out.clear();
        let here = len.min(self.end - self.start);
        out.extend_from_slice(&self.buf[self.start..self.start + here]);
        self.start += here;
        if here == len {
            return Ok(());
        }
        out.resize(len, 0);
        let mut got = here;
        while got < len {
            match (&*stream).read(&mut out[got..]) {
                Ok(0) => return Err(BodyError::Short { got }),
                Ok(_) if Instant::now() >= deadline => return Err(BodyError::Stop(Stop::TimedOut)),
                Ok(n) => got += n,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if Instant::now() >= deadline {
                        return Err(BodyError::Stop(Stop::TimedOut));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted) => {
                    return Err(BodyError::Stop(Stop::Closed));
                }
                Err(e) => return Err(BodyError::Stop(Stop::Failed(e))),
            }
        }
        Ok(())
    }

    /// Reads a chunked body into `out` (cleared first), at most `max` bytes; past that, the
    /// rest is read and discarded up to `drain` bytes in all, so the connection can go on.
    /// Trailer fields are read and ignored.
    pub(crate) fn chunked(
        &mut self,
        stream: &Stream,
        max: usize,
        drain: usize,
        deadline: Instant,
        out: &mut Vec<u8>,
    ) -> Result<(), BodyError> {
        out.clear();
        let mut total = 0usize;
        loop {
            let line = self.line(stream, deadline)?;
            let size = chunk_size(&self.buf[line.0..line.1]).ok_or_else(|| {
                BodyError::Bad(format!("bad chunk size line {:?}", String::from_utf8_lossy(&self.buf[line.0..line.1])))
            })?;
            if size == 0 {
                break;
            }
            total = total.saturating_add(size);
            if total > drain {
                return Err(BodyError::TooLarge { drained: false });
            }
            let mut left = size;
            while left > 0 {
                if self.start == self.end {
                    self.fill(stream, deadline, self.buf.len(), &|| false).map_err(BodyError::Stop)?;
                }
                let take = left.min(self.end - self.start);
                if total <= max {
                    out.extend_from_slice(&self.buf[self.start..self.start + take]);
                }
                self.start += take;
                left -= take;
            }
            let end = self.line(stream, deadline)?;
            if end.0 != end.1 {
                return Err(BodyError::Bad("chunk data longer than its size".into()));
            }
        }
        // Trailer fields, up to the empty line.
        let mut trailers = 0;
        loop {
            let line = self.line(stream, deadline)?;
            if line.0 == line.1 {
                break;
            }
            trailers += line.1 - line.0;
            if trailers > CHUNK_LINE {
                return Err(BodyError::Bad("trailer fields too long".into()));
            }
        }
        match total > max {
            true => Err(BodyError::TooLarge { drained: true }),
            false => Ok(()),
        }
    }

    /// The next CRLF-ended line of a chunked body, as a range of the buffer (CRLF excluded;
    /// taken). A bare LF or CR, or a line over [`CHUNK_LINE`], is refused.
    fn line(&mut self, stream: &Stream, deadline: Instant) -> Result<(usize, usize), BodyError> {
        let mut looked = self.start;
        loop {
            if let Some(at) = self.buf[looked..self.end].iter().position(|&b| b == b'\n') {
                let lf = looked + at;
                if lf == self.start || self.buf[lf - 1] != b'\r' || self.buf[self.start..lf - 1].contains(&b'\r') {
                    return Err(BodyError::Bad("a chunk line not ended by CRLF".into()));
                }
                let line = (self.start, lf - 1);
                self.start = lf + 1;
                return Ok(line);
            }
            if self.end - self.start > CHUNK_LINE {
                return Err(BodyError::Bad("chunk line too long".into()));
            }
            let held = self.end - self.start;
            self.fill(stream, deadline, (CHUNK_LINE + 2).max(self.buf.len()), &|| false).map_err(BodyError::Stop)?;
            looked = self.start + held;
        }
    }

    /// Reads and discards what the client sends until it closes, for at most `for_at_most`
    /// or `bytes`: an answer written before a close is then not destroyed by a reset, which
    /// closing with unread bytes would send (a lingering close).
    pub(crate) fn linger(&mut self, stream: &Stream, for_at_most: std::time::Duration, bytes: usize) {
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let deadline = Instant::now() + for_at_most;
        let mut read = 0;
        while read < bytes {
            (self.start, self.end) = (0, 0);
            match self.fill(stream, deadline, self.buf.len(), &|| false) {
                Ok(()) => read += self.end,
                Err(_) => break,
            }
        }
        (self.start, self.end) = (0, 0);
    }
}

/// Whether a head holds a CR or LF that is not part of a CRLF.
fn bare_line_end(head: &[u8]) -> bool {
    head.iter().enumerate().any(|(i, &b)| match b {
        b'\n' => i == 0 || head[i - 1] != b'\r',
        b'\r' => head.get(i + 1) != Some(&b'\n'),
        _ => false,
    })
}

/// The size of a chunk-size line (`1a`, `1a;ext=v`): hex digits, no sign, no overflow.
fn chunk_size(line: &[u8]) -> Option<usize> {
    let digits = line.split(|&b| b == b';').next()?.trim_ascii_end();
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    usize::from_str_radix(text, 16).ok()
}

const ACCEPTED: &str = "application/json, application/json-rpc or application/jsonrequest";

/// Accepts the JSON types, any case, with parameters; a charset other than UTF-8 is refused.
pub(crate) fn check_content_type(value: Option<&[u8]>) -> Result<(), String> {
    let Some(value) = value else {
        return Err(format!("missing Content-Type: use {ACCEPTED}"));
    };
    if value.eq_ignore_ascii_case(b"application/json") {
        return Ok(()); // what nearly every client sends
    }
    let value = String::from_utf8_lossy(value);
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or("").trim();
    let accepted = ["application/json", "application/json-rpc", "application/jsonrequest"];
    if !accepted.iter().any(|a| mime.eq_ignore_ascii_case(a)) {
        return Err(format!("unsupported Content-Type {value:?}: use {ACCEPTED}"));
    }
    for param in parts {
        let (key, val) = param.split_once('=').unwrap_or((param, ""));
        let val = val.trim().trim_matches('"');
        if key.trim().eq_ignore_ascii_case("charset") && !val.eq_ignore_ascii_case("utf-8") {
            return Err(format!("unsupported charset {val:?}: use UTF-8"));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
