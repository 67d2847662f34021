//! `--auth` at the door: a request's HTTP Basic credentials, checked before it is routed.

use crate::auth::{Failures, User, Users};
use std::net::IpAddr;

/// Why a request is not let in: its status, one line, and the header that goes with it.
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) message: String,
    pub(crate) header: (&'static str, String),
}

/// The longest credentials decoded: `name:secret`.
const CREDENTIALS: usize = crate::auth::MAX_NAME + 1 + crate::auth::MAX_SECRET;

const CHALLENGE: &str = "Basic realm=\"runjsonrpc2\", charset=\"UTF-8\"";

/// The user a request's credentials name, or the refusal to send. The answer never says which
/// part was wrong; a failure counts against the client's address, and an address past the
/// limit is refused without a check (so it costs no hashing).
pub(crate) fn check<'u>(
    authorization: Option<&[u8]>,
    ip: Option<IpAddr>,
    users: &'u Users,
    failures: &Failures,
) -> Result<&'u User, Refusal> {
    let Some(credentials) = authorization else {
        return Err(unauthorized("authentication required"));
    };
    if let Some(wait) = ip.and_then(|ip| failures.blocked(ip)) {
        let seconds = wait.as_secs() + 1;
        let message = format!("too many failed logins from this address: try again in {seconds} s");
        return Err(Refusal { status: 429, message, header: ("Retry-After", seconds.to_string()) });
    }
    let mut buffer = [0u8; CREDENTIALS];
    let decoded = basic(credentials, &mut buffer);
    let user = decoded.and_then(split).and_then(|(name, secret)| users.check(name, secret));
    match user {
        Some(user) => Ok(user),
        None => {
            if let Some(ip) = ip {
                failures.failed(ip);
            }
            log::info!("failed login from {}", ip.map_or("an unknown address".into(), |ip| ip.to_string()));
            Err(unauthorized("authentication failed"))
        }
    }
}

fn unauthorized(message: &str) -> Refusal {
    Refusal { status: 401, message: message.to_owned(), header: ("WWW-Authenticate", CHALLENGE.to_owned()) }
}

/// The decoded token of `Basic BASE64(name:secret)`, in `buffer` (longer ones are refused:
/// see [`CREDENTIALS`]).
fn basic<'b>(value: &[u8], buffer: &'b mut [u8; CREDENTIALS]) -> Option<&'b [u8]> {
    let value = value.trim_ascii();
    let scheme = value.get(..6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    base64(value[6..].trim_ascii_start(), buffer)
}

/// The name (UTF-8) and the secret of a decoded token, split at the first colon.
fn split(decoded: &[u8]) -> Option<(&str, &[u8])> {
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((std::str::from_utf8(&decoded[..colon]).ok()?, &decoded[colon + 1..]))
}

/// Decodes standard base64, padding optional, into `out`; `None` for anything else, or for
/// more than `out` holds. base64ct (already under argon2) decodes in constant time: no branch
/// on the secret's bytes.
fn base64<'b>(text: &[u8], out: &'b mut [u8]) -> Option<&'b [u8]> {
    use base64ct::{Base64, Base64Unpadded, Encoding};
    // A token longer than `out` holds is an error of base64ct's own.
    let decoded = match text.ends_with(b"=") {
        true => Base64::decode(text, out),
        false => Base64Unpadded::decode(text, out),
    };
    decoded.ok()
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
            let mut buffer = [0; CREDENTIALS];
            assert_eq!(basic(value.as_bytes(), &mut buffer).and_then(split), want, "{value:?}");
        }
    }

    /// The longest name and secret `auth add` accepts fit the buffer; one byte more does not.
    #[test]
    fn the_longest_credentials_fit() {
        let (name, secret) = ("n".repeat(crate::auth::MAX_NAME), "s".repeat(crate::auth::MAX_SECRET));
        for (extra, fits) in [("", true), ("s", false)] {
            let token = encode(format!("{name}:{secret}{extra}").as_bytes());
            let mut buffer = [0; CREDENTIALS];
            let got = basic(format!("Basic {token}").as_bytes(), &mut buffer).and_then(split);
            assert_eq!(got.is_some(), fits, "{} bytes", name.len() + secret.len() + extra.len() + 1);
            if fits {
                assert_eq!(got, Some((name.as_str(), secret.as_bytes())));
            }
        }
    }

    fn encode(bytes: &[u8]) -> String {
        crate::auth::base64(bytes, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true)
    }
}
