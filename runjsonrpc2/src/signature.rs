//! Declared parameters, and binding a request's `params` to them (with extra variables).

use crate::error::{Failure, SetupError};
use serde::de::{self, SeqAccess};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// How one declared parameter binds.
#[derive(Debug, Clone)]
pub enum ParamKind {
    /// Must be given (by the client or as an extra variable).
    Required,
    /// May be absent; the JSON text given is used then (`None`: the procedure sees nothing).
    Optional(Option<Box<RawValue>>),
    /// Takes every remaining positional value; always last.
    Variadic,
}

/// One declared parameter.
#[derive(Debug, Clone)]
pub struct Param {
    /// Its name, which named params and extra variables bind by.
    pub name: String,
    /// How it binds.
    pub kind: ParamKind,
}

/// A procedure's parameter list, or `Raw` for one that takes `params` as sent.
#[derive(Debug, Clone)]
pub enum Signature {
    /// Declared parameters, bound by position or by name.
    Params(Vec<Param>),
    /// The procedure takes `params` as sent, and the extra variables whole.
    Raw,
}

impl Signature {
    /// Builds a parameter list from specs written like Python's: `"a"` is required,
    /// `"name=\"world\""` optional with a JSON default, `"name?"` optional without one,
    /// `"*args"` variadic.
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<Signature, SetupError> {
        let params = specs.iter().map(|s| parse_param(s.as_ref())).collect::<Result<_, _>>()?;
        Signature::new(params)
    }

    /// Checks a parameter list: names unique and non-empty, at most one variadic, last.
    pub fn new(params: Vec<Param>) -> Result<Signature, SetupError> {
        for (i, p) in params.iter().enumerate() {
            if p.name.is_empty() {
                return Err(SetupError::Signature("empty parameter name".into()));
            }
            if params[..i].iter().any(|q| q.name == p.name) {
                return Err(SetupError::Signature(format!("parameter \"{}\" declared twice", p.name)));
            }
            if matches!(p.kind, ParamKind::Variadic) && i + 1 != params.len() {
                return Err(SetupError::Signature(format!("variadic parameter \"{}\" is not last", p.name)));
            }
        }
        Ok(Signature::Params(params))
    }

    /// The declared parameters; empty for a raw signature.
    pub fn params(&self) -> &[Param] {
        match self {
            Signature::Params(p) => p,
            Signature::Raw => &[],
        }
    }
}

impl fmt::Display for Signature {
    /// Python-like: `(minuend, subtrahend)`, `(name="world")`, `(*numbers)`, `(params...)` for raw.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Signature::Params(params) = self else { return f.write_str("(params...)") };
        f.write_str("(")?;
        for (i, p) in params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match &p.kind {
                ParamKind::Required => write!(f, "{}", p.name)?,
                ParamKind::Optional(Some(d)) => write!(f, "{}={}", p.name, d.get())?,
                ParamKind::Optional(None) => write!(f, "{}?", p.name)?,
                ParamKind::Variadic => write!(f, "*{}", p.name)?,
            }
        }
        f.write_str(")")
    }
}

fn parse_param(spec: &str) -> Result<Param, SetupError> {
    let (name, kind) = if let Some(name) = spec.strip_prefix('*') {
        (name, ParamKind::Variadic)
    } else if let Some((name, default)) = spec.split_once('=') {
        let raw = RawValue::from_string(default.trim().to_owned())
            .map_err(|e| SetupError::Signature(format!("default of \"{name}\" is not JSON: {e}")))?;
        (name.trim(), ParamKind::Optional(Some(raw)))
    } else if let Some(name) = spec.strip_suffix('?') {
        (name, ParamKind::Optional(None))
    } else {
        (spec, ParamKind::Required)
    };
    let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !valid {
        return Err(SetupError::Signature(format!("bad parameter name {name:?}")));
    }
    Ok(Param { name: name.to_owned(), kind })
}

/// Server-side named values offered to every procedure that declares a parameter of
/// that name (the original's `rpc(request, b=3)`).
#[derive(Debug, Clone)]
pub struct Extras {
    vars: Vec<(String, Box<RawValue>)>,
    /// Bit `n` is set when a variable's name is `n` bytes long (bit 63: 63 or more). Every
    /// call looks each of its parameters up here, and most are no variable's name: their
    /// length alone usually says so, without comparing names.
    lengths: u64,
    object: String,
}

/// The bit of [`Extras::lengths`] for `name`.
fn length_bit(name: &str) -> u64 {
    1 << name.len().min(63)
}

impl Default for Extras {
    fn default() -> Extras {
        Extras { vars: Vec::new(), lengths: 0, object: "{}".to_owned() }
    }
}

impl Extras {
    /// No variables.
    pub fn new() -> Extras {
        Extras::default()
    }

    /// Sets `name` to `value` (serialized to JSON), replacing an earlier value.
    pub fn with(mut self, name: &str, value: impl serde::Serialize) -> Extras {
        let raw = serde_json::value::to_raw_value(&value).expect("extra variable serializes to JSON");
        self.insert_raw(name, raw);
        self
    }

    /// Sets `name` to a JSON value given as text.
    pub fn insert_raw(&mut self, name: &str, value: Box<RawValue>) {
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_owned(), value)),
        }
        self.lengths |= length_bit(name);
        let mut object = String::from("{");
        for (i, (n, v)) in self.vars.iter().enumerate() {
            if i > 0 {
                object.push(',');
            }
            object.push_str(&serde_json::to_string(n).expect("a string serializes"));
            object.push(':');
            object.push_str(v.get());
        }
        object.push('}');
        self.object = object;
    }

    /// The JSON text of variable `name`.
    pub fn get(&self, name: &str) -> Option<&RawValue> {
        if self.lengths & length_bit(name) == 0 {
            return None;
        }
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| &**v)
    }

    /// The variables' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.iter().map(|(n, _)| n.as_str())
    }

    /// Whether there is no variable.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// All variables as one JSON object's text.
    pub fn as_json(&self) -> &str {
        &self.object
    }
}

/// The arguments of one call, bound to a procedure's parameters.
pub struct Args<'a> {
    /// One slot per declared non-variadic parameter; `None` for an absent optional one.
    pub(crate) fixed: Slots<'a>,
    /// The values taken by the variadic parameter.
    pub(crate) rest: Vec<&'a str>,
    /// `params` exactly as the request sent it (JSON text).
    pub raw: Option<&'a str>,
    /// The server's extra variables (raw procedures get them whole).
    pub extras: &'a Extras,
    sig: &'a Signature,
}

const NULL: &str = "null";

impl<'a> Args<'a> {
    /// Arguments for `sig` from `params` (`raw`) and the extra variables, not bound yet: a
    /// slot per fixed parameter, all empty. (Binding is a second step, [`Args::bind`], so the
    /// caller keeps the arguments, some 200 bytes, in place: returned in a `Result` they were
    /// copied twice a call.)
    pub(crate) fn new(sig: &'a Signature, raw: Option<&'a str>, extras: &'a Extras) -> Args<'a> {
        let params = sig.params();
        let variadic = params.last().is_some_and(|p| matches!(p.kind, ParamKind::Variadic));
        Args { fixed: Slots::new(params.len() - usize::from(variadic)), rest: Vec::new(), raw, extras, sig }
    }

    /// Binds `params` to the signature, once. Extra variables fill the parameters of the same
    /// name and win over client values; positional values fill the remaining parameters in order.
    pub(crate) fn bind(&mut self) -> Result<(), Failure> {
        let (sig, raw, extras, args) = (self.sig, self.raw, self.extras, self);
        let Signature::Params(params) = sig else { return Ok(()) };
        let (fixed, variadic) = match params.last() {
            Some(p) if matches!(p.kind, ParamKind::Variadic) => (&params[..params.len() - 1], true),
            _ => (&params[..], false),
        };
        if !extras.is_empty() {
            // Slots start empty: only a parameter that is a variable's name has one to fill.
            for (i, p) in fixed.iter().enumerate() {
                if let Some(value) = extras.get(&p.name) {
                    args.fixed[i] = Some(value.get());
                }
            }
        }
        match raw.map(|r| (r.as_bytes()[0], r)) {
            None => {}
            Some((b'[', r)) => {
                // Positional values fill the empty slots in order; the rest go to `rest`.
                let mut empty = args.fixed.iter_mut().filter(|s| s.is_none());
                for value in crate::json::valid::elements(r) {
                    match empty.next() {
                        Some(slot) => *slot = Some(value),
                        None => args.rest.push(value),
                    }
                }
                if !variadic && !args.rest.is_empty() {
                    let takes = args.fixed.len() - fixed.iter().filter(|p| extras.get(&p.name).is_some()).count();
                    let got = takes + args.rest.len();
                    return Err(Failure::InvalidParams(format!("too many parameters: {got} given, at most {takes}")));
                }
            }
            Some((_, r)) => {
                let mut seen = vec![false; fixed.len()];
                for (key, value) in crate::json::valid::members(r) {
                    let key: Cow<'_, str> = match key.contains('\\') {
                        false => Cow::Borrowed(&key[1..key.len() - 1]),
                        true => Cow::Owned(serde_json::from_str(key).map_err(internal)?),
                    };
                    let Some(i) = fixed.iter().position(|p| p.name == key) else {
                        return Err(Failure::param(&key, "unknown parameter"));
                    };
                    if std::mem::replace(&mut seen[i], true) {
                        return Err(Failure::param(&key, "parameter given twice:"));
                    }
                    if extras.get(&key).is_none() {
                        args.fixed[i] = Some(value);
                    }
                }
            }
        }
        for (slot, p) in args.fixed.iter_mut().zip(fixed) {
            if slot.is_none() {
                match &p.kind {
                    ParamKind::Optional(default) => *slot = default.as_deref().map(RawValue::get),
                    _ => return Err(Failure::param(&p.name, "missing parameter")),
                }
            }
        }
        Ok(())
    }

    /// Deserializes parameter `index` of the signature (the variadic one yields a sequence).
    pub fn get<T: de::DeserializeOwned>(&self, index: usize) -> Result<T, Failure> {
        let name = self.sig.params().get(index).map_or("?", |p| p.name.as_str());
        let result = if index < self.fixed.len() {
            runjsonrpc2_plugin::value::from_slice(self.fixed[index].unwrap_or(NULL).as_bytes())
        } else {
            T::deserialize(de::value::SeqAccessDeserializer::new(Values(self.rest.iter())))
        };
        result.map_err(|e| Failure::InvalidParams(format!("invalid parameter \"{name}\": {}", short(&e))))
    }

    /// How many values [`Args::values`] yields.
    pub fn len(&self) -> usize {
        self.fixed.len() + self.rest.len()
    }

    /// Whether no parameter values are bound.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound values as JSON texts: each fixed slot in order (absent ones `null`), then the
    /// variadic values. This is what bound plugin procedures receive.
    pub fn values(&self) -> impl Iterator<Item = &'a str> + '_ {
        let fixed = self.fixed.iter().map(|v| v.unwrap_or(NULL));
        fixed.chain(self.rest.iter().copied())
    }
}

/// Slots for the fixed parameters, inline for up to eight (no allocation for most calls).
#[derive(Default)]
pub(crate) struct Slots<'a> {
    inline: [Option<&'a str>; 8],
    heap: Vec<Option<&'a str>>,
    len: usize,
}

impl Slots<'_> {
    fn new(len: usize) -> Self {
        let heap = if len > 8 { vec![None; len] } else { Vec::new() };
        Slots { inline: [None; 8], heap, len }
    }
}

impl<'a> std::ops::Deref for Slots<'a> {
    type Target = [Option<&'a str>];
    fn deref(&self) -> &Self::Target {
        if self.len > 8 { &self.heap } else { &self.inline[..self.len] }
    }
}

impl std::ops::DerefMut for Slots<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        if self.len > 8 { &mut self.heap } else { &mut self.inline[..self.len] }
    }
}

/// The variadic values, one JSON text each, as a sequence serde can read (`Vec<T>` and such).
struct Values<'s, 'a>(std::slice::Iter<'s, &'a str>);

impl<'de> SeqAccess<'de> for Values<'_, 'de> {
    type Error = serde_json::Error;
    fn next_element_seed<T: de::DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Self::Error> {
        let Some(text) = self.0.next() else { return Ok(None) };
        let mut de = serde_json::Deserializer::from_str(text);
        let value = seed.deserialize(&mut de)?;
        de.end()?;
        Ok(Some(value))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// A serde_json error's text without its position, which means nothing to a client.
pub(crate) fn short(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

fn internal(e: serde_json::Error) -> Failure {
    Failure::Internal(format!("params did not re-parse: {e}"))
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
