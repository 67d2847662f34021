//! HTTP baseline for bench/http.sh, not a usage example: bare tiny_http that reads each body and
//! answers the fixed `{"jsonrpc":"2.0","result":3,"id":1}` as `baseline_fixed` does, but framed
//! whole and written at once, as runjsonrpc2 frames its answers: the HTTP cost of runjsonrpc2's
//! own answer path with no JSON work.
//!
//! `cargo run --release -p runjsonrpc2 --example baseline_whole -- [THREADS [PORT]]`

mod baseline;

/// The answer to `add(1, 2)` with id 1, whatever was asked.
const ANSWER: &[u8] = br#"{"jsonrpc":"2.0","result":3,"id":1}"#;

fn main() {
    baseline::serve_whole(|_body, out| out.extend_from_slice(ANSWER));
}
