//! The raw descriptor operations std has no safe API for (and the only `unsafe` outside
//! `plugin/`): pointing a standard descriptor at another open file, poll, and passing a
//! descriptor beyond the standard three to a child.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
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

/// Makes the child `command` starts inherit `fd` as descriptor `target` (above 2); `fd` stays
/// open here until `command` is dropped.
pub(crate) fn inherit_as(command: &mut Command, fd: OwnedFd, target: RawFd) {
    assert!(target > 2, "the standard descriptors are set through Stdio");
    let hook = move || {
        let raw = fd.as_raw_fd();
        // SAFETY: this runs in the child between fork and exec, where only async-signal-safe
        // calls are allowed: dup2 and fcntl are, and they read integers and write no memory
        // of ours. dup2 clears close-on-exec on `target`; when `fd` already is `target`, dup2
        // does nothing and close-on-exec is cleared by hand. Whatever `target` was in the
        // child (a copy of one of the master's descriptors, all close-on-exec) it no longer
        // needs: the standard descriptors were set up before this hook runs.
        let r = unsafe { if raw == target { libc::fcntl(target, libc::F_SETFD, 0) } else { libc::dup2(raw, target) } };
        if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    };
    // SAFETY: the hook only makes async-signal-safe calls and allocates nothing (see above).
    unsafe { command.pre_exec(hook) };
}

/// Takes descriptor `fd`, inherited from the parent as the write end of a pipe, for use
/// until the process ends (never closed: see `plugin::report_crashes_to`), and marks it
/// close-on-exec so this process's own children do not inherit it.
pub(crate) fn keep_inherited_pipe(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: an all-zero stat is a valid value for fstat to overwrite.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes one stat struct through the pointer, which points at ours; a
    // descriptor that is not open is reported, not misused.
    if unsafe { libc::fstat(fd, &mut stat) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if stat.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return Err(io::Error::other(format!("descriptor {fd} is not a pipe")));
    }
    // SAFETY: fcntl(F_SETFD) reads two integers and changes only the descriptor's flag.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is open (fstat succeeded) and was inherited from the parent; nothing else
    // in this process owns it: the worker takes it once, first thing, before any module loads.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    #[test]
    fn only_an_open_pipe_is_kept() {
        let (reader, writer) = std::io::pipe().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        #[rustfmt::skip]
        let cases = [
            (writer.as_raw_fd(), true),
            (reader.as_raw_fd(), true),
            (file.as_raw_fd(), false),
            (1 << 20, false),
        ];
        for (fd, want) in cases {
            let kept = super::keep_inherited_pipe(fd);
            assert_eq!(kept.is_ok(), want, "descriptor {fd}");
            // The test's own pipe and file still own these descriptors: not closed twice.
            kept.into_iter().for_each(std::mem::forget);
        }
    }
}
