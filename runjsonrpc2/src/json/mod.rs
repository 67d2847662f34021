//! JSON text without a parser, for the engine's fast paths; a leaf module (it uses nothing
//! else in the crate).
//!
//! Two contracts, two names: [`Scanner`] and [`is_value`] validate untrusted text, and must
//! never accept what serde_json refuses (when unsure they decline, and the caller asks
//! serde_json); [`valid`] walks text already known to be valid JSON, and checks nothing.

pub(crate) mod valid;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Nesting deeper than this is left to serde_json (and its recursion limit).
pub(crate) const MAX_DEPTH: usize = 64;

/// A validating pass over untrusted text: each method reads one piece of JSON at `i` and
/// steps past it, or returns `None` for text serde_json would refuse (or that this pass
/// leaves to serde_json).
pub(crate) struct Scanner<'a> {
    pub(crate) text: &'a str,
    pub(crate) i: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a str) -> Scanner<'a> {
        Scanner { text, i: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.i).copied()
    }

    pub(crate) fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    /// Skips JSON whitespace: space, tab, line feed, carriage return.
    pub(crate) fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    pub(crate) fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.text.as_bytes().get(self.i..end)? == word).then(|| self.i = end)
    }

    /// The items of the array or object whose opening bracket is next, each read by `item`
    /// after any whitespace, separated by commas, up to `close`.
    pub(crate) fn list(&mut self, close: u8, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
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
    pub(crate) fn colon(&mut self) -> Option<()> {
        self.ws();
        (self.next()? == b':').then(|| self.ws())
    }

    /// One value, after any whitespace.
    pub(crate) fn value(&mut self, depth: usize) -> Option<()> {
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
    pub(crate) fn string(&mut self) -> Option<bool> {
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
pub(crate) fn is_value(text: &str) -> bool {
    let mut s = Scanner::new(text);
    s.value(0).is_some() && s.i == text.len()
}

/// A string borrowed from the input when it has no escapes.
pub(crate) struct Key<'a>(pub(crate) Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Reads a sequence without keeping it (used to skip values of the wrong shape).
pub(crate) fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<&'de RawValue>()?.is_some() {}
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
