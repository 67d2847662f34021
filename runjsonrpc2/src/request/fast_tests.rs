//! Tests of the fast reader: held to serde_json on generated text.

use crate::json::tests::generator;
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
