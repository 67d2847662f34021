//! The protocol's lines: every message's encoding, its reading back, and the lines refused.

use super::*;

fn counts() -> Snapshot {
    Snapshot { closed_on_error: 3, refused: [(413, 2)].into(), ..Snapshot::default() }
}

fn deadline(methods: &str, ms: u64) -> Reason {
    Reason::Deadline { methods: methods.to_owned(), timeout: Duration::from_millis(ms) }
}

#[test]
fn up_messages_encode_as_one_line_and_read_back() {
    let metrics = format!("metrics {}\n", serde_json::to_string(&counts()).unwrap());
    #[rustfmt::skip]
    let cases = [
        (Up::Ready, "ready\n".to_owned()),
        (Up::Failed { message: "abi version 4, supported 2-3".into() }, "failed abi version 4, supported 2-3\n".into()),
        (Up::Failed { message: String::new() }, "failed \n".into()),
        (Up::Retiring { reason: Reason::MaxRequests(1000) }, "retiring max-requests 1000\n".into()),
        (Up::Retiring { reason: deadline("cgreet.hang", 2000) }, "retiring deadline 2000000000 cgreet.hang\n".into()),
        (Up::Retiring { reason: deadline("a, b", 500) }, "retiring deadline 500000000 a, b\n".into()),
        (Up::Retiring { reason: Reason::Other("accept failed: EMFILE".into()) }, "retiring other accept failed: EMFILE\n".into()),
        (Up::Crash { method: "cgreet.crash".into() }, "crash cgreet.crash\n".into()),
        (Up::Metrics(counts()), metrics),
    ];
    for (up, line) in cases {
        assert_eq!(up.encode(), line, "{up:?}");
        assert_eq!(Up::decode(&line), Ok(up.clone()), "{line:?}");
        assert_eq!(Up::decode(line.trim_end_matches('\n')), Ok(up), "{line:?}");
    }
}

#[test]
fn line_breaks_in_text_become_spaces() {
    #[rustfmt::skip]
    let cases = [
        (Up::Failed { message: "one\ntwo\r\nthree".into() }, "failed one two  three\n", Up::Failed { message: "one two  three".into() }),
        (Up::Retiring { reason: Reason::Other("a\nb".into()) }, "retiring other a b\n", Up::Retiring { reason: Reason::Other("a b".into()) }),
    ];
    for (up, line, back) in cases {
        assert_eq!(up.encode(), line);
        assert_eq!(Up::decode(line), Ok(back));
    }
}

#[test]
fn lines_that_say_nothing_known_are_unreadable() {
    #[rustfmt::skip]
    let cases = [
        "",
        "ready now",
        "Ready",
        "failed",
        "retiring",
        "retiring served 5 requests (--max-requests)",
        "retiring max-requests",
        "retiring max-requests many",
        "retiring max-requests -1",
        "retiring deadline 2000",
        "retiring deadline 2s cgreet.hang",
        "retiring other",
        "crash",
        "crash ",
        "crash two words",
        "metrics",
        "metrics {\"calls\":",
        "metrics []",
        "stop",
        "hello there",
    ];
    for line in cases {
        assert_eq!(Up::decode(line), Err(Unreadable(line.to_owned())), "{line:?}");
    }
}

#[test]
fn a_line_torn_by_a_crash_gives_the_crash_and_the_rest_unreadable() {
    let unreadable = |text: &str| Err(Unreadable(text.to_owned()));
    let crash = |method: &str| Ok(Up::Crash { method: method.to_owned() });
    #[rustfmt::skip]
    let cases = [
        ("metrics {\"calls\":{\"a\"crash hello.boom", vec![unreadable("metrics {\"calls\":{\"a\""), crash("hello.boom")]),
        ("readcrash x", vec![unreadable("read"), crash("x")]),
        ("retiring max-requests 1crash x\n", vec![unreadable("retiring max-requests 1"), crash("x")]),
        ("ready", vec![Ok(Up::Ready)]),
        ("failed a crash in init", vec![Ok(Up::Failed { message: "a crash in init".into() })]),
        ("crash a.b", vec![crash("a.b")]),
        ("metrics {crash two words", vec![unreadable("metrics {crash two words")]),
        ("metrics {\"calls\"", vec![unreadable("metrics {\"calls\"")]),
        ("crash ", vec![unreadable("crash ")]),
        ("xcrash ", vec![unreadable("xcrash ")]),
        ("\u{e9}crash \u{e9}", vec![unreadable("\u{e9}"), crash("\u{e9}")]),
    ];
    for (line, want) in cases {
        assert_eq!(decode_torn(line), want, "{line:?}");
    }
}

#[test]
fn down_orders_encode_and_read_back() {
    #[rustfmt::skip]
    let cases = [
        (Down::Stop, "stop\n"),
        (Down::Quit, "quit\n"),
    ];
    for (down, line) in cases {
        assert_eq!(down.encode(), line);
        assert_eq!(Down::decode(line), Ok(down));
        assert_eq!(Down::decode(line.trim_end()), Ok(down));
    }
    #[rustfmt::skip]
    let refused = ["", "Stop", "stop now", "quit ", "ready", "stopquit"];
    for line in refused {
        assert_eq!(Down::decode(line), Err(Unreadable(line.to_owned())), "{line:?}");
    }
}

#[test]
fn unreadable_lines_are_shown_quoted_and_cut_short() {
    #[rustfmt::skip]
    let cases = [
        (Unreadable("hi".into()), "an unreadable line \"hi\"".to_owned()),
        (Unreadable("x".repeat(300)), format!("an unreadable line {:?}", "x".repeat(200))),
    ];
    for (unreadable, want) in cases {
        assert_eq!(unreadable.to_string(), want);
    }
}

#[test]
fn the_crash_prefix_is_what_decode_reads() {
    let line = format!("{}m.x\n", std::str::from_utf8(CRASH_PREFIX).unwrap());
    assert_eq!(Up::decode(&line), Ok(Up::Crash { method: "m.x".into() }));
}
