//! The plain C ABI, mirrored from `include/runjsonrpc2.h`: `#[repr(C)]` types, constants and one borrowing helper.

use std::ffi::c_void;

/// The ABI version this crate speaks; the first field of [`Plugin`].
pub const ABI_VERSION: u32 = 2;
/// The name of the one data symbol every plugin exports, a [`Plugin`].
pub const PLUGIN_SYMBOL: &str = "runjsonrpc2_plugin";

/// [`Param::kind`]: the parameter must be given.
pub const PARAM_REQUIRED: u32 = 0;
/// [`Param::kind`]: the parameter may be absent; the host passes its default or `null`.
pub const PARAM_OPTIONAL: u32 = 1;
/// [`Param::kind`]: the parameter takes all remaining positional values.
pub const PARAM_VARIADIC: u32 = 2;

/// [`Method::flags`]: the host binds params to the declared parameters.
pub const METHOD_BOUND: u32 = 0;
/// [`Method::flags`] bit: the procedure receives `params` exactly as sent.
pub const METHOD_RAW: u32 = 1;
/// [`Method::flags`] bit: the procedure's result (status [`OK`]) is always exactly one JSON
/// value in UTF-8, so the host splices it into the answer without checking it. Every method
/// the Rust glue makes has it (serde_json writes its results; a `Serialize` impl that swallows
/// its serializer's errors could still write broken JSON); without it, the host checks each
/// result and answers an invalid one with an internal error.
pub const METHOD_TRUSTED_OUTPUT: u32 = 2;

/// Status: the writer received the result as JSON text.
pub const OK: i32 = 0;
/// Status: the writer received `{"kind":..,"message":..,"data":..}`.
pub const ERROR: i32 = 1;
/// Status: the writer received a message naming the bad parameter.
pub const INVALID_PARAMS: i32 = 2;
/// Status: the writer received a message about an internal failure (a caught panic).
pub const INTERNAL: i32 = 3;

/// A borrowed UTF-8 byte string: pointer and length, not NUL-terminated.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Str {
    pub ptr: *const u8,
    pub len: usize,
}

impl Str {
    /// The empty string (null pointer, length 0).
    pub const EMPTY: Str = Str { ptr: std::ptr::null(), len: 0 };

    /// Borrows a static string; usable in `static` initializers.
    pub const fn new(s: &'static str) -> Str {
        Str { ptr: s.as_ptr(), len: s.len() }
    }

    /// Borrows any byte slice for the duration of a call.
    pub fn from_bytes(b: &[u8]) -> Str {
        Str { ptr: b.as_ptr(), len: b.len() }
    }

    /// The bytes this string points at; empty when `len` is 0, whatever `ptr` is.
    ///
    /// # Safety
    ///
    /// Unless `len` is 0, `ptr` must point to `len` initialised bytes that stay
    /// valid and unchanged for `'a`.
    pub unsafe fn as_bytes<'a>(self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `len` is not 0, so the caller guarantees `ptr` is non-null and
        // points to `len` initialised bytes, valid and unchanged for `'a`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// One declared parameter of a method.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: Str,
    pub kind: u32,
    /// For optional parameters, the JSON text passed when absent; empty means `null`.
    pub default_json: Str,
}

/// One entry of a plugin's method table.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Method {
    pub name: Str,
    pub symbol: Str,
    pub doc: Str,
    pub params: *const Param,
    pub params_len: usize,
    pub flags: u32,
}

/// The descriptor a plugin exports under [`PLUGIN_SYMBOL`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Plugin {
    pub abi_version: u32,
    pub name: Str,
    pub version: Str,
    pub methods: *const Method,
    pub methods_len: usize,
}

// SAFETY: a descriptor only points at immutable, 'static data (the plugin's
// read-only table and string literals), so sharing it between threads is sound.
unsafe impl Sync for Plugin {}
// SAFETY: as for `Plugin`: the pointers lead only to immutable 'static data.
unsafe impl Sync for Method {}
// SAFETY: as for `Plugin`: the pointers lead only to immutable 'static data.
unsafe impl Sync for Param {}

/// The host's output sink for one call: `write` appends, `reset` discards what the call wrote.
#[repr(C)]
pub struct Writer {
    pub ctx: *mut c_void,
    pub write: unsafe extern "C" fn(ctx: *mut c_void, ptr: *const u8, len: usize),
    pub reset: unsafe extern "C" fn(ctx: *mut c_void),
}

/// The type of every procedure symbol: the call's parameter values (one JSON text each, see
/// `include/runjsonrpc2.h`), the extra variables (a JSON object's text) and the output sink.
///
/// `C-unwind`: a C++ exception that escapes a plugin's procedure is defined behaviour (the
/// host's worker aborts and is replaced) rather than undefined.
pub type Procedure =
    unsafe extern "C-unwind" fn(params: *const Str, params_len: usize, extras: Str, out: *const Writer) -> i32;
