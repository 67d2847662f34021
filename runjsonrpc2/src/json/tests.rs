//! Tests of the scanner and the walks: held to serde_json on generated text.

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

/// One value and nothing around it; nesting past MAX_DEPTH, in arrays, objects or both, is
/// declined (left to serde_json), never followed down.
#[test]
fn is_value_accepts_one_value_and_declines_deep_nesting() {
    use super::{MAX_DEPTH, is_value};
    let arrays = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let objects = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
    let mixed = |n: usize| format!("{}1{}", r#"[{"a":"#.repeat(n / 2), "}]".repeat(n / 2));
    #[rustfmt::skip]
    let cases: &[(String, bool)] = &[
        (r#"{"a": [1, -2.5e+3, "x\u0041", true, false, null]}"#.into(), true),
        (" 1".into(), false),
        ("1 2".into(), false),
        ("01".into(), false),
        ("[1,]".into(), false),
        (r#"{"a" 1}"#.into(), false),
        (arrays(MAX_DEPTH), true),
        (arrays(MAX_DEPTH + 1), false),
        (objects(MAX_DEPTH), true),
        (objects(MAX_DEPTH + 1), false),
        (mixed(MAX_DEPTH), true),
        (mixed(MAX_DEPTH + 2), false),
        (objects(100_000), false),
    ];
    for (text, want) in cases {
        assert_eq!(is_value(text), *want, "{}", &text[..text.len().min(80)]);
    }
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
            assert_eq!(super::valid::elements(text).collect::<Vec<_>>(), want, "{text}");
            checked += 1;
        }
        if let Some(want) = ordered_members(text) {
            let got: Vec<(String, &str)> =
                super::valid::members(text).map(|(k, v)| (serde_json::from_str::<String>(k).unwrap(), v)).collect();
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
