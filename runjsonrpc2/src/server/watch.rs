//! Noticing that tiny_http's accept thread died in a panic, as it does when descriptors run
//! out between its accept() and its own `try_clone` of the socket: the server would go on
//! running without accepting. It stops instead, and serving ends with an error.

use super::Stopper;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

/// The servers running in this process, each under an id.
static RUNNING: Mutex<Vec<(u64, Stopper)>> = Mutex::new(Vec::new());

/// Watches for the panic while `stopper`'s server runs; [`unwatch`] takes the id back.
pub(super) fn watch(stopper: &Stopper) -> u64 {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            if info.location().is_some_and(|at| in_accept_loop(at.file())) {
                // Descriptors are the process's: every server here is out of them.
                for (_, stopper) in RUNNING.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                    stopper.fail(super::Fault::AcceptDied);
                }
            }
        }));
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    RUNNING.lock().unwrap_or_else(|e| e.into_inner()).push((id, stopper.clone()));
    id
}

/// Stops watching the server [`watch`] gave `id`.
pub(super) fn unwatch(id: u64) {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner()).retain(|(i, _)| *i != id);
}

/// Whether a panic in `file` is tiny_http 0.12's accept loop: the socket clone it unwraps,
/// the thread pool it hands connections to.
fn in_accept_loop(file: &str) -> bool {
    file.contains("tiny_http-") && (file.ends_with("refined_tcp_stream.rs") || file.ends_with("task_pool.rs"))
}
