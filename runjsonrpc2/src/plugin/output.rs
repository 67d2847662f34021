//! Checking a plugin's output: its result must be exactly one JSON value before it is spliced into an answer.

use serde::de::IgnoredAny;

/// Whether a plugin's result is exactly one JSON value: UTF-8, then the request reader's
/// scanner (one pass), then serde_json for what the scanner leaves undecided (deep nesting).
pub fn valid_json(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|t| crate::json::is_value(t) || serde_json::from_str::<IgnoredAny>(t).is_ok())
}

#[cfg(test)]
mod tests {
    /// The fast paths agree with serde_json, case by case.
    #[test]
    fn valid_json_agrees_with_serde() {
        #[rustfmt::skip]
        let cases: &[&str] = &[
            "0", "-0", "7", "42", "-42", "01", "-01", "00", "1.5", "-0.25", "1.", ".5", "1.e3", "1e3", "1E+3",
            "1e-3", "1e", "1e+", "-", "+1", "1x", "0x10", "1.5.5", "9223372036854775808", "1e999",
            "true", "false", "null", "tru", "nulll", "True", "",
            r#""""#, r#""a b""#, r#""a\"b""#, r#""a\nb""#, "\"\u{1}\"", "\"é\"", r#"""#, r#"""""#, r#""a"b""#,
            "[1]", r#"{"a":1}"#, " 1", "1 ", "[", "{}", "[1,]",
        ];
        for text in cases {
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            assert_eq!(super::valid_json(text.as_bytes()), serde, "{text:?}");
        }
        assert!(!super::valid_json(b"\"\xff\""), "invalid UTF-8 in a string");
    }

    /// The same, on 200,000 short strings drawn from the bytes JSON is made of.
    #[test]
    fn valid_json_agrees_with_serde_on_generated_text() {
        const ALPHABET: &[u8] = b"0123456789-+.eE\"\\ \ttrufalsn[]{}:,x\x01\xc3\xa9\xff";
        let mut next = crate::json::tests::generator(0x9e37_79b9_7f4a_7c15);
        let (mut text, mut valid) = (Vec::new(), 0);
        for _ in 0..200_000 {
            text.clear();
            let len = next(9);
            for _ in 0..len {
                text.push(ALPHABET[next(ALPHABET.len())]);
            }
            let serde =
                serde_json::from_slice::<serde::de::IgnoredAny>(&text).is_ok() && std::str::from_utf8(&text).is_ok();
            assert_eq!(super::valid_json(&text), serde, "{:?}", String::from_utf8_lossy(&text));
            valid += usize::from(serde);
        }
        // Both verdicts were exercised many times.
        assert!((5_000..150_000).contains(&valid), "{valid} valid of 200,000");
    }
}
