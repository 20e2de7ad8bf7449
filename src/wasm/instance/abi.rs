//! The AO process ABI as the host drives it: instantiate the module and find its exports, place
//! the message and environment strings in its memory, call `handle(msg, env)`, and find the
//! answer.

use std::ffi::CStr;

use wasmtime::{Global, Memory, Store, TypedFunc};

use super::input::MessageInput;
use super::result::{EvalResult, ResultError, read_result};
use crate::wasm::engine::WasmEngine;
use crate::wasm::error::WasmError;
use crate::wasm::host::{HostExit, HostState, Runtime};
use crate::wasm::inspect::Abi;
use crate::wasm::limits::Limits;
use crate::wasm::loaded::LoadedModule;

/// Why a call of the module's `handle` failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// wasmtime stopped the call: a trap, the fuel or epoch limit, or a host function's error.
    #[error("{0:#}")]
    Wasm(wasmtime::Error),
    /// The strings do not fit the emscripten stack, and the module exports no `malloc`.
    #[error("message too large for the stack")]
    TooLargeForStack,
    /// The module gave a string buffer outside its memory.
    #[error("string buffer at {0:#x} is out of bounds")]
    BufferOutOfBounds(u64),
    /// The answer is not an AO result.
    #[error(transparent)]
    Result(#[from] ResultError),
    /// No NUL-terminated answer at the address `handle` returned (a bare call's check).
    #[error("no NUL-terminated answer at {0:#x}")]
    NoAnswer(u64),
}

/// How the strings are placed: the functions of the module's ABI ([`Abi`]).
// One per process, read on every message: kept inline rather than boxed.
#[allow(clippy::large_enum_variant)]
enum Strings {
    Stack {
        alloc: TypedFunc<u64, u64>,
        restore: TypedFunc<u64, ()>,
        current: TypedFunc<(), u64>,
        end: TypedFunc<(), u64>,
        malloc: Option<TypedFunc<u64, u64>>,
        free: Option<TypedFunc<u64, ()>>,
    },
    Malloc {
        malloc: TypedFunc<u64, u64>,
        free: Option<TypedFunc<u64, ()>>,
    },
}

/// The exports of one instance that the host uses.
pub(super) struct Bound {
    /// The linear memory.
    pub(super) memory: Memory,
    handle: TypedFunc<(u64, u64), u64>,
    strings: Strings,
    /// The mutable globals a snapshot saves, in [`LoadedModule::globals`] order.
    pub(super) globals: Vec<Global>,
}

/// One instantiation of a module: its store (memory, fuel, host state) and its exports.
pub(super) struct Instance {
    /// The wasmtime store.
    pub(super) store: Store<HostState>,
    /// The exports in use.
    pub(super) bound: Bound,
}

impl Instance {
    /// Current memory size in bytes.
    pub(super) fn memory_bytes(&self) -> u64 {
        self.bound.memory.data_size(&self.store) as u64
    }
}

/// Replace `instance` with a new instantiation of `module` that keeps its WeaveDrive and open
/// files (host state the module's memory does not hold, as the reference keeps its file system
/// across the instance's life).
pub(super) fn reinstantiate(
    instance: &mut Instance,
    module: &LoadedModule,
    limits: &Limits,
    init: bool,
) -> Result<(), WasmError> {
    let mut fresh = instantiate(module, limits, init)?;
    let (old, new) = (instance.store.data_mut(), fresh.store.data_mut());
    new.drive = old.drive.take();
    new.files = std::mem::take(&mut old.files);
    *instance = fresh;
    Ok(())
}

fn host_err(what: &str) -> impl Fn(wasmtime::Error) -> WasmError + '_ {
    move |e| WasmError::Host(format!("{what}: {e:#}"))
}

/// A new store and instance of `module`; constructors run when `init` is set.
pub(super) fn instantiate(
    module: &LoadedModule,
    limits: &Limits,
    init: bool,
) -> Result<Instance, WasmError> {
    let mut store = Store::new(
        module.engine().engine(),
        HostState::new(limits.memory_bytes),
    );
    store.limiter(|s| &mut s.limiter);
    store.set_fuel(limits.compute).map_err(host_err("fuel"))?;
    store.epoch_deadline_trap();
    store.set_epoch_deadline(WasmEngine::ticks_for(limits.timeout));
    let instance = module.pre.instantiate(&mut store).map_err(|e| {
        if store.data().limiter.exceeded {
            WasmError::Instantiate(format!(
                "the module's initial memory exceeds the memory limit of {} bytes",
                limits.memory_bytes
            ))
        } else {
            WasmError::Instantiate(format!("{e:#}"))
        }
    })?;
    let missing = |name: &str, expected: &str| WasmError::MissingExport {
        name: name.into(),
        expected: expected.into(),
    };
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| missing("memory", "the linear memory"))?;
    let handle = instance
        .get_typed_func::<(u64, u64), u64>(&mut store, "handle")
        .map_err(|_| missing("handle", "a function (i64, i64) -> i64"))?;
    let mut func = |name: &str| instance.get_func(&mut store, name);
    let f_alloc = func("_emscripten_stack_alloc");
    let f_restore = func("_emscripten_stack_restore");
    let f_current = func("emscripten_stack_get_current");
    let f_end = func("emscripten_stack_get_end");
    let f_malloc = func("malloc");
    let f_free = func("free");
    let f_threw = func("setThrew");
    let f_ctors = func("__wasm_call_ctors");
    let table = instance.get_table(&mut store, "__indirect_function_table");
    let malloc = typed(f_malloc, &store);
    let free = typed(f_free, &store);
    let current = typed(f_current, &store);
    let restore = typed(f_restore, &store);
    let strings = match module.info.abi {
        Abi::Stack => Strings::Stack {
            alloc: typed(f_alloc, &store)
                .ok_or_else(|| missing("_emscripten_stack_alloc", "(i64) -> i64"))?,
            restore: restore
                .clone()
                .ok_or_else(|| missing("_emscripten_stack_restore", "(i64)"))?,
            current: current
                .clone()
                .ok_or_else(|| missing("emscripten_stack_get_current", "() -> i64"))?,
            end: typed(f_end, &store)
                .ok_or_else(|| missing("emscripten_stack_get_end", "() -> i64"))?,
            malloc,
            free,
        },
        Abi::Malloc { .. } => Strings::Malloc {
            malloc: malloc.ok_or_else(|| missing("malloc", "(i64) -> i64"))?,
            free,
        },
    };
    let mut globals = Vec::with_capacity(module.globals.len());
    for name in &module.globals {
        globals.push(
            instance
                .get_global(&mut store, name)
                .ok_or_else(|| missing(name, "a mutable global"))?,
        );
    }
    store.data_mut().runtime = Some(Runtime {
        memory,
        table,
        stack_current: current,
        stack_restore: restore,
        set_threw: typed(f_threw, &store),
    });
    if init && module.info.has_ctors {
        let ctors = f_ctors
            .and_then(|f| f.typed::<(), ()>(&store).ok())
            .ok_or_else(|| missing("__wasm_call_ctors", "() -> ()"))?;
        ctors
            .call(&mut store, ())
            .map_err(|e| WasmError::Init(format!("__wasm_call_ctors: {e:#}")))?;
    }
    let bound = Bound {
        memory,
        handle,
        strings,
        globals,
    };
    Ok(Instance { store, bound })
}

fn typed<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    f: Option<wasmtime::Func>,
    store: &Store<HostState>,
) -> Option<TypedFunc<P, R>> {
    f.and_then(|f| f.typed(store).ok())
}

/// Space the stack must keep free beyond the strings, for the call itself.
const STACK_MARGIN: u64 = 256 * 1024;

/// Place the strings, call `handle`, read and parse the answer.
pub(super) fn call_handle(
    instance: &mut Instance,
    input: &MessageInput,
    limits: &Limits,
    deadline_ticks: Option<u64>,
) -> Result<EvalResult, CallError> {
    let ret = call_handle_raw(instance, input, limits, deadline_ticks)?;
    Ok(read_result(&instance.store, instance.bound.memory, ret)?)
}

/// Place the strings, call `handle`, and measure the answer without parsing it: its length.
pub(super) fn call_handle_len(
    instance: &mut Instance,
    input: &MessageInput,
    limits: &Limits,
    deadline_ticks: Option<u64>,
) -> Result<usize, CallError> {
    let at = call_handle_raw(instance, input, limits, deadline_ticks)?;
    let mem = instance.bound.memory.data(&instance.store);
    let tail = usize::try_from(at).ok().and_then(|s| mem.get(s..));
    tail.and_then(|t| CStr::from_bytes_until_nul(t).ok())
        .map(|text| text.to_bytes().len())
        .ok_or(CallError::NoAnswer(at))
}

/// Place the strings and call `handle` under the limits; the answer's address.
fn call_handle_raw(
    instance: &mut Instance,
    input: &MessageInput,
    limits: &Limits,
    deadline_ticks: Option<u64>,
) -> Result<u64, CallError> {
    let Instance { store, bound } = instance;
    store.set_fuel(limits.compute).map_err(CallError::Wasm)?;
    store.set_epoch_deadline(deadline_ticks.unwrap_or(u64::MAX / 2));
    let host = store.data_mut();
    host.clock_ms = input.timestamp_ms;
    host.block_height = input.block_height;
    host.deadline = Some(std::time::Instant::now() + limits.timeout);
    let msg_len = input.message.len() as u64 + 1;
    let env_len = input.env.len() as u64 + 1;
    let ret = match &bound.strings {
        Strings::Stack {
            alloc,
            restore,
            current,
            end,
            malloc,
            free,
        } => {
            let sp = current.call(&mut *store, ()).map_err(CallError::Wasm)?;
            let limit = end.call(&mut *store, ()).map_err(CallError::Wasm)?;
            let room = sp.saturating_sub(limit);
            if room >= msg_len + env_len + 64 + STACK_MARGIN {
                let msg = alloc.call(&mut *store, msg_len).map_err(CallError::Wasm)?;
                write_cstr(store, bound.memory, msg, &input.message)?;
                let env = alloc.call(&mut *store, env_len).map_err(CallError::Wasm)?;
                write_cstr(store, bound.memory, env, &input.env)?;
                let ret = bound.handle.call(&mut *store, (msg, env));
                restore.call(&mut *store, sp).map_err(CallError::Wasm)?;
                ret
            } else if let Some(malloc) = malloc {
                // Larger than the stack can hold: the heap, freed afterwards.
                heap_call(store, bound, input, malloc, free.as_ref())
            } else {
                return Err(CallError::TooLargeForStack);
            }
        }
        Strings::Malloc { malloc, free } => heap_call(store, bound, input, malloc, free.as_ref()),
    }
    .map_err(CallError::Wasm)?;
    Ok(ret)
}

/// Place the strings with `malloc` (freed afterwards when the module exports `free`) and call
/// `handle`; a buffer out of bounds is reported as a host error here, as a trap.
fn heap_call(
    store: &mut Store<HostState>,
    bound: &Bound,
    input: &MessageInput,
    malloc: &TypedFunc<u64, u64>,
    free: Option<&TypedFunc<u64, ()>>,
) -> wasmtime::Result<u64> {
    let msg = malloc.call(&mut *store, input.message.len() as u64 + 1)?;
    let env = malloc.call(&mut *store, input.env.len() as u64 + 1)?;
    if msg == 0 || env == 0 {
        return Err(wasmtime::Error::new(HostExit(
            "malloc failed to place the message in memory".into(),
        )));
    }
    let as_wasm = |e: CallError| wasmtime::Error::msg(e.to_string());
    write_cstr(store, bound.memory, msg, &input.message).map_err(as_wasm)?;
    write_cstr(store, bound.memory, env, &input.env).map_err(as_wasm)?;
    let ret = bound.handle.call(&mut *store, (msg, env))?;
    if let Some(free) = free {
        free.call(&mut *store, env)?;
        free.call(&mut *store, msg)?;
    }
    Ok(ret)
}

/// Write `text` and a NUL at `at` in the memory.
fn write_cstr(
    store: &mut Store<HostState>,
    memory: Memory,
    at: u64,
    text: &str,
) -> Result<(), CallError> {
    let mem = memory.data_mut(store);
    let start = usize::try_from(at).ok();
    let slot = start
        .and_then(|s| mem.get_mut(s..s.checked_add(text.len() + 1)?))
        .ok_or(CallError::BufferOutOfBounds(at))?;
    slot[..text.len()].copy_from_slice(text.as_bytes());
    slot[text.len()] = 0;
    Ok(())
}
