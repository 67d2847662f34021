//! Procedures: the trait the engine calls, and typed or raw Rust closures that implement it.

use crate::error::{AppError, Failure, SetupError};
use crate::signature::{Args, Extras, Signature};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::marker::PhantomData;

/// Something the engine can call: a native closure or a plugin's procedure.
pub trait Procedure: Send + Sync {
    /// The parameters `params` are bound to before [`Procedure::call`].
    fn signature(&self) -> &Signature;

    /// Runs the procedure and appends its result, as JSON text, to `out`. On `Err` the
    /// engine discards whatever was appended. May panic: the engine catches it.
    fn call(&self, args: &Args<'_>, out: &mut Vec<u8>) -> Result<(), Failure>;
}

/// A typed Rust closure, its arguments deserialized by position.
pub struct Typed<F, A> {
    sig: Signature,
    f: F,
    _args: PhantomData<fn(A)>,
}

/// Closures of up to six deserializable arguments returning `Result<impl Serialize, AppError>`.
pub trait Handler<A>: Send + Sync + 'static {
    const ARITY: usize;
    fn invoke(&self, args: &Args<'_>, out: &mut Vec<u8>) -> Result<(), Failure>;
}

macro_rules! handler {
    ($n:expr; $($a:ident $i:tt),*) => {
        impl<F, R, $($a),*> Handler<($($a,)*)> for F
        where
            F: Fn($($a),*) -> Result<R, AppError> + Send + Sync + 'static,
            R: Serialize,
            $($a: DeserializeOwned,)*
        {
            const ARITY: usize = $n;
            #[allow(unused_variables)]
            fn invoke(&self, args: &Args<'_>, out: &mut Vec<u8>) -> Result<(), Failure> {
                let r = self($(args.get::<$a>($i)?),*).map_err(Failure::App)?;
                write_json(out, &r)
            }
        }
    };
}

handler!(0;);
handler!(1; A0 0);
handler!(2; A0 0, A1 1);
handler!(3; A0 0, A1 1, A2 2);
handler!(4; A0 0, A1 1, A2 2, A3 3);
handler!(5; A0 0, A1 1, A2 2, A3 3, A4 4);
handler!(6; A0 0, A1 1, A2 2, A3 3, A4 4, A5 5);

/// Serializes `value` onto `out`.
pub fn write_json(out: &mut Vec<u8>, value: &impl Serialize) -> Result<(), Failure> {
    serde_json::to_writer(out, value).map_err(|e| Failure::Internal(format!("result does not serialize: {e}")))
}

impl<F: Handler<A>, A: 'static> Procedure for Typed<F, A> {
    fn signature(&self) -> &Signature {
        &self.sig
    }
    fn call(&self, args: &Args<'_>, out: &mut Vec<u8>) -> Result<(), Failure> {
        self.f.invoke(args, out)
    }
}

/// A typed procedure: `params` lists the parameters as [`Signature::parse`] reads them
/// (`"a"`, `"name=\"world\""`, `"name?"`, `"*args"`), one per closure argument.
///
/// ```
/// use runjsonrpc2::{JsonRpc, procedure};
/// let rpc = JsonRpc::new();
/// rpc.methods().insert("subtract", procedure(&["minuend", "subtrahend"], |a: i64, b: i64| Ok(a - b)).unwrap());
/// ```
pub fn procedure<F, A>(params: &[&str], f: F) -> Result<Typed<F, A>, SetupError>
where
    F: Handler<A>,
    A: 'static,
{
    let sig = Signature::parse(params)?;
    if sig.params().len() != F::ARITY {
        return Err(SetupError::Arity { params: sig.params().len(), expected: F::ARITY });
    }
    Ok(Typed { sig, f, _args: PhantomData })
}

/// A procedure that takes `params` exactly as sent (or `None`) and the extra variables.
pub struct Raw<F> {
    f: F,
}

/// Wraps a closure that wants `params` as it came.
pub fn raw<F, R>(f: F) -> Raw<F>
where
    F: Fn(Option<&RawValue>, &Extras) -> Result<R, AppError> + Send + Sync + 'static,
    R: Serialize,
{
    Raw { f }
}

impl<F, R> Procedure for Raw<F>
where
    F: Fn(Option<&RawValue>, &Extras) -> Result<R, AppError> + Send + Sync + 'static,
    R: Serialize,
{
    fn signature(&self) -> &Signature {
        &Signature::Raw
    }
    fn call(&self, args: &Args<'_>, out: &mut Vec<u8>) -> Result<(), Failure> {
        // The text is valid JSON (the request was parsed), so this only finds where it ends.
        let params = args.raw.map(serde_json::from_str::<&RawValue>).transpose();
        let params = params.map_err(|e| Failure::Internal(format!("params did not re-parse: {e}")))?;
        let r = (self.f)(params, args.extras).map_err(Failure::App)?;
        write_json(out, &r)
    }
}
