//! Ending this process's accepting on a listening socket that other processes may share.
//!
//! tiny_http's accept thread blocks in accept() on its own descriptor and ends only when
//! accept fails. shutdown() on the socket would fail it in every process sharing the socket
//! (the master's other workers), so tiny_http's descriptor number is pointed at /dev/null
//! instead (`sys::replace_socket`): an accept already blocked still returns its connection,
//! which is served as usual, and the next one fails (ENOTSOCK), ending the loop. Connections
//! of our own wake a blocked accept when no client comes; other processes accepting one of
//! them see it close at once and answer nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a stop keeps waking the accept thread before it gives up on it.
const WAKE_FOR: Duration = Duration::from_secs(2);

pub(crate) struct Accept {
    /// tiny_http's descriptor for the listening socket.
    fd: RawFd,
    /// Our own descriptor for it, closed once accepting has ended.
    own: Mutex<Option<socket2::Socket>>,
    addr: SocketAddr,
    /// The accept loop has ended (its error reached a call thread).
    ended: Arc<AtomicBool>,
}

impl Accept {
    /// Keeps `socket` and returns the copy tiny_http accepts on.
    pub(crate) fn new(socket: socket2::Socket, addr: SocketAddr) -> std::io::Result<(Accept, TcpListener)> {
        let for_tiny_http: TcpListener = socket.try_clone()?.into();
        let fd = for_tiny_http.as_raw_fd();
        let accept = Accept { fd, own: Mutex::new(Some(socket)), addr, ended: Arc::new(AtomicBool::new(false)) };
        Ok((accept, for_tiny_http))
    }

    /// The accept loop ended: its error came out of the request queue.
    pub(crate) fn ended(&self) {
        self.ended.store(true, Ordering::SeqCst);
    }

    /// Ends tiny_http's accept loop in this process only, then closes our descriptor.
    pub(crate) fn stop(&self) {
        let own = self.own.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(own) = own else { return };
        if self.ended.load(Ordering::SeqCst) {
            return; // tiny_http closed its descriptor already: the number may be another file's now
        }
        let replaced = std::fs::File::open("/dev/null")
            .and_then(|null| crate::sys::replace_socket(self.fd, own.as_fd(), null.as_fd()));
        match replaced {
            Ok(true) => {}
            Ok(false) => return, // the number no longer holds our socket: the loop has ended
            Err(e) => {
                log::warn!("cannot end the accept loop ({e}); it ends when the process does");
                return;
            }
        }
        let (addr, ended) = (wake_address(self.addr), self.ended.clone());
        let woke = std::thread::Builder::new().name("rpc-unaccept".into()).spawn(move || {
            let start = Instant::now();
            while !ended.load(Ordering::SeqCst) && start.elapsed() < WAKE_FOR {
                // A failed connect (a full backlog, say) is tried again until the deadline.
                if let Ok(conn) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                    drop(conn);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            drop(own);
        });
        if let Err(e) = woke {
            log::warn!("cannot start a thread to end the accept loop ({e})");
        }
    }
}

/// Where to connect to reach a socket listening on `addr` (the loopback for a wildcard).
pub(crate) fn wake_address(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcards_are_woken_through_the_loopback() {
        #[rustfmt::skip]
        let cases = [
            ("0.0.0.0:80", "127.0.0.1:80"),
            ("[::]:80", "[::1]:80"),
            ("192.0.2.1:80", "192.0.2.1:80"),
            ("127.0.0.1:8080", "127.0.0.1:8080"),
        ];
        for (addr, want) in cases {
            assert_eq!(super::wake_address(addr.parse().unwrap()), want.parse().unwrap(), "{addr}");
        }
    }
}
