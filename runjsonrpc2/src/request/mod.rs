//! Reading a JSON-RPC body in one borrowed pass: a single Request, a batch, or neither.

mod fast;

use crate::json::skip_seq;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// The members of one Request object, as raw JSON text borrowed from the body.
#[derive(Default, Debug, PartialEq)]
pub struct Envelope<'a> {
    pub jsonrpc: Option<&'a str>,
    pub method: Option<&'a str>,
    pub params: Option<&'a str>,
    pub id: Option<&'a str>,
    /// A member of the four above appeared twice.
    pub duplicate: Option<&'static str>,
}

/// One member of a batch, or the whole body.
#[derive(Debug, PartialEq)]
pub enum Item<'a> {
    Request(Envelope<'a>),
    /// Valid JSON that is not an object.
    NotObject,
}

/// What a body holds.
#[derive(Debug, PartialEq)]
pub enum Body<'a> {
    Single(Item<'a>),
    Batch(Vec<Item<'a>>),
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Not JSON; the detail says where.
    Parse(String),
    /// A batch longer than the limit.
    TooLarge,
}

/// Parses `body` (already known to be UTF-8) with at most `max_batch` batch members: the
/// common shapes in one pass of our own (`scan.rs`), everything else with serde_json.
pub fn parse(body: &str, max_batch: usize) -> Result<Body<'_>, BodyError> {
    match fast::body(body, max_batch) {
        Some(parsed) => Ok(parsed),
        None => parse_with_serde(body, max_batch),
    }
}

/// Parses `body` with serde_json alone: every body, and every error's wording.
pub fn parse_with_serde(body: &str, max_batch: usize) -> Result<Body<'_>, BodyError> {
    let too_large = std::cell::Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(body);
    let parsed =
        de.deserialize_any(BodyVisitor { max_batch, too_large: &too_large }).and_then(|b| de.end().map(|()| b));
    parsed.map_err(|e| if too_large.get() { BodyError::TooLarge } else { BodyError::Parse(e.to_string()) })
}

struct BodyVisitor<'f> {
    max_batch: usize,
    /// Set when the batch limit stopped the parse (rather than bad JSON).
    too_large: &'f std::cell::Cell<bool>,
}

impl<'de> Visitor<'de> for BodyVisitor<'_> {
    type Value = Body<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC request or batch")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Body<'de>, A::Error> {
        ItemVisitor.visit_map(map).map(Body::Single)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Body<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(8).min(self.max_batch));
        while let Some(item) = seq.next_element_seed(ItemSeed)? {
            if items.len() == self.max_batch {
                self.too_large.set(true);
                return Err(de::Error::custom("batch too large"));
            }
            items.push(item);
        }
        Ok(Body::Batch(items))
    }
    scalars!(Body::Single(Item::NotObject));
}

/// Accepts every scalar as "not an object".
macro_rules! scalars {
    ($v:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($v)
        }
    };
}
use scalars;

struct ItemSeed;

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = Item<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Item<'de>, D::Error> {
        d.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC request")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item<'de>, A::Error> {
        let mut env = Envelope::default();
        while let Some(member) = map.next_key::<Member>()? {
            let (slot, name) = match member {
                Member::Jsonrpc => (&mut env.jsonrpc, "jsonrpc"),
                Member::Method => (&mut env.method, "method"),
                Member::Params => (&mut env.params, "params"),
                Member::Id => (&mut env.id, "id"),
                Member::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if slot.replace(map.next_value::<&RawValue>()?.get()).is_some() {
                env.duplicate = Some(name);
            }
        }
        Ok(Item::Request(env))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Item<'de>, A::Error> {
        skip_seq(seq).map(|()| Item::NotObject)
    }
    scalars!(Item::NotObject);
}

enum Member {
    Jsonrpc,
    Method,
    Params,
    Id,
    Other,
}

impl<'de> serde::Deserialize<'de> for Member {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Member, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Member;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Member, E> {
                Ok(match v {
                    "jsonrpc" => Member::Jsonrpc,
                    "method" => Member::Method,
                    "params" => Member::Params,
                    "id" => Member::Id,
                    _ => Member::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}
