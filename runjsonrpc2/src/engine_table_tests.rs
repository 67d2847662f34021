//! Engine tests of the table while it serves: changes seen by the next call, re-entry, lazy
//! entries, changes under concurrent calls.

use super::*;

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
    let failed = r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found","data":"\"sample.add\" could not be loaded"},"id":"sample.add"}"#;
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
