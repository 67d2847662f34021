//! The headers a request is served by, read in one pass, and the body framings refused.
//!
//! The connection reads the next request from wherever it judged the last body to end. A
//! proxy in front may judge otherwise, and the bytes between the two ends would be read as a
//! request the proxy never saw (request smuggling). So a request is refused, and its
//! connection closed, unless its body is delimited one unambiguous way (RFC 9112, 6.1-6.3).

/// The headers the server acts on, from one pass over a request's headers.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Heads<'r> {
    pub content_type: Option<&'r [u8]>,
    pub authorization: Option<&'r [u8]>,
    pub expect: Option<&'r [u8]>,
    /// `Upgrade`, or "upgrade" anywhere in `Connection` (refused: JSON-RPC has no use for it).
    pub upgrade: bool,
    /// `Connection` holds `close`, or `keep-alive`.
    pub close: bool,
    pub keep_alive: bool,
    transfer_encoding: Option<&'r [u8]>,
    content_length: Option<&'r [u8]>,
    /// More than one `Transfer-Encoding`, or `Content-Length`s that differ.
    repeated: bool,
    /// The head holds a bare CR or LF (outside CRLF): a proxy may have ended a line there and
    /// seen another header (a `Transfer-Encoding`, say) where this server saw none.
    pub bare_line_end: bool,
}

/// How a body is delimited.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum Framing {
    /// By `Content-Length` (0 without one: no body at all).
    Length(usize),
    /// By chunked transfer coding.
    Chunked,
}

impl<'r> Heads<'r> {
    pub(crate) fn from_pairs(pairs: impl Iterator<Item = (&'r str, &'r [u8])>) -> Heads<'r> {
        let mut heads = Heads::default();
        for (field, value) in pairs {
            // The length picks the one name a field can be, so each field is compared once.
            match field.len() {
                12 if field.eq_ignore_ascii_case("Content-Type") => heads.content_type = Some(value),
                13 if field.eq_ignore_ascii_case("Authorization") => heads.authorization = Some(value),
                6 if field.eq_ignore_ascii_case("Expect") => heads.expect = Some(value),
                17 if field.eq_ignore_ascii_case("Transfer-Encoding") => {
                    heads.repeated |= heads.transfer_encoding.replace(value).is_some();
                }
                14 if field.eq_ignore_ascii_case("Content-Length") => {
                    heads.repeated |= heads.content_length.replace(value).is_some_and(|first| first != value);
                }
                7 if field.eq_ignore_ascii_case("Upgrade") => heads.upgrade = true,
                10 if field.eq_ignore_ascii_case("Connection") => {
                    heads.upgrade |= value.windows(7).any(|w| w.eq_ignore_ascii_case(b"upgrade"));
                    for token in value.split(|&b| b == b',') {
                        let token = token.trim_ascii();
                        heads.close |= token.eq_ignore_ascii_case(b"close");
                        heads.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                    }
                }
                _ => {}
            }
        }
        heads
    }

    /// How the body is delimited, or why that is ambiguous: the status and a one-line message.
    pub(crate) fn framing(&self) -> Result<Framing, (u16, String)> {
        let ambiguous = |what: &str| Err((400, format!("{what}: the end of the body is ambiguous")));
        let text = |value: &[u8]| String::from_utf8_lossy(value).into_owned();
        match (self.transfer_encoding, self.content_length) {
            _ if self.bare_line_end => ambiguous("a bare CR or LF in the head"),
            _ if self.repeated => ambiguous("repeated Transfer-Encoding or differing Content-Length"),
            (Some(_), Some(_)) => ambiguous("both Transfer-Encoding and Content-Length"),
            (Some(te), None) if te.trim_ascii().eq_ignore_ascii_case(b"chunked") => Ok(Framing::Chunked),
            // Chunked last, after codings this server does not decode (RFC 9112 6.1: 501)...
            (Some(te), None)
                if te
                    .rsplit(|&b| b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked")) =>
            {
                Err((501, format!("unsupported Transfer-Encoding {:?}: use chunked", text(te))))
            }
            // ... or not last, so nothing says where the body ends (6.3: 400).
            (Some(te), None) => ambiguous(&format!("Transfer-Encoding {:?} does not end in chunked", text(te))),
            // Digits only, and within `usize` (`+5`, `1e3`, ` 5` are what another parser
            // may read some other way).
            (None, Some(len)) => {
                match std::str::from_utf8(len).ok().filter(|l| l.bytes().all(|b| b.is_ascii_digit())) {
                    Some(digits) => match digits.parse::<usize>() {
                        Ok(n) => Ok(Framing::Length(n)),
                        Err(_) => ambiguous(&format!("Content-Length {digits:?} is not a number")),
                    },
                    None => ambiguous(&format!("Content-Length {:?} is not a number", text(len))),
                }
            }
            (None, None) => Ok(Framing::Length(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Framing, Heads};

    /// A request's headers, as name and value.
    type Headers<'a> = &'a [(&'a str, &'a str)];

    fn heads<'a>(headers: Headers<'a>) -> Heads<'a> {
        Heads::from_pairs(headers.iter().map(|&(name, value)| (name, value.as_bytes())))
    }

    /// Each set of headers, and the framing read from it or its refusal's status.
    #[test]
    fn framings() {
        #[rustfmt::skip]
        let cases: &[(Headers<'_>, Result<Framing, u16>)] = &[
            (&[], Ok(Framing::Length(0))),
            (&[("Content-Length", "54")], Ok(Framing::Length(54))),
            (&[("content-length", "0")], Ok(Framing::Length(0))),
            (&[("Content-Length", "54"), ("Content-Length", "54")], Ok(Framing::Length(54))),
            (&[("Transfer-Encoding", "chunked")], Ok(Framing::Chunked)),
            (&[("transfer-encoding", " Chunked ")], Ok(Framing::Chunked)),
            (&[("Content-Length", "54"), ("Content-Length", "5")], Err(400)),
            (&[("Content-Length", "+5")], Err(400)),
            (&[("Content-Length", "abc")], Err(400)),
            (&[("Content-Length", "")], Err(400)),
            (&[("Content-Length", "-1")], Err(400)),
            (&[("Content-Length", "99999999999999999999")], Err(400)),
            (&[("Content-Length", "18446744073709551615")], Ok(Framing::Length(usize::MAX))),
            (&[("Transfer-Encoding", "chunked"), ("Content-Length", "5")], Err(400)),
            (&[("Content-Length", "5"), ("Transfer-Encoding", "chunked")], Err(400)),
            (&[("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")], Err(400)),
            (&[("Transfer-Encoding", "gzip")], Err(400)),
            (&[("Transfer-Encoding", "gzip, chunked")], Err(501)),
            (&[("Transfer-Encoding", "chunked, gzip")], Err(400)),
            (&[("X", "a\tb")], Ok(Framing::Length(0))),
        ];
        for (headers, want) in cases {
            assert_eq!(heads(headers).framing().map_err(|(status, _)| status), *want, "{headers:?}");
        }
        let bare = Heads { bare_line_end: true, ..heads(&[("Content-Length", "5")]) };
        assert_eq!(bare.framing().map_err(|(status, _)| status), Err(400));
    }

    /// The other headers read in the same pass.
    #[test]
    fn content_type_and_upgrade() {
        #[rustfmt::skip]
        let cases: &[(Headers<'_>, Option<&str>, bool, bool, bool)] = &[
            (&[("Content-Type", "application/json")], Some("application/json"), false, false, false),
            (&[("Upgrade", "h2c")], None, true, false, false),
            (&[("Connection", "keep-alive, x-Upgraded")], None, true, false, true),
            (&[("Connection", "keep-alive")], None, false, false, true),
            (&[("connection", "Close")], None, false, true, false),
            (&[("Connection", "foo,  close ,bar")], None, false, true, false),
            (&[("Connection", "closed")], None, false, false, false),
        ];
        for &(headers, content_type, upgrade, close, keep_alive) in cases {
            let h = heads(headers);
            let got = (h.content_type, h.upgrade, h.close, h.keep_alive);
            assert_eq!(got, (content_type.map(str::as_bytes), upgrade, close, keep_alive), "{headers:?}");
        }
        let h = heads(&[("Authorization", "Basic x"), ("expect", "100-continue")]);
        assert_eq!((h.authorization, h.expect), (Some(&b"Basic x"[..]), Some(&b"100-continue"[..])));
    }
}
