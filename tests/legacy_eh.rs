//! Tests of the legacy exception-handling translation (`aocu::wasm::legacy_eh`).
//!
//! Each case is a small module in the legacy text syntax, parsed with `wat`, translated, checked
//! to contain no legacy opcode any more, validated with wasmparser (standard exceptions,
//! memory64, no legacy exceptions) and run in wasmtime with exceptions enabled. The expected
//! values are worked out by hand from the legacy semantics and written in each test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;

use std::borrow::Cow;

use aocu::wasm::legacy_eh::{LegacyEhError, translate, uses_legacy_eh};
use wasmparser::{Validator, WasmFeatures};
use wasmtime::{Config, Engine, Instance, Module, Store, WasmParams, WasmResults};

/// Parses WAT (legacy syntax allowed) into a binary module.
fn wat(src: &str) -> Vec<u8> {
    match wat::parse_str(src) {
        Ok(bytes) => bytes,
        Err(e) => panic!("test WAT does not parse: {e}"),
    }
}

/// The features of the translated module: standard exceptions, no legacy ones.
fn output_features() -> WasmFeatures {
    (WasmFeatures::default()
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::MEMORY64
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::GC)
        - WasmFeatures::LEGACY_EXCEPTIONS
}

fn engine() -> Engine {
    let mut config = Config::new();
    config.wasm_exceptions(true);
    Engine::new(&config).unwrap()
}

/// Translates, checks that nothing legacy is left and that the result validates.
fn translated(src: &str) -> Vec<u8> {
    let input = wat(src);
    assert!(
        uses_legacy_eh(&input).unwrap(),
        "the test module should use legacy EH"
    );
    let out = match translate(&input) {
        Ok(Cow::Owned(out)) => out,
        Ok(Cow::Borrowed(_)) => panic!("a module with legacy EH came back unchanged"),
        Err(e) => panic!("translation failed: {e}"),
    };
    assert!(
        !uses_legacy_eh(&out).unwrap(),
        "legacy opcodes left after translation"
    );
    if let Err(e) = Validator::new_with_features(output_features()).validate_all(&out) {
        panic!("translated module does not validate: {e}");
    }
    out
}

/// A translated module instantiated in wasmtime.
struct Run {
    store: Store<()>,
    instance: Instance,
}

impl Run {
    fn new(src: &str) -> Run {
        let engine = engine();
        let module = Module::new(&engine, translated(src)).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        Run { store, instance }
    }

    fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &str,
        params: P,
    ) -> wasmtime::Result<R> {
        let f = self
            .instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .unwrap();
        f.call(&mut self.store, params)
    }

    fn i32(&mut self, name: &str, arg: i32) -> i32 {
        self.call::<(i32,), i32>(name, (arg,)).unwrap()
    }
}

#[test]
fn catch_tag_with_values() {
    let mut r = Run::new(
        r#"(module
          (tag $e (param i32 i64))
          (func (export "f") (param i32) (result i64) (local $x i64)
            try (result i64)
              local.get 0
              if
                local.get 0
                i64.const 40
                throw $e
              end
              i64.const 7
            catch $e
              local.set $x
              i64.extend_i32_s
              local.get $x
              i64.add
            end))"#,
    );
    assert_eq!(r.call::<(i32,), i64>("f", (0,)).unwrap(), 7);
    assert_eq!(r.call::<(i32,), i64>("f", (2,)).unwrap(), 42);
    assert_eq!(r.call::<(i32,), i64>("f", (-50,)).unwrap(), -10);
}

#[test]
fn catch_all_catches_any_tag() {
    let mut r = Run::new(
        r#"(module
          (tag $a (param i32))
          (tag $b)
          (func $thrower (param i32)
            local.get 0
            i32.eqz
            if
              i32.const 1
              throw $a
            end
            local.get 0
            i32.const 1
            i32.eq
            if
              throw $b
            end)
          (func (export "f") (param i32) (result i32)
            try (result i32)
              local.get 0
              call $thrower
              i32.const 5
            catch_all
              i32.const 99
            end))"#,
    );
    assert_eq!(r.i32("f", 0), 99);
    assert_eq!(r.i32("f", 1), 99);
    assert_eq!(r.i32("f", 2), 5);
}

#[test]
fn several_catches_pick_the_first_matching() {
    let mut r = Run::new(
        r#"(module
          (tag $a (param i32))
          (tag $b (param f32))
          (tag $c)
          (func (export "f") (param i32) (result i32)
            try (result i32)
              block
                block
                  block
                    local.get 0
                    br_table 0 1 2 2
                  end
                  i32.const 10
                  throw $a
                end
                f32.const 2.75
                throw $b
              end
              local.get 0
              i32.const 2
              i32.eq
              if
                throw $c
              end
              i32.const 1000
            catch $a
              i32.const 100
              i32.add
            catch $b
              i32.trunc_f32_s
              i32.const 200
              i32.add
            catch_all
              i32.const 300
            end))"#,
    );
    assert_eq!(r.i32("f", 0), 110);
    assert_eq!(r.i32("f", 1), 202);
    assert_eq!(r.i32("f", 2), 300);
    assert_eq!(r.i32("f", 3), 1000);
}

#[test]
fn uncaught_tag_propagates_to_the_host() {
    let mut r = Run::new(
        r#"(module
          (tag $a (param i32))
          (tag $b (param i32))
          (func (export "f") (param i32) (result i32)
            try (result i32)
              local.get 0
              throw $b
            catch $a
            end))"#,
    );
    assert!(r.call::<(i32,), i32>("f", (1,)).is_err());
}

#[test]
fn nested_trys() {
    let mut r = Run::new(
        r#"(module
          (tag $a (param i32))
          (tag $b (param i32))
          (func (export "f") (param i32) (result i32)
            try (result i32)
              try (result i32)
                local.get 0
                i32.const 1
                i32.eq
                if
                  i32.const 1
                  throw $a
                end
                local.get 0
                i32.const 2
                i32.eq
                if
                  i32.const 2
                  throw $b
                end
                i32.const 3
              catch $a
                ;; the inner handler turns $a into $b
                i32.const 10
                i32.add
                throw $b
              end
            catch $b
              i32.const 100
              i32.add
            end))"#,
    );
    assert_eq!(r.i32("f", 0), 3);
    assert_eq!(r.i32("f", 1), 111);
    assert_eq!(r.i32("f", 2), 102);
}

#[test]
fn rethrow_depth_zero() {
    let mut r = Run::new(
        r#"(module
          (tag $a (param i32))
          (global $seen (mut i32) (i32.const 0))
          (func (export "f") (param i32) (result i32)
            try (result i32)
              try (result i32)
                local.get 0
                throw $a
              catch $a
                global.set $seen
                rethrow 0
              end
            catch $a
              i32.const 1000
              i32.add
              global.get $seen
              i32.add
            end)
          (func (export "g") (param i32) (result i32)
            try (result i32)
              try (result i32)
                local.get 0
                throw $a
              catch_all
                rethrow 0
              end
            catch $a
              i32.const 2
              i32.mul
            end))"#,
    );
    assert_eq!(r.i32("f", 5), 1010);
    assert_eq!(r.i32("g", 21), 42);
}

#[test]
fn rethrow_deeper_labels() {
    let mut r = Run::new(
        r#"(module
          (tag $a (param i32))
          (tag $b (param f32))
          ;; rethrow 1 from a nested catch rethrows the outer exception ($a 7)
          (func $inner (result i32)
            try (result i32)
              i32.const 7
              throw $a
            catch $a
              drop
              try (result i32)
                f32.const 3
                throw $b
              catch $b
                drop
                block
                  rethrow 2
                end
                i32.const 0
              end
            end)
          (func (export "f") (result i32)
            try (result i32)
              call $inner
            catch $a
              i32.const 1000
              i32.add
            catch $b
              drop
              i32.const -1
            end)
          ;; two rethrow targets nested: each keeps its own exception
          (func $two (param i32) (result i32)
            try (result i32)
              i32.const 1
              throw $a
            catch $a
              drop
              try (result i32)
                i32.const 2
                throw $a
              catch $a
                drop
                local.get 0
                if
                  rethrow 2 ;; the `if` is label 0, this try 1, the outer try 2
                end
                rethrow 0
              end
            end)
          (func (export "two") (param i32) (result i32)
            try (result i32)
              local.get 0
              call $two
            catch $a
            end)
          ;; rethrow from the protected body of a nested try is caught by that try
          (func (export "h") (result i32)
            try (result i32)
              i32.const 9
              throw $a
            catch $a
              drop
              try (result i32)
                rethrow 1
              catch $a
                i32.const 500
                i32.add
              end
            end))"#,
    );
    assert_eq!(r.call::<(), i32>("f", ()).unwrap(), 1007);
    assert_eq!(r.i32("two", 1), 1);
    assert_eq!(r.i32("two", 0), 2);
    assert_eq!(r.call::<(), i32>("h", ()).unwrap(), 509);
}

#[test]
fn delegate_to_an_outer_try_skips_the_ones_between() {
    let mut r = Run::new(
        r#"(module
          (tag $a (param i32))
          (func (export "skip") (result i32)
            try (result i32)
              try (result i32)
                try
                  i32.const 5
                  throw $a
                delegate 1
                i32.const 0
              catch $a
                i32.const 200
                i32.add
              end
            catch $a
              i32.const 100
              i32.add
            end)
          (func (export "next") (result i32)
            try (result i32)
              try (result i32)
                try
                  i32.const 5
                  throw $a
                delegate 0
                i32.const 0
              catch $a
                i32.const 200
                i32.add
              end
            catch $a
              i32.const 100
              i32.add
            end)
          ;; a delegate to a block resolves to the try around the block
          (func (export "block") (result i32)
            try (result i32)
              block $blk
                try (result i32)
                  try
                    i32.const 6
                    throw $a
                  delegate $blk
                  i32.const 0
                catch $a
                  i32.const 200
                  i32.add
                end
                drop
              end
              i32.const 0
            catch $a
              i32.const 300
              i32.add
            end)
          ;; a delegate from a catch clause of its target passes that try by
          (func (export "from_catch") (result i32)
            try (result i32)
              try (result i32)
                i32.const 1
                throw $a
              catch $a
                try
                  i32.const 8
                  throw $a
                delegate 0
              end
            catch $a
              i32.const 400
              i32.add
            end)
          ;; a chain: delegate into a try that delegates further
          (func (export "chain") (result i32)
            try (result i32)
              try (result i32)
                try
                  try
                    i32.const 4
                    throw $a
                  delegate 0
                delegate 1
                i32.const 0
              catch $a
                i32.const 200
                i32.add
              end
            catch $a
              i32.const 600
              i32.add
            end)
          ;; no exception: the delegating try and its target complete normally
          (func (export "normal") (param i32) (result i32)
            try (result i32)
              try (result i32)
                local.get 0
                i32.const 1
                i32.add
              delegate 0
            catch_all
              i32.const -1
            end))"#,
    );
    assert_eq!(r.call::<(), i32>("skip", ()).unwrap(), 105);
    assert_eq!(r.call::<(), i32>("next", ()).unwrap(), 205);
    assert_eq!(r.call::<(), i32>("block", ()).unwrap(), 306);
    assert_eq!(r.call::<(), i32>("from_catch", ()).unwrap(), 408);
    assert_eq!(r.call::<(), i32>("chain", ()).unwrap(), 604);
    assert_eq!(r.i32("normal", 41), 42);
}

#[test]
fn delegate_to_the_caller() {
    let mut r = Run::new(
        r#"(module
          (tag $a (param i32))
          (func $inner (param i32) (result i32)
            try (result i32)
              try
                local.get 0
                if
                  i32.const 9
                  throw $a
                end
              delegate 1
              i32.const 3
            catch_all
              i32.const 1
            end)
          (func (export "f") (param i32) (result i32)
            try (result i32)
              local.get 0
              call $inner
            catch $a
              i32.const 50
              i32.add
            end))"#,
    );
    assert_eq!(r.i32("f", 1), 59);
    assert_eq!(r.i32("f", 0), 3);
}

#[test]
fn exceptions_cross_functions() {
    let mut r = Run::new(
        r#"(module
          (tag $a (param i32))
          (tag $b (param i32))
          (func $c (param i32)
            local.get 0
            throw $a)
          ;; a handler for another tag lets $a through; catch_all + rethrow keeps it intact
          (func $b (param i32) (result i32)
            try (result i32)
              try (result i32)
                local.get 0
                call $c
                i32.const 0
              catch $b
              end
            catch_all
              rethrow 0
            end)
          (func (export "f") (param i32) (result i32)
            try (result i32)
              local.get 0
              call $b
            catch $a
              i32.const 1
              i32.add
            end))"#,
    );
    assert_eq!(r.i32("f", 41), 42);
}

#[test]
fn try_with_block_params_and_results() {
    let mut r = Run::new(
        r#"(module
          (type $t (func (param i32 i32) (result i32)))
          (type $m (func (param i32) (result i32 i32)))
          (tag $a (param i32))
          (tag $p (param i32 i32))
          (func (export "params") (param $flag i32) (result i32) (local $x i32)
            i32.const 3
            i32.const 4
            try (type $t)
              i32.add
              local.tee $x
              local.get $flag
              if
                local.get $x
                throw $a
              end
            catch $a
              i32.const 1000
              i32.add
            end)
          (func (export "multi") (param $flag i32) (result i32)
            local.get $flag
            try (type $m)
              local.tee $flag
              i32.const 10
              local.get $flag
              if
                i32.const 50
                i32.const 8
                throw $p
              end
            catch $p
            end
            i32.sub)
          ;; params into a try that is a delegate target and a rethrow target
          (func (export "both") (param $flag i32) (result i32) (local $x i32)
            try (result i32)
              i32.const 5
              i32.const 6
              try (type $t)
                try (type $t)
                  i32.mul
                  local.tee $x
                  local.get $flag
                  if
                    local.get $x
                    throw $a
                  end
                delegate 0
              catch $a
                rethrow 0
              end
            catch $a
              i32.const 1
              i32.add
            end))"#,
    );
    assert_eq!(r.i32("params", 0), 7);
    assert_eq!(r.i32("params", 1), 1007);
    assert_eq!(r.i32("multi", 0), -10);
    assert_eq!(r.i32("multi", 1), 42);
    assert_eq!(r.i32("multi", 2), 42);
    assert_eq!(r.i32("both", 0), 30);
    assert_eq!(r.i32("both", 1), 31);
}

#[test]
fn trys_in_loops_with_branches_out_of_bodies_and_clauses() {
    let mut r = Run::new(
        r#"(module
          (tag $a (param i32))
          (func (export "f") (param $n i32) (result i32) (local $i i32) (local $acc i32)
            block $exit
              loop $l
                try
                  local.get $i
                  i32.const 1
                  i32.add
                  local.set $i
                  local.get $i
                  local.get $n
                  i32.ge_s
                  br_if $exit
                  local.get $i
                  i32.const 2
                  i32.rem_s
                  i32.eqz
                  if
                    local.get $i
                    throw $a
                  end
                  local.get $acc
                  i32.const 1
                  i32.add
                  local.set $acc
                  br $l
                catch $a
                  i32.const 10
                  i32.mul
                  local.get $acc
                  i32.add
                  local.set $acc
                  local.get $acc
                  i32.const 1000
                  i32.gt_s
                  br_if $exit
                  br $l
                end
              end
            end
            local.get $acc)
          ;; a value carried by br out of a catch clause, and br_table in one
          (func (export "g") (param i32) (result i32)
            block $out (result i32)
              try (result i32)
                local.get 0
                throw $a
              catch $a
                local.tee 0
                local.get 0
                br_table $out 0 $out
              end
              i32.const 77
              i32.add
            end))"#,
    );
    // i = 1..9 are handled: odd ones add 1 (5), even ones add 10*i via the catch (200).
    assert_eq!(r.i32("f", 10), 205);
    // Until acc > 1000, checked in the catch: after i = 2k, acc = k + 10*k*(k+1); k = 10 is
    // the first over: 10 + 1100.
    assert_eq!(r.i32("f", 100), 1110);
    assert_eq!(r.i32("g", 0), 0);
    assert_eq!(r.i32("g", 1), 78);
    assert_eq!(r.i32("g", 5), 5);
}

#[test]
fn catch_less_try_and_unreachable_bodies() {
    let mut r = Run::new(
        r#"(module
          (tag $a (param i32))
          (func (export "f") (param i32) (result i32)
            try (result i32)
              try (result i32)
                local.get 0
                i32.eqz
                if
                  i32.const 4
                  throw $a
                end
                i32.const 1
              end
              try
                nop
              catch_all
              end
            catch $a
            end)
          ;; a catch-less try as a delegate target lets the exception out to the try around it
          (func (export "target") (result i32)
            try (result i32)
              try
                try
                  i32.const 2
                  throw $a
                delegate 0
              end
              i32.const 0
            catch $a
              i32.const 700
              i32.add
            end)
          (func (export "dead") (result i32)
            try (result i32)
              i32.const 1
              throw $a
              try
                i32.const 0
                drop
              delegate 0
            catch $a
              return
              try
              catch_all
                rethrow 0
              end
            end))"#,
    );
    assert_eq!(r.i32("f", 0), 4);
    assert_eq!(r.i32("f", 1), 1);
    assert_eq!(r.call::<(), i32>("target", ()).unwrap(), 702);
    assert_eq!(r.call::<(), i32>("dead", ()).unwrap(), 1);
}

#[test]
fn modules_without_legacy_eh_come_back_borrowed() {
    let input = wat(r#"(module
        (tag $a (param i32))
        (func (export "f") (result i32)
          block $h (result i32)
            try_table (catch $a $h)
              i32.const 1
              throw $a
            end
            i32.const 0
          end))"#);
    assert!(!uses_legacy_eh(&input).unwrap());
    assert!(matches!(translate(&input).unwrap(), Cow::Borrowed(_)));
}

#[test]
fn standard_try_table_next_to_legacy_code() {
    let mut r = Run::new(
        r#"(module
          (tag $a (param i32))
          (func (export "f") (result i32)
            block $h (result i32)
              try_table (catch $a $h)
                try
                  i32.const 3
                  throw $a
                delegate 0
              end
              i32.const 0
            end
            i32.const 10
            i32.add))"#,
    );
    assert_eq!(r.call::<(), i32>("f", ()).unwrap(), 13);
}

#[test]
fn bad_input_gives_clear_errors() {
    let err = translate(b"not wasm at all").unwrap_err();
    assert!(matches!(err, LegacyEhError::Invalid { .. }), "{err}");
    // A rethrow whose label is not a catch clause is invalid, not translated.
    let mut bytes = wat(r#"(module (tag $a) (func try catch $a rethrow 0 end))"#);
    // Patch `rethrow 0` (0x09 0x00) into `rethrow 1`: that label is the function, not a catch.
    let pos = bytes.windows(2).rposition(|w| w == [0x09, 0x00]).unwrap();
    bytes[pos + 1] = 0x01;
    let err = translate(&bytes).unwrap_err();
    assert!(matches!(err, LegacyEhError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("offset"), "{err}");
    // Truncated module.
    let good = wat(r#"(module (tag $a) (func try catch $a end))"#);
    assert!(translate(&good[..good.len() - 3]).is_err());
}

/// `aos-2-pure.wasm` uses one legacy `try` with one `catch` of tag 0 (in
/// `luaD_rawrunprotected`) and two `throw`s of that tag; no `catch_all`, `delegate` or `rethrow`.
#[test]
fn aos_2_pure_translates_validates_and_compiles() {
    let Some(path) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let input = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(uses_legacy_eh(&input).unwrap());
    let out = translate(&input).unwrap();
    assert!(matches!(out, Cow::Owned(_)));
    assert!(!uses_legacy_eh(&out).unwrap());
    Validator::new_with_features(output_features())
        .validate_all(&out)
        .unwrap();
    Module::new(&engine(), &out).unwrap();
}

#[test]
fn untranslatable_constructs_are_rejected_with_function_and_offset() {
    // A stack-switching handler table inside a function using legacy try: its labels would need
    // remapping this translator does not do, so the function is refused, not mistranslated.
    let input = wat(r#"(module
        (type $f (func))
        (type $c (cont $f))
        (tag $t)
        (func $g)
        (elem declare func $g)
        (func
          try
            block $b (result (ref $c))
              ref.func $g
              cont.new $c
              resume $c (on $t $b)
              return
            end
            drop
          catch $t
          end))"#);
    let err = translate(&input).unwrap_err();
    let LegacyEhError::Untranslatable {
        func_index,
        offset,
        construct,
    } = &err
    else {
        panic!("expected Untranslatable, got {err}");
    };
    assert_eq!(*func_index, 1, "{err}");
    assert!(*offset > 0 && construct.contains("handler table"), "{err}");
    assert!(err.to_string().contains("function 1"), "{err}");
}
