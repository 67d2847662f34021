//! The fast path of reading a body: one validating pass over the common shapes of requests.
//!
//! It reads what nearly every client sends (an object, or an array of them, with plain member
//! names, each member once) and returns `None` for anything else, valid or not: the caller
//! then parses with serde_json, which has the last word on every error and every odd case.
//! So this pass must never accept text serde_json would refuse, and must read what it
//! accepts as serde_json would; it need not accept everything.

use super::{Body, Envelope, Item};
use crate::json::Scanner;

/// Reads `text` if it has a common shape; `None` otherwise (see the module docs).
pub(super) fn body(text: &str, max_batch: usize) -> Option<Body<'_>> {
    let mut s = Scanner::new(text);
    s.ws();
    let body = match s.peek()? {
        b'{' => Body::Single(Item::Request(envelope(&mut s)?)),
        b'[' => {
            let mut items = Vec::new();
            s.list(b']', |s| {
                let item = match s.peek()? {
                    b'{' => Item::Request(envelope(s)?),
                    // serde_json reads a number here as an f64 (refusing `1e400`) and a
                    // string as text (refusing a lone surrogate escape): leave both to it.
                    b'-' | b'0'..=b'9' | b'"' => return None,
                    _ => {
                        s.value(1)?;
                        Item::NotObject
                    }
                };
                (items.len() < max_batch).then(|| items.push(item))
            })?;
            Body::Batch(items)
        }
        _ => return None,
    };
    s.ws();
    (s.i == text.len()).then_some(body)
}

/// One Request object; `None` for escaped or repeated member names (and bad JSON).
fn envelope<'a>(s: &mut Scanner<'a>) -> Option<Envelope<'a>> {
    let mut env = Envelope::default();
    s.list(b'}', |s| {
        let field = plain_name(s);
        if field.is_none() {
            // Any other member is ignored, unless its name has escapes: it might spell
            // one of the four (the serde_json path decides).
            if s.string()? {
                return None;
            }
        }
        s.colon()?;
        let from = s.i;
        // The one value nearly every request has, compared as a constant.
        if field != Some(0) || s.literal(b"\"2.0\"").is_none() {
            s.value(1)?;
        }
        let value = &s.text[from..s.i];
        let slot = match field {
            Some(0) => &mut env.jsonrpc,
            Some(1) => &mut env.method,
            Some(2) => &mut env.params,
            Some(_) => &mut env.id,
            None => return Some(()),
        };
        // A repeated member: the serde_json path reports it.
        slot.replace(value).is_none().then_some(())
    })?;
    Some(env)
}

/// Which of the four members kept in [`Envelope`] (in its order) is named next, skipped with
/// its name; `None`, nothing skipped, for any other name, or one of the four with escapes.
fn plain_name(s: &mut Scanner<'_>) -> Option<usize> {
    // Each name compared as a constant: no call to memcmp.
    let rest = &s.text.as_bytes()[s.i..];
    let (field, len) = match rest.get(1)? {
        b'j' if rest.get(..9)? == b"\"jsonrpc\"" => (0, 9),
        b'm' if rest.get(..8)? == b"\"method\"" => (1, 8),
        b'p' if rest.get(..8)? == b"\"params\"" => (2, 8),
        b'i' if rest.get(..4)? == b"\"id\"" => (3, 4),
        _ => return None,
    };
    s.i += len;
    Some(field)
}

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;
