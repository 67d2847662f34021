//! The input's judgments, table-driven, over a real socket pair: heads, bodies, chunks.

use super::*;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

const LIMITS: HeadLimits = HeadLimits { bytes: 1024, fields: 8 };

/// `sent` written to one end of a socket pair (then closed), the other end as a stream.
fn stream_of(sent: &[u8]) -> Stream {
    let (ours, theirs) = UnixStream::pair().unwrap();
    theirs.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let sent = sent.to_vec();
    std::thread::spawn(move || {
        let mut ours = ours;
        let _ = ours.write_all(&sent);
    });
    Stream::Unix(theirs)
}

fn head_of(sent: &[u8]) -> (Result<(), HeadError>, Request, Input, Stream) {
    let stream = stream_of(sent);
    let mut input = Input::new();
    let mut request = Request::new();
    let soon = Instant::now() + Duration::from_secs(5);
    let got = input.head(&stream, &mut request, LIMITS, (soon, Duration::from_secs(5)), &|| false, &|_| {});
    (got, request, input, stream)
}

/// The status a head is refused with, or 0 when it is read.
fn status(sent: &[u8]) -> u16 {
    match head_of(sent).0 {
        Ok(()) => 0,
        Err(HeadError::Refused(status, _)) => status,
        Err(e) => panic!("{:?}: {e:?}", String::from_utf8_lossy(sent)),
    }
}

#[test]
fn heads_are_read_or_refused() {
    let many = format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(9));
    let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(2000));
    let long_head = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(2000));
    #[rustfmt::skip]
    let cases: &[(&[u8], u16)] = &[
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0),
        (b"POST /a?b=c HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}", 0),
        (b"GET / HTTP/1.1\r\nX: a\nY: b\r\n\r\n", 0), // read; the framing then refuses it
        (b"HELLO\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400), // obs-fold
        (b"GET / HTTP/2.0\r\n\r\n", 400),
        (many.as_bytes(), 431),
        (long_line.as_bytes(), 414),
        (long_head.as_bytes(), 431),
    ];
    for &(sent, want) in cases {
        assert_eq!(status(sent), want, "{:?}", String::from_utf8_lossy(sent));
    }
}

#[test]
fn what_a_head_says() {
    let (got, r, _, _) = head_of(b"POST /rpc?x=1 HTTP/1.0\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nAuthorization: Basic eA==\r\nContent-Length: 7\r\n\r\n");
    got.unwrap();
    assert_eq!((r.method, r.path.as_str(), r.minor, r.keep_alive), (Method::Post, "/rpc", 0, true));
    assert_eq!((r.framing.clone(), r.content_type.clone()), (Ok(Framing::Length(7)), Ok(())));
    assert_eq!(r.authorization.as_deref(), Some(&b"Basic eA=="[..]));
    #[rustfmt::skip]
    type Case<'a> = (&'a [u8], bool, Expect, Result<Framing, u16>);
    let cases: &[Case<'_>] = &[
        (b"GET / HTTP/1.1\r\n\r\n", true, Expect::None, Ok(Framing::Length(0))),
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false, Expect::None, Ok(Framing::Length(0))),
        (b"GET / HTTP/1.0\r\n\r\n", false, Expect::None, Ok(Framing::Length(0))),
        (
            b"POST / HTTP/1.1\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n",
            true,
            Expect::Continue,
            Ok(Framing::Chunked),
        ),
        (b"POST / HTTP/1.1\r\nExpect: x\r\n\r\n", true, Expect::Other, Ok(Framing::Length(0))),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", false, Expect::None, Err(400)),
        (
            b"POST / HTTP/1.1\r\nX: a\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            true,
            Expect::None,
            Err(400),
        ),
    ];
    for &(sent, keep_alive, expect, framing) in cases {
        let (got, r, _, _) = head_of(sent);
        got.unwrap();
        let seen = (r.keep_alive, r.expect, r.framing.map_err(|(status, _)| status));
        assert_eq!(seen, (keep_alive, expect, framing), "{:?}", String::from_utf8_lossy(sent));
    }
}

/// A client that closes before a head is idle (no answer owed); partway through, broken.
#[test]
fn heads_that_end_early() {
    assert!(matches!(head_of(b"").0, Err(HeadError::Idle(Stop::Closed))));
    assert!(matches!(head_of(b"GET / HT").0, Err(HeadError::Broken(Stop::Closed))));
}

/// A head that does not come whole in time is refused 408; a connection idle past its
/// keep-alive time ends silently.
#[test]
fn slow_heads_time_out() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    theirs.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let stream = Stream::Unix(theirs);
    let (mut input, mut request) = (Input::new(), Request::new());
    let idle = Instant::now() + Duration::from_millis(50);
    let got = input.head(&stream, &mut request, LIMITS, (idle, Duration::from_millis(50)), &|| false, &|_| {});
    assert!(matches!(got, Err(HeadError::Idle(Stop::TimedOut))), "{got:?}");
    (&ours).write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let later = Instant::now() + Duration::from_secs(5);
    let got = input.head(&stream, &mut request, LIMITS, (later, Duration::from_millis(50)), &|| false, &|_| {});
    assert!(matches!(got, Err(HeadError::Refused(408, _))), "{got:?}");
}

/// Bodies by length, pipelined requests behind them left for the next head.
#[test]
fn bodies_by_length_leave_the_next_request() {
    let (got, _, mut input, stream) =
        head_of(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n");
    got.unwrap();
    let mut body = Vec::new();
    input.body(&stream, 5, Instant::now() + Duration::from_secs(5), &mut body).unwrap();
    assert_eq!(body, b"hello");
    assert!(input.buffered());
    let mut next = Request::new();
    let soon = Instant::now() + Duration::from_secs(5);
    input.head(&stream, &mut next, LIMITS, (soon, Duration::from_secs(5)), &|| false, &|_| {}).unwrap();
    assert_eq!(next.method, Method::Get);
    // A body cut short.
    let (got, _, mut input, stream) = head_of(b"POST / HTTP/1.1\r\nContent-Length: 50\r\n\r\nhello");
    got.unwrap();
    let cut = input.body(&stream, 50, Instant::now() + Duration::from_secs(5), &mut body);
    assert!(matches!(cut, Err(BodyError::Short { got: 5 })), "{cut:?}");
}

/// Chunked bodies: decoded, over the limit (drained or not), or refused.
#[test]
fn chunked_bodies() {
    #[derive(Debug, PartialEq)]
    enum Want {
        Body(&'static [u8]),
        TooLarge(bool),
        Bad,
        Closed,
    }
    #[rustfmt::skip]
    let cases: &[(&[u8], Want)] = &[
        (b"5\r\nhello\r\n0\r\n\r\n", Want::Body(b"hello")),
        (b"2\r\nhe\r\n3;ext=1\r\nllo\r\n0\r\n\r\n", Want::Body(b"hello")),
        (b"5\r\nhello\r\n0\r\nTrailer: x\r\n\r\n", Want::Body(b"hello")),
        (b"A\r\n0123456789\r\n0\r\n\r\n", Want::Body(b"0123456789")),
        (b"0\r\n\r\n", Want::Body(b"")),
        (b"11\r\n0123456789abcdefg\r\n0\r\n\r\n", Want::TooLarge(true)),
        (b"64\r\n", Want::TooLarge(false)), // 100 bytes: past the drain limit of 50
        (b"zz\r\nhello\r\n0\r\n\r\n", Want::Bad),
        (b"-5\r\nhello\r\n0\r\n\r\n", Want::Bad),
        (b"+5\r\nhello\r\n0\r\n\r\n", Want::Bad),
        (b"\r\nhello\r\n0\r\n\r\n", Want::Bad),
        (b"5\nhello\r\n0\r\n\r\n", Want::Bad),
        (b"5\r\nhelloX\r\n0\r\n\r\n", Want::Bad),
        (b"10000000000000000\r\n", Want::Bad),
        (b"5\r\nhel", Want::Closed),
    ];
    for (sent, want) in cases {
        let mut whole = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        whole.extend_from_slice(sent);
        let (got, _, mut input, stream) = head_of(&whole);
        got.unwrap();
        let mut body = Vec::new();
        let read = input.chunked(&stream, 16, 50, Instant::now() + Duration::from_secs(5), &mut body);
        let seen = match read {
            Ok(()) => Want::Body(Box::leak(body.into_boxed_slice())),
            Err(BodyError::TooLarge { drained }) => Want::TooLarge(drained),
            Err(BodyError::Bad(_)) => Want::Bad,
            Err(BodyError::Stop(Stop::Closed)) => Want::Closed,
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(&seen, want, "{:?}", String::from_utf8_lossy(sent));
    }
}

#[test]
fn content_types() {
    #[rustfmt::skip]
    let cases: &[(Option<&str>, bool)] = &[
        (Some("application/json"), true),
        (Some("Application/JSON; charset=UTF-8"), true),
        (Some("application/json-rpc"), true),
        (Some("application/jsonrequest"), true),
        (Some("application/json; charset=\"utf-8\""), true),
        (Some("application/json; charset=latin-1"), false),
        (Some("text/plain"), false),
        (None, false),
    ];
    for &(value, ok) in cases {
        assert_eq!(check_content_type(value.map(str::as_bytes)).is_ok(), ok, "{value:?}");
    }
}
