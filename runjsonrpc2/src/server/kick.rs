//! Unsticking connections that tiny_http 0.12's task pool queued with no thread to run them.
//!
//! tiny_http gives each connection a task on its pool and starts a thread for it only when
//! no thread waits for work, counting as waiting the threads it has already woken. A burst
//! of new connections larger than the waiting threads leaves the last ones queued, and they
//! are read only when some thread finishes its connection: with kept-alive connections that
//! can be never (the test that 4 slow calls do not delay a quick one shows it). A connection that arrives when no thread waits
//! gets a new thread, which after that connection takes the queued ones. So after requests
//! from new connections arrive (the sign of a burst), this process makes a few connections
//! of its own for a short while, each reset at once (no TIME_WAIT). On a socket shared with
//! other processes a kick may land in another: they come every [`EVERY`] for [`FOR`].

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_millis(5);
const FOR: Duration = Duration::from_millis(100);

/// Where the kicks go and when the last new connection was seen.
pub(crate) struct Kicker {
    start: Instant,
    /// Milliseconds after `start` of the last request from a new connection, plus one (0: none).
    last_new: AtomicU64,
    thread: OnceLock<std::thread::Thread>,
}

impl Kicker {
    /// Starts the kicking thread for a socket listening on `addr`; it ends when `done` says so.
    pub(crate) fn start(addr: SocketAddr, done: impl Fn() -> bool + Send + 'static) -> Arc<Kicker> {
        let kicker = Arc::new(Kicker { start: Instant::now(), last_new: AtomicU64::new(0), thread: OnceLock::new() });
        let ours = kicker.clone();
        let addr = super::accept::wake_address(addr);
        let spawned = std::thread::Builder::new().name("rpc-kick".into()).spawn(move || {
            while !done() {
                let last = ours.last_new.load(Ordering::Relaxed);
                let since = ours.start.elapsed().saturating_sub(Duration::from_millis(last.saturating_sub(1)));
                if last > 0 && since < FOR {
                    kick(addr);
                    std::thread::sleep(EVERY);
                } else {
                    std::thread::park_timeout(Duration::from_secs(1));
                }
            }
        });
        match spawned {
            Ok(handle) => {
                let _ = kicker.thread.set(handle.thread().clone());
            }
            Err(e) => log::warn!("cannot start the kicking thread ({e}): bursts of connections may wait"),
        }
        kicker
    }

    /// A request came from a connection not seen before.
    pub(crate) fn new_connection(&self) {
        self.last_new.store(self.start.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

/// One connection, reset as soon as it is made.
fn kick(addr: SocketAddr) {
    if let Ok(conn) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
        let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
    }
}

/// Remembers recent connections by peer address, to tell a new one (a few may be taken for
/// new when their slots are reused: a kick too many, no harm).
pub(crate) struct Recent([Option<SocketAddr>; 64]);

impl Default for Recent {
    fn default() -> Recent {
        Recent([None; 64])
    }
}

impl Recent {
    /// Notes `peer`; true if it was not the last peer seen in its slot.
    pub(crate) fn is_new(&mut self, peer: SocketAddr) -> bool {
        let slot = &mut self.0[usize::from(peer.port()) % 64];
        slot.replace(peer) != Some(peer)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn connections_are_new_once() {
        let mut recent = super::Recent::default();
        let a: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let b: std::net::SocketAddr = "127.0.0.1:40064".parse().unwrap();
        #[rustfmt::skip]
        let cases = [(a, true), (a, false), (b, true), (b, false), (a, true)];
        for (i, (peer, new)) in cases.into_iter().enumerate() {
            assert_eq!(recent.is_new(peer), new, "case {i}");
        }
    }
}
