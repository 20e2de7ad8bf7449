//! Loading modules: the cache compiles once, artefacts on disk are checked, and bad modules get
//! errors that name the problem.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;
mod wasm_common;

use std::sync::Arc;

use aocu::wasm::{ModuleCache, WasmEngine, WasmError};

fn load(wat: &str) -> Result<Arc<aocu::wasm::LoadedModule>, WasmError> {
    wasm_common::cache().load(&wat::parse_str(wat).unwrap())
}

const ABI: &str = r#"(memory (export "memory") i64 1)
    (func (export "malloc") (param i64) (result i64) i64.const 1024)"#;

#[test]
fn bad_modules_get_clear_errors() {
    let err = wasm_common::cache().load(b"hello, not wasm").unwrap_err();
    assert!(matches!(err, WasmError::NotWasm(_)), "{err}");

    if prereq::testdata("wasm/aos-dock.wasm").is_none() {
        return;
    }
    let dock = wasm_common::module_bytes("aos-dock.wasm");
    let err = wasm_common::cache()
        .load(&dock[..dock.len() / 2])
        .unwrap_err();
    assert!(matches!(err, WasmError::Invalid(_)), "{err}");

    let err = load(&format!("(module {ABI})")).unwrap_err();
    assert!(err.to_string().contains("`handle`"), "{err}");

    let err = load(&format!(
        r#"(module {ABI} (func (export "handle") (param i32 i32) (result i32) i32.const 0))"#
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("`handle`") && err.to_string().contains("another type"),
        "{err}"
    );

    let err = load(
        r#"(module (memory (export "memory") 1)
            (func (export "malloc") (param i64) (result i64) i64.const 0)
            (func (export "handle") (param i64 i64) (result i64) i64.const 0))"#,
    )
    .unwrap_err();
    assert!(
        matches!(err, WasmError::Memory(_)) && err.to_string().contains("32-bit"),
        "{err}"
    );

    let err = load(&format!(
        r#"(module (import "env" "fork" (func)) {ABI}
            (func (export "handle") (param i64 i64) (result i64) i64.const 0))"#
    ))
    .unwrap_err();
    assert!(err.to_string().contains("env.fork"), "{err}");

    let err = load(
        r#"(module (memory (export "memory") i64 1)
            (func (export "handle") (param i64 i64) (result i64) i64.const 0))"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("`malloc`"), "{err}");
}

#[test]
fn modules_compile_once() {
    let a = wasm_common::kernel("echo");
    let b = wasm_common::kernel("echo");
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn artefacts_are_reused_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let engine = WasmEngine::new().unwrap();
    let wasm =
        wat::parse_file(concat!(env!("CARGO_MANIFEST_DIR"), "/kernels/counter.wat")).unwrap();
    let first = ModuleCache::with_dir(engine.clone(), dir.path()).unwrap();
    let module = first.load(&wasm).unwrap();
    let path = aocu::wasm::cache::artefact_path(dir.path(), &module.hash);
    assert!(path.exists());
    // A second cache (a restarted node) reads the artefact instead of compiling.
    let second = ModuleCache::with_dir(engine.clone(), dir.path()).unwrap();
    assert!(second.read_artefact(&path, &module.hash).is_ok());
    let again = second.load(&wasm).unwrap();
    let mut p = wasm_common::spawn(again, None, None, 5_000);
    let out = p.evaluate(aocu::wasm::MessageInput::new(
        &wasm_common::message(1, &[], "x"),
        &wasm_common::env(&[]),
    ));
    assert_eq!(wasm_common::data(&out.result), "1");

    // Corruption is detected, named, and the module is compiled again.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = second.read_artefact(&path, &module.hash).unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    std::fs::write(&path, b"AOCUMOD1 hostile").unwrap();
    let err = second.read_artefact(&path, &module.hash).unwrap_err();
    assert!(matches!(err, WasmError::CacheFile { .. }), "{err}");
    let third = ModuleCache::with_dir(engine, dir.path()).unwrap();
    assert!(third.load(&wasm).is_ok());
    assert!(third.read_artefact(&path, &module.hash).is_ok());
}
