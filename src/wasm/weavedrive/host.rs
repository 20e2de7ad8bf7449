//! The WeaveDrive imports and the file-descriptor calls on WeaveDrive files, against the
//! store's [`HostState`]: the drive, the open files, the message's block height and deadline.

use std::time::{Duration, Instant};

use crate::wasm::host::{Cx, HostState, R, exit, range, read_cstr, read_u64, runtime, write_bytes};

use super::Whence;

/// WASI errno values used here.
const EINVAL: i32 = 28;

/// How long a read may wait when no message deadline is set (outside `handle`).
const NO_DEADLINE: Duration = Duration::from_secs(30);

fn deadline(state: &HostState) -> Instant {
    state
        .deadline
        .unwrap_or_else(|| Instant::now() + NO_DEADLINE)
}

/// `__asyncjs__weavedrive_open(path, mode)`: a descriptor, or 0 (nothing to open, or no drive
/// attached to this module, as the reference loader answers without the extension).
pub fn open(mut c: Cx<'_>, path: u64, _mode: u64) -> R<i32> {
    let memory = runtime(&c)?.memory;
    let path = read_cstr(memory.data(&c), path)?;
    let state = c.data_mut();
    let Some(drive) = state.drive.clone() else {
        return Ok(0);
    };
    let until = deadline(state);
    drive
        .open(&mut state.files, &path, state.block_height, until)
        .map_err(|e| exit(format!("WeaveDrive: {e}")))
}

/// `__asyncjs__weavedrive_read(fd, dst, length)`: copies into memory at `dst`.
pub fn read(mut c: Cx<'_>, fd: i32, dst: u64, length: u64) -> R<i32> {
    let memory = runtime(&c)?.memory;
    let (mem, state) = memory.data_and_store_mut(&mut c);
    let (bytes, answer) = state.files.extension_read(fd, length).ok_or_else(|| {
        exit(format!(
            "WeaveDrive: read of descriptor {fd}, which is not open"
        ))
    })?;
    let to = range(mem, dst, bytes.len() as u64)?;
    mem[to].copy_from_slice(bytes);
    // The module's `int` return: the reference's number converted as wasm converts it.
    Ok(answer as i32)
}

/// `__asyncjs__weavedrive_close(fd)`.
pub fn close(mut c: Cx<'_>, fd: i32) -> i32 {
    c.data_mut().files.close(fd);
    0
}

/// `fd_read` when `fd` is a WeaveDrive file (`None` otherwise): scatter from the position.
pub fn fd_read(c: &mut Cx<'_>, fd: i32, iovs: u64, count: u64, nread: u64) -> Option<R<i32>> {
    if !c.data().files.contains(fd) {
        return None;
    }
    Some(scatter(c, fd, iovs, count, nread))
}

fn scatter(c: &mut Cx<'_>, fd: i32, iovs: u64, count: u64, nread: u64) -> R<i32> {
    let memory = runtime(c)?.memory;
    let (mem, state) = memory.data_and_store_mut(&mut *c);
    let mut total = 0u64;
    for i in 0..count.min(1 << 20) {
        let entry = iovs + 16 * i;
        let (buf, len) = (read_u64(mem, entry)?, read_u64(mem, entry + 8)?);
        let bytes = match state.files.read_at_position(fd, len) {
            Some(Ok(bytes)) => bytes,
            Some(Err(e)) => return Err(exit(format!("WeaveDrive: {e}"))),
            None => break,
        };
        let to = range(mem, buf, bytes.len() as u64)?;
        let n = bytes.len() as u64;
        mem[to].copy_from_slice(bytes);
        total += n;
        if n < len {
            break;
        }
    }
    let at = range(mem, nread, 8)?;
    mem[at].copy_from_slice(&total.to_le_bytes());
    Ok(0)
}

/// `fd_seek` when `fd` is a WeaveDrive file (`None` otherwise).
pub fn fd_seek(c: &mut Cx<'_>, fd: i32, offset: i64, whence: i32, new: u64) -> Option<R<i32>> {
    if !c.data().files.contains(fd) {
        return None;
    }
    let Some(whence) = Whence::from_wasi(whence) else {
        return Some(Ok(EINVAL));
    };
    let Some(Some(position)) = c.data_mut().files.seek(fd, offset, whence) else {
        return Some(Ok(EINVAL));
    };
    Some(write_bytes(c, new, &position.to_le_bytes()).map(|()| 0))
}

/// `fd_close` when `fd` is a WeaveDrive file (`None` otherwise).
pub fn fd_close(c: &mut Cx<'_>, fd: i32) -> Option<i32> {
    c.data_mut().files.close(fd).then_some(0)
}
