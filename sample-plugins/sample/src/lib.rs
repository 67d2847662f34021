//! The `sample` plugin: the procedures the runjsonrpc2 tests and examples call, covering every parameter and result form.

use runjsonrpc2_plugin::serde_json::{Number, Value, json};
use runjsonrpc2_plugin::{AppError, export, plugin};
use std::fmt;

/// The application error `fail` returns on request.
#[derive(Debug)]
pub struct SampleError {
    message: String,
    data: Option<Value>,
}

impl fmt::Display for SampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl AppError for SampleError {
    const KIND: &'static str = "SampleError";
    fn data(&self) -> Option<Value> {
        self.data.clone()
    }
}

/// An arithmetic result that no JSON number here can hold exactly.
#[derive(Debug)]
pub struct Overflow(String);

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} overflows", self.0)
    }
}

impl AppError for Overflow {
    const KIND: &'static str = "Overflow";
}

/// `a + b` or `a - b` as a user expects: integers stay exact integers (or
/// overflow), and a float on either side makes a float result.
fn arith(a: &Number, b: &Number, subtract: bool) -> Result<Number, Overflow> {
    let overflow = || Overflow(format!("{a} {} {b}", if subtract { '-' } else { '+' }));
    if let (Some(x), Some(y)) = (a.as_i128(), b.as_i128()) {
        // Both fit 65 bits, so neither operation can overflow an i128.
        return Number::from_i128(if subtract { x - y } else { x + y }).ok_or_else(overflow);
    }
    let (x, y) = (a.as_f64().ok_or_else(overflow)?, b.as_f64().ok_or_else(overflow)?);
    Number::from_f64(if subtract { x - y } else { x + y }).ok_or_else(overflow)
}

export! {
    /// Subtracts subtrahend from minuend.
    fn subtract(minuend: Number, subtrahend: Number) -> Result<Number, Overflow> {
        arith(&minuend, &subtrahend, true)
    }
}

export! {
    /// Adds two numbers.
    fn add(a: Number, b: Number) -> Result<Number, Overflow> {
        arith(&a, &b, false)
    }
}

export! {
    /// Adds up any number of numbers; 0 for none.
    fn sum(#[variadic] numbers: Vec<Number>) -> Result<Number, Overflow> {
        numbers.iter().try_fold(Number::from(0), |total, n| arith(&total, n, false))
    }
}

export! {
    /// Takes anything, returns nothing.
    fn update(#[variadic] anything: Vec<Value>) {
        let _ = anything;
    }
}

export! {
    /// Returns nothing.
    fn foobar() {}
}

export! {
    /// Returns ["hello", 5].
    fn get_data() -> Value {
        json!(["hello", 5])
    }
}

export! {
    /// Returns its argument.
    fn echo(value: Value) -> Value {
        value
    }
}

export! {
    /// Sleeps for ms milliseconds, then returns ms.
    fn sleep(ms: u64) -> u64 {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        ms
    }
}

export! {
    /// The id of the process serving the call (which worker it is).
    fn pid() -> u32 {
        std::process::id()
    }
}

export! {
    /// Who called, as the server tells it: the user (null without --auth) and the client's IP.
    fn whoami(caller: Option<String>, remote_addr: Option<String>) -> Value {
        json!({ "caller": caller, "remote_addr": remote_addr })
    }
}

export! {
    /// Fails with a SampleError carrying message (and data, when given).
    fn fail(message: String, data: Option<Value> = None) -> Result<(), SampleError> {
        Err(SampleError { message, data })
    }
}

export! {
    /// Panics.
    fn boom() {
        panic!("boom: the sample plugin panicked on purpose");
    }
}

export! {
    /// Returns {"params": the params as sent (null if none), "extras": the extra variables}.
    #[raw]
    fn raw_echo(params: Option<Value>, extras: Value) -> Value {
        json!({ "params": params, "extras": extras })
    }
}

export! {
    /// A raw procedure that panics.
    #[raw]
    fn raw_boom(_params: Option<Value>, _extras: Value) -> Value {
        panic!("raw_boom: the sample plugin panicked on purpose");
    }
}

plugin! {
    name: "sample",
    version: env!("CARGO_PKG_VERSION"),
    methods: [subtract, add, sum, update, foobar, get_data, echo, sleep, pid, whoami, fail, boom, raw_echo, raw_boom],
}

#[cfg(test)]
mod tests {
    use super::*;
    use runjsonrpc2_plugin::abi::{self, ERROR, INTERNAL, INVALID_PARAMS, OK};

    #[test]
    fn arithmetic_and_errors_through_the_abi() {
        let cases: &[(abi::Procedure, &[&str], i32, &str)] = &[
            (subtract::procedure, &["42", "23"], OK, "19"),
            (subtract::procedure, &["4.5", "0.5"], OK, "4.0"),
            (
                subtract::procedure,
                &["-9223372036854775808", "1"],
                ERROR,
                r#"{"kind":"Overflow","message":"-9223372036854775808 - 1 overflows"}"#,
            ),
            (subtract::procedure, &["0", "-9223372036854775808"], OK, "9223372036854775808"),
            (
                subtract::procedure,
                &[r#""42""#, "1"],
                INVALID_PARAMS,
                r#"invalid type for parameter "minuend": expected a JSON number, found string "42""#,
            ),
            (
                add::procedure,
                &["18446744073709551615", "1"],
                ERROR,
                r#"{"kind":"Overflow","message":"18446744073709551615 + 1 overflows"}"#,
            ),
            (
                add::procedure,
                &["1e308", "1e308"],
                ERROR,
                r#"{"kind":"Overflow","message":"1e+308 + 1e+308 overflows"}"#,
            ),
            (sum::procedure, &[], OK, "0"),
            (sum::procedure, &["1", "2", "3.5"], OK, "6.5"),
            (update::procedure, &["1", r#""a""#, "null"], OK, "null"),
            (foobar::procedure, &[], OK, "null"),
            (get_data::procedure, &[], OK, r#"["hello",5]"#),
            (echo::procedure, &[r#"{"a":[1,null]}"#], OK, r#"{"a":[1,null]}"#),
            (sleep::procedure, &["1"], OK, "1"),
            (fail::procedure, &[r#""bad""#], ERROR, r#"{"kind":"SampleError","message":"bad"}"#),
            (
                fail::procedure,
                &[r#""bad""#, r#"{"n": 1}"#],
                ERROR,
                r#"{"data":{"n":1},"kind":"SampleError","message":"bad"}"#,
            ),
            (boom::procedure, &[], INTERNAL, "boom: the sample plugin panicked on purpose"),
            (raw_echo::procedure, &[], OK, r#"{"extras":{},"params":null}"#),
            (raw_boom::procedure, &["[]"], INTERNAL, "raw_boom: the sample plugin panicked on purpose"),
        ];
        for &(procedure, params, status, text) in cases {
            // SAFETY: every procedure here was made by `export!`.
            let got = unsafe { runjsonrpc2_plugin::invoke(procedure, params, "{}") };
            assert_eq!(got, (status, text.to_string()), "params {params:?}");
        }
    }
}
