//! The headers that say where a request's body ends, read once, and the framings refused.
//!
//! tiny_http reads the next request on a connection from wherever the last body ended, as it
//! judged that end: the first `Content-Length` as `usize` parses it (`+5` included), any
//! `Transfer-Encoding` as chunked, nothing when a `Content-Length` does not parse. A proxy in
//! front may judge otherwise, and the bytes between the two ends would be read as a request
//! the proxy never saw (request smuggling). So a request is refused, and its connection
//! closed, unless its body is delimited one unambiguous way (RFC 9112, 6.1-6.3).

use tiny_http::Request;

/// The headers the server acts on, from one pass over a request's headers.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Heads<'r> {
    pub content_type: Option<&'r str>,
    /// `Upgrade`, or "upgrade" anywhere in `Connection` (as tiny_http decides it).
    pub upgrade: bool,
    transfer_encoding: Option<&'r str>,
    content_length: Option<&'r str>,
    /// More than one `Transfer-Encoding`, or `Content-Length`s that differ.
    repeated: bool,
    /// A header holds a bare CR or LF: tiny_http ends lines only at CRLF, where a proxy may
    /// have ended one at the LF and seen another header (a `Transfer-Encoding`, say).
    bare_line_end: bool,
}

/// How a body is delimited.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// By `Content-Length`, or no body at all.
    Length,
    /// By chunked transfer coding.
    Chunked,
}

impl<'r> Heads<'r> {
    pub(crate) fn of(request: &'r Request) -> Heads<'r> {
        Heads::from_pairs(request.headers().iter().map(|h| (h.field.as_str().as_str(), h.value.as_str())))
    }

    fn from_pairs(pairs: impl Iterator<Item = (&'r str, &'r str)>) -> Heads<'r> {
        let mut heads = Heads::default();
        for (field, value) in pairs {
            heads.bare_line_end |= value.bytes().any(|b| b == b'\n' || b == b'\r');
            // The length picks the one name a field can be, so each field is compared once.
            match field.len() {
                12 if field.eq_ignore_ascii_case("Content-Type") => heads.content_type = Some(value),
                17 if field.eq_ignore_ascii_case("Transfer-Encoding") => {
                    heads.repeated |= heads.transfer_encoding.replace(value).is_some();
                }
                14 if field.eq_ignore_ascii_case("Content-Length") => {
                    heads.repeated |= heads.content_length.replace(value).is_some_and(|first| first != value);
                }
                7 if field.eq_ignore_ascii_case("Upgrade") => heads.upgrade = true,
                10 if field.eq_ignore_ascii_case("Connection") => {
                    heads.upgrade |= value.as_bytes().windows(7).any(|w| w.eq_ignore_ascii_case(b"upgrade"));
                }
                _ => {}
            }
        }
        heads
    }

    /// How the body is delimited, or why that is ambiguous: the status and a one-line message.
    pub(crate) fn framing(&self) -> Result<Framing, (u16, String)> {
        let ambiguous = |what: &str| Err((400, format!("{what}: the end of the body is ambiguous")));
        match (self.transfer_encoding, self.content_length) {
            _ if self.bare_line_end => ambiguous("a header holds a bare CR or LF"),
            _ if self.repeated => ambiguous("repeated Transfer-Encoding or differing Content-Length"),
            (Some(_), Some(_)) => ambiguous("both Transfer-Encoding and Content-Length"),
            (Some(te), None) if te.trim().eq_ignore_ascii_case("chunked") => Ok(Framing::Chunked),
            // Chunked last, after codings this server does not decode (RFC 9112 6.1: 501)...
            (Some(te), None)
                if te.rsplit(',').next().is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked")) =>
            {
                Err((501, format!("unsupported Transfer-Encoding {te:?}: use chunked")))
            }
            // ... or not last, so nothing says where the body ends (6.3: 400).
            (Some(te), None) => ambiguous(&format!("Transfer-Encoding {te:?} does not end in chunked")),
            // Digits only, and within `usize`: tiny_http's parse takes `+5` and refuses what
            // overflows, seeing no body at all.
            (None, Some(len)) if !len.bytes().all(|b| b.is_ascii_digit()) || len.parse::<usize>().is_err() => {
                ambiguous(&format!("Content-Length {len:?} is not a number"))
            }
            (None, _) => Ok(Framing::Length),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Framing, Heads};

    /// A request's headers, as name and value.
    type Headers<'a> = &'a [(&'a str, &'a str)];

    /// Each set of headers, and the framing read from it or its refusal's status.
    #[test]
    fn framings() {
        #[rustfmt::skip]
        let cases: &[(Headers<'_>, Result<Framing, u16>)] = &[
            (&[], Ok(Framing::Length)),
            (&[("Content-Length", "54")], Ok(Framing::Length)),
            (&[("content-length", "0")], Ok(Framing::Length)),
            (&[("Content-Length", "54"), ("Content-Length", "54")], Ok(Framing::Length)),
            (&[("Transfer-Encoding", "chunked")], Ok(Framing::Chunked)),
            (&[("transfer-encoding", " Chunked ")], Ok(Framing::Chunked)),
            (&[("Content-Length", "54"), ("Content-Length", "5")], Err(400)),
            (&[("Content-Length", "+5")], Err(400)),
            (&[("Content-Length", "abc")], Err(400)),
            (&[("Content-Length", "")], Err(400)),
            (&[("Content-Length", "-1")], Err(400)),
            (&[("Content-Length", "99999999999999999999")], Err(400)),
            (&[("Content-Length", "18446744073709551615")], Ok(Framing::Length)),
            (&[("Transfer-Encoding", "chunked"), ("Content-Length", "5")], Err(400)),
            (&[("Content-Length", "5"), ("Transfer-Encoding", "chunked")], Err(400)),
            (&[("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")], Err(400)),
            (&[("Transfer-Encoding", "gzip")], Err(400)),
            (&[("Transfer-Encoding", "gzip, chunked")], Err(501)),
            (&[("Transfer-Encoding", "chunked, gzip")], Err(400)),
            (&[("X", "a\nTransfer-Encoding: chunked"), ("Content-Length", "5")], Err(400)),
            (&[("X", "a\rb")], Err(400)),
            (&[("X", "a\tb")], Ok(Framing::Length)),
        ];
        for (headers, want) in cases {
            let heads = Heads::from_pairs(headers.iter().copied());
            assert_eq!(heads.framing().map_err(|(status, _)| status), *want, "{headers:?}");
        }
    }

    /// The other headers read in the same pass.
    #[test]
    fn content_type_and_upgrade() {
        #[rustfmt::skip]
        let cases: &[(Headers<'_>, Option<&str>, bool)] = &[
            (&[("Content-Type", "application/json")], Some("application/json"), false),
            (&[("Upgrade", "h2c")], None, true),
            (&[("Connection", "keep-alive, x-Upgraded")], None, true),
            (&[("Connection", "keep-alive")], None, false),
        ];
        for (headers, content_type, upgrade) in cases {
            let heads = Heads::from_pairs(headers.iter().copied());
            assert_eq!((heads.content_type, heads.upgrade), (*content_type, *upgrade), "{headers:?}");
        }
    }
}
