//! bench/conn.sh's jsonrpsee: the same server as src/main.rs (`add(a, b)` on one tokio thread)
//! with jsonrpsee's cap on connections (100 by default; past it each request is answered 429)
//! raised to MAX (default 10,000), so that runs with 256 and 1,000 connections measure answers,
//! not refusals. `cargo run --release --example wide -- [PORT [MAX]]`; prints
//! `listening on http://ADDR/`. Not part of the product.

use jsonrpsee::server::{RpcModule, Server, ServerConfig};
use jsonrpsee::types::ErrorObjectOwned;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(0, |p| p.parse().expect("a port"));
    let max: u32 = args.next().map_or(10_000, |m| m.parse().expect("a number of connections"));
    let config = ServerConfig::builder().max_connections(max).build();
    let server = Server::builder().set_config(config).build(("127.0.0.1", port)).await.expect("binds");
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
