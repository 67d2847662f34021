//! Engine tests of how calls end: failures, application errors, forbidden callers, what the
//! observer hears, deadline answers, panic messages.

use super::*;

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
    use crate::engine::UNKNOWN_METHOD;
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
