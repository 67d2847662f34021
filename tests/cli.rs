//! The command from a shell's point of view: list, call, --stdio, new, serve run.toml, exit codes, the README.

use crate::support::{Server, bin, plugin_dir, read_response, root, run};
use std::io::{BufReader, Write};
use std::process::Command;

#[test]
fn list_shows_methods_params_and_docs() {
    let (code, out, err) = run(&["list", "hello", "sample"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("hello 0.1.0 ("), "{out}");
    assert!(out.contains("hello.greeting(name?)"), "{out}");
    assert!(out.contains("Greets someone by name."), "{out}");
    assert!(out.contains("sample.subtract(minuend, subtrahend)"), "{out}");
    assert!(out.contains("sample.sum(*numbers)"), "{out}");
    assert!(out.contains("sample.raw_echo(params...)"), "{out}");
}

/// `call`: arguments, exit code, stdout, and text stderr must contain.
#[test]
fn call_from_a_shell() {
    #[rustfmt::skip]
    let cases: &[(&[&str], i32, &str, &str)] = &[
        (&["call", "hello", "greeting"], 0, "\"Hello, world!\"\n", ""),
        (&["call", "hello", "greeting", r#"{"name":"shell"}"#], 0, "\"Hello, shell!\"\n", ""),
        (&["call", "sample", "subtract", "[42,23]"], 0, "19\n", ""),
        (&["call", "sample", "sample.subtract", "[42,23]"], 0, "19\n", ""),
        (&["call", "sample", "hello.subtract", "[42,23]"], 1, "", "-32601"),
        (&["call", "sample", "get_data"], 0, "[\"hello\",5]\n", ""),
        (&["call", "sample", "fail", r#"["no"]"#], 1, "", r#"{"code":-32000,"message":"no"}"#),
        (&["call", "sample", "fail", r#"["no"]"#, "--error", "SampleError=-32001"], 1, "", r#""code":-32001"#),
        (&["call", "sample", "subtract", "[1]"], 1, "", "missing parameter"),
        (&["call", "sample", "nope"], 1, "", "-32601"),
        (&["call", "sample", "add", "[1,"], 2, "", "PARAMS is not JSON"),
        (&["call", "sample", "add", "3"], 2, "", "PARAMS must be a JSON array or object"),
        (&["call", "nosuchplugin", "x"], 2, "", "plugin \"nosuchplugin\" not found; tried "),
        (&["call", "sample", "add", "--error", "E=-32601", "[1,2]"], 2, "", "reserved by JSON-RPC 2.0 (Method not found)"),
        (&["call", "sample", "add", "--extra", "b=5", "[1]"], 0, "6\n", ""),
        (&["call", "sample", "add", "--extra", "b=nope", "[1]"], 2, "", "not JSON"),
        (&["call", "sample", "whoami", r#"{"caller":"root","remote_addr":"10.0.0.1"}"#], 0, "{\"caller\":null,\"remote_addr\":null}\n", ""),
        (&["call", "sample", "whoami", "--extra", "caller=\"root\""], 0, "{\"caller\":null,\"remote_addr\":null}\n", ""),
        (&["list"], 2, "", "required arguments"),
        (&["--port", "nope", "hello"], 2, "", "invalid value"),
        (&[], 2, "", "no module given"),
    ];
    for (args, code, stdout, stderr) in cases {
        let (c, out, err) = run(args, "");
        assert_eq!((c, out.as_str()), (*code, *stdout), "{args:?}: {err}");
        assert!(err.contains(stderr), "{args:?}: {err}");
        if *code == 2 {
            assert!(!err.contains("panicked"), "{args:?}: {err}");
            // Our own errors are one line; clap's usage errors add a usage hint.
            assert!(!err.starts_with("runjsonrpc2: ") || err.lines().count() == 1, "{args:?}: {err}");
        }
    }
}

/// A result nested deeper than serde_json's Value follows is passed on as it is.
#[test]
fn call_passes_deep_results_through() {
    let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
    let (code, out, err) = run(&["call", "sample", "echo", &format!("[{deep}]")], "");
    assert_eq!((code, out.trim_end()), (0, deep.as_str()), "{err}");
}

#[test]
fn stdio_lines() {
    let input = concat!(
        r#"{"jsonrpc":"2.0","method":"sample.add","params":[1,2],"id":1}"#,
        "\n\n",
        r#"{"jsonrpc":"2.0","method":"sample.update","params":[1]}"#,
        "\n",
        "not json\n",
        r#"[{"jsonrpc":"2.0","method":"hello.greeting","id":"a"},{"jsonrpc":"2.0","method":"sample.boom","id":"b"}]"#,
        "\n",
    );
    let (code, out, err) = run(&["--stdio", "hello", "sample"], input);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], r#"{"jsonrpc":"2.0","result":3,"id":1}"#);
    let parse: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(
        (&parse["jsonrpc"], &parse["error"]["code"], &parse["error"]["message"], &parse["id"]),
        (
            &serde_json::json!("2.0"),
            &serde_json::json!(-32700),
            &serde_json::json!("Parse error"),
            &serde_json::Value::Null
        ),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        r#"[{"jsonrpc":"2.0","result":"Hello, world!","id":"a"},{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":"b"}]"#
    );
}

#[test]
fn exit_codes_for_bad_setups() {
    #[rustfmt::skip]
    let cases: &[(&[&str], &str)] = &[
        (&["nosuchplugin"], "plugin \"nosuchplugin\" not found"),
        (&["--map", "x=nocolon", "hello"], "bad lazy target"),
        (&["--map", "x=bad name:sym", "hello"], "bad module name"),
        (&["--error", "E=-32700", "hello"], "reserved"),
        (&["--host", "256.0.0.1", "hello"], "cannot listen on 256.0.0.1:0: failed to lookup address"),
        (&["serve", "/nonexistent/run.toml"], "/nonexistent/run.toml: No such file"),
        (&["--threads", "4", "hello"], "--threads is retired: each connection has a thread of its own; use --max-connections"),
        (&["--unix", "/tmp/x.sock", "--allow-from", "10.0.0.0/8", "hello"], "--allow-from does not apply to --unix"),
    ];
    for (args, want) in cases {
        let port: &[&str] = if args[0] == "serve" || args[0] == "--unix" { &[] } else { &["--port", "0"] };
        let (code, out, err) = run(&[port, args].concat(), "");
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.starts_with("runjsonrpc2: ") && err.contains(want), "{args:?}: {err}");
    }
}

/// Options that contradict each other are usage errors (exit 2), caught by the parser.
#[test]
fn contradictory_options_are_usage_errors() {
    #[rustfmt::skip]
    let cases: &[(&[&str], &str)] = &[
        (&["-q", "-v", "hello"], "cannot be used with"),
        (&["--unix", "/tmp/x.sock", "--port", "9", "hello"], "cannot be used with"),
        (&["--header-timeout", "0", "hello"], "is not a positive number of seconds"),
        (&["--max-headers", "600", "hello"], "is not a number in 1..=512"),
        (&["--stdio", "--auth", "users.auth", "--port", "9", "hello"], "--stdio serves no HTTP: --port, --auth would be ignored"),
    ];
    for (args, want) in cases {
        let (code, out, err) = run(args, "");
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn config_file_errors_name_file_key_and_reason() {
    let dir = plugin_dir().join("config-test");
    std::fs::create_dir_all(&dir).unwrap();
    #[rustfmt::skip]
    let cases: &[(&str, &str)] = &[
        ("hots = \"x\"\n", "run.toml:1: unknown field `hots`"),
        ("port = \"eighty\"\n", "run.toml:1: invalid type: string \"eighty\", expected u16"),
        ("modules = [\"hello\"]\n[errors]\nE = -32603\n", "error code -32603 for E is reserved"),
        ("rpc_path = \"rpc\"\n", "rpc_path \"rpc\" must start with '/'"),
        ("modules = [\"../x y\"]\n", "not found"),
        ("allow_from = [\"10.0.0.0/99\"]\n", "run.toml: allow_from: \"10.0.0.0/99\" is not ADDRESS/BITS: prefix length 99, at most 32"),
        ("modules = [\"hello\"]\nauth = \"nope.auth\"\n", "config-test/nope.auth: cannot read"),
    ];
    for (text, want) in cases {
        let file = dir.join("run.toml");
        std::fs::write(&file, text).unwrap();
        let (code, _, err) = run(&["serve", file.to_str().unwrap(), "--port", "0"], "");
        assert_eq!(code, 2, "{text}: {err}");
        assert!(err.contains(want), "{text}: {err}");
    }
}

#[test]
fn serve_config_with_static_page_and_maps() {
    let dir = plugin_dir().join("serve-test");
    std::fs::create_dir_all(dir.join("static")).unwrap();
    std::fs::write(dir.join("static/index.html"), "<p>hi</p>").unwrap();
    let config = format!(
        "rpc_path = \"/rpc\"\nstatic = \"static\"\nplugin_path = [{:?}]\nmodules = [\"hello\"]\n\
         [methods]\n\"sample.add\" = \"sample:add\"\n[errors]\nSampleError = -32001\n[extras]\nb = 10\n",
        plugin_dir().display().to_string()
    );
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let server = Server::serve_config(&dir);
    let page = server.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((page.status, page.body_text().as_str()), (200, "<p>hi</p>"));
    assert_eq!(server.request(b"GET /../run.toml HTTP/1.1\r\nHost: x\r\n\r\n").status, 404);
    let call = |body: &str| {
        server.request(&crate::support::post_request("/rpc", "application/json", body.as_bytes())).body_text()
    };
    assert_eq!(
        call(r#"{"jsonrpc":"2.0","method":"hello.greeting","id":1}"#),
        r#"{"jsonrpc":"2.0","result":"Hello, world!","id":1}"#
    );
    assert_eq!(
        call(r#"{"jsonrpc":"2.0","method":"sample.add","params":[1],"id":1}"#),
        r#"{"jsonrpc":"2.0","result":11,"id":1}"#
    );
}

#[test]
fn new_project_builds_offline_and_serves() {
    let base = plugin_dir().join("new-test");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let status = Command::new(bin()).current_dir(&base).args(["new", "myrpc"]).status().unwrap();
    assert!(status.success());
    let (code, _, err) = run(&["new", base.join("myrpc").to_str().unwrap()], "");
    assert_eq!(code, 2, "an existing directory is refused: {err}");
    let project = base.join("myrpc");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .current_dir(&project)
        .args(["build", "--offline", "-q"])
        .env("CARGO_TARGET_DIR", project.join("target"))
        .status()
        .unwrap();
    assert!(built.success(), "the new project builds offline");
    let server = Server::serve_config(&project);
    let page = server.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.body_text().contains("myrpc.greeting"));
    let body = r#"{"jsonrpc":"2.0","method":"myrpc.greeting","params":{"name":"browser"},"id":1}"#;
    let answer = server.request(&crate::support::post_request("/rpc", "application/json", body.as_bytes()));
    assert_eq!(answer.body_text(), r#"{"jsonrpc":"2.0","result":"Hello, browser!","id":1}"#);
}

/// Runs the README's shell examples: each `$ curl ...` line's output must match the line after.
#[test]
fn readme_examples() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let server = Server::start(&["hello", "sample"]);
    let mut checked = 0;
    let lines: Vec<&str> = readme.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(cmd) = line.strip_prefix("$ curl ") else { continue };
        let cmd = format!("curl -s {}", cmd.replace("http://127.0.0.1:8080/", &server.url()));
        let out = Command::new("sh").arg("-c").arg(&cmd).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), lines[i + 1], "README line {}: {cmd}", i + 1);
        checked += 1;
    }
    assert!(checked >= 3, "the README has curl examples");
    let mut conn = server.connect();
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut BufReader::new(conn)).unwrap().status, 200);
}

/// The README's "From the shell" script, run with the binary on PATH, prints (stdout and
/// stderr together) the block after it, and stops the server it started.
#[test]
fn readme_shell_script() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme.find("\n## From the shell\n").expect("the section")..];
    let block = |fence: &str| {
        let start = section.find(fence).unwrap() + fence.len();
        section[start..start + section[start..].find("\n```\n").unwrap() + 1].to_owned()
    };
    let (script, expected) = (block("```sh\n"), block("```text\n"));
    let bin_dir = std::path::Path::new(bin()).parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("exec 2>&1\n{script}echo \"script exit code $?\""))
        .env("PATH", path)
        .env("RUNJSONRPC2_PLUGIN_PATH", plugin_dir())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text, format!("{expected}script exit code 0\n"), "README's shell script");
}

/// The README's run.toml serves as written, and its plugin example is the hello plugin's code.
#[test]
fn readme_config_and_plugin_examples() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let block = |lang: &str| {
        let start = readme.find(&format!("```{lang}\n")).unwrap() + lang.len() + 4;
        readme[start..start + readme[start..].find("```").unwrap()].to_owned()
    };
    let dir = plugin_dir().join("readme-test");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("run.toml"), block("toml")).unwrap();
    let server = Server::serve_config(&dir);
    let body = r#"{"jsonrpc":"2.0","method":"hello.greeting","id":1}"#;
    let answer = server.request(&crate::support::post_request("/rpc", "application/json", body.as_bytes()));
    assert_eq!(answer.body_text(), r#"{"jsonrpc":"2.0","result":"Hello, world!","id":1}"#);
    let hello = std::fs::read_to_string(root().join("sample-plugins/hello/src/lib.rs")).unwrap();
    // (A doctest cannot hold it: doctests wrap code in `main`, and `export!` needs module level.)
    for line in block("rust,ignore").lines().filter(|l| !l.trim().is_empty()) {
        assert!(hello.contains(line), "README's plugin example line not in the hello plugin: {line}");
    }
}

/// A module given as a bare file name is the file in the current directory, not a library
/// of that name on the system's search path.
#[test]
fn a_bare_file_name_is_loaded_from_the_current_directory() {
    let dir = std::env::temp_dir().join(format!("rj2-bare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(crate::support::plugin_dir().join("libhello.so"), dir.join("hello2.so")).unwrap();
    let out = std::process::Command::new(crate::support::bin())
        .current_dir(&dir)
        .args(["list", "hello2.so"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("hello ") && text.contains("(./hello2.so)") && text.contains("hello.greeting"), "{text}");
}

/// `--map` alone is something to serve: no module is needed.
#[test]
fn maps_alone_are_served() {
    let server = crate::support::Server::start(&["--map", "calc.add=sample:add"]);
    let (status, body) = server.post(r#"{"jsonrpc":"2.0","method":"calc.add","params":[2,3],"id":1}"#);
    assert_eq!((status, body.as_str()), (200, r#"{"jsonrpc":"2.0","result":5,"id":1}"#));
}

/// A module named like a subcommand (`serve`, `list`, `call`, `new`, `auth`) is served after
/// `--`, or by its path; `list` and `call` take it by name as it is.
#[test]
fn a_module_named_like_a_subcommand() {
    let dir = std::env::temp_dir().join(format!("rj2-subcommand-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(crate::support::plugin_dir().join("libsample.so"), dir.join("libserve.so")).unwrap();
    let dir_arg = dir.to_str().unwrap();
    // The library file is named serve; the module inside still calls itself sample.
    let add = r#"{"jsonrpc":"2.0","method":"sample.add","params":[1,2],"id":1}"#;
    let answer = r#"{"jsonrpc":"2.0","result":3,"id":1}"#;
    for args in [
        &["--plugin-path", dir_arg, "--workers", "0", "--", "serve"][..],
        &["--workers", "0", &format!("{dir_arg}/libserve.so")],
    ] {
        let server = Server::start(args);
        assert_eq!(server.post(add), (200, answer.to_owned()), "{args:?}");
    }
    let (code, out, err) = run(&["call", "--plugin-path", dir_arg, "serve", "sample.add", "[1,2]"], "");
    assert_eq!((code, out.as_str()), (0, "3\n"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `serve run.toml` takes every serving option as an override of the file; one not given
/// leaves the file's value.
#[test]
fn serve_config_takes_serving_options_as_overrides() {
    let dir = plugin_dir().join("serve-overrides");
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "plugin_path = [{:?}]\nmodules = [\"sample\"]\nrpc_path = \"/rpc\"\nmax_body = 1000\nworkers = 2\n",
        plugin_dir().display().to_string()
    );
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let mut cmd = Command::new(bin());
    cmd.current_dir(&dir).args(["serve", "run.toml", "--port", "0", "--max-body", "80", "--workers", "0", "--metrics"]);
    let server = Server::spawn(&mut cmd, std::process::Stdio::null());
    let post = |body: &str| server.request(&crate::support::post_request("/rpc", "application/json", body.as_bytes()));
    let add = r#"{"jsonrpc":"2.0","method":"sample.add","params":[1,2],"id":1}"#;
    assert_eq!(post(add).body_text(), r#"{"jsonrpc":"2.0","result":3,"id":1}"#, "rpc_path from the file");
    let long = format!(r#"{{"jsonrpc":"2.0","method":"sample.echo","params":["{}"],"id":1}}"#, "x".repeat(60));
    assert_eq!(post(&long).status, 413, "--max-body 80 over the file's 1000");
    let metrics = server.request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(metrics.status, 200, "--metrics");
    assert!(crate::support::parent_of(server.child.id()).is_some());
    let children = std::fs::read_dir("/proc").unwrap().flatten().filter(|e| {
        e.file_name().to_str().and_then(|p| p.parse().ok()).and_then(crate::support::parent_of)
            == Some(server.child.id())
    });
    assert_eq!(children.count(), 0, "--workers 0 over the file's 2: no worker processes");
}
