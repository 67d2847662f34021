//! Noticing that tiny_http's accept thread died in a panic, as it does when descriptors run
//! out between its accept() and its own `try_clone` of the socket, or when no thread can be
//! spawned for a connection: the server would go on running without accepting. Every server
//! in the process retires or stops instead (descriptors and threads are the process's).
//! A thread that a procedure fails to spawn panics with the same text, on a call thread of
//! ours: that is the procedure's failure, answered -32603, and no reason to stop.

use super::{ServeError, Stopper};
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

/// The servers running in this process, each under an id.
static RUNNING: Mutex<Vec<(u64, Stopper)>> = Mutex::new(Vec::new());

/// Watches for the panic while `stopper`'s server runs; [`unwatch`] takes the id back. (The
/// hook is installed by the first server; a hook installed later that does not call the one
/// before it ends the watch.)
pub(super) fn watch(stopper: &Stopper) -> u64 {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if accept_loop_died(info) {
                for (_, stopper) in RUNNING.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                    stopper.fail(ServeError::AcceptDied);
                }
            }
            previous(info);
        }));
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    RUNNING.lock().unwrap_or_else(|e| e.into_inner()).push((id, stopper.clone()));
    id
}

/// Stops watching the server [`watch`] gave `id`.
pub(super) fn unwatch(id: u64) {
    let removed: Vec<_> = {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        let (gone, kept) = running.drain(..).partition(|(i, _)| *i == id);
        *running = kept;
        gone
    };
    drop(removed); // outside the lock: the last Stopper may drop tiny_http's Server
}

fn accept_loop_died(info: &PanicHookInfo<'_>) -> bool {
    let spawn_failed = info.payload().downcast_ref::<String>().is_some_and(|m| m.starts_with("failed to spawn thread"));
    (spawn_failed && !ours(std::thread::current().name()))
        || info.location().is_some_and(|at| in_accept_loop(at.file()))
}

/// Whether a thread of this name is one of the server's own (tiny_http's are unnamed).
fn ours(name: Option<&str>) -> bool {
    name.is_some_and(|n| n.starts_with("rpc-"))
}

/// Whether a panic in `file` is tiny_http's socket clone, which only its accept loop calls.
/// (Source paths differ: the registry's `tiny_http-0.12.0/`, `cargo vendor`'s `tiny_http/`,
/// a git checkout's `tiny-http-<hash>/`.)
fn in_accept_loop(file: &str) -> bool {
    let file = file.replace('\\', "/");
    (file.contains("tiny_http") || file.contains("tiny-http")) && file.ends_with("/util/refined_tcp_stream.rs")
}

#[cfg(test)]
mod tests {
    #[test]
    fn spawn_failures_on_our_threads_are_the_procedures() {
        #[rustfmt::skip]
        let cases = [(Some("rpc-call"), true), (Some("rpc-drain"), true), (None, false), (Some("main"), false)];
        for (name, ours) in cases {
            assert_eq!(super::ours(name), ours, "{name:?}");
        }
    }

    #[test]
    fn the_accept_loops_socket_clone_is_recognized_wherever_the_source_lies() {
        #[rustfmt::skip]
        let cases = [
            ("/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tiny_http-0.12.0/src/util/refined_tcp_stream.rs", true),
            ("/work/vendor/tiny_http/src/util/refined_tcp_stream.rs", true),
            ("/root/.cargo/git/checkouts/tiny-http-3f1c/ab12cd3/src/util/refined_tcp_stream.rs", true),
            (r"C:\Users\u\.cargo\registry\src\x\tiny_http-0.12.0\src\util\refined_tcp_stream.rs", true),
            ("/root/.cargo/registry/src/x/tiny_http-0.12.0/src/util/task_pool.rs", false),
            ("/root/.cargo/registry/src/x/tiny_http-0.12.0/src/client.rs", false),
            ("/root/.cargo/registry/src/x/other-0.1.0/src/util/refined_tcp_stream.rs", false),
            ("runjsonrpc2/src/server/route.rs", false),
        ];
        for (file, expected) in cases {
            assert_eq!(super::in_accept_loop(file), expected, "{file}");
        }
    }
}
