//! The raw descriptor operations std has no safe API for (and the only `unsafe` outside
//! `plugin/`): pointing a descriptor number at another open file.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

/// Points descriptor `target` at `with`'s file (dup2), if `target` still refers to the same
/// socket as `expected`; returns whether it did. Whoever owns `target` goes on owning a
/// valid descriptor, now for `with`'s file, and closes that in its time.
pub(crate) fn replace_socket(target: RawFd, expected: BorrowedFd<'_>, with: BorrowedFd<'_>) -> io::Result<bool> {
    if identity(target)? != identity(expected.as_raw_fd())? {
        return Ok(false);
    }
    // SAFETY: dup2 reads two integers and writes no memory of ours. `target` was just seen to
    // be open on our socket, so no other Rust object can own that number for another file;
    // its owner (tiny_http's listener) keeps a valid descriptor, and I/O through it fails
    // cleanly (ENOTSOCK), which is the point.
    let r = unsafe { libc::dup2(with.as_raw_fd(), target) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(true) }
}

/// Points descriptor `target` (0, 1 or 2, which this process owns from its start) at `with`'s file.
pub(crate) fn redirect_std(target: RawFd, with: BorrowedFd<'_>) -> io::Result<()> {
    assert!((0..=2).contains(&target), "only the standard descriptors are redirected");
    // SAFETY: as above; the standard descriptors are the process's own, and std's handles to
    // them go on working (on the new file).
    let r = unsafe { libc::dup2(with.as_raw_fd(), target) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// The device and inode a descriptor refers to.
fn identity(fd: RawFd) -> io::Result<(u64, u64)> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes one `struct stat` through the pointer, which is valid for it; an
    // invalid descriptor is an error (EBADF), not undefined behaviour.
    let r = unsafe { libc::fstat(fd, stat.as_mut_ptr()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat succeeded, so it initialised the struct.
    let stat = unsafe { stat.assume_init() };
    Ok((stat.st_dev, stat.st_ino))
}
