//! The loader in-process: real plugins built by cargo and cc, lazy resolution, the whitelist, faults.

use crate::support::{c_plugin, plugin_dir};
use runjsonrpc2::plugin::{Loader, SearchPath};
use runjsonrpc2::{Extras, JsonRpc};
use std::sync::Arc;

/// An engine with a loader over the test plugin directory.
fn engine() -> (JsonRpc, Arc<Loader>) {
    let loader = Arc::new(Loader::new(SearchPath { dirs: vec![plugin_dir().to_path_buf()] }));
    let mut rpc = JsonRpc::new();
    rpc.set_resolver(loader.clone());
    (rpc, loader)
}

fn call(rpc: &JsonRpc, method: &str, params: &str) -> String {
    let body = format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":{params},"id":1}}"#);
    String::from_utf8(rpc.handle(body.as_bytes(), &Extras::new()).unwrap()).unwrap()
}

/// Every sample procedure through the real plugin: method, params, exact answer.
#[test]
fn sample_procedures() {
    let (mut rpc, loader) = engine();
    loader.register(&rpc, "sample", true).unwrap();
    loader.register(&rpc, "hello", true).unwrap();
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str)] = &[
        ("hello.greeting", "[]", r#""result":"Hello, world!""#),
        ("hello.greeting", r#"{"name":"you"}"#, r#""result":"Hello, you!""#),
        ("sample.subtract", "[42,23]", r#""result":19,"#),
        ("sample.subtract", r#"{"subtrahend":23,"minuend":42}"#, r#""result":19,"#),
        ("sample.subtract", "[4.5,0.5]", r#""result":4.0,"#),
        ("sample.subtract", "[-9223372036854775808,1]", r#""code":-32000"#),
        ("sample.add", "[9223372036854775807,1]", r#""result":9223372036854775808,"#),
        ("sample.add", "[1,2]", r#""result":3,"#),
        ("sample.sum", "[1,2,4]", r#""result":7,"#),
        ("sample.sum", "[]", r#""result":0,"#),
        ("sample.sum", "[1,2.5]", r#""result":3.5,"#),
        ("sample.update", "[1,2,3,4,5]", r#""result":null"#),
        ("sample.foobar", "[]", r#""result":null"#),
        ("sample.get_data", "[]", r#""result":["hello",5]"#),
        ("sample.echo", r#"[{"a":[1,"\u00e9"]}]"#, r#""result":{"a":[1,"é"]}"#),
        ("sample.sleep", "[1]", r#""result":1,"#),
        ("sample.fail", r#"["bad"]"#, r#"{"code":-32000,"message":"bad"}"#),
        ("sample.boom", "[]", r#"{"code":-32603,"message":"Internal error"}"#),
        ("sample.raw_boom", "[]", r#"{"code":-32603,"message":"Internal error"}"#),
        ("sample.raw_echo", r#"{"x":1}"#, r#""result":{"extras":{},"params":{"x":1}}"#),
        ("sample.subtract", r#"["42",23]"#, r#""code":-32602"#),
        ("sample.subtract", "[1]", r#""data":"missing parameter \"subtrahend\"""#),
    ];
    for (method, params, want) in cases {
        let got = call(&rpc, method, params);
        assert!(got.contains(want), "{method} {params}: {got}");
    }
    // A panic does not break the next call.
    assert!(call(&rpc, "sample.add", "[2,2]").contains(r#""result":4,"#));
    // Mapping the application error's kind changes its code.
    rpc.map_error("SampleError", -32001).unwrap();
    assert!(call(&rpc, "sample.fail", r#"["bad"]"#).contains(r#""code":-32001"#));
}

/// Whether a library is mapped into this process.
fn mapped(file: &str) -> bool {
    std::fs::read_to_string("/proc/self/maps").unwrap().lines().any(|l| l.ends_with(&format!("/{file}")))
}

#[test]
fn lazy_entries_open_nothing_until_called() {
    let (rpc, loader) = engine();
    // A by-hand lazy entry for a library only this test uses (a copy of cgreet).
    let dir = plugin_dir().join("lazy-test");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(c_plugin("cgreet"), dir.join("libclazy.so")).unwrap();
    let path = dir.join("libclazy.so").display().to_string();
    rpc.methods().insert_lazy("lazy.add", &format!("{path}:add")).unwrap();
    assert!(!mapped("libclazy.so"), "opened before the first call");
    assert_eq!(loader.symbols_resolved(), 0);
    assert!(call(&rpc, "lazy.add", "[40,2]").contains(r#""result":42"#));
    assert!(mapped("libclazy.so"));
    assert!(call(&rpc, "lazy.add", "[1,2]").contains(r#""result":3"#));
    assert_eq!(loader.symbols_resolved(), 1, "the symbol is looked up once");
}

#[test]
fn the_table_is_the_whitelist() {
    let (rpc, _) = engine();
    let lib = c_plugin("cgreet");
    for target in ["abort", "exit", "runjsonrpc2_plugin", "cgreet_nope"] {
        rpc.methods().insert_lazy("x", &format!("{lib}:{target}")).unwrap();
        let got = call(&rpc, "x", "[]");
        assert!(got.contains(r#""code":-32601"#) && got.contains(r#""\"x\" could not be loaded""#), "{target}: {got}");
        assert!(!got.contains(&lib), "the library's path is the server's business: {got}");
    }
    // The exported symbol named in the table works as well as the method name.
    rpc.methods().insert_lazy("x", &format!("{lib}:cgreet_add")).unwrap();
    assert!(call(&rpc, "x", "[1,1]").contains(r#""result":2"#));
}

#[test]
fn c_plugin_served() {
    let (rpc, loader) = engine();
    let plugin = loader.register(&rpc, &c_plugin("cgreet"), false).unwrap();
    assert_eq!(plugin.descriptor.name, "cgreet");
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str)] = &[
        ("greet", r#"["C"]"#, r#""result":"Hello, C!""#),
        ("greet", r#"{"name":"C","punctuation":"?"}"#, r#""result":"Hello, C?""#),
        ("greet", r#"["a\"b"]"#, r#""result":"Hello, a\"b!""#),
        ("greet", r#"["C", null]"#, r#""result":"Hello, C!""#),
        ("greet", "[1]", r#""code":-32602"#),
        ("add", "[2,3]", r#""result":5"#),
        ("add", "[1.5,2]", r#""data":"parameter \"a\" must be a 64-bit integer""#),
        ("add", "[2]", r#""data":"missing parameter \"b\"""#),
        ("add", "[9223372036854775807,1]", r#""code":-32000"#),
    ];
    for (method, params, want) in cases {
        let got = call(&rpc, method, params);
        assert!(got.contains(want), "{method} {params}: {got}");
    }
}

/// Broken plugins are refused at load, with messages naming the library and the fault.
#[test]
fn faulty_plugins_refused() {
    let (rpc, loader) = engine();
    #[rustfmt::skip]
    let cases: &[(&str, &str)] = &[
        ("cbadabi", "libcbadabi.so: plugin abi version 4, supported 2-3"),
        ("csmall", "malformed method table: method_size 96, at least 104 and a multiple of 8"),
        ("cdup", "malformed method table: method \"greet\" appears twice in the table"),
        ("cnull", "malformed method table: method 2: name is a null pointer with length 4"),
        ("chuge", "malformed method table: method 2: parameter list has length 1099511627776, the limit is 256"),
        ("ccolon", "malformed method table: method 2: bad method name \"a:b\": no ':', '/' or control characters"),
        ("cflags", "malformed method table: method 2: method \"flagged\": unknown flags 0x4, known are 0x3"),
    ];
    for (name, want) in cases {
        let err = loader.register(&rpc, &c_plugin(name), true).err().expect("refused").to_string();
        assert!(err.contains(want), "{name}: {err}");
    }
    let err = loader.register(&rpc, "nosuchplugin", true).err().unwrap().to_string();
    assert!(err.starts_with("plugin \"nosuchplugin\" not found; tried "), "{err}");
    assert!(err.contains(&plugin_dir().join("libnosuchplugin.so").display().to_string()), "{err}");
    assert!(err.contains("system library search"), "{err}");
    let err = loader.register(&rpc, "../etc", true).err().unwrap().to_string();
    assert!(err.contains("not found"), "{err}");
    let err = loader.register(&rpc, "bad name", true).err().unwrap().to_string();
    assert!(err.starts_with("bad module name"), "{err}");
}

/// A plugin's bad output is answered -32603, never passed on.
#[test]
fn bad_plugin_output_is_internal_error() {
    let (rpc, loader) = engine();
    loader.register(&rpc, &c_plugin("cbadjson"), false).unwrap();
    loader.register(&rpc, &c_plugin("cstatus"), false).unwrap();
    loader.register(&rpc, &c_plugin("cmissing"), false).unwrap();
    for method in ["bad_json", "bad_utf8", "bad_status"] {
        let got = call(&rpc, method, "[]");
        assert_eq!(got, r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":1}"#, "{method}");
    }
    // What a procedure wrote before resetting the writer is gone from the answer.
    let got = call(&rpc, "half", "[]");
    let want = r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"the writer was reset"},"id":1}"#;
    assert_eq!(got, want);
    let got = call(&rpc, "missing", "[]");
    assert!(got.contains(r#""code":-32601"#), "{got}");
    assert!(call(&rpc, "add", "[1,2]").contains(r#""result":3"#));
}

/// A method flagged RJ2_METHOD_TRUSTED_OUTPUT is taken at its word: what it writes is spliced
/// unchecked (which is why only the glue, and C code that encodes JSON soundly, sets it).
#[test]
fn trusted_output_is_spliced_unchecked() {
    let (rpc, loader) = engine();
    loader.register(&rpc, &c_plugin("cbadjson"), false).unwrap();
    assert_eq!(call(&rpc, "bad_json_trusted", "[]"), r#"{"jsonrpc":"2.0","result":{not json,"id":1}"#);
    assert!(call(&rpc, "bad_json", "[]").contains(r#""code":-32603"#), "the same output, unflagged");
}

#[test]
fn eight_threads_share_a_plugin() {
    let (rpc, loader) = engine();
    loader.register(&rpc, "sample", true).unwrap();
    let rpc = Arc::new(rpc);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let rpc = rpc.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    let got = call(&rpc, "sample.add", &format!("[{t},{i}]"));
                    assert!(got.contains(&format!(r#""result":{},"#, t + i)), "{got}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// The library's server entry keeps the engine shared: methods added and removed through it
/// while clients call over HTTP are served at once, and every call is answered.
#[test]
fn the_table_changes_while_the_server_serves() {
    use runjsonrpc2::server::{HttpConfig, bind};
    use runjsonrpc2::{Extras, procedure};
    let config = HttpConfig::new("127.0.0.1", 0);
    let listening = bind(&config).expect("binds 127.0.0.1:0");
    let addr = listening.local_addr().expect("a TCP address");
    let (rpc, loader) = engine();
    loader.register(&rpc, "sample", true).unwrap();
    let rpc = Arc::new(rpc);
    let (stopper, running) = listening.start(rpc.clone(), Arc::new(Extras::new()), None);
    let call = move |method: &str| {
        let body = format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":[2,3],"id":1}}"#);
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        std::io::Write::write_all(&mut conn, &crate::support::post_request("/", "application/json", body.as_bytes()))
            .unwrap();
        crate::support::read_response(&mut std::io::BufReader::new(conn)).expect("an answer").body_text()
    };
    let clients: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || (0..300).filter(|_| call("sample.add").contains(r#""result":5"#)).count()))
        .collect();
    for i in 0..300 {
        rpc.methods().insert(&format!("m{i}"), procedure(&["a", "b"], |a: i64, b: i64| Ok(a * b)).unwrap());
        rpc.methods().remove(&format!("m{}", i / 2));
    }
    assert_eq!(call("m299"), r#"{"jsonrpc":"2.0","result":6,"id":1}"#);
    assert!(call("m0").contains("-32601"));
    let answered: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(answered, 900);
    stopper.stop();
    running.wait().expect("a clean stop");
}

/// The C sample built as C++17 (with hidden visibility, -Wall -Wextra -Werror) serves as the
/// C build does: RJ2_EXPORT gives its procedures C linkage and default visibility.
#[test]
fn the_c_sample_built_as_cxx_serves_the_same() {
    let lib = c_plugin("cgreetxx");
    let loader = Arc::new(Loader::new(SearchPath::default()));
    let mut rpc = JsonRpc::new();
    rpc.set_resolver(loader.clone());
    loader.register(&rpc, &lib, true).unwrap();
    let cases = [
        (
            r#"{"jsonrpc":"2.0","method":"cgreet.greet","params":["C++"],"id":1}"#,
            r#"{"jsonrpc":"2.0","result":"Hello, C++!","id":1}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","method":"cgreet.add","params":[40,2],"id":2}"#,
            r#"{"jsonrpc":"2.0","result":42,"id":2}"#,
        ),
    ];
    for (body, want) in cases {
        let got = rpc.handle(body.as_bytes(), &Extras::new()).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), want, "{body}");
    }
}

/// ABI compatibility: a version-2 plugin (built from its own header) loads and answers; a
/// version-3 method with an unknown hint bit loads (hints may be ignored), and so does a table
/// written as a later 3.x would (a later minor, larger strides); errors reported through the
/// writer's `error` callback reach the client with their data.
#[test]
fn abi_versions_and_the_error_callback() {
    let (rpc, loader) = engine();
    loader.register(&rpc, &c_plugin("cv2"), true).unwrap();
    loader.register(&rpc, &c_plugin("chint"), true).unwrap();
    let (future, future_loader) = engine();
    let plugin = future_loader.register(&future, &c_plugin("cfuture"), true).unwrap();
    let add = &plugin.descriptor.methods[0];
    assert_eq!((add.name.as_str(), add.error_kinds.as_deref()), ("add", Some(&["Overflow".to_owned()][..])));
    assert!(add.param_schemas[1].as_ref().is_some_and(|s| s.get().contains("integer")), "{:?}", add.param_schemas);
    assert_eq!(call(&future, "cgreet.add", "[40,2]"), r#"{"jsonrpc":"2.0","result":42,"id":1}"#);
    let cases = [
        ("cv2.hello", r#"["old friend"]"#, r#"{"jsonrpc":"2.0","result":"Hello from v2, old friend","id":1}"#),
        (
            "cv2.hello",
            "[1]",
            r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"hello takes one string"},"id":1}"#,
        ),
        ("cv2.fail", "[]", r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"failed the v2 way"},"id":1}"#),
        ("cgreet.hinted", "[40,2]", r#"{"jsonrpc":"2.0","result":42,"id":1}"#),
        (
            "cgreet.add",
            "[9223372036854775807,1]",
            r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"9223372036854775807 + 1 overflows","data":{"limit":"64-bit"}},"id":1}"#,
        ),
    ];
    for (method, params, want) in cases {
        assert_eq!(call(&rpc, method, params), want, "{method} {params}");
    }
}

/// Serving through the library leaves the embedding process as it was: its open-file limit
/// and its panic hook are its own (the binary raises the limit; the library does not).
#[test]
fn the_library_leaves_the_process_alone() {
    use runjsonrpc2::server::{HttpConfig, bind};
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    let lowered = (before.0.min(512), before.1);
    rlimit::setrlimit(rlimit::Resource::NOFILE, lowered.0, lowered.1).unwrap();
    let heard = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hook_heard = heard.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |_| {
        hook_heard.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }));
    let listening = bind(&HttpConfig::new("127.0.0.1", 0)).expect("binds");
    let addr = listening.local_addr().unwrap();
    let (rpc, _) = engine();
    let (stopper, running) = listening.start(Arc::new(rpc), Arc::new(runjsonrpc2::Extras::new()), None);
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut conn, &crate::support::post_request("/", "application/json", b"{}")).unwrap();
    let answer = crate::support::read_response(&mut std::io::BufReader::new(conn)).expect("an answer");
    assert_eq!(answer.status, 200);
    let limit = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    let panicked = std::thread::spawn(|| panic!("a panic of the embedder's own")).join();
    stopper.stop();
    running.wait().unwrap();
    std::panic::set_hook(previous);
    rlimit::setrlimit(rlimit::Resource::NOFILE, before.0, before.1).unwrap();
    assert_eq!(limit, lowered, "the open-file limit was changed");
    assert!(panicked.is_err());
    // (At least: the hook is the process's, and another test may fail meanwhile.)
    assert!(heard.load(std::sync::atomic::Ordering::SeqCst) >= 1, "the embedder's panic hook heard its panic");
}
