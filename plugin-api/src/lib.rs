//! Write runjsonrpc2 procedure plugins in Rust: the C ABI ([`abi`]) and the [`export!`] and [`plugin!`] macros.
//!
//! A plugin is a `cdylib` whose procedures a runjsonrpc2 server serves over
//! JSON-RPC 2.0. Write each procedure as an ordinary Rust function inside
//! [`export!`], then list them once in [`plugin!`], which exports the table the
//! host reads (`runjsonrpc2_plugin`, see `include/runjsonrpc2.h`).
//!
//! ```
//! use runjsonrpc2_plugin::{AppError, abi, export, plugin, serde_json};
//!
//! #[derive(Debug)]
//! pub struct Negative(i64);
//! impl std::fmt::Display for Negative {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         write!(f, "{} is negative", self.0)
//!     }
//! }
//! impl AppError for Negative {
//!     const KIND: &'static str = "Negative"; // message from Display, no data
//! }
//!
//! export! {
//!     /// Says hello.
//!     fn greeting(name: String = "world".to_string()) -> String {
//!         format!("Hello, {name}!")
//!     }
//! }
//! export! {
//!     /// Adds up its arguments.
//!     fn sum(#[variadic] numbers: Vec<f64>) -> f64 {
//!         numbers.iter().sum()
//!     }
//! }
//! export! {
//!     /// The integer square root.
//!     fn isqrt(n: i64) -> Result<i64, Negative> {
//!         if n < 0 { Err(Negative(n)) } else { Ok(n.isqrt()) }
//!     }
//! }
//! export! {
//!     /// Returns the request's params as sent, and the server's extra variables.
//!     #[raw]
//!     fn echo(params: Option<serde_json::Value>, extras: serde_json::Value) -> serde_json::Value {
//!         serde_json::json!({ "params": params, "extras": extras })
//!     }
//! }
//! plugin! { name: "example", version: "0.1.0", methods: [greeting, sum, isqrt, echo] }
//!
//! // What follows is the host's side, done by hand: read the table, call a
//! // procedure with its parameter values (one JSON text each), collect its
//! // output through a writer.
//! unsafe extern "C" fn append(ctx: *mut std::ffi::c_void, ptr: *const u8, len: usize) {
//!     // SAFETY: `ctx` is the `Vec<u8>` given in `call`, not otherwise borrowed
//!     // meanwhile; `ptr` points to `len` readable bytes for this call.
//!     unsafe { (*ctx.cast::<Vec<u8>>()).extend_from_slice(abi::Str { ptr, len }.as_bytes()) }
//! }
//! unsafe extern "C" fn clear(ctx: *mut std::ffi::c_void) {
//!     // SAFETY: as in `append`.
//!     unsafe { (*ctx.cast::<Vec<u8>>()).clear() }
//! }
//! unsafe extern "C" fn error(_: *mut std::ffi::c_void, _: abi::Str, _: abi::Str, _: abi::Str) {
//!     // The Rust glue writes its errors as JSON; a C plugin may call this instead.
//! }
//!
//! fn call(procedure: abi::Procedure, params: &[&str]) -> (i32, String) {
//!     let mut out = Vec::new(); // the host's buffer: it allocates and frees it
//!     let writer = abi::Writer::new((&raw mut out).cast(), append, clear, error);
//!     let values: Vec<abi::Str> = params.iter().map(|p| abi::Str::from_bytes(p.as_bytes())).collect();
//!     let extras = abi::Str::new(r#"{"user":"ann"}"#);
//!     // SAFETY: `export!` made the procedure, so it honours the ABI; the values,
//!     // the strings they point to and the writer outlive the call.
//!     let status = unsafe { procedure(values.as_ptr(), values.len(), extras, &writer) };
//!     (status, String::from_utf8(out).unwrap())
//! }
//!
//! fn main() {
//!     let table = &runjsonrpc2_plugin;
//!     assert_eq!((table.abi_version, table.methods_len), (abi::ABI_VERSION, 4));
//!     // SAFETY: `methods` points to `methods_len` (4, checked above) 'static,
//!     // unchanging entries, so the first one is valid to borrow.
//!     let first = unsafe { &*table.methods };
//!     // SAFETY: each string in an entry points to `len` 'static, unchanging bytes.
//!     let (name, symbol, doc) = unsafe { (first.name.as_bytes(), first.symbol.as_bytes(), first.doc.as_bytes()) };
//!     assert_eq!((name, symbol, doc), (&b"greeting"[..], &b"rj2_greeting"[..], &b"Says hello."[..]));
//!
//!     // The host would dlsym("rj2_greeting"); in this program it is `greeting::procedure`.
//!     for (procedure, params, status, text) in [
//!         (greeting::procedure as abi::Procedure, &[r#""Ann""#][..], abi::OK, r#""Hello, Ann!""#),
//!         (greeting::procedure, &["null"], abi::OK, r#""Hello, world!""#),
//!         (sum::procedure, &["1", "2.5", "3"], abi::OK, "6.5"),
//!         (isqrt::procedure, &["-4"], abi::ERROR, r#"{"kind":"Negative","message":"-4 is negative"}"#),
//!         (isqrt::procedure, &[r#""16""#], abi::INVALID_PARAMS,
//!             r#"invalid type for parameter "n": expected i64, found string "16""#),
//!         // A raw procedure gets the params as sent, as one value.
//!         (echo::procedure, &[r#"{"x": 1}"#], abi::OK, r#"{"extras":{"user":"ann"},"params":{"x":1}}"#),
//!     ] {
//!         let got = call(procedure, params);
//!         println!("{params:?} -> {} {}", got.0, got.1);
//!         assert_eq!(got, (status, text.to_string()));
//!     }
//!     // The functions stay ordinary Rust functions.
//!     assert_eq!(greeting("Bo".into()), "Hello, Bo!");
//! }
//! ```
//!
//! # Procedures
//!
//! `export! { fn name(params) -> R { body } }` keeps the function as written
//! and adds, in a module of the same name, `name::METHOD` (its table entry)
//! and `name::procedure`, the C procedure exported as the symbol `rj2_name`.
//! The method's name is the function's; its doc is the first line of the doc
//! comment. Write `export!` at module level (not inside a function body); the
//! generated module sees the items of the module around it.
//!
//! Parameters, bound by position from the values the host passes (one JSON
//! text per declared parameter, in order; the host has already matched named
//! params and extra variables to them):
//! - `name: T` is required; `T: DeserializeOwned`. A missing value is an
//!   invalid-params error (`missing parameter "name"`), so is a value of the
//!   wrong type (`invalid type for parameter "name": expected i64, found string "42"`).
//! - `name: T = expr` is optional: when the value is absent **or `null`** the
//!   function gets `expr` (evaluated per call). The table declares no default
//!   text, so the host passes `null` when the client gives nothing, and the default lives here.
//! - `#[variadic] name: Vec<T>` takes all remaining values; last, at most one.
//!
//! Return `()` (answered `null`), any `T: Serialize`, or `Result<T, E>` with
//! `E:` [`AppError`], spelled literally as `Result<..>` so the macro sees it;
//! `Err(e)` is answered `{"kind":..,"message":..,"data":..}` (`data` omitted
//! when `None`). [`Error`] lets you choose all three at run time.
//!
//! Every parameter's and result's type gives its JSON Schema to the table
//! through [`schema::Schema`] (integers with their ranges, floats, strings,
//! bools, `Option`, `Vec`, maps with string keys, `serde_json::Value` as `{}`),
//! and `rpc.discover` shows them. A type of your own needs a one-line impl;
//! see [`schema`].
//!
//! `#[raw] fn name(params: P, extras: X)` receives the request's params as
//! sent (`null` when the request had none, so `Option<Value>` gives `None`)
//! and the server's extra variables (a JSON object); both are decoded with serde.
//!
//! # Who is calling: `caller` and `remote_addr`
//!
//! The HTTP server sets two values for every call, as extra variables that a
//! client cannot supply: a parameter named `caller` gets the name of the user
//! the request authenticated as (`runjsonrpc2 --auth`), or `null` without
//! `--auth`; one named `remote_addr` gets the client's IP address as a string
//! (`"127.0.0.1"`). Declare them like any parameter, usually as `Option<String>`:
//!
//! ```
//! use runjsonrpc2_plugin::export;
//! export! {
//!     /// Says who is asking.
//!     fn whoami(caller: Option<String>, remote_addr: Option<String>) -> String {
//!         format!("{} from {}", caller.as_deref().unwrap_or("anyone"), remote_addr.unwrap_or_default())
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! A client's value for either is never used: sent by name it is overridden,
//! and positional values fill only the other parameters. Raw procedures find
//! both in their extras object. `runjsonrpc2 call` and `--stdio` set both to
//! `null`; an embedder's own engine sets what it chooses.
//!
//! # The contract the glue keeps
//!
//! - **Memory**: the host allocates and frees the input strings and, through
//!   its writer callback, the output buffer; the procedure only calls the
//!   writer during the call and never keeps it. Nothing allocated on one side
//!   is freed on the other, and no allocator crosses the boundary.
//! - **Threads**: the host calls procedures from many threads at once, so
//!   functions must be thread-safe; shared state needs `static` with
//!   `Mutex`/atomics, which Rust enforces.
//! - **Panics**: a panic anywhere in a call (your function, decoding,
//!   encoding) is caught; the host gets `RJ2_INTERNAL` with the panic message
//!   (or "procedure panicked"), and later calls work as before. Nothing unwinds
//!   into the host. This needs `panic = "unwind"` (the default): under
//!   `panic = "abort"` a panic ends the host process. The glue keeps the
//!   panic hook quiet for the panics it catches (the host logs them); other
//!   panics in the plugin still reach the previous hook.
//! - **Output**: every method is flagged `METHOD_TRUSTED_OUTPUT`, so the host
//!   splices results into answers without checking them: serde_json writes
//!   them, and any error it reports discards the half-written result. A
//!   `Serialize` impl that swallows an error from its serializer (or imitates
//!   serde_json's private raw-value token) breaks that promise.
//!
//! [`invoke`] calls a procedure through the ABI, as above, for your tests;
//! [`value::from_slice`] is how arguments are decoded (serde_json's result,
//! faster for plain integers and strings); [`serde`] and [`serde_json`] are
//! re-exported so plugins need no more dependencies.
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod abi;
mod glue;
pub mod schema;
#[cfg(test)]
mod tests;
pub mod value;

pub use glue::{AppError, Error, invoke};
pub use {serde, serde_json};

#[doc(hidden)]
pub mod __private {
    pub use crate::glue::{Args, Output, call, error_kinds, method, param, plugin, raw_args, result, value};
}

/// Exports one procedure; see the [crate docs](crate) for the forms.
#[macro_export]
macro_rules! export {
    ($($item:tt)*) => { $crate::__export! { @attrs [] [] bound $($item)* } };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export {
    // Attributes: `#[raw]` picks the form, doc lines feed the table, all others pass through.
    (@attrs $a:tt $d:tt $form:ident #[raw] $($rest:tt)*) => {
        $crate::__export! { @attrs $a $d raw $($rest)* }
    };
    (@attrs [$($a:tt)*] [$($d:tt)*] $form:ident #[doc = $doc:literal] $($rest:tt)*) => {
        $crate::__export! { @attrs [$($a)* #[doc = $doc]] [$($d)* $doc] $form $($rest)* }
    };
    (@attrs [$($a:tt)*] $d:tt $form:ident #[$m:meta] $($rest:tt)*) => {
        $crate::__export! { @attrs [$($a)* #[$m]] $d $form $($rest)* }
    };
    // The return forms.
    (@attrs $a:tt $d:tt $form:ident $vis:vis fn $name:ident $p:tt -> Result<$ok:ty, $err:ty> $body:block) => {
        $crate::__export! { @$form result $a $d $vis $name $p [-> Result<$ok, $err>] [$ok] [$err] $body }
    };
    (@attrs $a:tt $d:tt $form:ident $vis:vis fn $name:ident $p:tt -> $ret:ty $body:block) => {
        $crate::__export! { @$form value $a $d $vis $name $p [-> $ret] [$ret] [] $body }
    };
    (@attrs $a:tt $d:tt $form:ident $vis:vis fn $name:ident $p:tt $body:block) => {
        $crate::__export! { @$form unit $a $d $vis $name $p [] [()] [] $body }
    };
    // Bound procedures: one value per declared parameter, then the variadic ones.
    (@bound $fin:ident [$($a:tt)*] $d:tt $vis:vis $name:ident
        ($($(#[$pa:ident])? $pn:ident : $pt:ty $(= $pd:expr)?),* $(,)?) [$($ret:tt)*] [$rt:ty] [$($et:ty)?] $body:block) => {
        $($a)*
        $vis fn $name($($pn: $pt),*) $($ret)* $body

        $crate::__export! { @module $vis $name $d METHOD_BOUND [$rt] [$($et)?]
            [$($crate::__private::param(
                stringify!($pn),
                $crate::__export!(@kind [$($pa)?] [$($pd)?]),
                &$crate::__export!(@schema $pt [$($pa)?]),
            )),*]
            |args, _extras, out| {
                #[allow(unused_mut)]
                let mut args = args;
                $(let $pn: $pt = $crate::__export!(@arg args $pn [$($pa)?] [$($pd)?]);)*
                args.finish()?;
                $crate::__export!(@finish $fin out super::$name($($pn),*))
            }
        }
    };
    // Raw procedures: params as sent (or `null`) and the extras object.
    (@raw $fin:ident [$($a:tt)*] $d:tt $vis:vis $name:ident
        ($p:ident : $pt:ty, $e:ident : $et:ty $(,)?) [$($ret:tt)*] [$rt:ty] [$($errt:ty)?] $body:block) => {
        $($a)*
        $vis fn $name($p: $pt, $e: $et) $($ret)* $body

        $crate::__export! { @module $vis $name $d METHOD_RAW [$rt] [$($errt)?] [] |args, extras, out| {
            let ($p, $e): ($pt, $et) = $crate::__private::raw_args(args, extras, (stringify!($p), stringify!($e)))?;
            $crate::__export!(@finish $fin out super::$name($p, $e))
        } }
    };
    (@raw $($rest:tt)*) => {
        compile_error!("a #[raw] procedure takes exactly two parameters: `params: P, extras: X`");
    };
    (@module $vis:vis $name:ident [$($d:literal)*] $flags:ident [$rt:ty] [$($et:ty)?] [$($param:expr),*] |$args:ident, $extras:ident, $out:ident| $body:block) => {
        #[doc(hidden)]
        $vis mod $name {
            #[allow(unused_imports)]
            use super::*;

            /// The application error kinds the procedure reports, if its error type says.
            const ERRORS: $crate::schema::SchemaText = $crate::__export!(@errors [$($et)?]);

            /// This procedure's entry in the plugin's method table.
            pub const METHOD: $crate::abi::Method = $crate::__private::method(
                stringify!($name),
                concat!("rj2_", stringify!($name)),
                concat!($($d, "\n",)* ""),
                &[$($param),*],
                $crate::abi::$flags,
                &<$rt as $crate::schema::Schema>::SCHEMA,
                &ERRORS,
            );

            /// The C procedure, exported as `rj2_<name>`.
            ///
            /// # Safety
            ///
            /// As for every `rj2_procedure`: `params_len` readable strings at
            /// `params` (or none), readable `extras`, `out` a valid writer (or null).
            #[unsafe(export_name = concat!("rj2_", stringify!($name)))]
            pub unsafe extern "C-unwind" fn procedure(
                params: *const $crate::abi::Str,
                params_len: usize,
                extras: $crate::abi::Str,
                out: *const $crate::abi::Writer,
            ) -> i32 {
                // SAFETY: `call` needs exactly what our own caller guarantees: readable
                // params and extras, and a valid or null `out`.
                unsafe {
                    $crate::__private::call(params, params_len, extras, out, |$args, $extras, $out| $body)
                }
            }
        }
    };
    (@errors []) => { $crate::schema::SchemaText::new("[]") };
    (@errors [$et:ty]) => { $crate::__private::error_kinds::<$et>() };
    (@schema $pt:ty []) => { <$pt as $crate::schema::Schema>::SCHEMA };
    (@schema $pt:ty [variadic]) => { <$pt as $crate::schema::Schema>::ITEM };
    (@kind [] []) => { $crate::abi::PARAM_REQUIRED };
    (@kind [] [$d:expr]) => { $crate::abi::PARAM_OPTIONAL };
    (@kind [variadic] []) => { $crate::abi::PARAM_VARIADIC };
    (@kind $($other:tt)*) => { compile_error!("unsupported parameter: use `name: T`, `name: T = default` or `#[variadic] name: Vec<T>`") };
    (@arg $args:ident $pn:ident [] []) => { $args.required(stringify!($pn))? };
    (@arg $args:ident $pn:ident [] [$d:expr]) => { $args.optional(stringify!($pn), || $d)? };
    (@arg $args:ident $pn:ident [variadic] []) => { $args.variadic(stringify!($pn))? };
    (@arg $($other:tt)*) => { unreachable!() };
    (@finish result $out:ident $call:expr) => { $crate::__private::result($out, $call) };
    (@finish value $out:ident $call:expr) => { $crate::__private::value($out, $call) };
    (@finish unit $out:ident $call:expr) => {{
        $call;
        $crate::__private::value($out, ())
    }};
}

/// Exports the plugin descriptor `runjsonrpc2_plugin`: name, version and the
/// methods made by [`export!`], listed by name (or path).
#[macro_export]
macro_rules! plugin {
    (name: $name:expr, version: $version:expr, methods: [$($($m:ident)::+),* $(,)?] $(,)?) => {
        /// The plugin descriptor the host reads.
        #[unsafe(no_mangle)]
        #[allow(non_upper_case_globals)]
        pub static runjsonrpc2_plugin: $crate::abi::Plugin = {
            const METHODS: &[$crate::abi::Method] = &[$($($m)::+::METHOD),*];
            $crate::__private::plugin($name, $version, METHODS)
        };
    };
}
