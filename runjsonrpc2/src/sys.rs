//! The raw descriptor operations std has no safe API for (and the only `unsafe` outside
//! `plugin/`): pointing a standard descriptor at another open file, and poll.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// Points descriptor `target` (0, 1 or 2, which this process owns from its start) at `with`'s file.
pub(crate) fn redirect_std(target: RawFd, with: BorrowedFd<'_>) -> io::Result<()> {
    assert!((0..=2).contains(&target), "only the standard descriptors are redirected");
    // SAFETY: dup2 reads two integers and writes no memory of ours. The standard descriptors
    // are the process's own (no Rust object owns them for another file), and std's handles to
    // them go on working, on the new file.
    let r = unsafe { libc::dup2(with.as_raw_fd(), target) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Ends the process at once with `code`, as `_exit` does: no atexit handlers and no static
/// destructors. Quitting while calls still run on other threads, a plugin's C++ static
/// destructors (which `exit` would run) would tear down state those calls are using, and a
/// crash on the way out would turn a quit into a fault.
pub(crate) fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stderr().flush();
    // SAFETY: _exit takes an integer and never returns; it skips destructors and atexit
    // handlers on purpose (above), and the kernel releases every resource of the process.
    unsafe { libc::_exit(code) }
}

/// Sends `signal` to process `pid`, a child of ours not yet reaped; an error (it has just
/// exited) is ignored.
pub(crate) fn signal(pid: u32, signal: i32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return };
    // SAFETY: kill(2) reads two integers and touches no memory of ours. `pid` is a child this
    // process has not reaped, so the number cannot have been reused for another process.
    unsafe { libc::kill(pid, signal) };
}

/// Waits until one of `fds` is readable (or has hung up), at most `timeout` (`None`: no
/// limit); returns which are.
pub(crate) fn poll_readable<const N: usize>(
    fds: [BorrowedFd<'_>; N],
    timeout: Option<Duration>,
) -> io::Result<[bool; N]> {
    let mut polled = fds.map(|fd| libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 });
    let ms = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX));
    // SAFETY: poll reads and writes `N` pollfd structs through the pointer, which points at
    // exactly `N` of them, alive and exclusively borrowed for the call; the descriptors are
    // borrowed, so open for its length (poll would report a closed one, not misbehave).
    let r = unsafe { libc::poll(polled.as_mut_ptr(), N as libc::nfds_t, ms) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(polled.map(|p| p.revents != 0))
}
