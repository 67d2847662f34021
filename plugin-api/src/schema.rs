//! JSON Schemas for parameter and result types, written into the method table at compile time.
//!
//! [`export!`](crate::export) asks each parameter's and the result's type for its
//! [`Schema::SCHEMA`]; `rpc.discover` shows them. The std types, serde_json's and the
//! containers have one. For a type of your own, give one by hand (or [`SchemaText::ANY`]):
//!
//! ```
//! use runjsonrpc2_plugin::schema::{Schema, SchemaText};
//! #[derive(serde::Deserialize)]
//! struct Point { x: f64, y: f64 }
//! impl Schema for Point {
//!     const SCHEMA: SchemaText = SchemaText::new(
//!         r#"{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"]}"#,
//!     );
//! }
//! assert!(Point::SCHEMA.as_str().starts_with(r#"{"type":"object""#));
//! ```
//!
//! A trait of our own rather than `schemars`: the table is a `static`, so each schema must be
//! known at compile time, which a `const` gives and `schemars` (run-time values) does not; and
//! plugin-api stays free of dependencies beyond serde.

use crate::abi::Str;

/// The longest schema text, in bytes (a container's includes its items').
pub const MAX: usize = 1024;

/// A schema's JSON text, built at compile time (a fixed buffer, so containers can nest their
/// items' schemas in `const` code).
#[derive(Clone, Copy, Debug)]
pub struct SchemaText {
    bytes: [u8; MAX],
    len: usize,
}

impl SchemaText {
    /// Any value: `{}`.
    pub const ANY: SchemaText = SchemaText::new("{}");

    /// A schema given as JSON text (not checked here; the host checks it is JSON).
    pub const fn new(text: &str) -> SchemaText {
        SchemaText::concat(&[text.as_bytes()])
    }

    /// The pieces one after the other. Panics (at compile time) past [`MAX`] bytes.
    pub const fn concat(pieces: &[&[u8]]) -> SchemaText {
        let mut bytes = [0u8; MAX];
        let mut len = 0;
        let mut p = 0;
        while p < pieces.len() {
            let piece = pieces[p];
            assert!(len + piece.len() <= MAX, "a schema longer than schema::MAX bytes");
            let mut i = 0;
            while i < piece.len() {
                bytes[len] = piece[i];
                len += 1;
                i += 1;
            }
            p += 1;
        }
        SchemaText { bytes, len }
    }

    /// A JSON array of the strings, escaped, e.g. `["Overflow"]`.
    pub const fn json_strings(strings: &[&str]) -> SchemaText {
        let mut bytes = [0u8; MAX];
        bytes[0] = b'[';
        let mut len = 1;
        let mut s = 0;
        while s < strings.len() {
            if s > 0 {
                bytes[len] = b',';
                len += 1;
            }
            let text = strings[s].as_bytes();
            assert!(len + 2 * text.len() + 3 <= MAX, "strings longer than schema::MAX bytes");
            bytes[len] = b'"';
            len += 1;
            let mut i = 0;
            while i < text.len() {
                let b = text[i];
                if b == b'"' || b == b'\\' {
                    bytes[len] = b'\\';
                    len += 1;
                }
                if b < 0x20 {
                    bytes[len] = b' '; // a control character in a kind: shown as a space
                } else {
                    bytes[len] = b;
                }
                len += 1;
                i += 1;
            }
            bytes[len] = b'"';
            len += 1;
            s += 1;
        }
        bytes[len] = b']';
        SchemaText { bytes, len: len + 1 }
    }

    /// The text's bytes.
    pub const fn as_bytes(&self) -> &[u8] {
        self.bytes.split_at(self.len).0
    }

    /// The text.
    pub const fn as_str(&self) -> &str {
        match std::str::from_utf8(self.as_bytes()) {
            Ok(s) => s,
            Err(_) => panic!("a schema is UTF-8"),
        }
    }

    /// The text as an ABI string for the table; `{}` (any value) is left empty.
    pub const fn to_abi(&'static self) -> Str {
        if self.len == 2 && self.bytes[0] == b'{' && self.bytes[1] == b'}' {
            return Str::EMPTY;
        }
        Str { ptr: self.bytes.as_ptr(), len: self.len }
    }
}

/// A type's JSON Schema, for the method table.
pub trait Schema {
    /// The schema of a value of this type.
    const SCHEMA: SchemaText;
    /// For a variadic parameter's type (`Vec<T>`): the schema of each value, `T`'s.
    const ITEM: SchemaText = SchemaText::ANY;
}

macro_rules! simple {
    ($($t:ty => $s:literal),* $(,)?) => {$(
        impl Schema for $t {
            const SCHEMA: SchemaText = SchemaText::new($s);
        }
    )*};
}

simple! {
    i8 => r#"{"type":"integer","minimum":-128,"maximum":127}"#,
    i16 => r#"{"type":"integer","minimum":-32768,"maximum":32767}"#,
    i32 => r#"{"type":"integer","minimum":-2147483648,"maximum":2147483647}"#,
    i64 => r#"{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807}"#,
    isize => r#"{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807}"#,
    i128 => r#"{"type":"integer","minimum":-170141183460469231731687303715884105728,"maximum":170141183460469231731687303715884105727}"#,
    u8 => r#"{"type":"integer","minimum":0,"maximum":255}"#,
    u16 => r#"{"type":"integer","minimum":0,"maximum":65535}"#,
    u32 => r#"{"type":"integer","minimum":0,"maximum":4294967295}"#,
    u64 => r#"{"type":"integer","minimum":0,"maximum":18446744073709551615}"#,
    usize => r#"{"type":"integer","minimum":0,"maximum":18446744073709551615}"#,
    u128 => r#"{"type":"integer","minimum":0,"maximum":340282366920938463463374607431768211455}"#,
    f32 => r#"{"type":"number"}"#,
    f64 => r#"{"type":"number"}"#,
    bool => r#"{"type":"boolean"}"#,
    char => r#"{"type":"string","minLength":1,"maxLength":1}"#,
    String => r#"{"type":"string"}"#,
    () => r#"{"type":"null"}"#,
    serde_json::Value => "{}",
    serde_json::Number => r#"{"type":"number"}"#,
    serde_json::Map<String, serde_json::Value> => r#"{"type":"object"}"#,
}

impl<T: Schema> Schema for Option<T> {
    const SCHEMA: SchemaText = SchemaText::concat(&[b"{\"anyOf\":[", T::SCHEMA.as_bytes(), b",{\"type\":\"null\"}]}"]);
}

impl<T: Schema> Schema for Box<T> {
    const SCHEMA: SchemaText = T::SCHEMA;
}

macro_rules! array {
    ($($t:ident)::+) => {
        impl<T: Schema> Schema for $($t)::+<T> {
            const SCHEMA: SchemaText = SchemaText::concat(&[b"{\"type\":\"array\",\"items\":", T::SCHEMA.as_bytes(), b"}"]);
            const ITEM: SchemaText = T::SCHEMA;
        }
    };
}

array!(Vec);
array!(std::collections::VecDeque);
array!(std::collections::BTreeSet);
array!(std::collections::HashSet);

/// The schema of a map with string keys and `V` values.
const fn object_of<V: Schema>() -> SchemaText {
    SchemaText::concat(&[b"{\"type\":\"object\",\"additionalProperties\":", V::SCHEMA.as_bytes(), b"}"])
}

impl<V: Schema, S> Schema for std::collections::HashMap<String, V, S> {
    const SCHEMA: SchemaText = object_of::<V>();
}

impl<V: Schema> Schema for std::collections::BTreeMap<String, V> {
    const SCHEMA: SchemaText = object_of::<V>();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};

    #[test]
    fn types_have_the_schemas_of_their_json() {
        let cases: &[(&str, &str)] = &[
            (
                i64::SCHEMA.as_str(),
                r#"{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807}"#,
            ),
            (u8::SCHEMA.as_str(), r#"{"type":"integer","minimum":0,"maximum":255}"#),
            (f64::SCHEMA.as_str(), r#"{"type":"number"}"#),
            (String::SCHEMA.as_str(), r#"{"type":"string"}"#),
            (<Option<bool>>::SCHEMA.as_str(), r#"{"anyOf":[{"type":"boolean"},{"type":"null"}]}"#),
            (<Vec<u8>>::SCHEMA.as_str(), r#"{"type":"array","items":{"type":"integer","minimum":0,"maximum":255}}"#),
            (<Vec<f64>>::ITEM.as_str(), r#"{"type":"number"}"#),
            (
                <HashMap<String, Vec<String>>>::SCHEMA.as_str(),
                r#"{"type":"object","additionalProperties":{"type":"array","items":{"type":"string"}}}"#,
            ),
            (<BTreeMap<String, serde_json::Value>>::SCHEMA.as_str(), r#"{"type":"object","additionalProperties":{}}"#),
            (serde_json::Value::SCHEMA.as_str(), "{}"),
            (<()>::SCHEMA.as_str(), r#"{"type":"null"}"#),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
            serde_json::from_str::<serde_json::Value>(got).expect("a schema is JSON");
        }
    }

    #[test]
    fn error_kinds_are_a_json_array_of_strings() {
        let cases: &[(&[&str], &str)] = &[
            (&["Overflow"], r#"["Overflow"]"#),
            (&["A", "B"], r#"["A","B"]"#),
            (&[r#"q"uote\"#], r#"["q\"uote\\"]"#),
            (&[], "[]"),
        ];
        for (kinds, want) in cases {
            let got = SchemaText::json_strings(kinds);
            assert_eq!(got.as_str(), *want);
            assert_eq!(serde_json::from_str::<Vec<String>>(got.as_str()).unwrap(), *kinds);
        }
    }

    #[test]
    fn any_is_left_empty_in_the_table() {
        static ANY: SchemaText = SchemaText::ANY;
        static NUMBER: SchemaText = <f64 as Schema>::SCHEMA;
        assert_eq!(ANY.to_abi().len, 0);
        // SAFETY: `to_abi` points at the static's `len` bytes.
        assert_eq!(unsafe { NUMBER.to_abi().as_bytes() }, br#"{"type":"number"}"#);
    }
}
