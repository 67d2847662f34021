//! In-process engine benchmark (no criterion): ns per call of `add(1, 2)` through a typed-serde
//! floor, `serde_json::Value`, jsonrpc-core, and runjsonrpc2 with a native and a plugin procedure.
//!
//! Run with `cargo bench -p runjsonrpc2 --bench engine`. The plugin row needs the `sample`
//! plugin built first (`cargo build --release -p sample`). `BENCH_RUNS` (default 21) and
//! `BENCH_RUN_MS` (default 50) set how many timed rounds there are and how long each row runs in one;
//! `BENCH_ONLY=TEXT` times only the rows whose name contains TEXT, and `BENCH_CASE=single` (or
//! `batch`) only that case (to profile one row alone).

use runjsonrpc2::plugin::{Loader, SearchPath};
use runjsonrpc2::{AppError, Extras, JsonRpc, procedure};
use serde_json::{Value, json};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Calls per batch body.
const BATCH: usize = 100;

#[path = "../examples/baseline/typed.rs"]
mod typed;

use typed::{Request, Response};

/// The least a server must do: typed parse, check, add, typed serialize.
fn floor_one(req: &Request<'_>, out: &mut Vec<u8>) {
    assert!(req.jsonrpc == "2.0" && req.method == "add", "unexpected request");
    let resp = Response { jsonrpc: "2.0", result: req.params.0 + req.params.1, id: req.id };
    serde_json::to_writer(out, &resp).expect("serializes");
}

fn floor_single(body: &[u8], out: &mut Vec<u8>) {
    let req: Request<'_> = serde_json::from_slice(body).expect("a typed request");
    floor_one(&req, out);
}

fn floor_batch(body: &[u8], out: &mut Vec<u8>) {
    let reqs: Vec<Request<'_>> = serde_json::from_slice(body).expect("a typed batch");
    typed::write_batch(&reqs, out, floor_one);
}

/// The dynamic way: a `Value` tree in, a `Value` tree out.
fn value_one(req: &Value) -> Value {
    assert!(req["jsonrpc"] == "2.0" && req["method"] == "add", "unexpected request");
    let (a, b) = (req["params"][0].as_i64().expect("a"), req["params"][1].as_i64().expect("b"));
    json!({"jsonrpc": "2.0", "result": a + b, "id": req["id"].clone()})
}

fn value_body(body: &[u8], out: &mut Vec<u8>) {
    let req: Value = serde_json::from_slice(body).expect("JSON");
    let resp = match &req {
        Value::Array(items) => Value::Array(items.iter().map(value_one).collect()),
        one => value_one(one),
    };
    serde_json::to_writer(out, &resp).expect("serializes");
}

/// Finds libsample.so in the workspace's target directory, release first.
fn sample_plugin() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    ["release", "debug"].iter().map(|p| root.join("target").join(p).join("libsample.so")).find(|p| p.is_file())
}

/// How many calls of `f` take about `run`, after a warm-up of about `run / 2`.
fn calibrate(f: &mut dyn FnMut(), run: Duration) -> u64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < run / 2 || n < 10 {
        f();
        n += 1;
    }
    let per = start.elapsed().as_secs_f64() / n as f64;
    ((run.as_secs_f64() / per) as u64).max(10)
}

/// Mean ns per call of `f` over `iters` calls.
fn sample(f: &mut dyn FnMut(), iters: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_nanos() as f64 / iters as f64
}

/// The median and the minimum of samples.
fn median_min(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    (samples[samples.len() / 2], samples[0])
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One benchmarked implementation: a name and a function from request bytes to answer bytes.
type Row<'a> = (&'static str, Box<dyn FnMut(&[u8], &mut Vec<u8>) + 'a>);

fn main() {
    let runs = env_or("BENCH_RUNS", 21).max(1) as usize;
    let run = Duration::from_millis(env_or("BENCH_RUN_MS", 50).max(1));

    let single = br#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#.to_vec();
    let batch = {
        let items: Vec<String> =
            (1..=BATCH).map(|i| format!(r#"{{"jsonrpc":"2.0","method":"add","params":[1,2],"id":{i}}}"#)).collect();
        format!("[{}]", items.join(",")).into_bytes()
    };

    let extras = Extras::new();
    let native = JsonRpc::new();
    native.methods().insert("add", procedure(&["a", "b"], |a: i64, b: i64| Ok(a + b)).expect("a valid signature"));
    // The sample plugin's `add`, registered natively: the same arithmetic on JSON numbers, so
    // plugin / this row measures the plugin boundary alone.
    let same = JsonRpc::new();
    let add = |a: serde_json::Number, b: serde_json::Number| match (a.as_i128(), b.as_i128()) {
        (Some(x), Some(y)) => serde_json::Number::from_i128(x + y).ok_or_else(|| AppError::new("Overflow", "")),
        _ => Err(AppError::new("Overflow", "")),
    };
    same.methods().insert("add", procedure(&["a", "b"], add).expect("a valid signature"));

    let plugin_path = sample_plugin();
    let plugin = plugin_path.as_ref().map(|path| {
        let loader = Arc::new(Loader::new(SearchPath::default()));
        let mut rpc = JsonRpc::new();
        rpc.set_resolver(loader.clone());
        loader.register(&rpc, path.to_str().expect("a UTF-8 path"), false).expect("libsample.so loads");
        rpc
    });

    let io = {
        let mut io = jsonrpc_core::IoHandler::new();
        io.add_sync_method("add", |params: jsonrpc_core::Params| -> jsonrpc_core::Result<jsonrpc_core::Value> {
            let (a, b): (i64, i64) = params.parse()?;
            Ok(jsonrpc_core::Value::from(a + b))
        });
        io
    };

    let mut rows: Vec<Row<'_>> = vec![
        (
            "floor: serde typed",
            Box::new(|b: &[u8], out: &mut Vec<u8>| match b[0] {
                b'[' => floor_batch(b, out),
                _ => floor_single(b, out),
            }),
        ),
        ("serde_json::Value", Box::new(value_body)),
        (
            "jsonrpc-core 18",
            Box::new(|b: &[u8], out: &mut Vec<u8>| {
                let text = std::str::from_utf8(b).expect("UTF-8");
                let answer = io.handle_request_sync(text).expect("an answer");
                out.extend_from_slice(answer.as_bytes());
            }),
        ),
        (
            "runjsonrpc2 native",
            Box::new(|b: &[u8], out: &mut Vec<u8>| {
                assert!(native.handle_into(b, &extras, out));
            }),
        ),
        (
            "runjsonrpc2 native, plugin's code",
            Box::new(|b: &[u8], out: &mut Vec<u8>| {
                assert!(same.handle_into(b, &extras, out));
            }),
        ),
    ];
    match &plugin {
        Some(rpc) => rows.push((
            "runjsonrpc2 plugin",
            Box::new(|b: &[u8], out: &mut Vec<u8>| {
                assert!(rpc.handle_into(b, &extras, out));
            }),
        )),
        None => println!(
            "runjsonrpc2 plugin: skipped, no libsample.so in target/release or target/debug; \
             run `cargo build --release -p sample` first"
        ),
    }
    if let Some(p) = &plugin_path {
        println!("plugin: {}", p.canonicalize().unwrap_or_else(|_| p.clone()).display());
    }

    if let Ok(only) = std::env::var("BENCH_ONLY") {
        rows.retain(|(name, _)| name.contains(only.as_str()));
    }

    // Check every row answers correctly once before timing.
    let mut out = Vec::with_capacity(8192);
    for (name, f) in rows.iter_mut() {
        for (body, want) in [(&single, 1), (&batch, BATCH)] {
            out.clear();
            f(body, &mut out);
            let text = std::str::from_utf8(&out).expect("UTF-8 answer");
            let got = text.matches(r#""result":3"#).count();
            assert_eq!(got, want, "{name} answered wrongly: {text:.200}");
            if want == BATCH {
                // Distinct ids answered, in any order.
                let mut ids: Vec<u64> = match serde_json::from_str::<Value>(text).expect("JSON") {
                    Value::Array(a) => a.iter().map(|r| r["id"].as_u64().expect("an id")).collect(),
                    _ => panic!("{name}: a batch must answer an array"),
                };
                ids.sort_unstable();
                assert_eq!(ids, (1..=BATCH as u64).collect::<Vec<_>>(), "{name}: wrong ids");
            }
        }
    }

    println!(
        "{runs} rounds; in each, every row runs ~{} ms (rows interleaved, so a burst of load from \
         elsewhere hits all rows alike); median and fastest round, ns\n",
        run.as_millis()
    );
    let only_case = std::env::var("BENCH_CASE").unwrap_or_default();
    assert!(["", "single", "batch"].contains(&only_case.as_str()), "BENCH_CASE: single or batch, not {only_case:?}");
    for (case, body, calls) in [("single", &single, 1usize), ("batch-100", &batch, BATCH)] {
        if !case.starts_with(only_case.as_str()) {
            continue;
        }
        let mut calls_of: Vec<Box<dyn FnMut() + '_>> = rows
            .iter_mut()
            .map(|(_, f)| {
                // Each row reuses its own answer buffer.
                let mut out = Vec::with_capacity(body.len());
                Box::new(move || {
                    out.clear();
                    f(black_box(body), &mut out);
                    black_box(&out);
                }) as Box<dyn FnMut()>
            })
            .collect();
        // Each row's warm-up also sizes its share of a round.
        let iters: Vec<u64> = calls_of.iter_mut().map(|f| calibrate(f.as_mut(), run)).collect();
        let mut samples = vec![Vec::with_capacity(runs); calls_of.len()];
        for _ in 0..runs {
            for ((f, n), s) in calls_of.iter_mut().zip(&iters).zip(&mut samples) {
                s.push(sample(f.as_mut(), *n));
            }
        }
        drop(calls_of);

        println!("### {case} ({} request bytes)\n", body.len());
        println!("| implementation | ns/request (median) | ns/call (median) | x floor | ns/request (fastest) |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        let results: Vec<(&str, f64, f64)> = rows
            .iter()
            .zip(samples)
            .map(|((name, _), s)| {
                let (median, min) = median_min(s);
                (*name, median, min)
            })
            .collect();
        let find = |n: &str| results.iter().find(|(name, ..)| *name == n).map(|(_, median, _)| *median);
        let floor = find("floor: serde typed");
        for (name, median, min) in &results {
            let ratio = floor.map_or("-".to_owned(), |f| format!("{:.2}", median / f));
            println!("| {name} | {median:.0} | {:.1} | {ratio} | {min:.0} |", median / calls as f64);
        }
        if let (Some(p), Some(n)) = (find("runjsonrpc2 plugin"), find("runjsonrpc2 native")) {
            println!("\nplugin / native ({case}): {:.2}", p / n);
        }
        if let (Some(p), Some(n)) = (find("runjsonrpc2 plugin"), find("runjsonrpc2 native, plugin's code")) {
            println!("plugin / native with the plugin's code ({case}): {:.2}", p / n);
        }
        println!();
    }
}
