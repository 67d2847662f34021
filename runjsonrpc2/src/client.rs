//! The shell client's HTTP/1.1: `call --url` POSTs JSON-RPC bodies to a running server over
//! TCP or a Unix socket, on one kept-alive connection, and reads the answers.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The longest answer head (status line and headers) read.
const MAX_HEAD: usize = 64 * 1024;
/// How long a request may take unless `--timeout` says otherwise: past the server's own
/// default deadline for a call (30 s).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest answer body read.
pub(crate) const MAX_BODY: usize = 256 * 1024 * 1024;

/// Where the server is: `http://HOST:PORT/PATH` or `unix:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    /// As given, for messages.
    pub text: String,
    target: Target,
    /// The `Host` header.
    host: String,
    /// The request target.
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// `HOST:PORT`, resolved at each connect.
    Tcp(String),
    Unix(PathBuf),
}

impl Url {
    /// Reads `http://HOST[:PORT][/PATH]` (port 80 by default) or `unix:PATH`.
    pub fn parse(text: &str) -> Result<Url, String> {
        let bad = |why: &str| format!("URL {text:?} {why}: give http://HOST:PORT/PATH or unix:PATH");
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(bad("names no socket file"));
            }
            let target = Target::Unix(PathBuf::from(path));
            return Ok(Url { text: text.to_owned(), target, host: "localhost".into(), path: "/".into() });
        }
        let Some(rest) = text.strip_prefix("http://") else {
            return Err(bad(if text.starts_with("https://") {
                "is https, which is not supported"
            } else {
                "is not http"
            }));
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], &rest[i..]),
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad(if authority.is_empty() { "has no host" } else { "holds credentials (use --user)" }));
        }
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) || authority.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad("holds a space or a control character"));
        }
        // The port is after the last ':' not inside an IPv6 literal's brackets.
        let has_port = authority.rfind(':').is_some_and(|i| !authority[i..].contains(']'));
        let address = if has_port {
            let port = &authority[authority.rfind(':').unwrap() + 1..];
            if port.parse::<u16>().is_err() {
                return Err(bad(&format!("has port {port:?}, not a number in 0..=65535")));
            }
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let target = Target::Tcp(address);
        Ok(Url { text: text.to_owned(), target, host: authority.to_owned(), path })
    }
}

/// Why a request got no JSON-RPC answer: the command's exit code 3.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// Connecting, writing or reading failed (refused, reset, timed out, closed).
    Io(String),
    /// An HTTP status other than 200 and 204, with the body's first line.
    Status(u16, String, String),
    /// An answer that is not HTTP/1.x as it should be.
    Protocol(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Io(m) | ClientError::Protocol(m) => f.write_str(m),
            ClientError::Status(code, reason, body) if body.is_empty() => write!(f, "answered {code} {reason}"),
            ClientError::Status(code, reason, body) => write!(f, "answered {code} {reason}: {body}"),
        }
    }
}

/// An io error in a message's words: lowercase, without the `(os error N)`.
fn describe(e: &io::Error, unix: bool) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset by the server".into(),
        io::ErrorKind::NotFound if unix => "no such socket file".into(),
        io::ErrorKind::UnexpectedEof => "the server closed the connection before answering".into(),
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            let mut chars = text.chars();
            chars.next().map_or_else(String::new, |c| c.to_lowercase().chain(chars).collect())
        }
    }
}

/// One connection, TCP or Unix.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_timeouts(&self, left: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(left)).and_then(|()| s.set_write_timeout(Some(left))),
            Stream::Unix(s) => s.set_read_timeout(Some(left)).and_then(|()| s.set_write_timeout(Some(left))),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A server's answer to one POST.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// 200: the JSON-RPC answer's bytes.
    Json(Vec<u8>),
    /// 204: the request held only notifications.
    NoContent,
}

/// A client of one server: POSTs on one kept-alive connection, reconnecting when it is closed.
pub(crate) struct Client {
    url: Url,
    /// `Basic ...`, when credentials were given.
    authorization: Option<String>,
    timeout: Duration,
    conn: Option<BufReader<Stream>>,
}

/// How reading an answer failed: before its first byte (the request may be sent again on a
/// new connection, if this one was reused) or later.
enum Failure {
    Unanswered(ClientError),
    Other(ClientError),
}

impl Client {
    /// A client of `url`; `credentials` are `(name, secret)`; `timeout` bounds each request
    /// from connect to the answer's last byte.
    pub fn new(url: Url, credentials: Option<(&str, &[u8])>, timeout: Duration) -> Client {
        let authorization = credentials.map(|(name, secret)| {
            let mut pair = format!("{name}:").into_bytes();
            pair.extend_from_slice(secret);
            format!("Basic {}", <base64ct::Base64 as base64ct::Encoding>::encode_string(&pair))
        });
        Client { url, authorization, timeout, conn: None }
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url.text
    }

    /// POSTs `body` and reads the answer. A kept connection that turns out to be closed before
    /// any answer byte (the server closed it while idle) is replaced once and the body resent.
    pub fn post(&mut self, body: &[u8]) -> Result<Answer, ClientError> {
        let deadline = Instant::now() + self.timeout;
        let reused = self.conn.is_some();
        match self.exchange(body, deadline) {
            Err(Failure::Unanswered(_)) if reused => {
                self.conn = None;
                self.exchange(body, deadline).map_err(|(Failure::Unanswered(e) | Failure::Other(e))| e)
            }
            other => other.map_err(|(Failure::Unanswered(e) | Failure::Other(e))| e),
        }
    }

    fn exchange(&mut self, body: &[u8], deadline: Instant) -> Result<Answer, Failure> {
        let result = self.exchange_on(body, deadline);
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    fn exchange_on(&mut self, body: &[u8], deadline: Instant) -> Result<Answer, Failure> {
        let (unix, timeout) = (matches!(self.url.target, Target::Unix(_)), self.timeout);
        let left = |what: &str| {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() { Err(Failure::Other(timed_out(timeout, what))) } else { Ok(left) }
        };
        let io = |e: io::Error, what: &str| io_error(unix, timeout, &e, what);
        let protocol = |why: String| Failure::Other(ClientError::Protocol(format!("not an HTTP/1.1 answer: {why}")));
        let timed = left("connecting")?;
        if self.conn.is_none() {
            self.conn = Some(BufReader::new(self.connect(timed).map_err(Failure::Other)?));
        }
        let mut request = format!("POST {} HTTP/1.1\r\nHost: {}\r\n", self.url.path, self.url.host);
        if let Some(auth) = &self.authorization {
            request.push_str(&format!("Authorization: {auth}\r\n"));
        }
        request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len()));
        let mut request = request.into_bytes();
        request.extend_from_slice(body);
        let timed = left("sending")?;
        let conn = self.conn.as_mut().expect("connected above");
        conn.get_ref().set_timeouts(timed).map_err(|e| Failure::Other(io(e, "sending")))?;
        // A write to a connection the server closed may succeed (the kernel buffers it): the
        // read then tells.
        if let Err(e) = conn.get_mut().write_all(&request) {
            let closed = closed(&e);
            let e = io(e, "sending");
            return Err(if closed { Failure::Unanswered(e) } else { Failure::Other(e) });
        }
        loop {
            let timed = left("waiting for the answer")?;
            conn.get_ref().set_timeouts(timed).map_err(|e| Failure::Other(io(e, "reading")))?;
            let head = match read_head(conn) {
                Ok(Some(head)) => head,
                Ok(None) => {
                    let e = io::Error::from(io::ErrorKind::UnexpectedEof);
                    return Err(Failure::Unanswered(io(e, "reading")));
                }
                Err(ReadError::Io(e, true)) if closed(&e) => {
                    return Err(Failure::Unanswered(io(e, "waiting for the answer")));
                }
                Err(ReadError::Io(e, first)) => {
                    let what = if first { "waiting for the answer" } else { "reading the answer" };
                    return Err(Failure::Other(io(e, what)));
                }
                Err(ReadError::Bad(m)) => return Err(protocol(m)),
            };
            if (100..200).contains(&head.status) {
                continue; // an interim answer (100 Continue), not the answer
            }
            let body = match read_body(conn, &head) {
                Ok(body) => body,
                Err(ReadError::Io(e, _)) => return Err(Failure::Other(io(e, "reading the answer"))),
                Err(ReadError::Bad(m)) => return Err(protocol(m)),
            };
            if head.close {
                self.conn = None;
            }
            return match head.status {
                200 => Ok(Answer::Json(body)),
                204 => Ok(Answer::NoContent),
                status => {
                    let text = String::from_utf8_lossy(&body);
                    let line: String = text.lines().next().unwrap_or("").trim().chars().take(200).collect();
                    Err(Failure::Other(ClientError::Status(status, head.reason, line)))
                }
            };
        }
    }

    fn connect(&self, timeout: Duration) -> Result<Stream, ClientError> {
        match &self.url.target {
            Target::Unix(path) => {
                UnixStream::connect(path).map(Stream::Unix).map_err(|e| io_error(true, self.timeout, &e, "connecting"))
            }
            Target::Tcp(address) => {
                let addrs =
                    address.to_socket_addrs().map_err(|e| io_error(false, self.timeout, &e, "resolving the host"))?;
                let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
                for addr in addrs {
                    match TcpStream::connect_timeout(&addr, timeout) {
                        Ok(s) => {
                            let _ = s.set_nodelay(true);
                            return Ok(Stream::Tcp(s));
                        }
                        Err(e) => last = e,
                    }
                }
                Err(io_error(false, self.timeout, &last, "connecting"))
            }
        }
    }
}

/// Whether `e` says the server closed the connection (not, say, a timeout): a request on a
/// kept connection that fails so was never read, and may be sent again.
fn closed(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof)
}

/// An io error of `what` as the command says it; `unix`: the URL is a Unix socket's.
fn io_error(unix: bool, timeout: Duration, e: &io::Error, what: &str) -> ClientError {
    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
        return timed_out(timeout, what);
    }
    if e.kind() == io::ErrorKind::NotFound && !unix {
        return ClientError::Io(format!("{what}: {}", describe(e, unix)));
    }
    ClientError::Io(describe(e, unix))
}

fn timed_out(timeout: Duration, what: &str) -> ClientError {
    ClientError::Io(format!("timed out {what} (--timeout {} s)", timeout.as_secs_f64()))
}

/// What is kept of an answer's head.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    reason: String,
    length: Option<usize>,
    chunked: bool,
    /// The server closes the connection after this answer.
    close: bool,
}

/// How reading an answer failed: an io error (and whether no byte of the answer had come), or
/// bytes that are not a proper answer.
#[derive(Debug)]
enum ReadError {
    Io(io::Error, bool),
    Bad(String),
}

/// One line of at most `left` bytes (its CRLF or LF included), counted against `left`.
fn read_line(r: &mut impl BufRead, left: &mut usize) -> Result<Vec<u8>, ReadError> {
    let mut line = Vec::new();
    let n = r.take(*left as u64 + 1).read_until(b'\n', &mut line).map_err(|e| ReadError::Io(e, false))?;
    if n > *left {
        return Err(ReadError::Bad(format!("a head longer than {MAX_HEAD} bytes")));
    }
    *left -= n;
    if !line.ends_with(b"\n") {
        return Err(ReadError::Io(io::Error::from(io::ErrorKind::UnexpectedEof), false));
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    Ok(line)
}

/// Reads an answer's head; `None` when the connection closed before its first byte.
fn read_head(r: &mut impl BufRead) -> Result<Option<Head>, ReadError> {
    match r.fill_buf() {
        Ok([]) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(ReadError::Io(e, true)),
    }
    let mut left = MAX_HEAD;
    let line = read_line(r, &mut left)?;
    let line = String::from_utf8_lossy(&line).into_owned();
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let status = parts.next().and_then(|s| s.parse::<u16>().ok()).filter(|s| (100..600).contains(s));
    let (Some(status), true) = (status, version.starts_with("HTTP/1.")) else {
        return Err(ReadError::Bad(format!("status line {:?}", line.chars().take(80).collect::<String>())));
    };
    let reason = parts.next().unwrap_or("").to_owned();
    let mut head = Head { status, reason, length: None, chunked: false, close: version == "HTTP/1.0" };
    loop {
        let line = read_line(r, &mut left)?;
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(&line);
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Bad(format!("header line {:?}", line.chars().take(80).collect::<String>())));
        };
        let value = value.trim();
        let tokens = || value.split(',').map(|t| t.trim().to_ascii_lowercase());
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                let n = value.parse().map_err(|_| ReadError::Bad(format!("Content-Length {value:?}")))?;
                if head.length.is_some_and(|m| m != n) {
                    return Err(ReadError::Bad("two different Content-Lengths".into()));
                }
                head.length = Some(n);
            }
            "transfer-encoding" => head.chunked = tokens().any(|t| t == "chunked"),
            "connection" if tokens().any(|t| t == "close") => head.close = true,
            "connection" if tokens().any(|t| t == "keep-alive") => head.close = false,
            _ => {}
        }
    }
    Ok(Some(head))
}

/// Reads an answer's body: by chunks, by Content-Length, none (204, 304) or to the close.
fn read_body(r: &mut impl BufRead, head: &Head) -> Result<Vec<u8>, ReadError> {
    let too_big = |n: usize| ReadError::Bad(format!("a body of {n} bytes, at most {MAX_BODY}"));
    let io = |e| ReadError::Io(e, false);
    let mut body = Vec::new();
    if matches!(head.status, 204 | 304) {
        return Ok(body);
    }
    if head.chunked {
        loop {
            let mut left = MAX_HEAD;
            let line = read_line(r, &mut left)?;
            let line = String::from_utf8_lossy(&line);
            let size = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16).map_err(|_| ReadError::Bad(format!("chunk size {size:?}")))?;
            if size == 0 {
                // Trailers, read and dropped, to the empty line.
                while !read_line(r, &mut left)?.is_empty() {}
                return Ok(body);
            }
            if body.len().saturating_add(size) > MAX_BODY {
                return Err(too_big(body.len().saturating_add(size)));
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..]).map_err(io)?;
            if !read_line(r, &mut left)?.is_empty() {
                return Err(ReadError::Bad("a chunk longer than its size".into()));
            }
        }
    }
    match head.length {
        Some(n) if n > MAX_BODY => Err(too_big(n)),
        Some(n) => {
            body.resize(n, 0);
            r.read_exact(&mut body).map_err(io)?;
            Ok(body)
        }
        None => {
            r.take(MAX_BODY as u64 + 1).read_to_end(&mut body).map_err(io)?;
            if body.len() > MAX_BODY { Err(too_big(body.len())) } else { Ok(body) }
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
