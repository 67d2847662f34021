//! Reading and checking a plugin's exported descriptor into owned Rust values.

use crate::signature::{Param, ParamKind, Signature};
use runjsonrpc2_plugin::abi;
use serde_json::value::RawValue;

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
}

impl Descriptor {
    /// The name `method` is served under: `plugin.method`, or bare without the prefix.
    pub fn served_name(&self, method: &MethodInfo, prefix: bool) -> String {
        if prefix { format!("{}.{}", self.name, method.name) } else { method.name.clone() }
    }
}

/// Copies and checks the descriptor behind `plugin`, whose ABI version was already checked.
///
/// # Safety
/// `plugin` must point at a readable `abi::Plugin` of the ABI version this crate speaks, and
/// every non-null pointer with a non-zero length inside it must point at that many readable items.
pub unsafe fn read(plugin: *const abi::Plugin) -> Result<Descriptor, String> {
    // SAFETY: the caller guarantees `plugin` points at a readable `abi::Plugin`.
    let p = unsafe { plugin.read() };
    // SAFETY: the caller guarantees the pointers inside the descriptor are valid for their lengths.
    let name = unsafe { text(p.name, MAX_NAME, "plugin name") }?;
    // SAFETY: as above.
    let version = unsafe { text(p.version, MAX_NAME, "plugin version") }?;
    // SAFETY: as above.
    let raw_methods = unsafe { slice(p.methods, p.methods_len, MAX_METHODS, "method table") }?;
    let mut methods: Vec<MethodInfo> = Vec::with_capacity(raw_methods.len());
    for (i, m) in raw_methods.iter().enumerate() {
        // SAFETY: as above, for each method entry.
        let method = unsafe { method(m) }.map_err(|e| format!("method {i}: {e}"))?;
        if methods.iter().any(|o| o.name == method.name) {
            return Err(format!("method \"{}\" appears twice in the table", method.name));
        }
        if let Some(o) = methods.iter().find(|o| o.symbol == method.name || o.name == method.symbol) {
            let (a, b) = (&o.name, &method.name);
            return Err(format!("methods \"{a}\" and \"{b}\": a symbol is named like the other method"));
        }
        methods.push(method);
    }
    if name.is_empty() {
        return Err("empty plugin name".into());
    }
    Ok(Descriptor { name, version, methods })
}

/// # Safety
/// As for [`read`], for one method entry.
unsafe fn method(m: &abi::Method) -> Result<MethodInfo, String> {
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
    if m.flags & !known != 0 {
        return Err(format!("method \"{name}\": unknown flags {:#x}, known are {known:#x}", m.flags & !known));
    }
    let signature = match m.flags & abi::METHOD_RAW {
        abi::METHOD_RAW => Signature::Raw,
        _ => {
            // SAFETY: as above, for the parameter list.
            let raw = unsafe { slice(m.params, m.params_len, MAX_PARAMS, "parameter list") }?;
            let params = raw
                .iter()
                // SAFETY: as above, for each parameter.
                .map(|p| unsafe { param(p) })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("method \"{name}\": {e}"))?;
            Signature::new(params).map_err(|e| format!("method \"{name}\": {e}"))?
        }
    };
    let trusted_output = m.flags & abi::METHOD_TRUSTED_OUTPUT != 0;
    Ok(MethodInfo { name, symbol, doc, signature, trusted_output })
}

/// # Safety
/// As for [`read`], for one parameter entry.
unsafe fn param(p: &abi::Param) -> Result<Param, String> {
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
    Ok(Param { name, kind })
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

    /// Each flag word: raw or bound, trusted output or not, or refused.
    #[test]
    fn flags_are_read_bit_by_bit() {
        #[rustfmt::skip]
        let cases: &[(u32, Read)] = &[
            (0, Ok((false, false))),
            (abi::METHOD_RAW, Ok((true, false))),
            (abi::METHOD_TRUSTED_OUTPUT, Ok((false, true))),
            (abi::METHOD_RAW | abi::METHOD_TRUSTED_OUTPUT, Ok((true, true))),
            (4, Err("method \"m\": unknown flags 0x4, known are 0x3")),
            (7, Err("method \"m\": unknown flags 0x4, known are 0x3")),
            (0x8000_0000, Err("method \"m\": unknown flags 0x80000000, known are 0x3")),
        ];
        for &(flags, want) in cases {
            let m = abi::Method {
                name: abi::Str::new("m"),
                symbol: abi::Str::new("rj2_m"),
                doc: abi::Str::EMPTY,
                params: std::ptr::null(),
                params_len: 0,
                flags,
            };
            // SAFETY: every pointer in `m` is a 'static string or null with length 0.
            let got = unsafe { super::method(&m) }.map(|i| (matches!(i.signature, Signature::Raw), i.trusted_output));
            assert_eq!(got, want.map_err(str::to_owned), "flags {flags:#x}");
        }
    }
}
