//! HTTP baseline for bench/http.sh, not a usage example: bare tiny_http that reads each body and
//! answers the fixed `{"jsonrpc":"2.0","result":3,"id":1}` (35 bytes, the same bytes runjsonrpc2 answers to
//! `add(1, 2)` with id 1): the HTTP cost with no JSON work.
//!
//! `cargo run --release -p runjsonrpc2 --example baseline_fixed -- [THREADS [PORT]]`

mod baseline;

/// The answer to `add(1, 2)` with id 1, whatever was asked.
const ANSWER: &[u8] = br#"{"jsonrpc":"2.0","result":3,"id":1}"#;

fn main() {
    baseline::serve(|_body, out| out.extend_from_slice(ANSWER));
}
