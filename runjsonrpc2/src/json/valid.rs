//! Walks over JSON text already known to be valid (parsed or scanned before): they check
//! nothing, so they must never be given untrusted text. They move the scanner's cursor
//! (its position and whitespace skipping) but none of its validating reads.

use super::Scanner;

/// The values of a JSON array's text, which must be valid JSON (it was parsed already).
pub(crate) fn elements(array: &str) -> impl Iterator<Item = &str> {
    let mut s = Scanner { text: array, i: 1 };
    std::iter::from_fn(move || {
        next_item(&mut s, b']')?;
        Some(skip_valid(&mut s))
    })
}

/// The members of a JSON object's text, which must be valid JSON (it was parsed already):
/// each name's JSON text (quotes included) and its value's.
pub(crate) fn members(object: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut s = Scanner { text: object, i: 1 };
    std::iter::from_fn(move || {
        next_item(&mut s, b'}')?;
        let name = skip_valid(&mut s);
        s.ws();
        s.i += 1; // the `:`
        s.ws();
        Some((name, skip_valid(&mut s)))
    })
}

/// Steps to the next item of a list known to be valid JSON: past whitespace and the comma
/// before it; `None` at the list's `close`.
fn next_item(s: &mut Scanner<'_>, close: u8) -> Option<()> {
    s.ws();
    if s.peek()? == b',' {
        s.i += 1;
        s.ws();
    }
    (s.peek()? != close).then_some(())
}

/// Skips one value of text known to be valid JSON; returns its text.
fn skip_valid<'a>(s: &mut Scanner<'a>) -> &'a str {
    let start = s.i;
    let bytes = s.text.as_bytes();
    let mut depth = 0usize;
    while let Some(&b) = bytes.get(s.i) {
        match b {
            b'"' => {
                s.i += 1;
                while let Some(&c) = bytes.get(s.i) {
                    s.i += if c == b'\\' { 2 } else { 1 };
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
                    s.i += 1;
                    break;
                }
            }
            b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => break,
            _ => {}
        }
        s.i += 1;
    }
    &s.text[start..s.i]
}

/// The deepest nesting of arrays and objects in valid JSON text.
pub(crate) fn depth(json: &str) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for b in json.bytes() {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth -= 1,
            _ => {}
        }
    }
    max
}
