//! The listening socket (TCP, or a Unix domain socket), its connections, and where it listens.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A listening socket the server accepts on.
#[derive(Debug)]
pub enum Listener {
    /// TCP: bound by [`super::bind_socket`], inherited from a master, or passed by systemd.
    Tcp(TcpListener),
    /// A Unix domain socket: bound by [`bind_unix`], or passed by systemd (`ListenStream=/run/...`).
    Unix(UnixListener),
}

impl From<TcpListener> for Listener {
    fn from(listener: TcpListener) -> Listener {
        Listener::Tcp(listener)
    }
}

impl From<UnixListener> for Listener {
    fn from(listener: UnixListener) -> Listener {
        Listener::Unix(listener)
    }
}

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A TCP address (the real port when 0 was asked for).
    Tcp(SocketAddr),
    /// The path of a Unix domain socket (`None` for an unnamed one).
    Unix(Option<PathBuf>),
}

impl std::fmt::Display for Address {
    /// `http://127.0.0.1:8080/`, or `unix:/run/rpc.sock`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Tcp(addr) => write!(f, "http://{addr}/"),
            Address::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            Address::Unix(None) => write!(f, "unix:(unnamed)"),
        }
    }
}

impl Listener {
    /// The listening socket passed as `fd` (by a master, or by systemd), TCP or Unix.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Listener> {
        let socket = socket2::Socket::from(fd);
        let local = socket.local_addr()?;
        if socket.r#type()? != socket2::Type::STREAM {
            return Err(io::Error::other("not a stream socket"));
        }
        Ok(match local.as_socket() {
            Some(_) => Listener::Tcp(socket.into()),
            None if local.is_unix() => Listener::Unix(UnixListener::from(OwnedFd::from(socket))),
            None => return Err(io::Error::other("neither a TCP nor a Unix socket")),
        })
    }

    /// Where it listens.
    pub fn address(&self) -> io::Result<Address> {
        Ok(match self {
            Listener::Tcp(l) => Address::Tcp(l.local_addr()?),
            Listener::Unix(l) => Address::Unix(l.local_addr()?.as_pathname().map(Path::to_path_buf)),
        })
    }

    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.set_nonblocking(on),
            Listener::Unix(l) => l.set_nonblocking(on),
        }
    }

    /// One pending connection, with the client's address (none on a Unix socket).
    pub(crate) fn accept(&self) -> io::Result<(Stream, Option<SocketAddr>)> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, peer)| (Stream::Tcp(s), Some(peer))),
            Listener::Unix(l) => l.accept().map(|(s, _)| (Stream::Unix(s), None)),
        }
    }

    /// Another descriptor for the same socket (a master passes one to each worker).
    pub fn try_clone(&self) -> io::Result<Listener> {
        Ok(match self {
            Listener::Tcp(l) => Listener::Tcp(l.try_clone()?),
            Listener::Unix(l) => Listener::Unix(l.try_clone()?),
        })
    }
}

impl From<Listener> for OwnedFd {
    fn from(listener: Listener) -> OwnedFd {
        match listener {
            Listener::Tcp(l) => l.into(),
            Listener::Unix(l) => l.into(),
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l) => l.as_fd(),
        }
    }
}

/// Binds a Unix domain socket at `path`, which any local user may connect to, as to a TCP
/// port on the loopback (a proxy's workers run as another user): restrict it with the
/// directory's permissions. A file left there by a server that crashed (a socket nobody
/// answers on) is replaced; a live server's socket, or any other file, is not.
pub fn bind_unix(path: &Path) -> io::Result<UnixListener> {
    let listener = bind_unix_file(path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    Ok(listener)
}

fn bind_unix_file(path: &Path) -> io::Result<UnixListener> {
    match UnixListener::bind(path) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            use std::os::unix::fs::FileTypeExt;
            let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
            if !is_socket {
                return Err(io::Error::new(e.kind(), "the path exists and is not a socket"));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(e.kind(), "a server is listening there"));
            }
            log::info!("replacing the stale socket {}", path.display());
            std::fs::remove_file(path)?;
            UnixListener::bind(path)
        }
        other => other,
    }
}

/// One connection.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(t),
            Stream::Unix(s) => s.set_write_timeout(t),
        }
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write_vectored(bufs),
            Stream::Unix(s) => (&*s).write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stale socket file is replaced; a live one and a plain file are not.
    #[test]
    fn unix_sockets_replace_only_stale_files() {
        let dir = std::env::temp_dir().join(format!("rj2-listen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let live = bind_unix(&path).expect("binds a new path");
        assert!(bind_unix(&path).unwrap_err().to_string().contains("a server is listening there"));
        drop(live); // the file stays, as after a crash
        assert!(path.exists());
        let again = bind_unix(&path).expect("a stale socket is replaced");
        let listener = Listener::from(again);
        assert_eq!(listener.address().unwrap(), Address::Unix(Some(path.clone())));
        assert_eq!(listener.address().unwrap().to_string(), format!("unix:{}", path.display()));
        let plain = dir.join("plain");
        std::fs::write(&plain, "x").unwrap();
        assert!(bind_unix(&plain).unwrap_err().to_string().contains("not a socket"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A descriptor passed in is taken for what it is.
    #[test]
    fn passed_descriptors_are_told_apart() {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        let tcp = Listener::from_fd(OwnedFd::from(tcp)).unwrap();
        assert_eq!(tcp.address().unwrap(), Address::Tcp(addr));
        let file = std::fs::File::open("/dev/null").unwrap();
        assert!(Listener::from_fd(OwnedFd::from(file)).is_err());
    }
}
