;; Echo kernel: answers every message with its own message JSON as `Output`.
;; Speaks the AO process ABI: `malloc`/`free`, `handle(msg, env) -> result`, NUL-terminated JSON.
;; Allocation is a bump pointer that resets when every block has been freed, so the host's
;; malloc-call-free sequence leaves no garbage behind.
(module
  (memory (export "memory") i64 2)
  (global $base i64 (i64.const 65536))
  (global $bump (mut i64) (i64.const 65536))
  (global $live (mut i64) (i64.const 0))
  (data (i64.const 1024) "{\"ok\":true,\"response\":{\"Output\":")
  (data (i64.const 1100) ",\"Messages\":[],\"Spawns\":[],\"Assignments\":[]}}\00")

  ;; Make sure [0, end) is inside memory; false when memory cannot grow.
  (func $reserve (param $end i64) (result i32)
    (local $have i64)
    (local.set $have (i64.mul (memory.size) (i64.const 65536)))
    (if (i64.le_u (local.get $end) (local.get $have)) (then (return (i32.const 1))))
    (i64.ne
      (memory.grow (i64.div_u (i64.add (i64.sub (local.get $end) (local.get $have)) (i64.const 65535))
                              (i64.const 65536)))
      (i64.const -1)))

  (func (export "malloc") (param $n i64) (result i64)
    (local $p i64)
    (local.set $p (global.get $bump))
    (if (i32.eqz (call $reserve (i64.add (local.get $p) (local.get $n)))) (then (return (i64.const 0))))
    (global.set $bump (i64.and (i64.add (i64.add (local.get $p) (local.get $n)) (i64.const 7)) (i64.const -8)))
    (global.set $live (i64.add (global.get $live) (i64.const 1)))
    (local.get $p))

  (func (export "free") (param $p i64)
    (if (i64.eqz (local.get $p)) (then (return)))
    (global.set $live (i64.sub (global.get $live) (i64.const 1)))
    (if (i64.eqz (global.get $live)) (then (global.set $bump (global.get $base)))))

  (func $strlen (param $p i64) (result i64)
    (local $q i64)
    (local.set $q (local.get $p))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (local.get $q))))
        (local.set $q (i64.add (local.get $q) (i64.const 1)))
        (br $next)))
    (i64.sub (local.get $q) (local.get $p)))

  (func (export "handle") (param $msg i64) (param $env i64) (result i64)
    (local $out i64) (local $len i64) (local $at i64) (local $pre i64) (local $post i64)
    (local.set $pre (call $strlen (i64.const 1024)))
    (local.set $post (i64.add (call $strlen (i64.const 1100)) (i64.const 1)))
    (local.set $len (call $strlen (local.get $msg)))
    (local.set $out (global.get $bump))
    (if (i32.eqz (call $reserve (i64.add (local.get $out)
                   (i64.add (local.get $len) (i64.add (local.get $pre) (local.get $post))))))
      (then unreachable))
    (memory.copy (local.get $out) (i64.const 1024) (local.get $pre))
    (local.set $at (i64.add (local.get $out) (local.get $pre)))
    (memory.copy (local.get $at) (local.get $msg) (local.get $len))
    (local.set $at (i64.add (local.get $at) (local.get $len)))
    (memory.copy (local.get $at) (i64.const 1100) (local.get $post))
    (local.get $out)))
