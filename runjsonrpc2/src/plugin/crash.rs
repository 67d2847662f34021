//! Naming the procedure that crashed a worker: each thread notes the plugin method it is
//! running, and a handler for fatal signals writes that name to the master before the
//! process dies of the signal as it would have.

use std::cell::Cell;
use std::io;
use std::os::fd::{IntoRawFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signals a faulty procedure dies of.
const FATAL: [libc::c_int; 5] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGABRT];

/// The line's prefix; the master reads `crash NAME` (`protocol::Up::Crash`).
const PREFIX: &[u8] = crate::protocol::CRASH_PREFIX;

thread_local! {
    /// The label of the plugin method this thread runs (pointer and length), or null.
    static RUNNING: Cell<(*const u8, usize)> = const { Cell::new((std::ptr::null(), 0)) };
}

/// Where the handler writes; -1 until [`report_to`].
static REPORT_FD: AtomicI32 = AtomicI32::new(-1);
/// The handlers in place before ours, put back before the signal is taken again.
static PREVIOUS: OnceLock<[libc::sigaction; FATAL.len()]> = OnceLock::new();

/// Notes that this thread runs the method `label` until [`Running::leave`]. `label` must
/// outlive it (it is a plugin procedure's own, which lives as long as the process).
///
/// Left only when the call returns, not on unwinding: a C++ exception out of a procedure
/// unwinds to the engine, where Rust aborts the process, and the abort must still name the
/// method.
#[must_use]
pub(crate) struct Running(());

impl Running {
    pub(crate) fn enter(label: &str) -> Running {
        RUNNING.set((label.as_ptr(), label.len()));
        Running(())
    }

    pub(crate) fn leave(self) {
        RUNNING.set((std::ptr::null(), 0));
    }
}

/// From now on a fatal signal writes `crash LABEL\n` to `fd` (when a plugin method was
/// running on the faulting thread) before the process dies of it. Installed once.
///
/// `fd` must be a channel only the handler writes on (a worker's is a pipe of its own,
/// `protocol::CRASH_FD`): the handler cannot take the lock other writers hold, and the line,
/// at most 256 bytes, is written whole by one write, which on a pipe (at most `PIPE_BUF`
/// bytes) is atomic, so reports from two threads never mix either. The descriptor is kept
/// open until the process ends (never closed: a number the handler could write to after a
/// close might by then be another file's).
pub fn report_to(fd: OwnedFd) -> io::Result<()> {
    REPORT_FD.store(fd.into_raw_fd(), Ordering::SeqCst);
    let mut previous = [empty(); FATAL.len()];
    for (signal, old) in FATAL.iter().zip(previous.iter_mut()) {
        let mut action = empty();
        action.sa_sigaction = on_fatal as *const () as libc::sighandler_t;
        // On the alternate stack where the thread has one (Rust's threads do), so a stack
        // overflow still reaches the previous handler.
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `action` and `old` are valid sigaction structs for the call to read and
        // write; `on_fatal` has the three-argument handler type SA_SIGINFO asks for, and does
        // only async-signal-safe work (a write, a sigaction).
        if unsafe { libc::sigaction(*signal, &action, old) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let _ = PREVIOUS.set(previous);
    Ok(())
}

fn empty() -> libc::sigaction {
    // SAFETY: sigaction is a plain C struct for which all-zero bytes are a valid value
    // (SIG_DFL, no flags, an empty mask).
    unsafe { std::mem::zeroed() }
}

extern "C" fn on_fatal(signal: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    let (ptr, len) = RUNNING.get();
    let fd = REPORT_FD.load(Ordering::SeqCst);
    if !ptr.is_null() && fd >= 0 {
        let mut line = [0u8; 256];
        let len = len.min(line.len() - PREFIX.len() - 1);
        line[..PREFIX.len()].copy_from_slice(PREFIX);
        // SAFETY: `ptr` and `len` were taken from a `&str` that outlives the running method
        // (see `Running::enter`), and the copy stays within `line`.
        unsafe { std::ptr::copy_nonoverlapping(ptr, line.as_mut_ptr().add(PREFIX.len()), len) };
        line[PREFIX.len() + len] = b'\n';
        // SAFETY: write(2) is async-signal-safe and reads `PREFIX.len() + len + 1` bytes of `line`.
        unsafe { libc::write(fd, line.as_ptr().cast(), PREFIX.len() + len + 1) };
    }
    // A signal sent by a process (kill, raise: si_code <= 0) has no instruction to run again:
    // it is raised again with the default action, which ends the process. A fault gets the
    // previous handler back (Rust's stack overflow report, or the default), the faulting
    // instruction runs again, or abort() raises again, and the process dies of it.
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo (checked for null anyway).
    let sent = info.is_null() || unsafe { (*info).si_code } <= 0;
    let index = FATAL.iter().position(|&s| s == signal);
    let previous = match sent {
        true => empty(),
        false => index.and_then(|i| PREVIOUS.get().map(|p| p[i])).unwrap_or_else(empty),
    };
    // SAFETY: sigaction is async-signal-safe; `previous` is a valid struct it only reads.
    unsafe { libc::sigaction(signal, &previous, std::ptr::null_mut()) };
    if sent {
        // SAFETY: raise is async-signal-safe and takes a signal number; the signal is blocked
        // in this handler and delivered, with the default action, as it returns.
        unsafe { libc::raise(signal) };
    }
}
