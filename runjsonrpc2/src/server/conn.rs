//! One connection, start to end, on one thread: read the head, judge the framing, read the
//! body, route, answer, write, next. Nothing is handed to another thread, but an answer at
//! a call's deadline (see `deadline.rs`).

use super::access::{AccessLog, Buffer, Line, Lines};
use super::deadline::Slot;
use super::framing::Framing;
use super::listen::Stream;
use super::reader::{BodyError, Expect, HeadError, HeadLimits, Input, Request, Stop};
use super::route::{self, Reply, Verdict, Who};
use super::shared::Shared;
use super::stop::Registered;
use super::wire::{Answer, Then, Wire};
use crate::seen::Seen;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

/// How long a connection closed on an error reads on, so the client sees the answer rather
/// than a reset (nginx's `lingering_time` is 30 s; a client still sending is owed less).
const LINGER: Duration = Duration::from_secs(2);
/// The most bytes read while lingering.
const LINGER_BYTES: usize = 1 << 20;
/// The most of a refused chunked body read and discarded so the connection can go on.
const DRAIN: usize = 64 << 20;

/// What a connection thread keeps from one request (and one connection) to the next.
pub(crate) struct Scratch {
    input: Input,
    request: Request,
    /// The body, shared with the deadline watchdog while its calls run.
    body: Arc<Vec<u8>>,
    out: Vec<u8>,
    wire: Wire,
    who: Who,
    slot: Option<Arc<Slot>>,
    /// For the access log (filled only when there is one): the calls, the user, when the
    /// head was read, and the line.
    seen: Seen,
    user: Option<String>,
    started: Option<Instant>,
    /// The connection's client address as JSON text.
    remote: String,
    lines: Lines,
    /// This thread's buffer in the access log.
    log_buffer: Option<Buffer>,
}

impl Scratch {
    pub(crate) fn new(shared: &Shared, slot: Option<Arc<Slot>>) -> Scratch {
        Scratch {
            input: Input::new(),
            request: Request::new(),
            body: Arc::new(Vec::new()),
            out: Vec::new(),
            wire: Wire::new(),
            who: Who::new(&shared.extras),
            slot,
            seen: Seen::default(),
            user: None,
            started: None,
            remote: String::new(),
            lines: Lines::default(),
            log_buffer: None,
        }
    }

    pub(crate) fn slot(&self) -> Option<&Arc<Slot>> {
        self.slot.as_ref()
    }

    /// A rare large body or answer should not keep its memory for the life of the thread.
    fn shrink(&mut self) {
        if self.body.capacity() > 1 << 20 {
            self.body = Arc::new(Vec::new());
        }
        if self.out.capacity() > 1 << 20 {
            self.out = Vec::new();
        }
    }
}

/// How a connection goes on after a request.
enum Next {
    KeepAlive,
    Close,
    /// Close, reading on a little first (see [`LINGER`]): bytes the client sent may be unread.
    Linger,
}

/// How long a read blocks before its deadline is looked at: a quarter of the shortest
/// timeout, within 10 ms and 1 s.
fn slice(shared: &Shared) -> Duration {
    let c = &shared.config;
    (c.header_timeout.min(c.body_timeout).min(c.keepalive_timeout) / 4)
        .clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// Serves `stream` until it closes.
pub(crate) fn serve(stream: Stream, peer: Option<SocketAddr>, shared: &Shared, scratch: &mut Scratch) {
    if let Err(e) = stream
        .set_read_timeout(Some(slice(shared)))
        .and_then(|()| stream.set_write_timeout(Some(shared.config.write_timeout)))
    {
        log::debug!("cannot set a connection's timeouts ({e}): closing it");
        return;
    }
    let link = shared.stopper.register(stream);
    scratch.input.reset();
    let ip = peer.map(|p| p.ip());
    if shared.access.is_some() {
        use std::fmt::Write;
        scratch.remote.clear();
        let _ = match ip {
            Some(ip) => write!(scratch.remote, "\"{ip}\""),
            None => write!(scratch.remote, "null"),
        };
    }
    loop {
        let next = request(&link, ip, shared, scratch);
        if let Some(access) = &shared.access {
            log(access, scratch);
        }
        scratch.shrink();
        match next {
            Next::KeepAlive => {}
            Next::Close => break,
            Next::Linger => {
                crate::metrics::closed_on_error();
                scratch.input.linger(&link.link.stream, LINGER, LINGER_BYTES);
                break;
            }
        }
    }
}

/// One request on the connection, from its head to its answer.
fn request(link: &Registered<'_>, ip: Option<IpAddr>, shared: &Shared, s: &mut Scratch) -> Next {
    let (config, stopper) = (&shared.config, &shared.stopper);
    let stream = &link.link.stream;
    // 1. The head.
    let limits = HeadLimits { bytes: config.max_header_bytes, fields: config.max_headers };
    let idle = Instant::now() + config.keepalive_timeout;
    let quit = || stopper.stopping();
    let times = (idle, config.header_timeout);
    let head = s.input.head(stream, &mut s.request, limits, times, &quit, &|i| link.idle(i));
    match head {
        Ok(()) => {}
        Err(HeadError::Idle(stop) | HeadError::Broken(stop)) => {
            if let Stop::Failed(e) = stop {
                log::debug!("reading a request failed: {e}");
            }
            return Next::Close;
        }
        Err(HeadError::Refused(status, message)) => {
            refuse(stream, &mut s.wire, 1, &Reply::text(status, message), Then::Close);
            return Next::Linger;
        }
    }
    if shared.access.is_some() {
        s.started = Some(Instant::now());
    }
    let request = &s.request;
    log::debug!("{} {}", request.method.as_str(), request.path);
    if let Some(max) = config.max_requests
        && shared.served.fetch_add(1, Ordering::SeqCst) + 1 == max
    {
        // This one is still answered (saying `Connection: close`), then the worker retires.
        stopper.retire(super::stop::RetireReason::MaxRequests(max));
    }
    // 2. The framing: a body whose end is ambiguous ends the connection.
    let framing = match &request.framing {
        Ok(framing) => *framing,
        Err((status, message)) => {
            refuse(stream, &mut s.wire, request.minor, &Reply::text(*status, message.clone()), Then::Close);
            return Next::Linger;
        }
    };
    if let Framing::Length(announced) = framing
        && announced > config.max_body
    {
        let message = format!("body of {announced} bytes is over the limit of {} bytes", config.max_body);
        refuse(stream, &mut s.wire, request.minor, &Reply::text(413, message), Then::Close);
        return Next::Linger;
    }
    if request.upgrade {
        // A proxy may take the bytes after this head for another protocol's: never read on.
        let reply = Reply::text(400, "protocol upgrades are not supported");
        refuse(stream, &mut s.wire, request.minor, &reply, Then::Close);
        return Next::Linger;
    }
    let then = if request.keep_alive && !stopper.stopping() { Then::KeepAlive } else { Then::Close };
    if request.expect == Expect::Other {
        let reply = Reply::text(417, "only Expect: 100-continue is understood");
        return answered(refuse(stream, &mut s.wire, request.minor, &reply, Then::Close), Next::Linger);
    }
    // 3. The door and the route.
    let users = match &config.auth {
        Some(_) => shared.users.read().unwrap_or_else(|e| e.into_inner()).clone(),
        None => None,
    };
    let user = match route::judge(shared, request, users.as_deref(), ip) {
        Verdict::Call(user) => user,
        Verdict::Reply(reply) => {
            // The body is read and dropped first, so the connection can go on; not when
            // the client waits for a 100 (Continue) before sending it.
            let (then, next) = match (request.has_body(), request.expect) {
                (false, _) => (then, Next::KeepAlive),
                (true, Expect::Continue) => (Then::Close, Next::Linger),
                (true, _) => {
                    let minor = request.minor;
                    match read_body(s, stream, framing, config.max_body, config.body_timeout) {
                        Ok(()) | Err(BodyError::TooLarge { drained: true }) => (then, Next::KeepAlive),
                        Err(BodyError::Stop(Stop::Closed | Stop::Failed(_))) => return Next::Close,
                        Err(_) => {
                            refuse(stream, &mut s.wire, minor, &reply, Then::Close);
                            return Next::Linger;
                        }
                    }
                }
            };
            let minor = s.request.minor;
            return answered(refuse(stream, &mut s.wire, minor, &reply, then), next_after(then, next));
        }
    };
    // 4. The body.
    let minor = request.minor;
    if request.expect == Expect::Continue && minor == 1 && !s.input.buffered() {
        let mut writer = stream;
        if writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
            return Next::Close;
        }
    }
    if let Err(e) = read_body(s, stream, framing, config.max_body, config.body_timeout) {
        let (reply, next) = match e {
            BodyError::TooLarge { drained } => {
                let reply = Reply::text(413, format!("body over the limit of {} bytes", config.max_body));
                (reply, if drained { Next::KeepAlive } else { Next::Linger })
            }
            BodyError::Bad(message) => (Reply::text(400, message), Next::Linger),
            BodyError::Short { got } => {
                let Framing::Length(announced) = framing else { return Next::Close };
                (Reply::text(400, format!("body ended after {got} of the {announced} bytes announced")), Next::Linger)
            }
            BodyError::Stop(Stop::TimedOut) => (Reply::text(408, "the request body took too long"), Next::Linger),
            BodyError::Stop(Stop::Closed | Stop::Failed(_)) => return Next::Close,
        };
        let then = match next {
            Next::KeepAlive => then,
            _ => Then::Close,
        };
        return answered(refuse(stream, &mut s.wire, minor, &reply, then), next_after(then, next));
    }
    // 5. The calls, with the deadline watching.
    let started = config.metrics.then(Instant::now);
    let extras = s.who.set(user.map(crate::auth::User::name), ip);
    let seen = match shared.access {
        Some(_) => {
            s.user = user.map(|u| u.name().to_owned());
            Some(&mut s.seen)
        }
        None => None,
    };
    s.out.clear();
    shared.calls.fetch_add(1, Ordering::SeqCst);
    let answered_here = match &s.slot {
        None => Some(route::call(shared, &s.body, user, extras, &mut s.out, seen)),
        Some(slot) => {
            shared.deadlines.begin(slot, &link.link, minor, &s.body);
            let answer = route::call(shared, &s.body, user, extras, &mut s.out, seen);
            shared.deadlines.end(slot).then_some(answer)
        }
    };
    shared.calls.fetch_sub(1, Ordering::SeqCst);
    // Answered at the deadline: this thread never writes on the connection again.
    let Some(any) = answered_here else { return Next::Close };
    // 6. The answer.
    let then = if stopper.stopping() { Then::Close } else { then };
    let answer = if any { Answer::Json(&s.out) } else { Answer::NoContent };
    let written = write(stream, &mut s.wire, minor, answer, then);
    if let Some(started) = started {
        crate::metrics::latency(started.elapsed());
    }
    answered(written, next_after(then, Next::KeepAlive))
}

/// Writes the access log's line for the request just answered (none when nothing was: a
/// connection that closed between requests, or a call answered at its deadline).
fn log(access: &AccessLog, s: &mut Scratch) {
    let started = s.started.take();
    if let Some((status, bytes)) = s.wire.take_last() {
        let (method, path) = match started {
            Some(_) => (s.request.method.as_str(), s.request.path.as_str()),
            None => ("-", "-"), // a head refused before it was read whole
        };
        let line = Line {
            remote: &s.remote,
            user: s.user.as_deref(),
            method,
            path,
            status,
            seen: (s.seen.calls > 0 || !s.seen.codes.is_empty()).then_some(&s.seen),
            bytes,
            took: started.map_or(Duration::ZERO, |t| t.elapsed()),
        };
        line.write_to(SystemTime::now(), &mut s.lines);
        access.write(&mut s.log_buffer, &s.lines.buf);
    }
    s.user = None;
    s.seen.clear();
}

/// Reads the body as framed into the scratch buffer.
fn read_body(s: &mut Scratch, stream: &Stream, framing: Framing, max: usize, time: Duration) -> Result<(), BodyError> {
    let deadline = Instant::now() + time;
    let body = Arc::make_mut(&mut s.body);
    match framing {
        Framing::Length(len) => s.input.body(stream, len, deadline, body),
        Framing::Chunked => s.input.chunked(stream, max, DRAIN.max(max), deadline, body),
    }
}

/// `next`, unless the answer says the connection closes.
fn next_after(then: Then, next: Next) -> Next {
    match (then, next) {
        (Then::Close, Next::KeepAlive) => Next::Close,
        (_, next) => next,
    }
}

/// `next` when the answer was written, else close.
fn answered(written: bool, next: Next) -> Next {
    if written { next } else { Next::Close }
}

/// Writes a reply other than the RPC path's; whether it was written whole.
fn refuse(stream: &Stream, wire: &mut Wire, minor: u8, reply: &Reply, then: Then) -> bool {
    let (status, answer, text);
    match reply {
        Reply::Text { status: st, message, header } => {
            status = *st;
            text = format!("{message}\n");
            let header = header.as_ref().map(|(name, value)| (*name, value.as_str()));
            let content_type = "text/plain; charset=utf-8";
            answer = Answer::Other { status, content_type, header, body: text.as_bytes() };
        }
        Reply::Data { content_type, body } => {
            status = 200;
            answer = Answer::Other { status, content_type, header: None, body };
        }
    }
    if status >= 400 {
        crate::metrics::refused(status);
    }
    write(stream, wire, minor, answer, then)
}

/// Writes an answer whole: its head (with a small body) in one write, a large body after.
fn write(stream: &Stream, wire: &mut Wire, minor: u8, answer: Answer<'_>, then: Then) -> bool {
    let (head, rest) = wire.frame(minor, answer, then);
    let mut writer = stream;
    writer.write_all(head).and_then(|()| writer.write_all(rest)).is_ok()
}
