//! Embedding the engine in another HTTP server, with a native method and a plugin's methods
//! through the loader.
//!
//! The server is tiny_http: already a dependency, and the smallest synchronous one; hyper or
//! axum would wrap `JsonRpc::handle` the same way, in their own handler.
//!
//! ```text
//! cargo build -p sample && cargo run -p runjsonrpc2 --example embed -- target/debug
//! curl -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","method":"sample.add","params":[1,2],"id":1}' http://127.0.0.1:PORT/
//! ```

use runjsonrpc2::plugin::{Loader, SearchPath};
use runjsonrpc2::{Extras, JsonRpc, procedure};
use std::io::Read;
use std::sync::Arc;

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "target/debug".into());
    let loader = Arc::new(Loader::new(SearchPath::standard(&[dir.into()])));
    let mut rpc = JsonRpc::new();
    rpc.set_resolver(loader.clone());
    // sample.add, sample.subtract, ...: registered lazily, each opened on its first call.
    loader.register(&rpc, "sample", true).expect("libsample.so on the plugin path");
    rpc.methods().insert(
        "hello",
        procedure(&["name"], |name: String| Ok(format!("Hello, {name}!"))).expect("a valid signature"),
    );
    let server = tiny_http::Server::http("127.0.0.1:0").expect("binds a free port");
    println!("listening on http://{}/", server.server_addr());
    let (rpc, extras) = (Arc::new(rpc), Extras::new());
    let json = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).expect("valid header");
    for mut request in server.incoming_requests() {
        let mut body = Vec::new();
        if request.as_reader().take(1 << 20).read_to_end(&mut body).is_err() {
            continue;
        }
        let response = match rpc.handle(&body, &extras) {
            Some(answer) => tiny_http::Response::from_data(answer).with_header(json.clone()),
            None => tiny_http::Response::from_data(Vec::new()).with_status_code(204),
        };
        let _ = request.respond(response);
    }
}
