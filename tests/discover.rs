//! `rpc.discover` and `list --json`: the OpenRPC document, validated against the official
//! meta-schema (npm `@open-rpc/meta-schema` 1.14.9, Python `jsonschema`), and used by a real
//! OpenRPC client (npm `@open-rpc/client-js`).

use crate::support::{Server, c_plugin, root, run, tool};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

/// The npm packages, as tests/run installs them into target/npm: the OpenRPC meta-schema, the
/// client, and the JSON Schema meta-schema the OpenRPC one refers to
/// (`https://meta.json-schema.tools`).
const PACKAGES: [(&str, &str); 3] = [
    ("@open-rpc/meta-schema", "1.14.9"),
    ("@open-rpc/client-js", "2.1.0"),
    ("@json-schema-tools/meta-schema", "1.7.5"),
];

/// `target/npm`, where tests/run installed the npm packages; `None` under the opt-out
/// `RUNJSONRPC2_TESTS_WITHOUT=node`. A package missing (or of another version) and Node.js
/// missing fail the test with one line saying what to run.
#[track_caller]
fn npm() -> Option<PathBuf> {
    tool("node", "node", "nodejs")?;
    let dir = root().join("target/npm");
    let version = |name: &str| -> Option<String> {
        let text = std::fs::read_to_string(dir.join("node_modules").join(name).join("package.json")).ok()?;
        Some(serde_json::from_str::<Value>(&text).ok()?["version"].as_str()?.to_owned())
    };
    let absent: Vec<String> = PACKAGES
        .iter()
        .filter(|(name, want)| version(name).as_deref() != Some(want))
        .map(|(name, want)| format!("{name}@{want}"))
        .collect();
    assert!(absent.is_empty(), "target/npm lacks npm's {}: run tests/run, which installs them", absent.join(" "));
    Some(dir)
}

fn discover(server: &Server) -> Value {
    let (status, body) = server.post(r#"{"jsonrpc":"2.0","method":"rpc.discover","id":1}"#);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    answer["result"].clone()
}

/// Validates `document` against the meta-schema, and each param and result schema as a JSON
/// Schema of its own, with Python's jsonschema; returns its report.
/// `None` under the opt-out `RUNJSONRPC2_TESTS_WITHOUT=node`.
#[track_caller]
fn validate(document: &Value) -> Option<(bool, String)> {
    let dir = npm()?;
    crate::support::python_modules("jsonschema, referencing", "jsonschema>=4.18");
    let dump = |module: &str, export: &str, file: &str| {
        let code = format!("process.stdout.write(JSON.stringify(require('{module}').{export}))");
        let out = Command::new("node").current_dir(&dir).args(["-e", &code]).output().expect("node runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::write(dir.join(file), &out.stdout).unwrap();
    };
    dump("@open-rpc/meta-schema", "openrpcDocument", "meta-schema.json");
    dump("@json-schema-tools/meta-schema", "default", "json-schema.json");
    let doc = dir.join(format!("document-{}.json", std::process::id()));
    std::fs::write(&doc, document.to_string()).unwrap();
    let script = r#"
import json, sys
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
meta, doc, tools = (json.load(open(f)) for f in sys.argv[1:4])
tools = Resource.from_contents(tools, default_specification=DRAFT7)
registry = Registry().with_resources([("https://meta.json-schema.tools", tools), ("https://meta.json-schema.tools/", tools)])
errors = [e.message for e in Draft7Validator(meta, registry=registry).iter_errors(doc)]
for m in doc["methods"]:
    for d in m["params"] + [m.get("result", {"schema": {}})]:
        try:
            Draft7Validator.check_schema(d["schema"])
        except Exception as e:
            errors.append(m["name"] + ": " + str(e))
print("\n".join(errors) or "valid")
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir.join("meta-schema.json"))
        .arg(&doc)
        .arg(dir.join("json-schema.json"))
        .output()
        .unwrap();
    let _ = std::fs::remove_file(doc);
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Some((out.status.success() && report.trim() == "valid", report))
}

fn method<'d>(doc: &'d Value, name: &str) -> &'d Value {
    doc["methods"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn rpc_discover_answers_a_valid_openrpc_document() {
    let cgreet = c_plugin("cgreet");
    let args = [
        "hello",
        "sample",
        &cgreet,
        "--map",
        "calc.add=sample:add",
        "--extra",
        "site=\"x\"",
        "--error",
        "Overflow=-32001",
    ];
    let server = Server::start(&args);
    let doc = discover(&server);
    // (Not validated under the opt-out; the rest still holds.)
    if let Some((valid, report)) = validate(&doc) {
        assert!(valid, "{report}\n{doc:#}");
    }
    assert_eq!(doc["openrpc"], "1.3.2");
    assert_eq!(doc["info"]["title"], "runjsonrpc2: hello, sample, cgreet");
    // The C plugin's table gives schemas (ABI 3); an optional parameter's default joins its schema.
    let int64 = json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX});
    let add = method(&doc, "cgreet.add");
    assert_eq!(
        add["params"],
        json!([{"name": "a", "required": true, "schema": int64}, {"name": "b", "required": true, "schema": int64}])
    );
    assert_eq!(add["result"]["schema"], int64);
    let punctuation = &method(&doc, "cgreet.greet")["params"][1];
    assert_eq!(punctuation["schema"], json!({"type": "string", "maxLength": 8, "default": "!"}));
    // Rust plugins' schemas come from their types (`Number`, `String`, `Vec<Number>`'s items).
    let number = json!({"type": "number"});
    let cases = [
        // Rust plugins keep defaults in the function, so the table has none to show.
        ("hello.greeting", json!([{"name": "name", "schema": {"type": "string"}}]), "either"),
        (
            "sample.subtract",
            json!([{"name": "minuend", "required": true, "schema": number}, {"name": "subtrahend", "required": true, "schema": number}]),
            "either",
        ),
        (
            "calc.add",
            json!([{"name": "a", "required": true, "schema": number}, {"name": "b", "required": true, "schema": number}]),
            "either",
        ),
        (
            "sample.sum",
            json!([{"name": "numbers", "schema": number, "description": "Any number of further values, by position."}]),
            "by-position",
        ),
        // caller and remote_addr are the server's to give.
        ("sample.whoami", json!([]), "either"),
        ("rpc.discover", json!([]), "either"),
    ];
    for (name, params, structure) in cases {
        let m = method(&doc, name);
        assert_eq!((&m["params"], m["paramStructure"].as_str().unwrap_or("either")), (&params, structure), "{name}");
    }
    assert_eq!(method(&doc, "hello.greeting")["description"], "Greets someone by name.");
    assert_eq!(method(&doc, "hello.greeting")["result"]["schema"], json!({"type": "string"}));
    assert_eq!(method(&doc, "sample.subtract")["result"]["schema"], number);
    assert_eq!(method(&doc, "sample.foobar")["result"]["schema"], json!({"type": "null"}));
    assert_eq!(method(&doc, "sample.echo")["result"]["schema"], json!({}));
    // The errors a method reports, from its error type (Rust) or its table (C), with the codes
    // the error map gives them (unmapped: -32000); none listed where none are reported.
    let cases = [
        ("sample.add", json!([{"code": -32001, "message": "Overflow"}])),
        ("cgreet.add", json!([{"code": -32001, "message": "Overflow"}])),
        ("sample.fail", json!([{"code": -32000, "message": "SampleError"}])),
        ("sample.echo", Value::Null),
        ("cgreet.greet", Value::Null),
    ];
    for (name, errors) in cases {
        assert_eq!(method(&doc, name)["errors"], errors, "{name}");
    }
    assert_eq!(method(&doc, "sample.raw_echo")["params"], json!([]));
    assert!(method(&doc, "sample.raw_echo")["summary"].as_str().unwrap().starts_with("Takes params as sent"));
}

#[test]
fn list_json_prints_the_same_document_and_no_discover_hides_it() {
    let server = Server::start(&["hello", "sample"]);
    let served = discover(&server);
    let (code, out, err) = run(&["list", "--json", "hello", "sample"], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), served);
    let hidden = Server::start(&["--no-discover", "hello"]);
    let (_, body) = hidden.post(r#"{"jsonrpc":"2.0","method":"rpc.discover","id":1}"#);
    assert_eq!(body, r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}"#);
}

/// A real OpenRPC client reads the document and calls methods by the names it gives.
#[test]
fn an_openrpc_client_calls_methods_from_the_document() {
    let Some(dir) = npm() else { return };
    let server = Server::start(&["hello", "sample"]);
    let script = dir.join(format!("client-{}.mjs", std::process::id()));
    std::fs::write(
        &script,
        r#"
import { Client, HTTPTransport, RequestManager } from "@open-rpc/client-js";
const client = new Client(new RequestManager([new HTTPTransport(process.argv[2])]));
const doc = await client.request({ method: "rpc.discover", params: [] });
const out = {};
for (const m of doc.methods) {
  if (m.name === "sample.subtract") {
    const values = [42, 23];
    out[m.name] = await client.request({ method: m.name, params: Object.fromEntries(m.params.map((p, i) => [p.name, values[i]])) });
  }
  if (m.name === "hello.greeting") {
    out[m.name] = await client.request({ method: m.name, params: { [m.params[0].name]: "client" } });
  }
}
try { await client.request({ method: "sample.fail", params: ["no"] }); } catch (e) { out.error = e.code; }
console.log(JSON.stringify(out));
process.exit(0);
"#,
    )
    .unwrap();
    let out = Command::new("node").arg(&script).arg(server.url()).output().expect("node runs");
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(got, json!({"sample.subtract": 19, "hello.greeting": "Hello, client!", "error": -32000}));
}
