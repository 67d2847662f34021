//! Fuzz target: any bytes into the engine's bytes entry; the answer, if any, is one valid JSON-RPC reply,
//! and the fast request reader agrees with serde_json on the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runjsonrpc2::{AppError, Extras, JsonRpc, Limits, procedure, raw, request};
use serde_json::Value;
use std::sync::OnceLock;

fn engine() -> &'static (JsonRpc, Extras) {
    static ENGINE: OnceLock<(JsonRpc, Extras)> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut rpc = JsonRpc::new();
        rpc.set_limits(Limits { max_batch: 50, max_depth: 32 });
        rpc.methods().insert("add", procedure(&["a", "b"], |a: i64, b: i64| Ok(a.wrapping_add(b))).unwrap());
        rpc.methods().insert("greet", procedure(&["name=\"world\""], |n: String| Ok(format!("Hello, {n}!"))).unwrap());
        rpc.methods().insert("sum", procedure(&["*n"], |n: Vec<f64>| Ok(n.iter().sum::<f64>())).unwrap());
        rpc.methods().insert("echo", procedure(&["v?"], |v: Option<Value>| Ok(v)).unwrap());
        rpc.methods().insert("fail", procedure(&[], || -> Result<(), AppError> { Err(AppError::new("E", "no")) }).unwrap());
        rpc.methods().insert("raw", raw(|p, _| Ok(p.map(|p| p.get().len()))));
        rpc.map_error("E", -32001).unwrap();
        (rpc, Extras::new().with("b", 1))
    })
}

/// Checks one response object: jsonrpc 2.0, an id, exactly one of result and error.
fn check_response(v: &Value) {
    let o = v.as_object().expect("a response is an object");
    assert_eq!(o.get("jsonrpc"), Some(&Value::from("2.0")));
    let id = o.get("id").expect("a response has an id");
    assert!(id.is_string() || id.is_number() || id.is_null());
    assert!(o.contains_key("result") != o.contains_key("error"));
    if let Some(e) = o.get("error") {
        assert!(e["code"].is_i64() && e["message"].is_string());
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        // The fast path (taken inside `parse` when it can) reads what serde_json reads.
        match (request::parse(text, 50), request::parse_with_serde(text, 50)) {
            (Ok(fast), Ok(slow)) => assert_eq!(fast, slow),
            (Err(_), Err(_)) => {}
            (fast, slow) => panic!("the readers disagree: {fast:?} against {slow:?}"),
        }
    }
    let (rpc, extras) = engine();
    if let Some(answer) = rpc.handle(data, extras) {
        let v: Value = match serde_json::from_slice(&answer) {
            Ok(v) => v,
            // Ids are echoed verbatim: one serde_json cannot hold (1e400) came from the input.
            Err(e) => {
                assert!(serde_json::from_slice::<Value>(data).is_err(), "answer is not JSON: {e}");
                serde_json::from_str::<serde::de::IgnoredAny>(std::str::from_utf8(&answer).unwrap()).unwrap();
                return;
            }
        };
        match &v {
            Value::Array(items) => {
                assert!(!items.is_empty(), "an empty batch answer is sent as nothing");
                items.iter().for_each(check_response);
            }
            other => check_response(other),
        }
    }
});
