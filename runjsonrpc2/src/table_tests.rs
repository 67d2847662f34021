//! Table tests: lazy targets as text, and what an entry tells about itself.

use super::*;

/// `module:symbol`: the last colon splits (a module may be a path), and neither part is empty.
#[test]
fn targets_parse_at_the_last_colon() {
    #[rustfmt::skip]
    let cases: &[(&str, Option<(&str, &str)>)] = &[
        ("sample:add", Some(("sample", "add"))),
        ("/opt/lib/libsample.so:add", Some(("/opt/lib/libsample.so", "add"))),
        ("a:b:c", Some(("a:b", "c"))),
        ("sample", None),
        (":add", None),
        ("sample:", None),
        (":", None),
        ("sample:lib/add", None),
    ];
    for (text, want) in cases {
        let got = Target::parse(text);
        match want {
            Some((module, symbol)) => {
                let target = got.unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!((target.module.as_str(), target.symbol.as_str()), (*module, *symbol), "{text}");
                assert_eq!(target.to_string(), *text);
            }
            None => assert_eq!(
                got.map_err(|e| e.to_string()).err().as_deref(),
                Some(format!("bad lazy target {text:?}: expected module:symbol").as_str())
            ),
        }
    }
}

/// A native entry has its procedure and no target; a lazy one its target, and a procedure
/// only once resolved.
#[test]
fn entries_tell_their_target_and_procedure() {
    let native = Entry::native(crate::procedure(&[], || Ok(1)).unwrap());
    assert!(native.target().is_none() && native.procedure().is_some());
    let target = Target::parse("sample:add").unwrap();
    let lazy = Entry::lazy(target.clone());
    assert_eq!(lazy.target(), Some(&target));
    assert!(lazy.procedure().is_none());
    let Kind::Lazy { resolved, .. } = &lazy.0 else { unreachable!("a lazy entry") };
    let procedure: Arc<dyn Procedure> = Arc::new(crate::procedure(&[], || Ok(2)).unwrap());
    assert!(resolved.set(procedure).is_ok());
    assert!(lazy.procedure().is_some());
}
