//! The plain C ABI, mirrored from `include/runjsonrpc2.h`: `#[repr(C)]` types, constants and one borrowing helper.

use std::ffi::c_void;

/// The ABI's major version this crate speaks; the first field of [`Plugin`]. A host refuses a
/// major it does not know; hosts of major 3 also load plugins of major 2 ([`v2`]).
pub const ABI_VERSION: u32 = 3;
/// The ABI's minor version: additions within a major raise it, and never break an older
/// plugin or host (see [`Plugin`]).
pub const ABI_MINOR: u32 = 0;
/// [`Method::flags`] bits a host must understand: it refuses a method with one it does not
/// know. The other bits are hints that a host which does not know them ignores.
pub const FLAGS_REQUIRED: u32 = 0x0000_ffff;
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
    /// Its name.
    pub name: Str,
    /// `PARAM_REQUIRED`, `PARAM_OPTIONAL` or `PARAM_VARIADIC`.
    pub kind: u32,
    /// For optional parameters, the JSON text passed when absent; empty means `null`.
    pub default_json: Str,
    /// Since 3.0: a JSON Schema for the value (for a variadic parameter, for each value);
    /// empty means any value.
    pub schema_json: Str,
}

/// One entry of a plugin's method table.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Method {
    /// The method's name, unique within the plugin.
    pub name: Str,
    /// The exported symbol of its [`Procedure`].
    pub symbol: Str,
    /// A one-line description, may be empty.
    pub doc: Str,
    /// The declared parameters, `params_len` of them, each [`Plugin::param_size`] bytes apart.
    pub params: *const Param,
    /// How many parameters.
    pub params_len: usize,
    /// `METHOD_*` bits; see [`FLAGS_REQUIRED`].
    pub flags: u32,
    /// Since 3.0: a JSON Schema for the result; empty means any value.
    pub result_schema_json: Str,
    /// Since 3.0: the application error kinds the method may report, as a JSON array of
    /// strings; empty means not known.
    pub error_kinds_json: Str,
}

/// The descriptor a plugin exports under [`PLUGIN_SYMBOL`].
///
/// Built to evolve: the host reads `abi_version` first, then the sizes, and reads every
/// struct (this one, each method, each parameter) up to the smaller of its own size and the
/// size the plugin gives. A newer plugin's fields are ignored by an older host, and an
/// older plugin's missing fields read as empty, so a later minor adds fields at the end only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Plugin {
    /// [`ABI_VERSION`], read before anything else.
    pub abi_version: u32,
    /// The [`ABI_MINOR`] the plugin was built with.
    pub abi_minor: u32,
    /// `size_of::<Plugin>()` as the plugin knows it.
    pub plugin_size: u32,
    /// `size_of::<Method>()`: the stride of `methods`.
    pub method_size: u32,
    /// `size_of::<Param>()`: the stride of every `params`.
    pub param_size: u32,
    /// The module's name.
    pub name: Str,
    /// The plugin's own version.
    pub version: Str,
    /// The method table, `methods_len` entries, each `method_size` bytes apart.
    pub methods: *const Method,
    /// How many methods.
    pub methods_len: usize,
}

/// The layouts of ABI version 2, which hosts still load (their plugins have no sizes, no
/// schemas, and every flag bit must be known).
pub mod v2 {
    use super::Str;

    /// A version-2 parameter.
    #[repr(C)]
    #[derive(Clone, Copy, Debug)]
    pub struct Param {
        /// Its name.
        pub name: Str,
        /// As [`super::Param::kind`].
        pub kind: u32,
        /// As [`super::Param::default_json`].
        pub default_json: Str,
    }

    /// A version-2 method.
    #[repr(C)]
    #[derive(Clone, Copy, Debug)]
    pub struct Method {
        /// As [`super::Method::name`].
        pub name: Str,
        /// As [`super::Method::symbol`].
        pub symbol: Str,
        /// As [`super::Method::doc`].
        pub doc: Str,
        /// The parameters, packed.
        pub params: *const Param,
        /// How many parameters.
        pub params_len: usize,
        /// `METHOD_RAW` and `METHOD_TRUSTED_OUTPUT` only.
        pub flags: u32,
    }

    /// A version-2 descriptor.
    #[repr(C)]
    #[derive(Clone, Copy, Debug)]
    pub struct Plugin {
        /// 2.
        pub abi_version: u32,
        /// The module's name.
        pub name: Str,
        /// The plugin's version.
        pub version: Str,
        /// The methods, packed.
        pub methods: *const Method,
        /// How many methods.
        pub methods_len: usize,
    }
}

// SAFETY: a descriptor only points at immutable, 'static data (the plugin's
// read-only table and string literals), so sharing it between threads is sound.
unsafe impl Sync for Plugin {}
// SAFETY: as for `Plugin`: the pointers lead only to immutable 'static data.
unsafe impl Sync for Method {}
// SAFETY: as for `Plugin`: the pointers lead only to immutable 'static data.
unsafe impl Sync for Param {}
// SAFETY: as for `Plugin`: the pointers lead only to immutable 'static data.
unsafe impl Sync for v2::Plugin {}
// SAFETY: as for `Plugin`: the pointers lead only to immutable 'static data.
unsafe impl Sync for v2::Method {}
// SAFETY: as for `Plugin`: the pointers lead only to immutable 'static data.
unsafe impl Sync for v2::Param {}

/// The host's output sink for one call: `write` appends, `reset` discards what the call wrote,
/// and (since 3.0) `error` reports an application error without writing JSON by hand.
#[repr(C)]
pub struct Writer {
    /// The host's state, passed back to each callback.
    pub ctx: *mut c_void,
    /// Appends `len` bytes (read during the call).
    pub write: unsafe extern "C" fn(ctx: *mut c_void, ptr: *const u8, len: usize),
    /// Discards what the call has written.
    pub reset: unsafe extern "C" fn(ctx: *mut c_void),
    /// Since 3.0: `size_of::<Writer>()` as the host knows it; a plugin uses a later field only
    /// when `size` covers it. (Version-2 plugins never read past `reset`.)
    pub size: usize,
    /// Since 3.0: discards what the call has written and reports the error `kind`, `message`
    /// and `data_json` (one JSON value, or empty for none); the procedure then returns
    /// [`ERROR`].
    pub error: unsafe extern "C" fn(ctx: *mut c_void, kind: Str, message: Str, data_json: Str),
}

/// A [`Writer`] callback that appends bytes.
pub type WriteFn = unsafe extern "C" fn(ctx: *mut c_void, ptr: *const u8, len: usize);
/// A [`Writer`] callback that discards what was written.
pub type ResetFn = unsafe extern "C" fn(ctx: *mut c_void);
/// A [`Writer`] callback that reports an application error.
pub type ErrorFn = unsafe extern "C" fn(ctx: *mut c_void, kind: Str, message: Str, data_json: Str);

impl Writer {
    /// A writer of this ABI's size around the host's `ctx` and callbacks.
    pub fn new(ctx: *mut c_void, write: WriteFn, reset: ResetFn, error: ErrorFn) -> Writer {
        Writer { ctx, write, reset, size: std::mem::size_of::<Writer>(), error }
    }
}

/// The type of every procedure symbol: the call's parameter values (one JSON text each, see
/// `include/runjsonrpc2.h`), the extra variables (a JSON object's text) and the output sink.
///
/// `C-unwind`: a C++ exception that escapes a plugin's procedure is defined behaviour (the
/// host's worker aborts and is replaced) rather than undefined.
pub type Procedure =
    unsafe extern "C-unwind" fn(params: *const Str, params_len: usize, extras: Str, out: *const Writer) -> i32;
