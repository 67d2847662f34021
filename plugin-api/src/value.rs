//! Decoding one JSON value into a Rust type as serde_json does, with a shortcut for the
//! commonest parameters: integers and strings without escapes.
//!
//! The host decodes a native procedure's arguments with it and the glue a plugin's, so an
//! argument reads the same, and costs the same, wherever the procedure runs.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

/// What [`serde_json::from_slice`] returns for `text`, the same value or the same error.
///
/// A plain integer (`-?[0-9]+` that fits an `i64` or `u64`, no leading zero, not `-0`) or a
/// string without escapes is handed to the type's visitor the way serde_json hands it; when
/// that visitor refuses it, or the text is anything else, serde_json decodes the text.
pub fn from_slice<T: DeserializeOwned>(text: &[u8]) -> serde_json::Result<T> {
    if let Some(plain) = Plain::read(text)
        && let Ok(value) = T::deserialize(plain)
    {
        return Ok(value);
    }
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

impl<'de> Deserializer<'de> for Plain<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Plain::Unsigned(n) => visitor.visit_u64(n),
            Plain::Negative(n) => visitor.visit_i64(n),
            Plain::Str(s) => visitor.visit_borrowed_str(s),
        }
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

    // serde_json hands strings to these visitors differently (as bytes, as a variant name):
    // leave them to it.
    fn deserialize_bytes<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not read by the shortcut"))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not read by the shortcut"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not read by the shortcut"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit unit_struct seq tuple tuple_struct map struct identifier
    }
}
