//! HTTP baseline for bench/http.sh, not a usage example: bare tiny_http that parses each body into
//! typed `add` requests with serde_json (single or batch) and answers with serde_json.
//!
//! `cargo run --release -p runjsonrpc2 --example baseline_serde -- [THREADS [PORT]]`

mod baseline;

#[path = "baseline/typed.rs"]
mod typed;

use typed::{Request, Response};

/// What anything this baseline cannot read gets.
const PARSE_ERROR: &[u8] = br#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#;

fn one(req: &Request<'_>, out: &mut Vec<u8>) {
    if req.jsonrpc != "2.0" || req.method != "add" {
        out.extend_from_slice(br#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"#);
        out.extend_from_slice(req.id.to_string().as_bytes());
        out.push(b'}');
        return;
    }
    let resp = Response { jsonrpc: "2.0", result: req.params.0.wrapping_add(req.params.1), id: req.id };
    serde_json::to_writer(out, &resp).expect("a typed answer serializes");
}

fn answer(body: &[u8], out: &mut Vec<u8>) {
    let batch = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    if batch {
        let Ok(reqs) = serde_json::from_slice::<Vec<Request<'_>>>(body) else {
            return out.extend_from_slice(PARSE_ERROR);
        };
        typed::write_batch(&reqs, out, one);
    } else {
        match serde_json::from_slice::<Request<'_>>(body) {
            Ok(req) => one(&req, out),
            Err(_) => out.extend_from_slice(PARSE_ERROR),
        }
    }
}

fn main() {
    baseline::serve(answer);
}
