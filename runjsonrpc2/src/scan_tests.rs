//! Tests of the fast reader and the splitter: both held to serde_json on generated text.

use crate::request::parse_with_serde;

/// Bodies of common shape, each read by the fast path.
const SEEDS: &[&str] = &[
    r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#,
    r#" { "jsonrpc" : "2.0" , "method" : "subtract" , "params" : { "minuend" : 42, "subtrahend" : 23 } , "id" : "x" } "#,
    r#"[{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":"1"},{"jsonrpc":"2.0","method":"notify_hello","params":[7]},true,[],null]"#,
    r#"{"jsonrpc":"2.0","method":"echo","params":[{"a":[true,false,null,-0.5e+3,"\u00e9\n\"x\""]}],"id":null,"extra":{}}"#,
    "{\"jsonrpc\":\"2.0\",\"method\":\"caf\u{e9}\",\"params\":[\"\u{1f600}\", 1E9, 0, -1, 2.25],\"id\":-7}",
    "{\"jsonrpc\":\"2.0\",\"method\":\"a_rather_long_name\",\"params\":[\"sixteen bytes ok\",\"esc\\\"aped, then more text\\\\\",\"d\u{e9}j\u{e0} vu na\u{ef}ve r\u{e9}sum\u{e9}\"],\"id\":\"an-id-of-some-length\"}",
    "[]",
    "{}",
    "[{}]",
    "\t\r\n[ ]\n",
];

/// The eight-bytes-at-a-time search finds the first byte the byte-by-byte rule would stop at.
#[test]
fn special_finds_the_first_byte_that_needs_a_look() {
    let needs_look = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
    let mut next = generator(0x9e37_79b9_7f4a_7c15);
    // Bytes drawn mostly from around the three kinds of special byte.
    const NEAR: &[u8] = b"\"\\\x00\x01\x1f\x20\x21!#[]\x7f\x80\x9f\xa0\xdc\xe2\xffa";
    for _ in 0..200_000 {
        let word: [u8; 8] = std::array::from_fn(|_| NEAR[next(NEAR.len())]);
        let expected = word.iter().position(|&b| needs_look(b)).map_or(8, |i| i as u32);
        let found = super::special(u64::from_le_bytes(word));
        let at = if found == 0 { 8 } else { found.trailing_zeros() / 8 };
        assert_eq!(at, expected, "{word:?}");
    }
}

/// The fast path reads the seeds, and every body it accepts reads the same with serde_json.
#[test]
fn agrees_with_serde_on_mutated_requests() {
    for seed in SEEDS {
        let fast = super::body(seed, 1000).unwrap_or_else(|| panic!("not read fast: {seed}"));
        assert_eq!(Some(fast), parse_with_serde(seed, 1000).ok(), "{seed}");
    }
    // Valid bodies left to serde_json, which reads them its own way.
    #[rustfmt::skip]
    let declined = [
        "[666666666666666666666660e616\n]", // a batch member serde_json refuses (out of f64's range)
        r#"{"jsonrpc":"2.0","jsonrpc":"2.0","method":"m"}"#, // a repeated member
        r#"{"\u006dethod":"m"}"#,                            // an escaped member name
        r#"["\ud800"]"#,                                     // a batch member serde_json refuses (a lone surrogate)
        "1", r#""s""#, "null",                               // not an object or an array
    ];
    for body in declined {
        assert_eq!(super::body(body, 1000), None, "{body}");
    }
    // Mutations of the seeds: a byte dropped, replaced or inserted, a piece repeated.
    const BYTES: &[u8] = b"{}[]:,\" \\\t\nu0123456789-+.eEtruefalsnx\x01\x7f";
    let mut next = generator(0x2545_f491_4f6c_dd1d_u64);
    let (mut fast_reads, mut tried) = (0, 0);
    for _ in 0..100_000 {
        let mut body = SEEDS[next(SEEDS.len())].as_bytes().to_vec();
        for _ in 0..1 + next(3) {
            let at = next(body.len() + 1);
            match next(4) {
                0 if at < body.len() => drop(body.remove(at)),
                1 if at < body.len() => body[at] = BYTES[next(BYTES.len())],
                2 => body.insert(at, BYTES[next(BYTES.len())]),
                _ => {
                    let end = (at + next(8)).min(body.len());
                    let piece = body[at..end].to_vec();
                    body.splice(at..at, piece);
                }
            }
        }
        let Ok(text) = std::str::from_utf8(&body) else { continue };
        tried += 1;
        let serde = parse_with_serde(text, 4);
        // When the fast path declines, serde_json decides, whatever it decides.
        if let Some(fast) = super::body(text, 4) {
            fast_reads += 1;
            assert_eq!(Some(&fast), serde.as_ref().ok(), "{text}");
        }
    }
    // Both paths were exercised many times.
    assert!(fast_reads > 5_000 && tried - fast_reads > 5_000, "{fast_reads} of {tried} read fast");
}

/// Splitting a valid array or object gives what serde_json gives, on mutated params.
#[test]
fn splits_like_serde() {
    use serde_json::value::RawValue;
    const SEEDS: &[&str] = &[
        r#"[1, -2.5e3, "a\"]b", [true, {"k": [null]}], {}, "", "\\", false ]"#,
        r#"{ "a" : 1, "b\"c" : [2, "]"], "\u0041": {"x": "}"} , "": null }"#,
        "[]",
        "{}",
        "[ ]",
        r#"["x"]"#,
    ];
    let mut next = generator(0x1234_5678_9abc_def1_u64);
    let mut checked = 0;
    for round in 0..50_000 {
        let mut text = SEEDS[next(SEEDS.len())].as_bytes().to_vec();
        if round % 2 == 1 {
            let at = next(text.len());
            text.insert(at, b"[]{},: \"1x"[next(10)]);
        }
        let Ok(text) = std::str::from_utf8(&text) else { continue };
        let text = text.trim();
        if let Ok(values) = serde_json::from_str::<Vec<&RawValue>>(text) {
            let want: Vec<&str> = values.iter().map(|v| v.get()).collect();
            assert_eq!(super::elements(text).collect::<Vec<_>>(), want, "{text}");
            checked += 1;
        }
        if let Some(want) = ordered_members(text) {
            let got: Vec<(String, &str)> =
                super::members(text).map(|(k, v)| (serde_json::from_str::<String>(k).unwrap(), v)).collect();
            assert_eq!(got, want, "{text}");
            checked += 1;
        }
    }
    assert!(checked > 10_000, "{checked} checked");

    /// An object's members in order, by serde_json: names decoded, values as text; `None`
    /// when `text` is not one valid object.
    fn ordered_members(text: &str) -> Option<Vec<(String, &str)>> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<(String, &'de str)>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &RawValue>()? {
                    out.push((k, v.get()));
                }
                Ok(out)
            }
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let members = serde::Deserializer::deserialize_map(&mut de, V).ok()?;
        de.end().ok().map(|()| members)
    }
}

/// A xorshift generator with a fixed seed (so a failure repeats): each call gives a number below
/// its argument.
pub(crate) fn generator(seed: u64) -> impl FnMut(usize) -> usize {
    let mut state = seed;
    move |n| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    }
}
