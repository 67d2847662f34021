//! Walks over JSON text already known to be valid (parsed or scanned before): they check
//! nothing, so they must never be given untrusted text.

/// A position in valid JSON text.
struct Walk<'a> {
    text: &'a str,
    i: usize,
}

/// The values of a JSON array's text, which must be valid JSON (it was parsed already).
pub(crate) fn elements(array: &str) -> impl Iterator<Item = &str> {
    let mut s = Walk { text: array, i: 1 };
    std::iter::from_fn(move || {
        s.next_item(b']')?;
        Some(s.skip_valid())
    })
}

/// The members of a JSON object's text, which must be valid JSON (it was parsed already):
/// each name's JSON text (quotes included) and its value's.
pub(crate) fn members(object: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut s = Walk { text: object, i: 1 };
    std::iter::from_fn(move || {
        s.next_item(b'}')?;
        let name = s.skip_valid();
        s.ws();
        s.i += 1; // the `:`
        s.ws();
        Some((name, s.skip_valid()))
    })
}

impl<'a> Walk<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

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
