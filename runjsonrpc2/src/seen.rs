//! `Seen`: what one request's calls were, for an access log: the methods called (the first
//! few) and the JSON-RPC error codes answered. Filled by the engine as it dispatches.

/// The most method names and error codes kept for one request (a batch lists the first).
pub(crate) const KEPT: usize = 8;

/// The methods and error codes of one request; cleared and reused from one to the next.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The first [`KEPT`] method names, each ended by a NUL (no allocation per name).
    names: String,
    kept: usize,
    /// How many calls there were in all.
    pub(crate) calls: usize,
    /// The first [`KEPT`] error codes answered (or, for notifications, met).
    pub(crate) codes: Vec<i64>,
}

impl Seen {
    pub(crate) fn clear(&mut self) {
        self.names.clear();
        (self.kept, self.calls) = (0, 0);
        self.codes.clear();
    }

    /// A call of `method`, and the error code it ended with, if any.
    pub(crate) fn call(&mut self, method: &str, code: Option<i64>) {
        self.calls += 1;
        if self.kept < KEPT {
            self.kept += 1;
            self.names.push_str(method);
            self.names.push('\0');
        }
        self.code(code);
    }

    /// An error answered outside any call (a parse error, an invalid request).
    pub(crate) fn code(&mut self, code: Option<i64>) {
        if let Some(code) = code
            && self.codes.len() < KEPT
        {
            self.codes.push(code);
        }
    }

    /// The method names kept, in order.
    pub(crate) fn methods(&self) -> impl Iterator<Item = &str> {
        self.names.split_terminator('\0')
    }
}

#[cfg(test)]
mod tests {
    use super::{KEPT, Seen};

    #[test]
    fn the_first_few_are_kept_and_all_counted() {
        let mut seen = Seen::default();
        for i in 0..2 * KEPT + 3 {
            seen.call(&format!("m{i}"), (i % 2 == 1).then_some(-32000 - i as i64));
        }
        seen.code(Some(-32700));
        assert_eq!(seen.calls, 2 * KEPT + 3);
        assert_eq!(seen.methods().count(), KEPT);
        assert_eq!(seen.methods().next(), Some("m0"));
        assert_eq!(seen.codes.len(), KEPT);
        assert_eq!(seen.codes[0], -32001);
        seen.clear();
        assert_eq!((seen.calls, seen.methods().count(), seen.codes.len()), (0, 0, 0));
        seen.call("", None);
        assert_eq!(seen.methods().collect::<Vec<_>>(), [""]);
    }
}
