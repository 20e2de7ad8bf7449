//! The host side of the AO process ABI: the imports emscripten- and WASI-style AOS builds
//! expect, implemented deterministically so that a result never depends on the host.
//!
//! - Clocks return the timestamp of the message being evaluated (`Timestamp`, ms).
//! - The environment is empty; the file system is an empty, read-only one: opening for reading
//!   gives `ENOENT`, creating gives `EROFS`; stdout/stderr accept and drop bytes, stdin is at EOF.
//! - `_emscripten_system` reports that no shell exists, as emscripten's library does in Node.
//! - `invoke_*` trampolines implement emscripten's setjmp/longjmp contract: the table entry is
//!   called; if `_emscripten_throw_longjmp` unwound it, the stack pointer is restored and the
//!   module's `setThrew(1, 0)` is called. Any other failure propagates.
//! - WeaveDrive (`__asyncjs__weavedrive_*`) reads Arweave through the process' [`Drive`]
//!   (see [`weavedrive`]); without one, `open` gives 0 as the reference
//!   loader does without the extension. `fd_read`, `fd_seek` and `fd_close` on a WeaveDrive
//!   descriptor go to its open files.
//! - `emscripten_resize_heap` grows memory with emscripten's over-allocation policy, within the
//!   process' memory limit (enforced by [`MemoryLimiter`]).

use wasmtime::{
    Caller, Engine, FuncType, Linker, Memory, ResourceLimiter, Table, TypedFunc, Val, ValType,
};

use std::sync::Arc;
use std::time::Instant;

use super::error::WasmError;
use super::timefmt::{self, Tm};
use super::weavedrive::{self, Drive, Files};

/// WASI / emscripten errno values (emscripten uses WASI's numbering).
mod errno {
    pub const EBADF: i32 = 8;
    pub const ENOENT: i32 = 44;
    pub const ENOSYS: i32 = 52;
    pub const ENOTTY: i32 = 59;
    pub const EROFS: i32 = 69;
    pub const ESPIPE: i32 = 70;
}

/// Tracks a process' memory against its limit; installed as the store's resource limiter.
#[derive(Debug, Clone)]
pub struct MemoryLimiter {
    /// The limit in bytes.
    pub limit_bytes: u64,
    /// Set when a growth was refused because of the limit.
    pub exceeded: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limit_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// The instance exports the host functions need, set once after instantiation.
#[derive(Clone)]
pub(crate) struct Runtime {
    pub memory: Memory,
    pub table: Option<Table>,
    pub stack_current: Option<TypedFunc<(), u64>>,
    pub stack_restore: Option<TypedFunc<u64, ()>>,
    pub set_threw: Option<TypedFunc<(u64, i32), ()>>,
}

/// Per-store host state.
pub struct HostState {
    /// The memory limit.
    pub limiter: MemoryLimiter,
    /// Clock value (ms since the epoch) for the message being evaluated.
    pub clock_ms: u64,
    /// Block height of the message being evaluated (WeaveDrive's attestation bound).
    pub block_height: u64,
    /// When the message's wall-clock limit runs out (a WeaveDrive read waits no longer).
    pub deadline: Option<Instant>,
    /// The process' WeaveDrive, when its module has one.
    pub drive: Option<Arc<Drive>>,
    /// WeaveDrive files open in this instance.
    pub files: Files,
    pub(crate) runtime: Option<Runtime>,
}

impl HostState {
    /// Fresh host state with a memory limit.
    pub fn new(limit_bytes: u64) -> HostState {
        HostState {
            limiter: MemoryLimiter {
                limit_bytes,
                exceeded: false,
            },
            clock_ms: 0,
            block_height: 0,
            deadline: None,
            drive: None,
            files: Files::default(),
            runtime: None,
        }
    }
}

/// An emscripten longjmp unwinding through the host (`_emscripten_throw_longjmp`).
#[derive(Debug)]
pub(crate) struct Longjmp;

impl std::fmt::Display for Longjmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("longjmp outside of any setjmp")
    }
}
impl std::error::Error for Longjmp {}

/// The module ended the evaluation through the host (exit, abort, unavailable feature).
#[derive(Debug)]
pub struct HostExit(pub String);

impl std::fmt::Display for HostExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for HostExit {}

pub(super) fn exit(message: impl Into<String>) -> wasmtime::Error {
    wasmtime::Error::new(HostExit(message.into()))
}

pub(super) type Cx<'a> = Caller<'a, HostState>;
pub(super) type R<T> = wasmtime::Result<T>;

pub(super) fn runtime(caller: &Cx<'_>) -> R<Runtime> {
    caller
        .data()
        .runtime
        .clone()
        .ok_or_else(|| exit("host function called before the instance was ready"))
}

fn memory<'a>(caller: &'a mut Cx<'_>) -> R<&'a mut [u8]> {
    let memory = runtime(caller)?.memory;
    Ok(memory.data_mut(caller))
}

pub(super) fn range(mem: &[u8], addr: u64, len: u64) -> R<std::ops::Range<usize>> {
    let start = usize::try_from(addr).map_err(|_| exit("pointer out of range"))?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .filter(|&e| e <= mem.len())
        .ok_or_else(|| exit(format!("host access out of bounds at {addr:#x}+{len}")))?;
    Ok(start..end)
}

pub(super) fn write_bytes(caller: &mut Cx<'_>, addr: u64, bytes: &[u8]) -> R<()> {
    let mem = memory(caller)?;
    let r = range(mem, addr, bytes.len() as u64)?;
    mem[r].copy_from_slice(bytes);
    Ok(())
}

pub(super) fn read_u64(mem: &[u8], addr: u64) -> R<u64> {
    let r = range(mem, addr, 8)?;
    let mut b = [0u8; 8];
    b.copy_from_slice(&mem[r]);
    Ok(u64::from_le_bytes(b))
}

fn read_i32(mem: &[u8], addr: u64) -> R<i32> {
    let r = range(mem, addr, 4)?;
    let mut b = [0u8; 4];
    b.copy_from_slice(&mem[r]);
    Ok(i32::from_le_bytes(b))
}

/// The NUL-terminated string at `addr` (lossy UTF-8).
pub(super) fn read_cstr(mem: &[u8], addr: u64) -> R<String> {
    let start = usize::try_from(addr).map_err(|_| exit("pointer out of range"))?;
    let tail = mem
        .get(start..)
        .ok_or_else(|| exit(format!("string pointer {addr:#x} out of bounds")))?;
    let len = tail
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| exit("unterminated string"))?;
    Ok(String::from_utf8_lossy(&tail[..len]).into_owned())
}

fn read_tm(mem: &[u8], addr: u64) -> R<Tm> {
    let f = |i: u64| read_i32(mem, addr + 4 * i);
    Ok(Tm {
        sec: f(0)?,
        min: f(1)?,
        hour: f(2)?,
        mday: f(3)?,
        mon: f(4)?,
        year: f(5)?,
        wday: f(6)?,
        yday: f(7)?,
        isdst: f(8)?,
        gmtoff: read_u64(mem, addr + 40)? as i64,
    })
}

fn write_tm(caller: &mut Cx<'_>, addr: u64, tm: &Tm, with_gmtoff: bool) -> R<()> {
    let mut bytes = Vec::with_capacity(48);
    for v in [
        tm.sec, tm.min, tm.hour, tm.mday, tm.mon, tm.year, tm.wday, tm.yday, tm.isdst,
    ] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_bytes(caller, addr, &bytes)?;
    if with_gmtoff {
        write_bytes(caller, addr + 40, &tm.gmtoff.to_le_bytes())?;
    }
    Ok(())
}

/// Is `env.name` / `wasi_snapshot_preview1.name` an import this host provides?
pub fn provides(module: &str, name: &str) -> bool {
    match module {
        "env" => ENV_FUNCS.contains(&name) || invoke_signature(name).is_some(),
        "wasi_snapshot_preview1" => WASI_FUNCS.contains(&name),
        _ => false,
    }
}

const ENV_FUNCS: &[&str] = &[
    "_emscripten_throw_longjmp",
    "__asyncjs__weavedrive_open",
    "__asyncjs__weavedrive_read",
    "__asyncjs__weavedrive_close",
    "strftime",
    "strftime_l",
    "exit",
    "__syscall_fcntl64",
    "__syscall_ioctl",
    "__syscall_dup3",
    "__syscall_unlinkat",
    "__syscall_rmdir",
    "__syscall_renameat",
    "__syscall_openat",
    "__syscall_readlinkat",
    "_abort_js",
    "_emscripten_memcpy_js",
    "emscripten_date_now",
    "_emscripten_get_now_is_monotonic",
    "_mktime_js",
    "_localtime_js",
    "_gmtime_js",
    "_tzset_js",
    "_emscripten_system",
    "emscripten_resize_heap",
];

const WASI_FUNCS: &[&str] = &[
    "fd_close",
    "fd_read",
    "fd_write",
    "fd_seek",
    "environ_sizes_get",
    "environ_get",
    "clock_time_get",
    "proc_exit",
];

/// Parameter and result types of an `invoke_<sig>` import: the first letter of `sig` is the
/// result (`v` none, `i` i32, `j` i64, `f` f32, `d` f64), the rest are the parameters after the
/// table index.
fn invoke_signature(name: &str) -> Option<(Vec<ValType>, Vec<ValType>)> {
    let sig = name.strip_prefix("invoke_")?;
    let ty = |c: char| match c {
        'i' => Some(ValType::I32),
        'j' => Some(ValType::I64),
        'f' => Some(ValType::F32),
        'd' => Some(ValType::F64),
        _ => None,
    };
    let mut chars = sig.chars();
    let results = match chars.next()? {
        'v' => vec![],
        c => vec![ty(c)?],
    };
    let params = chars.map(ty).collect::<Option<Vec<_>>>()?;
    Some((params, results))
}

/// Define every import of `module` in `linker`; an import this host does not provide is an error
/// naming it.
pub fn link(
    engine: &Engine,
    linker: &mut Linker<HostState>,
    module: &wasmtime::Module,
) -> Result<(), WasmError> {
    for import in module.imports() {
        let (m, n) = (import.module(), import.name());
        if !provides(m, n) {
            return Err(WasmError::UnknownImport {
                module: m.to_string(),
                name: n.to_string(),
            });
        }
        if !matches!(import.ty(), wasmtime::ExternType::Func(_)) {
            return Err(WasmError::UnknownImport {
                module: m.to_string(),
                name: format!("{n} (not a function)"),
            });
        }
        let defined = if let Some((params, results)) = invoke_signature(n).filter(|_| m == "env") {
            define_invoke(engine, linker, n, params, results)
        } else {
            define(linker, m, n)
        };
        defined.map_err(|e| WasmError::Host(format!("defining {m}.{n}: {e}")))?;
    }
    Ok(())
}

fn define_invoke(
    engine: &Engine,
    linker: &mut Linker<HostState>,
    name: &str,
    mut params: Vec<ValType>,
    results: Vec<ValType>,
) -> wasmtime::Result<()> {
    params.insert(0, ValType::I64);
    let ty = FuncType::new(engine, params, results);
    linker.func_new("env", name, ty, |mut caller, args, results| {
        let rt = runtime(&caller)?;
        let index = match args.first() {
            Some(Val::I64(i)) => *i as u64,
            _ => return Err(exit("invoke: bad table index")),
        };
        let (Some(table), Some(current), Some(restore), Some(set_threw)) =
            (rt.table, rt.stack_current, rt.stack_restore, rt.set_threw)
        else {
            return Err(exit(
                "invoke_*: module lacks __indirect_function_table, stack exports or setThrew",
            ));
        };
        let sp = current.call(&mut caller, ())?;
        let func = table
            .get(&mut caller, index)
            .and_then(|r| r.as_func().flatten().copied())
            .ok_or_else(|| exit(format!("invoke: no function at table index {index}")))?;
        match func.call(&mut caller, &args[1..], results) {
            Ok(()) => Ok(()),
            Err(e) if e.is::<Longjmp>() => {
                restore.call(&mut caller, sp)?;
                set_threw.call(&mut caller, (1, 0))?;
                for r in results.iter_mut() {
                    *r = Val::default_for_ty(&r.ty(&caller)?).unwrap_or(Val::I32(0));
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    })?;
    Ok(())
}

fn define(linker: &mut Linker<HostState>, m: &str, n: &str) -> wasmtime::Result<()> {
    match (m, n) {
        ("env", "_emscripten_throw_longjmp") => {
            linker.func_wrap(m, n, || -> R<()> { Err(wasmtime::Error::new(Longjmp)) })?
        }
        ("env", "__asyncjs__weavedrive_open") => linker.func_wrap(m, n, weavedrive::host::open)?,
        ("env", "__asyncjs__weavedrive_read") => linker.func_wrap(m, n, weavedrive::host::read)?,
        ("env", "__asyncjs__weavedrive_close") => {
            linker.func_wrap(m, n, weavedrive::host::close)?
        }
        ("env", "strftime") => linker.func_wrap(m, n, strftime)?,
        ("env", "strftime_l") => linker.func_wrap(
            m,
            n,
            |c: Cx<'_>, s: u64, max: u64, f: u64, tm: u64, _loc: u64| strftime(c, s, max, f, tm),
        )?,
        ("env", "exit") => linker.func_wrap(m, n, |code: i32| -> R<()> {
            Err(exit(format!("exit({code})")))
        })?,
        ("wasi_snapshot_preview1", "proc_exit") => {
            linker.func_wrap(m, n, |code: i32| -> R<()> {
                Err(exit(format!("proc_exit({code})")))
            })?
        }
        ("env", "_abort_js") => {
            linker.func_wrap(m, n, || -> R<()> { Err(exit("abort() called")) })?
        }
        ("env", "__syscall_fcntl64") => linker.func_wrap(m, n, |fd: i32, _: i32, _: u64| {
            if (0..=2).contains(&fd) {
                0
            } else {
                -errno::EBADF
            }
        })?,
        ("env", "__syscall_ioctl") => linker.func_wrap(m, n, |fd: i32, _: i32, _: u64| {
            if (0..=2).contains(&fd) {
                -errno::ENOTTY
            } else {
                -errno::EBADF
            }
        })?,
        ("env", "__syscall_dup3") => {
            linker.func_wrap(m, n, |_: i32, _: i32, _: i32| -errno::ENOSYS)?
        }
        ("env", "__syscall_unlinkat") => {
            linker.func_wrap(m, n, |_: i32, _: u64, _: i32| -errno::ENOENT)?
        }
        ("env", "__syscall_rmdir") => linker.func_wrap(m, n, |_: u64| -errno::ENOENT)?,
        ("env", "__syscall_renameat") => {
            linker.func_wrap(m, n, |_: i32, _: u64, _: i32, _: u64| -errno::ENOENT)?
        }
        ("env", "__syscall_openat") => {
            linker.func_wrap(m, n, |_: i32, _: u64, flags: i32, _: u64| {
                const O_ACCMODE: i32 = 3;
                const O_CREAT: i32 = 0o100;
                if flags & O_CREAT != 0 || flags & O_ACCMODE != 0 {
                    -errno::EROFS
                } else {
                    -errno::ENOENT
                }
            })?
        }
        ("env", "__syscall_readlinkat") => {
            linker.func_wrap(m, n, |_: i32, _: u64, _: u64, _: u64| -errno::ENOENT)?
        }
        ("env", "_emscripten_memcpy_js") => linker.func_wrap(
            m,
            n,
            |mut c: Cx<'_>, dest: u64, src: u64, len: u64| -> R<()> {
                let mem = memory(&mut c)?;
                let from = range(mem, src, len)?;
                let to = range(mem, dest, len)?;
                mem.copy_within(from, to.start);
                Ok(())
            },
        )?,
        ("env", "emscripten_date_now") => {
            linker.func_wrap(m, n, |c: Cx<'_>| c.data().clock_ms as f64)?
        }
        ("env", "_emscripten_get_now_is_monotonic") => linker.func_wrap(m, n, || 1i32)?,
        ("env", "_mktime_js") => linker.func_wrap(m, n, |mut c: Cx<'_>, tm: u64| -> R<i64> {
            let mut t = read_tm(memory(&mut c)?, tm)?;
            let seconds = timefmt::mktime(&mut t);
            if seconds != -1 {
                write_tm(&mut c, tm, &t, false)?;
            }
            Ok(seconds)
        })?,
        ("env", "_localtime_js") | ("env", "_gmtime_js") => {
            let local = n == "_localtime_js";
            linker.func_wrap(m, n, move |mut c: Cx<'_>, time: i64, tm: u64| -> R<()> {
                write_tm(&mut c, tm, &timefmt::gmtime(time), local)
            })?
        }
        ("env", "_tzset_js") => linker.func_wrap(
            m,
            n,
            |mut c: Cx<'_>, timezone: u64, daylight: u64, std: u64, dst: u64| -> R<()> {
                write_bytes(&mut c, timezone, &0u64.to_le_bytes())?;
                write_bytes(&mut c, daylight, &0i32.to_le_bytes())?;
                write_bytes(&mut c, std, b"UTC\0")?;
                write_bytes(&mut c, dst, b"UTC\0")
            },
        )?,
        ("env", "_emscripten_system") => {
            // No shell: `system(NULL)` is 0, any command fails with ENOSYS.
            linker.func_wrap(m, n, |cmd: u64| if cmd == 0 { 0 } else { -errno::ENOSYS })?
        }
        ("env", "emscripten_resize_heap") => linker.func_wrap(m, n, resize_heap)?,
        ("wasi_snapshot_preview1", "fd_close") => {
            linker.func_wrap(m, n, |mut c: Cx<'_>, fd: i32| {
                if let Some(answer) = weavedrive::host::fd_close(&mut c, fd) {
                    answer
                } else if (0..=2).contains(&fd) {
                    0
                } else {
                    errno::EBADF
                }
            })?
        }
        ("wasi_snapshot_preview1", "fd_read") => linker.func_wrap(
            m,
            n,
            |mut c: Cx<'_>, fd: i32, iovs: u64, len: u64, nread: u64| -> R<i32> {
                if let Some(answer) = weavedrive::host::fd_read(&mut c, fd, iovs, len, nread) {
                    return answer;
                }
                if fd != 0 {
                    return Ok(errno::EBADF);
                }
                write_bytes(&mut c, nread, &0u64.to_le_bytes())?;
                Ok(0)
            },
        )?,
        ("wasi_snapshot_preview1", "fd_write") => linker.func_wrap(
            m,
            n,
            |mut c: Cx<'_>, fd: i32, iovs: u64, len: u64, nwritten: u64| -> R<i32> {
                if fd != 1 && fd != 2 {
                    return Ok(errno::EBADF);
                }
                let mem = memory(&mut c)?;
                let mut total = 0u64;
                for i in 0..len.min(1 << 20) {
                    total = total.wrapping_add(read_u64(mem, iovs + 16 * i + 8)?);
                }
                write_bytes(&mut c, nwritten, &total.to_le_bytes())?;
                Ok(0)
            },
        )?,
        ("wasi_snapshot_preview1", "fd_seek") => linker.func_wrap(
            m,
            n,
            |mut c: Cx<'_>, fd: i32, offset: i64, whence: i32, new: u64| -> R<i32> {
                if let Some(answer) = weavedrive::host::fd_seek(&mut c, fd, offset, whence, new) {
                    return answer;
                }
                Ok(if (0..=2).contains(&fd) {
                    errno::ESPIPE
                } else {
                    errno::EBADF
                })
            },
        )?,
        ("wasi_snapshot_preview1", "environ_sizes_get") => {
            linker.func_wrap(m, n, |mut c: Cx<'_>, count: u64, size: u64| -> R<i32> {
                write_bytes(&mut c, count, &0u64.to_le_bytes())?;
                write_bytes(&mut c, size, &0u64.to_le_bytes())?;
                Ok(0)
            })?
        }
        ("wasi_snapshot_preview1", "environ_get") => {
            linker.func_wrap(m, n, |_: u64, _: u64| 0i32)?
        }
        ("wasi_snapshot_preview1", "clock_time_get") => linker.func_wrap(
            m,
            n,
            |mut c: Cx<'_>, _id: i32, _precision: i64, time: u64| -> R<i32> {
                let ns = c.data().clock_ms.saturating_mul(1_000_000);
                write_bytes(&mut c, time, &ns.to_le_bytes())?;
                Ok(0)
            },
        )?,
        _ => {
            return Err(wasmtime::Error::msg(format!("no host function {m}.{n}")));
        }
    };
    Ok(())
}

fn strftime(mut c: Cx<'_>, s: u64, maxsize: u64, format: u64, tm: u64) -> R<u64> {
    let mem = memory(&mut c)?;
    let t = read_tm(mem, tm)?;
    let zone_ptr = read_u64(mem, tm + 48)?;
    let zone = if zone_ptr == 0 {
        String::new()
    } else {
        read_cstr(mem, zone_ptr)?
    };
    let pattern = read_cstr(mem, format)?;
    let mut out = timefmt::strftime(&pattern, &t, &zone).into_bytes();
    out.push(0);
    if out.len() as u64 > maxsize {
        return Ok(0);
    }
    write_bytes(&mut c, s, &out)?;
    Ok(out.len() as u64 - 1)
}

/// emscripten's heap growth: over-allocate by 20% (then 10%, 5%) but at most 96 MiB beyond the
/// request, in 64 KiB pages, up to 16 GiB.
fn resize_heap(mut c: Cx<'_>, requested: u64) -> R<i32> {
    const PAGE: u64 = 65_536;
    const HEAP_MAX: u64 = 16 << 30;
    let memory = runtime(&c)?.memory;
    let old = memory.data_size(&c) as u64;
    if requested > HEAP_MAX {
        return Ok(0);
    }
    let mut cut_down = 1u64;
    while cut_down <= 4 {
        let over =
            (old as f64 * (1.0 + 0.2 / cut_down as f64)).min((requested + 96 * 1024 * 1024) as f64);
        let wanted = over.max(requested as f64);
        let aligned = (wanted / PAGE as f64).ceil() as u64 * PAGE;
        let new_size = aligned.min(HEAP_MAX);
        let pages = new_size.saturating_sub(old).div_ceil(PAGE);
        if memory.grow(&mut c, pages).is_ok() {
            return Ok(1);
        }
        cut_down *= 2;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_signatures() {
        let (p, r) = invoke_signature("invoke_vjj").unwrap();
        assert!(p.len() == 2 && p.iter().all(|t| matches!(t, ValType::I64)) && r.is_empty());
        let (p, r) = invoke_signature("invoke_idi").unwrap();
        assert_eq!((p.len(), r.len()), (2, 1));
        assert!(invoke_signature("invoke_x").is_none());
        assert!(provides("env", "invoke_iii"));
        assert!(!provides("env", "fork"));
        assert!(!provides("wasi_snapshot_preview1", "path_open"));
    }
}
