//! Decoding one JSON value into a Rust type as serde_json does, with a shortcut for the
//! commonest parameters: integers and strings without escapes.
//!
//! The glue decodes a plugin's arguments with it, and the host a native procedure's (those
//! of its declared parameters; variadic values go through serde_json as a sequence), so an
//! argument reads the same, and costs the same, wherever the procedure runs.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

/// What [`serde_json::from_slice`] returns for `text`, the same value or the same error.
///
/// A plain integer (`-?[0-9]+` of at most 19 digits, no leading zero, not `-0`, within
/// `i64` when negative) or a string without escapes is handed to the type's visitor the way
/// serde_json hands it, for the kinds of value serde_json would; when the type asks for any
/// other kind, or its visitor refuses, or the text is anything else, serde_json decodes the text.
#[inline(always)]
pub fn from_slice<T: DeserializeOwned>(text: &[u8]) -> serde_json::Result<T> {
    match Plain::read(text).map(T::deserialize) {
        Some(Ok(value)) => Ok(value),
        _ => by_serde(text),
    }
}

/// The rest, out of line so that the shortcut inlines into its caller.
#[inline(never)]
fn by_serde<T: DeserializeOwned>(text: &[u8]) -> serde_json::Result<T> {
    serde_json::from_slice(text)
}

/// A value the shortcut reads.
#[derive(Clone, Copy)]
enum Plain<'a> {
    Unsigned(u64),
    Negative(i64),
    Str(&'a str),
}

impl<'a> Plain<'a> {
    fn read(text: &'a [u8]) -> Option<Plain<'a>> {
        match text {
            [b'"', inner @ .., b'"'] => {
                if inner.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
                    return None;
                }
                std::str::from_utf8(inner).ok().map(Plain::Str)
            }
            // serde_json reads `-0` as the float -0.0, and below i64::MIN as a float.
            [b'-', digits @ ..] => match digits_value(digits)? {
                0 => None,
                n => 0i64.checked_sub_unsigned(n).map(Plain::Negative),
            },
            digits => digits_value(digits).map(Plain::Unsigned),
        }
    }
}

/// `0` or `[1-9][0-9]*` of at most 19 digits (so it fits a u64); serde_json reads longer ones
/// as floats when they overflow.
fn digits_value(digits: &[u8]) -> Option<u64> {
    match digits {
        [] | [b'0', _, ..] => None,
        _ if digits.len() > 19 => None,
        _ => digits.iter().try_fold(0u64, |n, &d| d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))),
    }
}

/// Leaves the value to serde_json (see [`from_slice`]).
fn declined<T>() -> serde_json::Result<T> {
    Err(de::Error::custom("not read by the shortcut"))
}

impl<'de> Plain<'de> {
    /// A number, as serde_json's numeric requests hand it over; a string is declined.
    fn number<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        match self {
            Plain::Str(_) => declined(),
            number => number.deserialize_any(visitor),
        }
    }

    /// A string, as serde_json's string requests hand it over; a number is declined.
    fn string<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        match self {
            Plain::Str(s) => visitor.visit_borrowed_str(s),
            _ => declined(),
        }
    }
}

/// Requests that read a number.
macro_rules! numbers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
            self.number(visitor)
        }
    )*};
}

/// Requests that read a string.
macro_rules! strings {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
            self.string(visitor)
        }
    )*};
}

/// Requests for a kind of value the shortcut never reads (or that serde_json hands over its
/// own way: bytes, 128-bit integers), with the types of their arguments before the visitor.
macro_rules! declined {
    ($($method:ident($($arg:ty),*))*) => {$(
        fn $method<V: Visitor<'de>>(self, $(_: $arg,)* _: V) -> serde_json::Result<V::Value> {
            declined()
        }
    )*};
}

impl<'de> Deserializer<'de> for Plain<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Plain::Unsigned(n) => visitor.visit_u64(n),
            Plain::Negative(n) => visitor.visit_i64(n),
            Plain::Str(s) => visitor.visit_borrowed_str(s),
        }
    }

    numbers! { deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32 deserialize_f64 }
    strings! { deserialize_char deserialize_str deserialize_string deserialize_identifier }
    declined! {
        deserialize_bool() deserialize_i128() deserialize_u128() deserialize_bytes() deserialize_byte_buf()
        deserialize_unit() deserialize_seq() deserialize_map() deserialize_unit_struct(&'static str)
        deserialize_tuple(usize) deserialize_tuple_struct(&'static str, usize)
        deserialize_struct(&'static str, &'static [&'static str])
        deserialize_enum(&'static str, &'static [&'static str])
    }

    // As serde_json: a value that is not null is `Some`, a newtype is its content, and an
    // ignored value is a unit.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }
}
