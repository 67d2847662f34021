//! The fast path of reading a body: one validating pass over the common shapes of requests.
//!
//! It reads what nearly every client sends (an object, or an array of them, with plain member
//! names, each member once) and returns `None` for anything else, valid or not: the caller
//! then parses with serde_json, which has the last word on every error and every odd case.
//! So this pass must never accept text serde_json would refuse, and must read what it
//! accepts as serde_json would; it need not accept everything.

use crate::request::{Body, Envelope, Item};

/// Nesting deeper than this is left to serde_json (and its recursion limit).
const MAX_DEPTH: usize = 64;

/// Reads `text` if it has a common shape; `None` otherwise (see the module docs).
pub fn body(text: &str, max_batch: usize) -> Option<Body<'_>> {
    let mut s = Scanner { text, i: 0 };
    s.ws();
    let body = match s.peek()? {
        b'{' => Body::Single(Item::Request(s.envelope()?)),
        b'[' => {
            let mut items = Vec::new();
            s.list(b']', |s| {
                let item = match s.peek()? {
                    b'{' => Item::Request(s.envelope()?),
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

struct Scanner<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    /// Skips JSON whitespace: space, tab, line feed, carriage return.
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.text.as_bytes().get(self.i..end)? == word).then(|| self.i = end)
    }

    /// One Request object; `None` for escaped or repeated member names (and bad JSON).
    fn envelope(&mut self) -> Option<Envelope<'a>> {
        let mut env = Envelope::default();
        self.list(b'}', |s| {
            let field = s.plain_name();
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
    fn plain_name(&mut self) -> Option<usize> {
        // Each name compared as a constant: no call to memcmp.
        let rest = &self.text.as_bytes()[self.i..];
        let (field, len) = match rest.get(1)? {
            b'j' if rest.get(..9)? == b"\"jsonrpc\"" => (0, 9),
            b'm' if rest.get(..8)? == b"\"method\"" => (1, 8),
            b'p' if rest.get(..8)? == b"\"params\"" => (2, 8),
            b'i' if rest.get(..4)? == b"\"id\"" => (3, 4),
            _ => return None,
        };
        self.i += len;
        Some(field)
    }

    /// The items of the array or object whose opening bracket is next, each read by `item`
    /// after any whitespace, separated by commas, up to `close`.
    fn list(&mut self, close: u8, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.i += 1;
        self.ws();
        if self.peek()? == close {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            item(self)?;
            self.ws();
            match self.next()? {
                b',' => {}
                b if b == close => return Some(()),
                _ => return None,
            }
        }
    }

    /// The `:` after a member name, and whitespace around it.
    fn colon(&mut self) -> Option<()> {
        self.ws();
        (self.next()? == b':').then(|| self.ws())
    }

    /// One value, after any whitespace.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'[' | b'{' if depth >= MAX_DEPTH => None,
            b'[' => self.list(b']', |s| s.value(depth + 1)),
            b'{' => self.list(b'}', |s| {
                s.string()?;
                s.colon()?;
                s.value(depth + 1)
            }),
            _ => None,
        }
    }

    /// A string; returns whether it has escapes.
    fn string(&mut self) -> Option<bool> {
        let bytes = self.text.as_bytes();
        let start = self.i;
        if bytes.get(start) != Some(&b'"') {
            return None;
        }
        let (mut i, mut escaped) = (start + 1, false);
        loop {
            // Eight bytes at a time, up to the first that needs a look.
            while let Some(chunk) = bytes.get(i..i + 8) {
                let found = special(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
                if found != 0 {
                    i += (found.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            let b = *bytes.get(i)?;
            i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match *bytes.get(i)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 1,
                        b'u' if bytes.get(i + 1..i + 5)?.iter().all(u8::is_ascii_hexdigit) => i += 5,
                        _ => return None,
                    }
                }
                0..0x20 => return None,
                _ => {}
            }
        }
        self.i = i;
        Some(escaped)
    }

    /// A number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, and no digit right after.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.digit()?;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.digit()?;
            self.digits();
        }
        // `01` and the like: serde_json refuses them; so does the caller's next expectation,
        // but say so here too.
        (!self.peek().is_some_and(|b| b.is_ascii_digit())).then_some(())
    }

    fn digit(&mut self) -> Option<()> {
        self.next()?.is_ascii_digit().then_some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
    }
}

/// A mask whose lowest set bit is the high bit of the first byte of `word` (little-endian)
/// that is `"`, `\\` or a control character, if any; zero if none. (Bits above it may be
/// set spuriously: only the lowest counts.)
fn special(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    // A byte below `n` (n <= 0x80) borrows and keeps a clear high bit; the first one is exact.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    below(word ^ (ONES * u64::from(b'"')), 1) | below(word ^ (ONES * u64::from(b'\\')), 1) | below(word, 0x20)
}

/// Whether `text` is exactly one JSON value, nothing around it. `false` may also mean "not
/// decided here" (nesting deeper than this scanner goes): ask serde_json then.
pub fn is_value(text: &str) -> bool {
    let mut s = Scanner { text, i: 0 };
    s.value(0).is_some() && s.i == text.len()
}

/// The values of a JSON array's text, which must be valid JSON (it was parsed already).
pub fn elements(array: &str) -> impl Iterator<Item = &str> {
    let mut s = Scanner { text: array, i: 1 };
    std::iter::from_fn(move || {
        s.next_item(b']')?;
        Some(s.skip_valid())
    })
}

/// The members of a JSON object's text, which must be valid JSON (it was parsed already):
/// each name's JSON text (quotes included) and its value's.
pub fn members(object: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut s = Scanner { text: object, i: 1 };
    std::iter::from_fn(move || {
        s.next_item(b'}')?;
        let name = s.skip_valid();
        s.ws();
        s.i += 1; // the `:`
        s.ws();
        Some((name, s.skip_valid()))
    })
}

impl<'a> Scanner<'a> {
    /// Steps to the next item of a list known to be valid JSON: past whitespace and the comma
    /// before it; `None` at the list's `close`.
    fn next_item(&mut self, close: u8) -> Option<()> {
        self.ws();
        if self.peek()? == b',' {
            self.i += 1;
            self.ws();
        }
        (self.peek()? != close).then_some(())
    }

    /// Skips one value of text known to be valid JSON; returns its text.
    fn skip_valid(&mut self) -> &'a str {
        let start = self.i;
        let bytes = self.text.as_bytes();
        let mut depth = 0usize;
        while let Some(&b) = bytes.get(self.i) {
            match b {
                b'"' => {
                    self.i += 1;
                    while let Some(&c) = bytes.get(self.i) {
                        self.i += if c == b'\\' { 2 } else { 1 };
                        if c == b'"' {
                            break;
                        }
                    }
                    if depth == 0 {
                        break;
                    }
                    continue;
                }
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth == 0 => break,
                b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        break;
                    }
                }
                b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => break,
                _ => {}
            }
            self.i += 1;
        }
        &self.text[start..self.i]
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
pub(crate) mod tests;
