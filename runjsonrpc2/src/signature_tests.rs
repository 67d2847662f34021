//! Signature tests: parameter lists, extra variables, and arguments bound to parameters.

use super::*;
use crate::procedure;

#[test]
fn signatures() {
    #[rustfmt::skip]
    let cases: &[(&[&str], Result<&str, &str>)] = &[
        (&["a", "b"], Ok("(a, b)")),
        (&["name=\"world\""], Ok("(name=\"world\")")),
        (&["a", "name?", "*rest"], Ok("(a, name?, *rest)")),
        (&["*rest", "a"], Err("bad parameter list: variadic parameter \"rest\" is not last")),
        (&["a", "a"], Err("bad parameter list: parameter \"a\" declared twice")),
        (&["a=nope"], Err("bad parameter list: default of \"a\" is not JSON: expected ident at line 1 column 2")),
        (&["a-b"], Err("bad parameter list: bad parameter name \"a-b\"")),
    ];
    for (specs, want) in cases {
        let got = Signature::parse(specs).map(|s| s.to_string()).map_err(|e| e.to_string());
        assert_eq!(got.as_deref().map_err(String::as_str), *want, "{specs:?}");
    }
    let e = procedure(&["a"], |a: i64, b: i64| Ok(a + b)).err().unwrap();
    assert_eq!(e.to_string(), "1 parameters declared, the procedure takes 2");
}

/// Extra variables: a later value of a name replaces the earlier one in place, and the
/// object text raw procedures get lists each name once, in order.
#[test]
fn extras_replace_in_place_and_list_each_name_once() {
    let empty = Extras::new();
    assert!(empty.is_empty());
    assert_eq!(empty.as_json(), "{}");
    let x = Extras::new().with("a", 1).with("b\"", "two").with("a", 3);
    // Replaced, and still found (before another name of its length is added).
    assert_eq!(x.get("a").map(RawValue::get), Some("3"));
    let x = x.with("c", [4]);
    assert!(!x.is_empty());
    assert_eq!(x.names().collect::<Vec<_>>(), ["a", "b\"", "c"]);
    assert_eq!(x.as_json(), r#"{"a":3,"b\"":"two","c":[4]}"#);
    assert_eq!(x.get("a").map(RawValue::get), Some("3"));
    assert!(x.get("d").is_none() && x.get("ab").is_none() && x.get("").is_none());
    // Names of 63 bytes and more share one length bit: the names decide.
    let (long, longer) = ("n".repeat(63), "n".repeat(70));
    let x = x.with(&longer, 5);
    assert_eq!(x.get(&longer).map(RawValue::get), Some("5"));
    assert!(x.get(&long).is_none() && x.get(&"m".repeat(70)).is_none());
}

/// Bound arguments: each fixed slot in order (an absent optional one `null`), then the
/// variadic values; `len` counts them all.
#[test]
fn bound_args_are_fixed_slots_then_variadic_values() {
    let extras = Extras::new();
    #[rustfmt::skip]
    let cases: &[(&[&str], Option<&str>, &[&str])] = &[
        (&["a", "b"], Some("[1,2]"), &["1", "2"]),
        (&["a", "b?"], Some("[1]"), &["1", "null"]),
        (&["a", "*rest"], Some("[1,2,3]"), &["1", "2", "3"]),
        (&["a", "*rest"], Some(r#"{"a":1}"#), &["1"]),
        (&["*rest"], None, &[]),
        // Up to eight fixed slots are inline, more on the heap.
        (&["a", "b", "c", "d", "e", "f", "g", "h"], Some("[1,2,3,4,5,6,7,8]"), &["1", "2", "3", "4", "5", "6", "7", "8"]),
        (&["a", "b", "c", "d", "e", "f", "g", "h", "i?"], Some("[1,2,3,4,5,6,7,8]"), &["1", "2", "3", "4", "5", "6", "7", "8", "null"]),
    ];
    for (specs, params, want) in cases {
        let sig = Signature::parse(specs).unwrap();
        let mut args = Args::new(&sig, *params, &extras);
        args.bind().unwrap();
        assert_eq!(args.values().collect::<Vec<_>>(), *want, "{specs:?} {params:?}");
        assert_eq!((args.len(), args.is_empty()), (want.len(), want.is_empty()), "{specs:?} {params:?}");
    }
}
