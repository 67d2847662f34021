//! The typed `add` request and answer that the serde floor and the serde HTTP baseline read and write.

use serde::{Deserialize, Serialize};

/// A request as the floor reads it: borrowed strings, exactly two integer params, a numeric id.
#[derive(Deserialize)]
pub struct Request<'a> {
    pub jsonrpc: &'a str,
    pub method: &'a str,
    pub params: (i64, i64),
    pub id: u64,
}

/// The floor's answer.
#[derive(Serialize)]
pub struct Response<'a> {
    pub jsonrpc: &'a str,
    pub result: i64,
    pub id: u64,
}

/// Writes `[a,b,...]`, each member by `one`.
pub fn write_batch<T>(items: &[T], out: &mut Vec<u8>, mut one: impl FnMut(&T, &mut Vec<u8>)) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        one(item, out);
    }
    out.push(b']');
}
