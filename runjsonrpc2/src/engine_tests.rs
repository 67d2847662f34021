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

#[test]
fn table_is_dict_like() {
    let rpc = JsonRpc::new();
    assert!(rpc.methods().is_empty());
    rpc.methods().insert("a", procedure(&[], || Ok(1)).unwrap());
    rpc.methods().insert("a", procedure(&[], || Ok(2)).unwrap());
    rpc.methods().insert_lazy("sample.add", "sample:add").unwrap();
    assert_eq!(rpc.methods().len(), 2);
    assert!(!rpc.methods().is_empty());
    let names: Vec<String> = rpc.methods().entries().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["a", "sample.add"]);
    assert_eq!(
        run(&rpc, r#"{"jsonrpc":"2.0","method":"a","id":1}"#, &Extras::new()).unwrap(),
        r#"{"jsonrpc":"2.0","result":2,"id":1}"#
    );
    assert!(rpc.methods().insert_lazy("x", "no-colon").is_err());
    assert!(rpc.methods().remove("a") && !rpc.methods().remove("a"));
}

/// Every change to a table is seen by the next call, with two tables taking turns on one thread.
#[test]
fn each_change_is_seen_by_the_next_call() {
    let (one, two) = (JsonRpc::new(), JsonRpc::new());
    let call = |rpc: &JsonRpc| run(rpc, r#"{"jsonrpc":"2.0","method":"m","id":1}"#, &Extras::new()).unwrap();
    let answer = |v: i64| format!(r#"{{"jsonrpc":"2.0","result":{v},"id":1}}"#);
    let missing = r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}"#;
    let set = |rpc: &JsonRpc, v: i64| rpc.methods().insert("m", procedure(&[], move || Ok(v)).unwrap());
    #[rustfmt::skip]
    let steps: &[(&str, &JsonRpc, Option<i64>, Option<i64>)] = &[
        // (what, table, value to set first or None to remove, expected answer or None for -32601)
        ("empty table", &one, None, None),
        ("insert", &one, Some(1), Some(1)),
        ("the other table, empty", &two, None, None),
        ("the other table, insert", &two, Some(20), Some(20)),
        ("back to the first", &one, Some(1), Some(1)),
        ("replace", &one, Some(2), Some(2)),
        ("the other table kept its own", &two, Some(20), Some(20)),
        ("remove", &one, None, None),
        ("insert again", &one, Some(3), Some(3)),
    ];
    for (what, rpc, value, want) in steps {
        match value {
            Some(v) => set(rpc, *v),
            None => {
                rpc.methods().remove("m");
            }
        }
        let want = want.map_or(missing.to_owned(), answer);
        assert_eq!(call(rpc), want, "{what}");
    }
}

/// A procedure may call into the table it was found in, and change it, during its call.
#[test]
fn procedures_may_reenter_the_table() {
    let rpc = Arc::new(JsonRpc::new());
    rpc.methods().insert("inner", procedure(&[], || Ok("inner")).unwrap());
    let weak = Arc::downgrade(&rpc);
    let outer = procedure(&[], move || {
        let rpc = weak.upgrade().expect("the table is alive");
        rpc.methods().insert("added", procedure(&[], || Ok("added")).unwrap());
        let inner = run(&rpc, r#"{"jsonrpc":"2.0","method":"inner","id":2}"#, &Extras::new());
        let added = run(&rpc, r#"{"jsonrpc":"2.0","method":"added","id":3}"#, &Extras::new());
        Ok(json!([inner, added]))
    });
    rpc.methods().insert("outer", outer.unwrap());
    let got = run(&rpc, r#"{"jsonrpc":"2.0","method":"outer","id":1}"#, &Extras::new()).unwrap();
    let want = json!({"jsonrpc": "2.0", "id": 1, "result": [
        r#"{"jsonrpc":"2.0","result":"inner","id":2}"#,
        r#"{"jsonrpc":"2.0","result":"added","id":3}"#,
    ]});
    assert_eq!(serde_json::from_str::<Value>(&got).unwrap(), want);
    let added = run(&rpc, r#"{"jsonrpc":"2.0","method":"added","id":4}"#, &Extras::new());
    assert_eq!(added.as_deref(), Some(r#"{"jsonrpc":"2.0","result":"added","id":4}"#));
}

/// A resolver that fails until told otherwise, counting its calls.
struct Flaky(std::sync::atomic::AtomicUsize);

impl Resolver for Flaky {
    fn resolve(&self, target: &crate::Target) -> Result<Arc<dyn Procedure>, Box<dyn std::error::Error + Send + Sync>> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n == 0 {
            return Err(format!("{target}: not yet").into());
        }
        Ok(Arc::new(procedure(&["a", "b"], |a: i64, b: i64| Ok(a + b)).unwrap()))
    }
}

#[test]
fn lazy_entries_cache_only_success() {
    let mut rpc = JsonRpc::new();
    let resolver = Arc::new(Flaky(Default::default()));
    rpc.set_resolver(resolver.clone());
    rpc.methods().insert_lazy("sample.add", "tests.sample:add").unwrap();
    let req = r#"{"jsonrpc":"2.0","method":"sample.add","id":"sample.add","params":[1,2]}"#;
    let failed = r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found","data":"tests.sample:add could not be loaded"},"id":"sample.add"}"#;
    assert_eq!(run(&rpc, req, &Extras::new()).as_deref(), Some(failed));
    let ok = r#"{"jsonrpc":"2.0","result":3,"id":"sample.add"}"#;
    assert_eq!(run(&rpc, req, &Extras::new()).as_deref(), Some(ok));
    assert_eq!(run(&rpc, req, &Extras::new()).as_deref(), Some(ok));
    assert_eq!(resolver.0.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// Methods are added and removed while four threads call another: every call is answered,
/// and calls were answered while the table changed (not all before or after).
#[test]
fn table_changes_while_serving() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let rpc = Arc::new(sample());
    let (calls, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let req = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (rpc, calls, stop) = (rpc.clone(), calls.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut wrong = 0;
                while !stop.load(Ordering::SeqCst) {
                    wrong += usize::from(!run(&rpc, req, &Extras::new()).unwrap().contains("\"result\":3"));
                    calls.fetch_add(1, Ordering::SeqCst);
                }
                wrong
            })
        })
        .collect();
    while calls.load(Ordering::SeqCst) < 4 {
        std::thread::yield_now();
    }
    let before = calls.load(Ordering::SeqCst);
    for i in 0..2000 {
        rpc.methods().insert(&format!("m{i}"), procedure(&[], || Ok(())).unwrap());
        rpc.methods().remove(&format!("m{}", i / 2));
        if i % 100 == 0 {
            std::thread::yield_now();
        }
    }
    let during = calls.load(Ordering::SeqCst) - before;
    stop.store(true, Ordering::SeqCst);
    let wrong: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(wrong, 0);
    assert!(during > 0, "no call was answered while the table changed");
    assert!(rpc.methods().contains("m1999") && !rpc.methods().contains("m0"));
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
        assert_eq!(super::depth(&json), want, "{json}");
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

/// Failures read as errors: their messages, and an application error as their source.
#[test]
fn failures_are_errors() {
    use crate::error::{AppError, Failure};
    use std::error::Error;
    #[rustfmt::skip]
    let cases = [
        (Failure::NotFound(None), "method not found"),
        (Failure::NotFound(Some("sample:x: no such symbol".into())), "method not found: sample:x: no such symbol"),
        (Failure::InvalidParams("missing parameter \"b\"".into()), "invalid params: missing parameter \"b\""),
        (Failure::Internal("procedure panicked: boom".into()), "internal error: procedure panicked: boom"),
        (Failure::App(AppError::new("Busy", "try later")), "application error Busy: try later"),
    ];
    for (failure, text) in cases {
        assert_eq!(failure.to_string(), text);
        assert_eq!(failure.source().is_some(), matches!(failure, Failure::App(_)), "{text}");
    }
}

/// Data that cannot be serialized is not dropped: the client reads why.
#[test]
fn app_error_data_that_cannot_be_serialized_says_so() {
    let mut map = std::collections::HashMap::new();
    map.insert(vec![1u8], 1); // JSON object keys must be strings
    let e = crate::error::AppError::new("Bad", "x").with_data(&map);
    let data = e.data.expect("data").get().to_owned();
    assert!(data.starts_with("\"the error's data could not be serialized:"), "{data}");
    let ok = crate::error::AppError::new("Busy", "x").with_data(&serde_json::json!({"retry": 3}));
    assert_eq!(ok.data.unwrap().get(), r#"{"retry":3}"#);
}

#[test]
fn a_caller_gets_forbidden_for_methods_it_may_not_call_whether_they_exist_or_not() {
    let rpc = sample();
    let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = ran.clone();
    rpc.methods().insert(
        "count",
        procedure(&[], move || Ok(counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst))).unwrap(),
    );
    let may_call = |m: &str| m.starts_with("su") || m == "nope";
    let forbidden = r#""error":{"code":-32098,"message":"Forbidden","data":"not allowed for this caller"}"#;
    let cases = [
        (
            r#"{"jsonrpc":"2.0","method":"subtract","params":[3,1],"id":1}"#,
            r#"{"jsonrpc":"2.0","result":2,"id":1}"#.to_owned(),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"add","params":[3,1],"id":1}"#,
            format!(r#"{{"jsonrpc":"2.0",{forbidden},"id":1}}"#),
        ),
        // Not in the table: the same answer as for "add", so existence is not revealed.
        (r#"{"jsonrpc":"2.0","method":"missing","id":1}"#, format!(r#"{{"jsonrpc":"2.0",{forbidden},"id":1}}"#)),
        // Allowed but missing: the usual answer.
        (
            r#"{"jsonrpc":"2.0","method":"nope","id":1}"#,
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}"#.to_owned(),
        ),
        (
            r#"[{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":"a"},{"jsonrpc":"2.0","method":"count","id":"b"},{"jsonrpc":"2.0","method":"count"}]"#,
            format!(r#"[{{"jsonrpc":"2.0","result":3,"id":"a"}},{{"jsonrpc":"2.0",{forbidden},"id":"b"}}]"#),
        ),
    ];
    for (body, want) in cases {
        let mut out = Vec::new();
        assert!(rpc.handle_into_for(body.as_bytes(), &Extras::new(), &may_call, &mut out), "{body}");
        assert_eq!(String::from_utf8(out).unwrap(), want, "{body}");
    }
    let mut out = Vec::new();
    assert!(!rpc.handle_into_for(br#"{"jsonrpc":"2.0","method":"count"}"#, &Extras::new(), &may_call, &mut out));
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 0, "a forbidden call never runs");
    assert!(rpc.handle_into(br#"{"jsonrpc":"2.0","method":"count","id":1}"#, &Extras::new(), &mut out));
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1, "without a check it runs");
}

/// The observer hears how every call ended (the server's `/metrics`): notifications too, an
/// unknown method under one name, and each failure with the code its answer carries.
#[test]
fn the_observer_hears_each_outcome() {
    type Heard = (&'static str, Option<i64>);
    use crate::metrics::UNKNOWN_METHOD;
    let mut rpc = sample();
    rpc.map_error("MyException", -32001).unwrap();
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = heard.clone();
    rpc.set_observer(Arc::new(move |m: &str, code: Option<i64>| sink.lock().unwrap().push((m.to_owned(), code))));
    #[rustfmt::skip]
    let cases: &[(&str, &[Heard])] = &[
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#, &[("add", None)]),
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2]}"#, &[("add", None)]),
        (r#"{"jsonrpc":"2.0","method":"nope","id":1}"#, &[(UNKNOWN_METHOD, Some(-32601))]),
        (r#"{"jsonrpc":"2.0","method":"add","params":[1],"id":1}"#, &[("add", Some(-32602))]),
        (r#"{"jsonrpc":"2.0","method":"boom","id":1}"#, &[("boom", Some(-32603))]),
        (r#"{"jsonrpc":"2.0","method":"fail","id":1}"#, &[("fail", Some(-32001))]),
        (r#"[{"jsonrpc":"2.0","method":"sum","params":[1]},{"jsonrpc":"2.0","method":"nope"}]"#, &[("sum", None), (UNKNOWN_METHOD, Some(-32601))]),
        // Not a call: nothing to hear.
        (r#"{"jsonrpc":"2.0","method":"add","params":"x","id":1}"#, &[]),
    ];
    for (body, want) in cases {
        run(&rpc, body, &Extras::new());
        let got = std::mem::take(&mut *heard.lock().unwrap());
        let got: Vec<(&str, Option<i64>)> = got.iter().map(|(m, c)| (m.as_str(), *c)).collect();
        assert_eq!(got, *want, "{body}");
    }
    let mut out = Vec::new();
    rpc.handle_into_for(br#"{"jsonrpc":"2.0","method":"add","id":1}"#, &Extras::new(), &|_| false, &mut out);
    assert_eq!(*heard.lock().unwrap(), [(UNKNOWN_METHOD.to_owned(), Some(error::FORBIDDEN))]);
}

/// The answer in place of calls that ran out of time: one error per request with an id, in
/// a batch's array or alone, and the methods named for the log.
#[test]
fn overdue_calls_are_answered_with_the_given_error() {
    let rpc = sample();
    let err =
        |id: &str| format!(r#"{{"jsonrpc":"2.0","error":{{"code":-32001,"message":"took \"too\" long"}},"id":{id}}}"#);
    #[rustfmt::skip]
    let cases: &[(&str, Option<String>, &str)] = &[
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7}"#, Some(err("7")), "add"),
        (r#"{"jsonrpc":"2.0","method":"a\u0064d","id":"x"}"#, Some(err("\"x\"")), "add"),
        (r#"{"jsonrpc":"2.0","method":"add"}"#, None, "add"),
        (r#"{"jsonrpc":"2.0","method":"add","id":{}}"#, None, "add"),
        (r#"[{"jsonrpc":"2.0","method":"add","id":1},{"jsonrpc":"2.0","method":"sum"},{"jsonrpc":"2.0","method":"hi","id":null}]"#, Some(format!("[{},{}]", err("1"), err("null"))), "a batch of 3 (add, sum, hi)"),
        (r#"[{"jsonrpc":"2.0","method":"add","id":1}]"#, Some(format!("[{}]", err("1"))), "add"),
        (r#"[{"jsonrpc":"2.0","method":"sum"},1]"#, None, "sum"),
        ("not json", None, "no method"),
    ];
    for (body, want, methods) in cases {
        let mut out = b"kept".to_vec();
        let (answered, named) = rpc.overdue_into(body.as_bytes(), -32001, "took \"too\" long", &mut out);
        let out = String::from_utf8(out).unwrap();
        assert_eq!((answered, named.as_str()), (want.is_some(), *methods), "{body}");
        assert_eq!(out, format!("kept{}", want.as_deref().unwrap_or("")), "{body}");
    }
}

/// A panic's text, for the log line that reports it.
#[test]
fn panic_messages() {
    let text = |payload: Box<dyn std::any::Any + Send>| panic_message(&*payload);
    assert_eq!(text(Box::new("static")), "static");
    assert_eq!(text(Box::new(String::from("formatted 1"))), "formatted 1");
    assert_eq!(text(Box::new(1u8)), "procedure panicked");
}
