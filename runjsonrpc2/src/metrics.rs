//! `GET /metrics` (`--metrics`): what the server does, in the Prometheus text format.
//!
//! Each process counts its own calls (by method and outcome), RPC request latencies, refused
//! requests (by HTTP status) and connections the server closed on an error. Under a master, every worker sends a
//! [`Snapshot`] of its counts to the master once a second; the master adds them up (keeping
//! the last counts of workers that have ended, so totals only grow), adds its own counts of
//! worker starts and exits by cause, and writes the page to a file that whichever worker
//! takes the scrape answers with. Aggregated rather than labelled by worker: a scrape
//! reaches one worker of many through the shared socket, and workers come and go. Counts are
//! up to a second old; a worker that crashes loses its last second.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The upper bounds of the latency histogram's buckets, in seconds.
const BOUNDS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0, 10.0];

static ENABLED: AtomicBool = AtomicBool::new(false);
static COUNTS: Mutex<Snapshot> = Mutex::new(Snapshot::new());
static LATENCY: [AtomicU64; BOUNDS.len() + 1] = [const { AtomicU64::new(0) }; BOUNDS.len() + 1];
static LATENCY_SUM_NANOS: AtomicU64 = AtomicU64::new(0);
static CLOSED: AtomicU64 = AtomicU64::new(0);

/// One process's counts, or a sum of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Calls by method and outcome ("result", or the error code).
    pub calls: BTreeMap<String, BTreeMap<String, u64>>,
    /// Requests refused, by HTTP status.
    pub refused: BTreeMap<u16, u64>,
    /// Latency histogram: counts per bucket of `BOUNDS` and one above them, and the sum.
    pub latency: Vec<u64>,
    pub latency_sum: f64,
    pub closed_on_error: u64,
    /// The master's counts: worker processes started, and ended by cause.
    pub worker_starts: u64,
    pub worker_exits: BTreeMap<String, u64>,
}

impl Snapshot {
    const fn new() -> Snapshot {
        Snapshot {
            calls: BTreeMap::new(),
            refused: BTreeMap::new(),
            latency: Vec::new(),
            latency_sum: 0.0,
            closed_on_error: 0,
            worker_starts: 0,
            worker_exits: BTreeMap::new(),
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Snapshot) {
        for (method, outcomes) in &other.calls {
            let mine = self.calls.entry(method.clone()).or_default();
            for (outcome, n) in outcomes {
                *mine.entry(outcome.clone()).or_default() += n;
            }
        }
        for (status, n) in &other.refused {
            *self.refused.entry(*status).or_default() += n;
        }
        if self.latency.len() < other.latency.len() {
            self.latency.resize(other.latency.len(), 0);
        }
        for (mine, n) in self.latency.iter_mut().zip(&other.latency) {
            *mine += n;
        }
        self.latency_sum += other.latency_sum;
        self.closed_on_error += other.closed_on_error;
        self.worker_starts += other.worker_starts;
        for (cause, n) in &other.worker_exits {
            *self.worker_exits.entry(cause.clone()).or_default() += n;
        }
    }

    /// The page, in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, supervised: bool) -> String {
        let mut page = String::new();
        let p = &mut page;
        family(p, "calls_total", "counter", "Calls by method and outcome (result, or the error code).");
        for (method, outcomes) in &self.calls {
            for (outcome, n) in outcomes {
                let _ =
                    writeln!(p, "runjsonrpc2_calls_total{{method=\"{}\",outcome=\"{outcome}\"}} {n}", escape(method));
            }
        }
        let name = "request_duration_seconds";
        family(p, name, "histogram", "Time from taking a JSON-RPC request to its answer.");
        let mut cumulative = 0;
        for (i, bound) in BOUNDS.iter().enumerate() {
            cumulative += self.latency.get(i).copied().unwrap_or(0);
            let _ = writeln!(p, "runjsonrpc2_{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.latency.get(BOUNDS.len()).copied().unwrap_or(0);
        let _ = writeln!(p, "runjsonrpc2_{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(p, "runjsonrpc2_{name}_sum {}\nrunjsonrpc2_{name}_count {cumulative}", self.latency_sum);
        family(p, "http_refused_total", "counter", "Requests answered with an HTTP error, by status.");
        for (status, n) in &self.refused {
            let _ = writeln!(p, "runjsonrpc2_http_refused_total{{status=\"{status}\"}} {n}");
        }
        let help = "Connections closed after an error answer (a limit, a timeout, an ambiguous body).";
        family(p, "connections_closed_on_error_total", "counter", help);
        let _ = writeln!(p, "runjsonrpc2_connections_closed_on_error_total {}", self.closed_on_error);
        if supervised {
            family(p, "worker_starts_total", "counter", "Worker processes started.");
            let _ = writeln!(p, "runjsonrpc2_worker_starts_total {}", self.worker_starts);
            family(p, "worker_exits_total", "counter", "Worker processes ended, by cause.");
            for (cause, n) in &self.worker_exits {
                let _ = writeln!(p, "runjsonrpc2_worker_exits_total{{cause=\"{}\"}} {n}", escape(cause));
            }
        }
        page
    }
}

/// A metric family's HELP and TYPE lines.
fn family(page: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(page, "# HELP runjsonrpc2_{name} {help}\n# TYPE runjsonrpc2_{name} {kind}");
}

/// A label value, escaped as the text format asks.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Turns counting on in this process.
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

/// Whether this process counts and serves `/metrics`.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Counts one call of `method` (or [`crate::UNKNOWN_METHOD`]) with its outcome: `None` for a
/// result, else the error code.
pub fn call(method: &str, code: Option<i64>) {
    let mut counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
    // Keys are allocated once, on a method's or an outcome's first call.
    if !counts.calls.contains_key(method) {
        counts.calls.insert(method.to_owned(), BTreeMap::new());
    }
    let outcomes = counts.calls.get_mut(method).expect("inserted above");
    let outcome = match code {
        None => std::borrow::Cow::Borrowed("result"),
        Some(c) => std::borrow::Cow::Owned(c.to_string()),
    };
    match outcomes.get_mut(outcome.as_ref()) {
        Some(n) => *n += 1,
        None => {
            outcomes.insert(outcome.into_owned(), 1);
        }
    }
}

/// Counts a request answered with an HTTP error status.
pub(crate) fn refused(status: u16) {
    if enabled() {
        *COUNTS.lock().unwrap_or_else(|e| e.into_inner()).refused.entry(status).or_default() += 1;
    }
}

/// Counts a connection closed after an error answer.
pub(crate) fn closed_on_error() {
    CLOSED.fetch_add(1, Ordering::Relaxed);
}

/// Counts one JSON-RPC request's time.
pub(crate) fn latency(took: Duration) {
    let seconds = took.as_secs_f64();
    let bucket = BOUNDS.iter().position(|&b| seconds <= b).unwrap_or(BOUNDS.len());
    LATENCY[bucket].fetch_add(1, Ordering::Relaxed);
    LATENCY_SUM_NANOS.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
}

/// This process's counts so far.
pub fn snapshot() -> Snapshot {
    let mut snapshot = COUNTS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    snapshot.latency = LATENCY.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    snapshot.latency_sum = LATENCY_SUM_NANOS.load(Ordering::Relaxed) as f64 / 1e9;
    snapshot.closed_on_error = CLOSED.load(Ordering::Relaxed);
    snapshot
}

/// Where a master writes the page its workers serve (set in the workers' environment).
pub const PAGE_VAR: &str = "RUNJSONRPC2_METRICS_PAGE";

/// The page a `GET /metrics` answers: the master's file under a master, else this process's.
pub(crate) fn page() -> String {
    match std::env::var_os(PAGE_VAR) {
        Some(path) => std::fs::read_to_string(path).unwrap_or_else(|_| snapshot().render(false)),
        None => snapshot().render(false),
    }
}

#[cfg(test)]
mod tests {
    use super::Snapshot;

    #[test]
    fn snapshots_add_up() {
        let mut a = Snapshot::default();
        a.calls.entry("add".into()).or_default().insert("result".into(), 2);
        a.latency = vec![1, 0, 3];
        a.refused.insert(413, 1);
        let mut b = a.clone();
        b.calls.entry("add".into()).or_default().insert("-32602".into(), 1);
        b.worker_exits.insert("signal SIGSEGV".into(), 1);
        a.add(&b);
        assert_eq!(a.calls["add"]["result"], 4);
        assert_eq!(a.calls["add"]["-32602"], 1);
        assert_eq!((a.latency.clone(), a.refused[&413], a.worker_exits["signal SIGSEGV"]), (vec![2, 0, 6], 2, 1));
    }

    #[test]
    fn label_values_are_escaped() {
        #[rustfmt::skip]
        let cases = [("plain", "plain"), ("a\"b", "a\\\"b"), ("a\\b", "a\\\\b"), ("a\nb", "a\\nb")];
        for (raw, want) in cases {
            assert_eq!(super::escape(raw), want);
        }
    }
}
