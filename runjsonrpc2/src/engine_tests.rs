//! Engine tests: the seed page's examples, the conformance vectors, and edge cases one a line.

use super::*;
use crate::{procedure, raw};
use serde_json::json;

/// The procedures of the seed page and the conformance vectors, registered natively.
fn sample() -> JsonRpc {
    let rpc = JsonRpc::new();
    rpc.methods().insert("subtract", procedure(&["minuend", "subtrahend"], |a: i64, b: i64| Ok(a - b)).unwrap());
    rpc.methods().insert("sum", procedure(&["*args"], |v: Vec<i64>| Ok(v.iter().sum::<i64>())).unwrap());
    rpc.methods().insert("update", procedure(&["*args"], |_: Vec<Value>| Ok(())).unwrap());
    rpc.methods().insert("foobar", procedure(&[], || Ok(())).unwrap());
    rpc.methods().insert("get_data", procedure(&[], || Ok(json!(["hello", 5]))).unwrap());
    rpc.methods().insert("add", procedure(&["a", "b"], |a: i64, b: i64| Ok(a + b)).unwrap());
    rpc.methods().insert("greeting", procedure(&["name=\"world\""], |n: String| Ok(format!("Hello, {n}!"))).unwrap());
    rpc.methods().insert("hi", procedure(&["name?"], |n: Option<String>| Ok(n.unwrap_or_default())).unwrap());
    rpc.methods().insert("echo", procedure(&["value"], |v: Value| Ok(v)).unwrap());
    rpc.methods().insert("boom", procedure(&[], || -> Result<(), AppError> { panic!("kaboom") }).unwrap());
    rpc.methods()
        .insert("fail", procedure(&[], || -> Result<(), AppError> { Err(AppError::new("MyException", "")) }).unwrap());
    rpc.methods().insert("raw", raw(|p, x| Ok(json!({"params": p.map(RawValue::get), "extras": x.as_json()}))));
    rpc
}

fn run(rpc: &JsonRpc, body: &str, extras: &Extras) -> Option<String> {
    rpc.handle(body.as_bytes(), extras).map(|b| String::from_utf8(b).unwrap())
}

#[test]
fn seed_page_examples() {
    let rpc = sample();
    let none = Extras::new();
    let call = |v: Value| rpc.call(&v, &none);
    // greeting with the default, as JsonRpcApplication answers it.
    assert_eq!(
        call(json!({"jsonrpc": "2.0", "method": "greeting", "id": "greeting"})),
        Some(json!({"jsonrpc": "2.0", "id": "greeting", "result": "Hello, world!"}))
    );
    // subtract by position and by name.
    for (params, id, result) in [
        (json!([42, 23]), 1, 19),
        (json!([23, 42]), 2, -19),
        (json!({"subtrahend": 23, "minuend": 42}), 3, 19),
        (json!({"minuend": 42, "subtrahend": 23}), 4, 19),
    ] {
        let answer = call(json!({"jsonrpc": "2.0", "method": "subtract", "params": params, "id": id}));
        assert_eq!(answer, Some(json!({"jsonrpc": "2.0", "id": id, "result": result})));
    }
    // notifications are not answered.
    assert_eq!(call(json!({"jsonrpc": "2.0", "method": "update", "params": [1, 2, 3, 4, 5]})), None);
    assert_eq!(call(json!({"jsonrpc": "2.0", "method": "foobar"})), None);
    // del rpc['foobar'], then it is not found (message per the spec, not "Method Not Found").
    assert!(rpc.methods().remove("foobar"));
    assert!(!rpc.methods().contains("foobar"));
    assert_eq!(
        call(json!({"jsonrpc": "2.0", "method": "foobar", "id": "1"})),
        Some(json!({"jsonrpc": "2.0", "id": "1", "error": {"message": "Method not found", "code": -32601}}))
    );
    // rpc([1,2,3]) is a batch of three invalid requests under the spec (the original answered one).
    let invalid = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "Invalid Request", "data": "not an object"}});
    assert_eq!(call(json!([1, 2, 3])), Some(json!([invalid, invalid, invalid])));
    assert_eq!(
        call(json!({"jsonrpc": "2.0", "method": 1, "params": "bar"})),
        Some(
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "Invalid Request", "data": "method must be a string"}})
        )
    );
}

#[test]
fn seed_page_extra_vars_and_errors() {
    let mut rpc = JsonRpc::new();
    rpc.methods().insert("add", procedure(&["a", "b"], |a: i64, b: i64| Ok(a + b)).unwrap());
    let b3 = Extras::new().with("b", 3);
    let req = json!({"jsonrpc": "2.0", "method": "add", "id": "rpc-1", "params": {"a": 2}});
    assert_eq!(rpc.call(&req, &b3), Some(json!({"jsonrpc": "2.0", "id": "rpc-1", "result": 5})));
    // The original drops extras for positional calls; here they bind too.
    let req = json!({"jsonrpc": "2.0", "method": "add", "id": "rpc-2", "params": [2]});
    assert_eq!(rpc.call(&req, &b3), Some(json!({"jsonrpc": "2.0", "id": "rpc-2", "result": 5})));
    // The server's value wins over the client's.
    let req = json!({"jsonrpc": "2.0", "method": "add", "id": 3, "params": {"a": 2, "b": 100}});
    assert_eq!(rpc.call(&req, &b3), Some(json!({"jsonrpc": "2.0", "id": 3, "result": 5})));
    // With b taken by the server, one positional value fits.
    let req = json!({"jsonrpc": "2.0", "method": "add", "id": 4, "params": [1, 2]});
    let data = "too many parameters: 2 given, at most 1";
    let too_many =
        json!({"jsonrpc": "2.0", "id": 4, "error": {"code": -32602, "message": "Invalid params", "data": data}});
    assert_eq!(rpc.call(&req, &b3), Some(too_many));

    rpc.methods()
        .insert("call", procedure(&[], || -> Result<(), AppError> { Err(AppError::new("MyException", "")) }).unwrap());
    let req = json!({"jsonrpc": "2.0", "method": "call", "id": "rpc-1", "params": []});
    let unmapped = json!({"jsonrpc": "2.0", "id": "rpc-1", "error": {"message": "", "code": -32000}});
    assert_eq!(rpc.call(&req, &Extras::new()), Some(unmapped));
    rpc.map_error("MyException", -32001).unwrap();
    let mapped = json!({"jsonrpc": "2.0", "id": "rpc-1", "error": {"message": "", "code": -32001}});
    assert_eq!(rpc.call(&req, &Extras::new()), Some(mapped));
}

#[test]
fn reserved_error_codes_are_refused() {
    let mut rpc = JsonRpc::new();
    for code in [-32700, -32600, -32601, -32602, -32603, -32768, -32100] {
        assert!(rpc.map_error("E", code).is_err(), "{code}");
    }
    let e = rpc.map_error("MyException", -32601).unwrap_err();
    assert_eq!(e.to_string(), "error code -32601 for MyException is reserved by JSON-RPC 2.0 (Method not found)");
    for code in [-32000, -32099, -1, 1, 42] {
        assert!(rpc.map_error("E", code).is_ok(), "{code}");
    }
}

#[test]
fn conformance_vectors_in_process() {
    let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/conformance/spec-examples.json");
    let copy = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/spec-examples.json");
    let text = std::fs::read_to_string(shared).or_else(|_| std::fs::read_to_string(copy)).expect("the vectors");
    let vectors: Value = serde_json::from_str(&text).unwrap();
    let rpc = sample();
    let cases = vectors["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 20);
    for case in cases {
        let got = run(&rpc, case["request"].as_str().unwrap(), &Extras::new());
        let got: Value = got.map_or(Value::Null, |g| serde_json::from_str(&g).unwrap());
        let any_id = case["id_may_be_null"] == json!(true);
        assert_eq!(norm(&got, any_id), norm(&case["response"], any_id), "{}", case["name"]);
    }
}

/// What the conformance checker compares: error codes only, batches unordered.
fn norm(v: &Value, any_id: bool) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<String> = items.iter().map(|i| norm(i, any_id).to_string()).collect();
            items.sort();
            json!(items)
        }
        Value::Object(o) => {
            let mut o = o.clone();
            if let Some(e) = o.get_mut("error") {
                assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
                *e = json!({"code": e["code"]});
            }
            if any_id {
                o.remove("id");
            }
            Value::Object(o)
        }
        other => other.clone(),
    }
}

const ERR: &str = r#"{"jsonrpc":"2.0","error":"#;

/// Edge cases: the body sent and the exact bytes answered (None: no answer).
#[test]
fn edge_cases() {
    let rpc = sample();
    #[rustfmt::skip]
    let cases: &[(&str, Option<&str>)] = &[
        // ids are echoed verbatim: big integers, fractions, exponents, null, escapes
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":12345678901234567890123}"#, Some(r#"{"jsonrpc":"2.0","result":3,"id":12345678901234567890123}"#)),
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1.50}"#, Some(r#"{"jsonrpc":"2.0","result":3,"id":1.50}"#)),
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":-1e400}"#, Some(r#"{"jsonrpc":"2.0","result":3,"id":-1e400}"#)),
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":null}"#, Some(r#"{"jsonrpc":"2.0","result":3,"id":null}"#)),
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":"a\u0062\"c"}"#, Some(r#"{"jsonrpc":"2.0","result":3,"id":"a\u0062\"c"}"#)),
        (r#" { "id" : 7 , "params" : [ 1 , 2 ] , "method" : "add" , "jsonrpc" : "2.0" } "#, Some(r#"{"jsonrpc":"2.0","result":3,"id":7}"#)),
        // ids of the wrong type make the request invalid
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":{}}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"id must be a string, a number or null"},"id":null}"#)),
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":[1]}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"id must be a string, a number or null"},"id":null}"#)),
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":true}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"id must be a string, a number or null"},"id":null}"#)),
        // jsonrpc must be exactly "2.0"
        (r#"{"method":"add","params":[1,2],"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"jsonrpc must be exactly \"2.0\""},"id":1}"#)),
        (r#"{"jsonrpc":2.0,"method":"add","params":[1,2],"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"jsonrpc must be exactly \"2.0\""},"id":1}"#)),
        (r#"{"jsonrpc":"2.00","method":"add","params":[1,2],"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"jsonrpc must be exactly \"2.0\""},"id":1}"#)),
        (r#"{"jsonrpc":"2\u002e0","method":"add","params":[1,2],"id":1}"#, Some(r#"{"jsonrpc":"2.0","result":3,"id":1}"#)),
        (r#"{"jsonrpc":"2\u002e1","method":"add","params":[1,2],"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"jsonrpc must be exactly \"2.0\""},"id":1}"#)),
        (r#"{"jsonrpc":"\u0032.0 ","method":"add","params":[1,2],"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"jsonrpc must be exactly \"2.0\""},"id":1}"#)),
        // params must be an array or an object
        (r#"{"jsonrpc":"2.0","method":"add","params":"1,2","id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"params must be an array or an object"},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"add","params":null,"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"params must be an array or an object"},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"foobar","params":[],"id":1}"#, Some(r#"{"jsonrpc":"2.0","result":null,"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"foobar","params":{},"id":1}"#, Some(r#"{"jsonrpc":"2.0","result":null,"id":1}"#)),
        // method
        (r#"{"jsonrpc":"2.0","params":[1,2],"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"method must be a string"},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":null,"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"method must be a string"},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"a\u0064d","params":[1,2],"id":1}"#, Some(r#"{"jsonrpc":"2.0","result":3,"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"nope","id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}"#)),
        // duplicate members make it invalid
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1,"id":2}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"member \"id\" given twice"},"id":2}"#)),
        // unknown members are ignored
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1,"x":{"y":[1]}}"#, Some(r#"{"jsonrpc":"2.0","result":3,"id":1}"#)),
        // notifications are never answered, not even with an error
        (r#"{"jsonrpc":"2.0","method":"nope"}"#, None),
        (r#"{"jsonrpc":"2.0","method":"add","params":["x"]}"#, None),
        (r#"{"jsonrpc":"2.0","method":"boom"}"#, None),
        // but an invalid request without id is answered
        (r#"{"jsonrpc":"2.0"}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"method must be a string"},"id":null}"#)),
        // parameters: count, names, types, defaults, variadic
        (r#"{"jsonrpc":"2.0","method":"add","params":[1],"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"missing parameter \"b\""},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2,3],"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"too many parameters: 3 given, at most 2"},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"add","params":{"a":1,"c":2},"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"unknown parameter \"c\""},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"add","params":{"a":1,"a":2},"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"parameter given twice: \"a\""},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"add","params":["1",2],"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"invalid parameter \"a\": invalid type: string \"1\", expected i64"},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,1.5],"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"invalid parameter \"b\": invalid type: floating point `1.5`, expected i64"},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"greeting","params":[],"id":1}"#, Some(r#"{"jsonrpc":"2.0","result":"Hello, world!","id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"greeting","params":{"name":"you"},"id":1}"#, Some(r#"{"jsonrpc":"2.0","result":"Hello, you!","id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"hi","id":1}"#, Some(r#"{"jsonrpc":"2.0","result":"","id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"sum","params":[],"id":1}"#, Some(r#"{"jsonrpc":"2.0","result":0,"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"sum","params":[1,2,3,4],"id":1}"#, Some(r#"{"jsonrpc":"2.0","result":10,"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"sum","params":[1,"x"],"id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"invalid parameter \"args\": invalid type: string \"x\", expected i64"},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"echo","params":[{"b":[1,{"c":null}]}],"id":1}"#, Some(r#"{"jsonrpc":"2.0","result":{"b":[1,{"c":null}]},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"raw","params":{"z":1},"id":1}"#, Some(r#"{"jsonrpc":"2.0","result":{"extras":"{}","params":"{\"z\":1}"},"id":1}"#)),
        // application errors and panics
        (r#"{"jsonrpc":"2.0","method":"fail","id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":""},"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"boom","id":1}"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":1}"#)),
        // not JSON (trailing garbage, truncation, BOM, invalid UTF-8) is a parse error
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1} x"#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error","data":"trailing characters at line 1 column 56"},"id":null}"#)),
        (r#"{"jsonrpc":"2.0","method":"add""#, Some(r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error","data":"EOF while parsing an object at line 1 column 31"},"id":null}"#)),
        ("\u{feff}{\"jsonrpc\":\"2.0\",\"method\":\"foobar\",\"id\":1}", Some(r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error","data":"expected value at line 1 column 1"},"id":null}"#)),
        ("", Some(r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error","data":"EOF while parsing a value at line 1 column 0"},"id":null}"#)),
        // a valid JSON value that is not a request
        ("1", Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"not an object"},"id":null}"#)),
        ("null", Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"not an object"},"id":null}"#)),
        // batches
        ("[]", Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"empty batch"},"id":null}"#)),
        ("[[]]", Some(r#"[{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"not an object"},"id":null}]"#)),
        (r#"[{"jsonrpc":"2.0","method":"foobar"},{"jsonrpc":"2.0","method":"nope"}]"#, None),
        (r#"[{"jsonrpc":"2.0","method":"foobar"},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":"x"}]"#, Some(r#"[{"jsonrpc":"2.0","result":3,"id":"x"}]"#)),
    ];
    for (i, (body, want)) in cases.iter().enumerate() {
        assert_eq!(run(&rpc, body, &Extras::new()).as_deref(), *want, "case {i}: {body}");
    }
    let bad_utf8 = rpc.handle(b"{\"jsonrpc\":\"2.0\",\"method\":\"\xff\",\"id\":1}", &Extras::new()).unwrap();
    assert!(bad_utf8.starts_with(ERR.as_bytes()) && bad_utf8.ends_with(b"\"id\":null}"));
}

#[test]
fn limits() {
    let mut rpc = sample();
    rpc.set_limits(Limits { max_batch: 3, max_depth: 4 });
    let call = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
    let three = format!("[{call},{call},{call}]");
    assert_eq!(run(&rpc, &three, &Extras::new()).unwrap().matches("\"result\":3").count(), 3);
    let four = format!("[{call},{call},{call},{call}]");
    let too_many = r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"batch larger than 3 requests"},"id":null}"#;
    assert_eq!(run(&rpc, &four, &Extras::new()).as_deref(), Some(too_many));
    let deep = r#"{"jsonrpc":"2.0","method":"echo","params":[[[[1]]]],"id":1}"#;
    assert!(run(&rpc, deep, &Extras::new()).unwrap().contains("\"result\":[[[1]]]"));
    let deeper = r#"{"jsonrpc":"2.0","method":"echo","params":[[[[[1]]]]],"id":1}"#;
    assert!(run(&rpc, deeper, &Extras::new()).unwrap().contains("params nested deeper than 4"));
    // far deeper than serde_json would follow: answered, not a crash
    let abyss = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(run(&rpc, &abyss, &Extras::new()).unwrap().matches("not an object").count(), 1);
}

/// The nesting of params as `depth` counts it: brackets inside strings do not count, and
/// closing brackets do.
#[test]
fn depth_of_params() {
    let siblings = format!("[{}]", vec!["[1]"; 200].join(","));
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    #[rustfmt::skip]
    let cases: Vec<(String, usize)> = vec![
        ("1".into(), 0),
        ("[]".into(), 1),
        (r#"{"a":{"b":[]}}"#.into(), 3),
        (siblings, 2),
        (r#"["[[[[", "{{{{"]"#.into(), 1),
        (r#"["a\"[[[", "\\", [1]]"#.into(), 2),
        (deep(128), 128),
        (deep(129), 129),
        (format!("[{},{}]", deep(3), deep(2)), 4),
    ];
    for (json, want) in cases {
        assert_eq!(crate::json::valid::depth(&json), want, "{json}");
    }
}

/// Through the engine with `max_depth` 2: long but shallow params pass, deep ones (and only
/// those) are refused, however many brackets their strings hold.
#[test]
fn max_depth_counts_nesting_not_length() {
    let mut rpc = sample();
    rpc.set_limits(crate::Limits { max_depth: 2, ..crate::Limits::default() });
    let sum = |params: &str| {
        run(&rpc, &format!(r#"{{"jsonrpc":"2.0","method":"sum","params":{params},"id":1}}"#), &Extras::new()).unwrap()
    };
    let long = format!("[{}]", vec!["1"; 200].join(","));
    #[rustfmt::skip]
    let cases: Vec<(String, &str)> = vec![
        (long, r#""result":200"#),
        (format!("{{\"args\": [{}]}}", vec!["1"; 100].join(",")), "-32602"),
        ("[[1]]".into(), "-32602"),
        (format!("[[\"{}\"]]", "[".repeat(200)), "-32602"),
        ("[[[1]]]".into(), "-32600"),
    ];
    for (params, want) in cases {
        let answer = sum(&params);
        assert!(answer.contains(want), "{params}: {answer}");
    }
}

#[path = "engine_table_tests.rs"]
mod table;

#[path = "engine_outcome_tests.rs"]
mod outcomes;
