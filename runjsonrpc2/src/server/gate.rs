//! `--auth` at the door: a request's HTTP Basic credentials, checked before it is routed.

use crate::auth::{Failures, User, Users};
use std::time::Instant;
use tiny_http::{Header, Request};

/// Why a request is not let in: its status, one line, and the header that goes with it.
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) message: String,
    pub(crate) header: Header,
}

const CHALLENGE: &str = "Basic realm=\"runjsonrpc2\", charset=\"UTF-8\"";

/// The user a request's credentials name, or the refusal to send. The answer never says which
/// part was wrong; a failure counts against the client's address, and an address past the
/// limit is refused without a check (so it costs no hashing).
pub(crate) fn check<'u>(request: &Request, users: &'u Users, failures: &Failures) -> Result<&'u User, Refusal> {
    let Some(credentials) = request.headers().iter().find(|h| h.field.equiv("Authorization")) else {
        return Err(unauthorized("authentication required"));
    };
    let ip = request.remote_addr().map(|a| a.ip());
    let now = Instant::now();
    if let Some(wait) = ip.and_then(|ip| failures.blocked(ip, now)) {
        let seconds = wait.as_secs() + 1;
        let header = Header::from_bytes(&b"Retry-After"[..], seconds.to_string().as_bytes()).expect("valid header");
        let message = format!("too many failed logins from this address: try again in {seconds} s");
        return Err(Refusal { status: 429, message, header });
    }
    let user = basic(credentials.value.as_str()).and_then(|(name, secret)| users.check(&name, &secret));
    match user {
        Some(user) => Ok(user),
        None => {
            if let Some(ip) = ip {
                failures.failed(ip, now);
            }
            log::info!("failed login from {}", ip.map_or("an unknown address".into(), |ip| ip.to_string()));
            Err(unauthorized("authentication failed"))
        }
    }
}

fn unauthorized(message: &str) -> Refusal {
    let header = Header::from_bytes(&b"WWW-Authenticate"[..], CHALLENGE.as_bytes()).expect("valid header");
    Refusal { status: 401, message: message.to_owned(), header }
}

/// The name and secret of `Basic BASE64(name:secret)`.
fn basic(value: &str) -> Option<(String, Vec<u8>)> {
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64(token.trim())?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let name = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((name, decoded[colon + 1..].to_vec()))
}

/// Decodes standard base64, padding optional; `None` for anything else.
fn base64(text: &str) -> Option<Vec<u8>> {
    let text = text.strip_suffix("==").or_else(|| text.strip_suffix('=')).unwrap_or(text);
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut held) = (0u32, 0);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        held += 6;
        if held >= 8 {
            held -= 8;
            out.push((bits >> held) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case = (&'static str, Option<(&'static str, &'static [u8])>);

    #[test]
    fn basic_credentials_decode() {
        let cases: [Case; 10] = [
            ("Basic YWxpY2U6czNjcmV0", Some(("alice", b"s3cret"))),
            ("basic   YWxpY2U6czNjcmV0  ", Some(("alice", b"s3cret"))),
            ("Basic YWxpY2U6YTpi", Some(("alice", b"a:b"))), // the secret may hold ':'
            ("Basic YWxpY2U6", Some(("alice", b""))),        // alice:
            ("Basic YTpiYw==", Some(("a", b"bc"))),          // padded
            ("Basic YTpiYw", Some(("a", b"bc"))),            // unpadded
            ("Basic YWxpY2U=", None),                        // no colon
            ("Bearer YWxpY2U6czNjcmV0", None),
            ("Basic YWxp!2U6czNjcmV0", None),
            ("BasicYWxpY2U6czNjcmV0", None),
        ];
        for (value, want) in cases {
            let got = basic(value);
            assert_eq!(got.as_ref().map(|(n, s)| (n.as_str(), s.as_slice())), want, "{value:?}");
        }
    }
}
