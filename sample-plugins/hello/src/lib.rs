//! The `hello` plugin: the smallest runjsonrpc2 plugin, one procedure with an optional parameter.

use runjsonrpc2_plugin::{export, plugin};

export! {
    /// Greets someone by name.
    fn greeting(name: String = "world".to_string()) -> String {
        format!("Hello, {name}!")
    }
}

plugin! { name: "hello", version: env!("CARGO_PKG_VERSION"), methods: [greeting] }
