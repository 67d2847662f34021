//! Unit tests: procedures made by `export!`, called through the C ABI as the host calls them.

use crate::abi::{self, ERROR, INTERNAL, INVALID_PARAMS, OK};
use crate::{AppError, Error, export, invoke, plugin};
use serde_json::{Value, json};

#[derive(Debug)]
struct SampleError(String);

impl std::fmt::Display for SampleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AppError for SampleError {
    const KIND: &'static str = "SampleError";
}

export! {
    /// Says hello.
    ///
    /// Not part of the table's doc.
    fn greeting(name: String = "world".to_string()) -> String { format!("Hello, {name}!") }
}
export! { fn subtract(minuend: i64, subtrahend: i64) -> i64 { minuend - subtrahend } }
export! { fn sum(#[variadic] numbers: Vec<f64>) -> f64 { numbers.iter().fold(0.0, |a, b| a + b) } }
export! { fn fail(message: String) -> Result<(), SampleError> { Err(SampleError(message)) } }

/// A type whose name differs from its kind: clients see the kind it declares.
#[derive(Debug)]
struct RenamedError;
impl std::fmt::Display for RenamedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("renamed")
    }
}
impl AppError for RenamedError {
    const KIND: &'static str = "LegacyError";
}
export! { fn renamed() -> Result<(), RenamedError> { Err(RenamedError) } }
export! {
    fn busy(seconds: u32) -> Result<u8, Error> {
        Err(Error::new("Busy", "try later").with_data(json!({ "retry": seconds })))
    }
}
export! { fn nothing() {} }
export! { fn boom(#[variadic] _any: Vec<Value>) -> u8 { panic!("it broke") } }
export! {
    #[raw]
    fn echo_params(params: Option<Value>, extras: Value) -> Value { json!({ "params": params, "extras": extras }) }
}
// A result that fails to encode half-way: serde_json has written `{` when it meets the key.
// The next two return types that serialize badly; their schemas do not matter.
impl crate::schema::Schema for std::collections::BTreeMap<Vec<u8>, u8> {
    const SCHEMA: crate::schema::SchemaText = crate::schema::SchemaText::ANY;
}
impl crate::schema::Schema for (u8, Panics) {
    const SCHEMA: crate::schema::SchemaText = crate::schema::SchemaText::ANY;
}
export! { fn bad_key() -> std::collections::BTreeMap<Vec<u8>, u8> { [(vec![1], 1)].into() } }

// A result whose encoding panics half-way, after `[1,`.
struct Panics;
impl serde::Serialize for Panics {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("cannot encode this")
    }
}
export! { fn bad_value() -> (u8, Panics) { (1, Panics) } }

plugin! { name: "test", version: "1.2.3", methods: [greeting, subtract, sum, fail, renamed, busy, nothing, boom, echo_params, bad_key, bad_value] }

#[test]
fn procedures_answer_through_the_abi() {
    let cases: &[(abi::Procedure, &[&str], i32, &str)] = &[
        (greeting::procedure, &[r#""Ann""#], OK, r#""Hello, Ann!""#),
        (greeting::procedure, &[], OK, r#""Hello, world!""#),
        (greeting::procedure, &["null"], OK, r#""Hello, world!""#),
        (subtract::procedure, &["42", "23"], OK, "19"),
        (
            subtract::procedure,
            &[r#""42""#, "23"],
            INVALID_PARAMS,
            r#"invalid type for parameter "minuend": expected i64, found string "42""#,
        ),
        (subtract::procedure, &["42"], INVALID_PARAMS, r#"missing parameter "subtrahend""#),
        (subtract::procedure, &["1", "2", "3"], INVALID_PARAMS, "3 parameter values given, 2 declared"),
        (subtract::procedure, &["1", "2x"], INVALID_PARAMS, r#"invalid parameter "subtrahend": trailing characters"#),
        (echo_params::procedure, &["[]", "[]"], INVALID_PARAMS, "a raw procedure takes one params value, 2 given"),
        (sum::procedure, &[], OK, "0.0"),
        (sum::procedure, &["1", "2.5", "3"], OK, "6.5"),
        (
            sum::procedure,
            &["1", r#""x""#],
            INVALID_PARAMS,
            r#"invalid type for parameter "numbers" (item 1): expected f64, found string "x""#,
        ),
        (fail::procedure, &[r#""no""#], ERROR, r#"{"kind":"SampleError","message":"no"}"#),
        (renamed::procedure, &[], ERROR, r#"{"kind":"LegacyError","message":"renamed"}"#),
        (busy::procedure, &["5"], ERROR, r#"{"data":{"retry":5},"kind":"Busy","message":"try later"}"#),
        (nothing::procedure, &[], OK, "null"),
        (boom::procedure, &["1"], INTERNAL, "it broke"),
        (subtract::procedure, &["1", "2"], OK, "-1"), // a panic leaves later calls working
        (echo_params::procedure, &[r#"{"a": [1]}"#], OK, r#"{"extras":{"user":"ann"},"params":{"a":[1]}}"#),
        (echo_params::procedure, &[], OK, r#"{"extras":{"user":"ann"},"params":null}"#),
        // Half a result is reset before the error is written.
        (bad_key::procedure, &[], INTERNAL, "cannot encode the result: key must be a string"),
        (bad_value::procedure, &[], INTERNAL, "cannot encode this"),
    ];
    for &(procedure, params, status, text) in cases {
        // SAFETY: every procedure here was made by `export!`.
        let got = unsafe { invoke(procedure, params, r#"{"user":"ann"}"#) };
        assert_eq!(got, (status, text.to_string()), "params {params:?}");
    }
}

#[test]
fn the_table_describes_the_methods() {
    let table = &runjsonrpc2_plugin;
    // SAFETY: `methods` points to `methods_len` entries and `name` to `len`
    // bytes, all 'static and unchanging (made by `plugin!`).
    let (methods, name) =
        unsafe { (std::slice::from_raw_parts(table.methods, table.methods_len), table.name.as_bytes()) };
    assert_eq!((table.abi_version, name, methods.len()), (abi::ABI_VERSION, &b"test"[..], 11));
    let text = |s: abi::Str| {
        // SAFETY: every string in the table points to `len` 'static, unchanging bytes.
        String::from_utf8(unsafe { s.as_bytes() }.to_vec()).unwrap()
    };
    let described: Vec<_> = methods
        .iter()
        .map(|m| {
            // SAFETY: `params` points to `params_len` 'static, unchanging entries.
            let params = unsafe { std::slice::from_raw_parts(m.params, m.params_len) };
            let params: Vec<_> = params.iter().map(|p| (text(p.name), p.kind, p.default_json.len)).collect();
            (text(m.name), text(m.symbol), text(m.doc), params, m.flags)
        })
        .collect();
    let (greeting, sum, echo) = (&described[0], &described[2], &described[8]);
    let expected = (
        "greeting".into(),
        "rj2_greeting".into(),
        "Says hello.".into(),
        vec![("name".into(), abi::PARAM_OPTIONAL, 0)],
        abi::METHOD_BOUND | abi::METHOD_TRUSTED_OUTPUT,
    );
    assert_eq!(*greeting, expected);
    assert_eq!((&sum.3, sum.4), (&vec![("numbers".into(), abi::PARAM_VARIADIC, 0)], abi::METHOD_TRUSTED_OUTPUT));
    assert_eq!(
        (&echo.0, &echo.1, echo.3.len(), echo.4),
        (&"echo_params".into(), &"rj2_echo_params".into(), 0, abi::METHOD_RAW | abi::METHOD_TRUSTED_OUTPUT)
    );
    assert_eq!(described[1].3[1], ("subtrahend".into(), abi::PARAM_REQUIRED, 0));
}

/// `value::from_slice` answers what serde_json does: the same value, or the same error.
#[test]
fn value_decodes_as_serde_json() {
    use serde::Deserialize;
    use serde::de::DeserializeOwned;
    fn same<T: DeserializeOwned + PartialEq + std::fmt::Debug>(text: &[u8]) {
        let ours = crate::value::from_slice::<T>(text).map_err(|e| e.to_string());
        let serde = serde_json::from_slice::<T>(text).map_err(|e| e.to_string());
        assert_eq!(ours, serde, "{} as {}", String::from_utf8_lossy(text), std::any::type_name::<T>());
    }
    #[derive(Deserialize, PartialEq, Debug)]
    enum Color {
        Red,
    }
    #[derive(Deserialize, PartialEq, Debug)]
    struct Meters(u32);
    #[derive(Deserialize, PartialEq, Debug)]
    #[serde(untagged)]
    enum Either {
        N(i64),
        S(String),
    }
    #[derive(Deserialize, PartialEq, Debug)]
    #[serde(variant_identifier)]
    enum Op {
        Add,
    }
    /// Asks for a string, but its visitor would take a number too.
    #[derive(PartialEq, Debug)]
    struct Lenient(String);
    impl<'de> Deserialize<'de> for Lenient {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Lenient, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Lenient;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("text")
                }
                fn visit_str<E>(self, v: &str) -> Result<Lenient, E> {
                    Ok(Lenient(v.into()))
                }
                fn visit_u64<E>(self, v: u64) -> Result<Lenient, E> {
                    Ok(Lenient(v.to_string()))
                }
            }
            d.deserialize_str(V)
        }
    }
    same::<i64>(b"1");
    same::<i64>(b"-1");
    same::<i64>(b"-0"); // a float to serde_json, so not an i64
    same::<f64>(b"-0");
    same::<Value>(b"-0");
    same::<i64>(b"9223372036854775807");
    same::<i64>(b"-9223372036854775808");
    same::<i64>(b"-9223372036854775809"); // a float to serde_json
    same::<u64>(b"9999999999999999999"); // 19 digits: the longest the shortcut reads
    same::<u64>(b"18446744073709551615"); // 20 digits: serde_json's
    same::<u64>(b"18446744073709551616");
    same::<i64>(b"9999999999999999999"); // out of range
    same::<i32>(b"4294967296");
    same::<u8>(b"256");
    same::<u8>(b"-1");
    same::<i128>(b"-5");
    same::<f64>(b"3");
    same::<f32>(b"-3");
    same::<i64>(b"01");
    same::<i64>(b"1.5");
    same::<i64>(b"1e3");
    same::<i64>(b" 1");
    same::<i64>(b"");
    same::<i64>(b"-");
    same::<String>(b"\"plain\"");
    same::<String>(b"\"\"");
    same::<String>(b"\"");
    same::<String>(b"\"esc\\u00e9\\n\"");
    same::<String>("\"d\u{e9}j\u{e0}\"".as_bytes());
    same::<String>(b"\"\xff\"");
    same::<String>(b"\"tab\there\"");
    same::<String>(b"\"a\"b\"");
    same::<String>(b"5");
    same::<i64>(b"\"5\"");
    same::<char>(b"\"x\"");
    same::<char>(b"\"xy\"");
    same::<Option<i64>>(b"7");
    same::<Option<i64>>(b"null");
    same::<Option<String>>(b"\"s\"");
    same::<Value>(b"-12");
    same::<Value>(b"12");
    same::<Value>(b"\"s\"");
    same::<serde_json::Number>(b"-12");
    same::<Color>(b"\"Red\"");
    same::<Color>(b"\"Blue\"");
    same::<Color>(b"0");
    same::<Meters>(b"3");
    same::<Either>(b"3");
    same::<Either>(b"\"three\"");
    same::<bool>(b"1");
    same::<()>(b"1");
    same::<Vec<u8>>(b"\"ab\"");
    same::<(i64,)>(b"1");
    same::<Op>(b"0"); // an identifier's visitor takes numbers; serde_json's deserialize_str does not
    same::<Op>(b"\"Add\"");
    same::<Lenient>(b"5");
    same::<Lenient>(b"\"5\"");
    same::<u64>(b"\"5\"");
    same::<f64>(b"\"5\"");
    same::<u128>(b"5");
    let raw = crate::value::from_slice::<Box<serde_json::value::RawValue>>(b"42").expect("a raw value");
    assert_eq!(raw.get(), "42");
}

/// `value::from_slice` against serde_json on 100,000 generated texts, each read as several types.
#[test]
fn value_agrees_with_serde_json_on_generated_text() {
    use serde::de::DeserializeOwned;
    fn same<T: DeserializeOwned + PartialEq + std::fmt::Debug>(text: &[u8]) -> bool {
        let ours = crate::value::from_slice::<T>(text).map_err(|e| e.to_string());
        let serde = serde_json::from_slice::<T>(text).map_err(|e| e.to_string());
        assert_eq!(ours, serde, "{:?} as {}", String::from_utf8_lossy(text), std::any::type_name::<T>());
        ours.is_ok()
    }
    const PIECES: &[&[u8]] = &[
        b"0",
        b"1",
        b"9",
        b"-",
        b"\"",
        b"\\",
        b"a",
        b"e",
        b".",
        b" ",
        b"\x01",
        b"\xc3\xa9",
        b"\xff",
        b"n",
        b"999999999",
    ];
    let mut state = 0x853c_49e6_748f_ea9b_u64;
    let mut next = |n: usize| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % n
    };
    let mut read = 0;
    for _ in 0..100_000 {
        let mut text = Vec::new();
        if next(2) == 0 {
            text.push(b'"');
        }
        for _ in 0..next(6) {
            text.extend_from_slice(PIECES[next(PIECES.len())]);
        }
        if text.first() == Some(&b'"') && next(4) > 0 {
            text.push(b'"');
        }
        let results = [
            same::<i64>(&text),
            same::<u8>(&text),
            same::<u64>(&text),
            same::<f64>(&text),
            same::<String>(&text),
            same::<char>(&text),
            same::<Option<i32>>(&text),
            same::<Value>(&text),
        ];
        read += results.iter().filter(|&&ok| ok).count();
    }
    assert!(read > 50_000, "the generator makes enough readable values: {read}");
}
