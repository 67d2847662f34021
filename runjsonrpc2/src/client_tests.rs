//! The shell client's URL parsing, answer reading and pretty printing.

use super::*;

#[test]
fn urls() {
    let tcp = |a: &str, host: &str, path: &str| (Target::Tcp(a.into()), host.to_owned(), path.to_owned());
    #[rustfmt::skip]
    type Parsed = (Target, String, String);
    let cases: &[(&str, Result<Parsed, &str>)] = &[
        ("http://127.0.0.1:8080/", Ok(tcp("127.0.0.1:8080", "127.0.0.1:8080", "/"))),
        ("http://127.0.0.1:8080", Ok(tcp("127.0.0.1:8080", "127.0.0.1:8080", "/"))),
        ("http://localhost/rpc?x=1", Ok(tcp("localhost:80", "localhost", "/rpc?x=1"))),
        ("http://[::1]:9/a", Ok(tcp("[::1]:9", "[::1]:9", "/a"))),
        ("http://[::1]/", Ok(tcp("[::1]:80", "[::1]", "/"))),
        ("unix:/run/rpc.sock", Ok((Target::Unix("/run/rpc.sock".into()), "localhost".into(), "/".into()))),
        ("unix:", Err("names no socket file")),
        ("https://example.com/", Err("is https, which is not supported")),
        ("ftp://x/", Err("is not http")),
        ("http:///", Err("has no host")),
        ("http://a:b@host/", Err("holds credentials (use --user)")),
        ("http://host:99999/", Err("has port \"99999\", not a number in 0..=65535")),
        ("http://host/a b", Err("holds a space or a control character")),
    ];
    for (text, want) in cases {
        let got = Url::parse(text).map(|u| (u.target, u.host, u.path));
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(&got, want, "{text}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}, wanted {want}"),
            (got, want) => panic!("{text}: got {got:?}, wanted {want:?}"),
        }
    }
}

#[test]
fn answers() {
    #[rustfmt::skip]
    type Read = (u16, bool, &'static str);
    let cases: &[(&str, Result<Read, &str>)] = &[
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", Ok((200, false, "{}"))),
        ("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nConnection: close\r\n\r\n[]", Ok((200, true, "[]"))),
        ("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n1", Ok((200, true, "1"))),
        ("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n1", Ok((200, false, "1"))),
        (
            "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
            Ok((200, false, "abcde")),
        ),
        ("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", Ok((204, false, ""))),
        ("HTTP/1.1 200 OK\r\n\r\nto the end", Ok((200, false, "to the end"))),
        ("HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope", Ok((401, false, "nope"))),
        ("SSH-2.0-OpenSSH\r\n\r\n", Err("status line \"SSH-2.0-OpenSSH\"")),
        ("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", Err("Content-Length \"x\"")),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", Err("two different Content-Lengths")),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n",
            Err("a body of 999999999999 bytes, at most 268435456"),
        ),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Err("chunk size \"zz\"")),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n0\r\n\r\n",
            Err("a chunk longer than its size"),
        ),
        ("HTTP/1.1 200 OK\r\nbroken\r\n\r\n", Err("header line \"broken\"")),
    ];
    for (raw, want) in cases {
        let mut r = BufReader::new(raw.as_bytes());
        let got = read_head(&mut r).and_then(|h| {
            let h = h.expect("an answer");
            read_body(&mut r, &h).map(|b| (h.status, h.close, String::from_utf8(b).unwrap()))
        });
        match (got, want) {
            (Ok((s, c, b)), Ok((ws, wc, wb))) => assert_eq!((s, c, b.as_str()), (*ws, *wc, *wb), "{raw:?}"),
            (Err(ReadError::Bad(got)), Err(want)) => assert_eq!(&got, want, "{raw:?}"),
            (got, want) => panic!("{raw:?}: got {got:?}, wanted {want:?}"),
        }
    }
    assert!(read_head(&mut BufReader::new(&b""[..])).unwrap().is_none(), "a closed connection is no answer");
    let long = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
    let Err(ReadError::Bad(m)) = read_head(&mut BufReader::new(long.as_bytes())) else { panic!("a long head is read") };
    assert_eq!(m, "a head longer than 65536 bytes");
}

#[test]
fn pretty_prints_tokens_as_they_are() {
    #[rustfmt::skip]
    let cases: &[(&str, &str)] = &[
        ("1.50", "1.50"),
        ("[]", "[]"),
        ("{ }", "{}"),
        ("[1,2]", "[\n  1,\n  2\n]"),
        (r#"{"a":[{}],"b:,{[":"x\"y"}"#, "{\n  \"a\": [\n    {}\n  ],\n  \"b:,{[\": \"x\\\"y\"\n}"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
    ];
    for (text, want) in cases {
        assert_eq!(crate::pretty::pretty(text), *want, "{text}");
    }
}
