//! Reading and checking a plugin's exported descriptor into owned Rust values.

use crate::signature::{Param, ParamKind, Signature};
use runjsonrpc2_plugin::abi;
use serde_json::value::RawValue;
use std::collections::HashMap;

/// Bounds on what a sane table holds; a table past them is refused.
const MAX_NAME: usize = 1024;
const MAX_DOC: usize = 64 * 1024;
const MAX_METHODS: usize = 100_000;
const MAX_PARAMS: usize = 256;

/// One method of a plugin's table.
#[derive(Debug, Clone)]
pub struct MethodInfo {
    /// The method's name in the module (served as `MODULE.NAME` by default).
    pub name: String,
    /// The exported symbol of its procedure.
    pub symbol: String,
    /// Its documentation.
    pub doc: String,
    /// Its parameters (or raw).
    pub signature: Signature,
    /// Its results are spliced into answers unchecked (`abi::METHOD_TRUSTED_OUTPUT`).
    pub trusted_output: bool,
    /// A JSON Schema per declared parameter, in order (`None`: any value; ABI 3).
    pub param_schemas: Vec<Option<Box<RawValue>>>,
    /// A JSON Schema for the result (`None`: any value; ABI 3).
    pub result_schema: Option<Box<RawValue>>,
    /// The application error kinds the method may report (`None`: not known; ABI 3).
    pub error_kinds: Option<Vec<String>>,
}

/// A plugin's table, copied out of the library and checked.
#[derive(Debug, Clone)]
pub struct Descriptor {
    /// The module's name.
    pub name: String,
    /// The module's version.
    pub version: String,
    /// Its methods, in the table's order.
    pub methods: Vec<MethodInfo>,
    /// Where each name, and each symbol (its first method), is in `methods`: a lookup costs
    /// the same in a table of ten methods or of a hundred thousand.
    index: Index,
}

#[derive(Debug, Clone, Default)]
struct Index {
    by_name: HashMap<String, usize>,
    by_symbol: HashMap<String, usize>,
}

impl Descriptor {
    /// The method a target's symbol part names: a method's name, or else its exported symbol.
    pub fn find(&self, symbol: &str) -> Option<&MethodInfo> {
        let at = self.index.by_name.get(symbol).or_else(|| self.index.by_symbol.get(symbol))?;
        self.methods.get(*at)
    }

    /// The name `method` is served under: `plugin.method`, or bare without the prefix.
    pub fn served_name(&self, method: &MethodInfo, prefix: bool) -> String {
        if prefix { format!("{}.{}", self.name, method.name) } else { method.name.clone() }
    }
}

/// Copies and checks an ABI-3 descriptor: its sizes first, then the table, each struct read
/// up to the size this crate knows (a newer minor's added fields are ignored).
///
/// # Safety
/// `plugin` must point at a readable `abi::Plugin` prefix of `plugin_size` bytes whose
/// version is 3, and every non-null pointer with a non-zero length inside it must point at
/// that many readable items of the sizes the descriptor gives.
pub unsafe fn read(plugin: *const abi::Plugin) -> Result<Descriptor, String> {
    // SAFETY: the five u32 fields that open every 3.x descriptor are readable (the caller).
    let (minor, plugin_size, method_size, param_size) = unsafe {
        (
            std::ptr::addr_of!((*plugin).abi_minor).read(),
            std::ptr::addr_of!((*plugin).plugin_size).read() as usize,
            std::ptr::addr_of!((*plugin).method_size).read() as usize,
            std::ptr::addr_of!((*plugin).param_size).read() as usize,
        )
    };
    check_size("plugin_size", plugin_size, size_of::<abi::Plugin>(), align_of::<abi::Plugin>())?;
    check_size("method_size", method_size, size_of::<abi::Method>(), align_of::<abi::Method>())?;
    check_size("param_size", param_size, size_of::<abi::Param>(), align_of::<abi::Param>())?;
    if minor > abi::ABI_MINOR {
        log::debug!("plugin built for abi 3.{minor}; this host knows 3.{}: later fields are ignored", abi::ABI_MINOR);
    }
    // SAFETY: `plugin_size` covers this crate's `abi::Plugin` (checked above).
    let p = unsafe { plugin.read() };
    // SAFETY: the caller guarantees the methods are readable at their stride.
    let raw = unsafe { strided(p.methods, p.methods_len, method_size, MAX_METHODS, "method table") }?;
    let mut methods = Vec::with_capacity(raw.len());
    for (i, m) in raw.iter().enumerate() {
        // SAFETY: as above, for each method's parameters.
        let params = unsafe { strided(m.params, m.params_len, param_size, MAX_PARAMS, "parameter list") }
            .map_err(|e| format!("method {i}: {e}"))?;
        // SAFETY: as above, for the strings of the method and its parameters.
        methods.push(unsafe { method(m, &params, false) }.map_err(|e| format!("method {i}: {e}"))?);
    }
    // SAFETY: as above.
    unsafe { finish(p.name, p.version, methods) }
}

/// Copies and checks an ABI-2 descriptor (no sizes, no schemas, every flag bit known).
///
/// # Safety
/// `plugin` must point at a readable `abi::v2::Plugin`, and every non-null pointer with a
/// non-zero length inside it must point at that many readable items.
pub unsafe fn read_v2(plugin: *const abi::v2::Plugin) -> Result<Descriptor, String> {
    // SAFETY: the caller guarantees `plugin` points at a readable `abi::v2::Plugin`.
    let p = unsafe { plugin.read() };
    // SAFETY: the caller guarantees the pointers inside the descriptor are valid for their lengths.
    let raw = unsafe { slice(p.methods, p.methods_len, MAX_METHODS, "method table") }?;
    let mut methods = Vec::with_capacity(raw.len());
    for (i, m) in raw.iter().enumerate() {
        // SAFETY: as above, for the parameter list.
        let params = unsafe { slice(m.params, m.params_len, MAX_PARAMS, "parameter list") }
            .map_err(|e| format!("method {i}: {e}"))?;
        let params: Vec<abi::Param> = params
            .iter()
            .map(|q| abi::Param {
                name: q.name,
                kind: q.kind,
                default_json: q.default_json,
                schema_json: abi::Str::EMPTY,
            })
            .collect();
        let v3 = abi::Method {
            name: m.name,
            symbol: m.symbol,
            doc: m.doc,
            params: std::ptr::null(),
            params_len: 0,
            flags: m.flags,
            result_schema_json: abi::Str::EMPTY,
            error_kinds_json: abi::Str::EMPTY,
        };
        // SAFETY: as above, for the strings of the method and its parameters.
        methods.push(unsafe { method(&v3, &params, true) }.map_err(|e| format!("method {i}: {e}"))?);
    }
    // SAFETY: as above.
    unsafe { finish(p.name, p.version, methods) }
}

/// A size the descriptor gives must cover this crate's struct and keep its alignment.
fn check_size(what: &str, got: usize, at_least: usize, align: usize) -> Result<(), String> {
    if got < at_least || !got.is_multiple_of(align) || got > 1 << 16 {
        return Err(format!("{what} {got}, at least {at_least} and a multiple of {align}"));
    }
    Ok(())
}

/// The descriptor's name and version, and its methods checked against each other.
///
/// # Safety
/// As for [`read`], for the two strings.
unsafe fn finish(name: abi::Str, version: abi::Str, methods: Vec<MethodInfo>) -> Result<Descriptor, String> {
    // SAFETY: the caller guarantees the strings are valid for their lengths.
    let name = unsafe { text(name, MAX_NAME, "plugin name") }?;
    // SAFETY: as above.
    let version = unsafe { text(version, MAX_NAME, "plugin version") }?;
    // Each method against every earlier one, through the index built on the way: linear.
    let mut index = Index::default();
    for (i, method) in methods.iter().enumerate() {
        if index.by_name.contains_key(&method.name) {
            return Err(format!("method \"{}\" appears twice in the table", method.name));
        }
        let clash = [index.by_symbol.get(&method.name), index.by_name.get(&method.symbol)];
        if let Some(&o) = clash.into_iter().flatten().min() {
            let (a, b) = (&methods[o].name, &method.name);
            return Err(format!("methods \"{a}\" and \"{b}\": a symbol is named like the other method"));
        }
        index.by_name.insert(method.name.clone(), i);
        index.by_symbol.entry(method.symbol.clone()).or_insert(i);
    }
    if name.is_empty() {
        return Err("empty plugin name".into());
    }
    Ok(Descriptor { name, version, methods, index })
}

/// One method and its parameters. `strict` (ABI 2): every flag bit must be known; otherwise
/// only the bits of `abi::FLAGS_REQUIRED` must be, and unknown hints are ignored.
///
/// # Safety
/// As for [`read`], for one method entry (its `params` are given separately).
unsafe fn method(m: &abi::Method, raw_params: &[abi::Param], strict: bool) -> Result<MethodInfo, String> {
    // SAFETY: the caller guarantees the entry's pointers are valid for their lengths.
    let (name, symbol, doc) =
        unsafe { (text(m.name, MAX_NAME, "name")?, text(m.symbol, MAX_NAME, "symbol")?, text(m.doc, MAX_DOC, "doc")?) };
    // Names become `module:name` targets and `plugin.name` methods: keep them plain.
    if name.is_empty() || name.contains([':', '/']) || name.chars().any(char::is_control) {
        return Err(format!("bad method name {name:?}: no ':', '/' or control characters"));
    }
    if symbol.is_empty() || !symbol.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("method \"{name}\": bad symbol name {symbol:?}"));
    }
    let known = abi::METHOD_RAW | abi::METHOD_TRUSTED_OUTPUT;
    let must_know = if strict { u32::MAX } else { abi::FLAGS_REQUIRED };
    if m.flags & !known & must_know != 0 {
        return Err(format!(
            "method \"{name}\": unknown flags {:#x}, known are {known:#x}",
            m.flags & !known & must_know
        ));
    }
    let (signature, param_schemas) = match m.flags & abi::METHOD_RAW {
        abi::METHOD_RAW => (Signature::Raw, Vec::new()),
        _ => {
            let mut params = Vec::with_capacity(raw_params.len());
            let mut schemas = Vec::with_capacity(raw_params.len());
            for p in raw_params {
                // SAFETY: as above, for each parameter.
                let (param, schema) = unsafe { param(p) }.map_err(|e| format!("method \"{name}\": {e}"))?;
                params.push(param);
                schemas.push(schema);
            }
            let signature = Signature::new(params).map_err(|e| format!("method \"{name}\": {e}"))?;
            (signature, schemas)
        }
    };
    // SAFETY: as above.
    let result_schema =
        unsafe { schema(m.result_schema_json, "result schema") }.map_err(|e| format!("method \"{name}\": {e}"))?;
    // SAFETY: as above.
    let kinds = unsafe { text(m.error_kinds_json, MAX_DOC, "error kinds") }?;
    let error_kinds = match kinds.is_empty() {
        true => None,
        false => Some(
            serde_json::from_str::<Vec<String>>(&kinds)
                .map_err(|e| format!("method \"{name}\": error kinds are not a JSON array of strings: {e}"))?,
        ),
    };
    let trusted_output = m.flags & abi::METHOD_TRUSTED_OUTPUT != 0;
    Ok(MethodInfo { name, symbol, doc, signature, trusted_output, param_schemas, result_schema, error_kinds })
}

/// # Safety
/// As for [`read`], for one parameter entry.
unsafe fn param(p: &abi::Param) -> Result<(Param, Option<Box<RawValue>>), String> {
    // SAFETY: the caller guarantees the entry's strings are valid for their lengths.
    let name = unsafe { text(p.name, MAX_NAME, "parameter name") }?;
    let kind = match p.kind {
        abi::PARAM_REQUIRED => ParamKind::Required,
        abi::PARAM_VARIADIC => ParamKind::Variadic,
        abi::PARAM_OPTIONAL => {
            // SAFETY: as above.
            let default = unsafe { text(p.default_json, MAX_DOC, "default") }?;
            if default.is_empty() {
                ParamKind::Optional(None)
            } else {
                let raw = RawValue::from_string(default)
                    .map_err(|e| format!("default of parameter \"{name}\" is not JSON: {e}"))?;
                ParamKind::Optional(Some(raw))
            }
        }
        other => return Err(format!("parameter \"{name}\": unknown kind {other}")),
    };
    // SAFETY: as above.
    let schema = unsafe { schema(p.schema_json, "schema") }.map_err(|e| format!("parameter \"{name}\": {e}"))?;
    Ok((Param { name, kind }, schema))
}

/// A schema's JSON text, checked to be a JSON object or boolean; `None` when empty.
///
/// # Safety
/// As for [`text`].
unsafe fn schema(s: abi::Str, what: &str) -> Result<Option<Box<RawValue>>, String> {
    // SAFETY: forwarded to the caller.
    let text = unsafe { text(s, MAX_DOC, what) }?;
    if text.is_empty() {
        return Ok(None);
    }
    let raw = RawValue::from_string(text).map_err(|e| format!("{what} is not JSON: {e}"))?;
    match raw.get().trim_start().as_bytes().first() {
        Some(b'{' | b't' | b'f') => Ok(Some(raw)),
        _ => Err(format!("{what} is not a JSON Schema (an object or a boolean)")),
    }
}

/// Copies `len` items of type `T` placed `stride` bytes apart, each read up to `T`'s own size
/// (a newer plugin's items may be larger).
///
/// # Safety
/// A non-null `ptr` must be valid for reads of `len * stride` bytes, and `stride` at least
/// `size_of::<T>()` and a multiple of its alignment (checked by [`check_size`]).
unsafe fn strided<T: Copy>(ptr: *const T, len: usize, stride: usize, max: usize, what: &str) -> Result<Vec<T>, String> {
    if len > max {
        return Err(format!("{what} has length {len}, the limit is {max}"));
    }
    if len == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(format!("{what} is a null pointer with length {len}"));
    }
    if !ptr.is_aligned() {
        return Err(format!("{what} is a misaligned pointer"));
    }
    let base = ptr.cast::<u8>();
    // SAFETY: item `i` starts `i * stride` bytes in (in bounds: `len` is bounded, and the
    // caller vouches for `len * stride` bytes), is aligned (the base is, and `stride` is a
    // multiple of the alignment) and holds at least `size_of::<T>()` readable bytes.
    Ok((0..len).map(|i| unsafe { base.add(i * stride).cast::<T>().read() }).collect())
}

/// Copies a string out of the plugin, checking pointer, length and UTF-8.
///
/// # Safety
/// A non-null `s.ptr` must be valid for reads of `s.len` bytes.
unsafe fn text(s: abi::Str, max: usize, what: &str) -> Result<String, String> {
    // SAFETY: forwarded to the caller: a non-null pointer is valid for `s.len` items.
    let bytes = unsafe { slice(s.ptr, s.len, max, what) }?;
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}

/// Borrows `len` items at `ptr`, refusing null pointers with a length and absurd lengths.
///
/// # Safety
/// A non-null `ptr` must be valid for reads of `len` items of `T`, which outlive the borrow.
unsafe fn slice<'a, T>(ptr: *const T, len: usize, max: usize, what: &str) -> Result<&'a [T], String> {
    if len > max {
        return Err(format!("{what} has length {len}, the limit is {max}"));
    }
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(format!("{what} is a null pointer with length {len}"));
    }
    if !ptr.is_aligned() {
        return Err(format!("{what} is a misaligned pointer"));
    }
    // SAFETY: non-null and aligned (checked above); the caller guarantees it is valid for
    // `len` reads and that the data outlives 'a; `len` is bounded, so the size fits isize.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

#[cfg(test)]
mod tests {
    use crate::signature::Signature;
    use runjsonrpc2_plugin::abi;

    /// What a flag word reads as: (raw, trusted output), or the refusal.
    type Read = Result<(bool, bool), &'static str>;

    /// Each flag word, under ABI 2 (strict) and 3: raw or bound, trusted output or not, or
    /// refused. ABI 3 ignores unknown hint bits (above `FLAGS_REQUIRED`).
    #[test]
    fn flags_are_read_bit_by_bit() {
        #[rustfmt::skip]
        let cases: &[(u32, bool, Read)] = &[
            (0, true, Ok((false, false))),
            (abi::METHOD_RAW, true, Ok((true, false))),
            (abi::METHOD_TRUSTED_OUTPUT, false, Ok((false, true))),
            (abi::METHOD_RAW | abi::METHOD_TRUSTED_OUTPUT, false, Ok((true, true))),
            (4, true, Err("method \"m\": unknown flags 0x4, known are 0x3")),
            (4, false, Err("method \"m\": unknown flags 0x4, known are 0x3")),
            (7, false, Err("method \"m\": unknown flags 0x4, known are 0x3")),
            (0x8000_0000, true, Err("method \"m\": unknown flags 0x80000000, known are 0x3")),
            (0x8000_0000, false, Ok((false, false))),
            (0x0001_0001, false, Ok((true, false))),
        ];
        for &(flags, strict, want) in cases {
            let m = abi::Method {
                name: abi::Str::new("m"),
                symbol: abi::Str::new("rj2_m"),
                doc: abi::Str::EMPTY,
                params: std::ptr::null(),
                params_len: 0,
                flags,
                result_schema_json: abi::Str::EMPTY,
                error_kinds_json: abi::Str::EMPTY,
            };
            // SAFETY: every pointer in `m` is a 'static string or null with length 0.
            let got = unsafe { super::method(&m, &[], strict) }
                .map(|i| (matches!(i.signature, Signature::Raw), i.trusted_output));
            assert_eq!(got, want.map_err(str::to_owned), "flags {flags:#x}, strict {strict}");
        }
    }

    /// A table of (name, symbol) pairs: its checks against earlier methods, and `find`.
    #[test]
    fn tables_are_checked_and_found_in() {
        let info = |(name, symbol): (&str, &str)| super::MethodInfo {
            name: name.into(),
            symbol: symbol.into(),
            doc: String::new(),
            signature: Signature::Raw,
            trusted_output: false,
            param_schemas: Vec::new(),
            result_schema: None,
            error_kinds: None,
        };
        #[rustfmt::skip]
        type Table<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Table<'_>, Result<(), &str>)] = &[
            (&[("add", "add"), ("sub", "sub")], Ok(())),
            (&[("add", "f"), ("sub", "f")], Ok(())),
            (&[("add", "f"), ("add", "g")], Err("method \"add\" appears twice in the table")),
            (&[("add", "f"), ("f", "g")], Err("methods \"add\" and \"f\": a symbol is named like the other method")),
            (&[("f", "g"), ("add", "f")], Err("methods \"f\" and \"add\": a symbol is named like the other method")),
            (
                &[("a", "x"), ("b", "a"), ("x", "y")],
                Err("methods \"a\" and \"b\": a symbol is named like the other method"),
            ),
        ];
        for &(table, want) in cases {
            let methods = table.iter().copied().map(info).collect();
            // SAFETY: both strings are 'static.
            let got = unsafe { super::finish(abi::Str::new("t"), abi::Str::new("1"), methods) };
            assert_eq!(got.map(|_| ()), want.map_err(str::to_owned), "{table:?}");
        }
        let methods = [("add", "rj2_add"), ("sub", "rj2_sub"), ("neg", "rj2_sub")].map(info).into();
        // SAFETY: as above.
        let table = unsafe { super::finish(abi::Str::new("t"), abi::Str::new("1"), methods) }.unwrap();
        #[rustfmt::skip]
        let finds: &[(&str, Option<&str>)] = &[
            ("add", Some("add")),
            ("rj2_add", Some("add")),
            ("rj2_sub", Some("sub")),
            ("neg", Some("neg")),
            ("nope", None),
        ];
        for &(symbol, want) in finds {
            assert_eq!(table.find(symbol).map(|m| m.name.as_str()), want, "{symbol}");
        }
    }
}
