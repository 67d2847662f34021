//! HTTP baseline for bench/http.sh, not part of the product: jsonrpsee (hyper, tokio) serving
//! `add(a, b)` on one thread. `cargo run --release -- [PORT]`; prints `listening on http://ADDR/`.

use jsonrpsee::server::{RpcModule, Server};
use jsonrpsee::types::ErrorObjectOwned;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port: u16 = std::env::args().nth(1).map_or(0, |p| p.parse().expect("a port"));
    let server = Server::builder().build(("127.0.0.1", port)).await.expect("binds");
    let mut module = RpcModule::new(());
    module
        .register_method("add", |params, _, _| {
            let (a, b): (i64, i64) = params.parse()?;
            Ok::<i64, ErrorObjectOwned>(a + b)
        })
        .expect("registers");
    let addr = server.local_addr().expect("an address");
    println!("listening on http://{addr}/");
    let handle = server.start(module);
    handle.stopped().await;
}
