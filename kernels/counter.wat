;; Counter kernel: state that persists between messages. Each message adds one to a counter in
;; memory (address 512) and to a mutable global, and answers `{"data": "<memory counter>",
;; "global": "<global counter>"}`. A message whose JSON contains `!` traps after counting, so
;; a rollback must undo that count.
(module
  (memory (export "memory") i64 2)
  (global $base i64 (i64.const 65536))
  (global $bump (mut i64) (i64.const 65536))
  (global $live (mut i64) (i64.const 0))
  (global $count (mut i64) (i64.const 0))
  (data (i64.const 1024) "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"")
  (data (i64.const 1100) "\",\"global\":\"")
  (data (i64.const 1200) "\"},\"Messages\":[],\"Spawns\":[],\"Assignments\":[]}}\00")

  (func (export "malloc") (param $n i64) (result i64)
    (local $p i64)
    (local.set $p (global.get $bump))
    (if (i64.gt_u (i64.add (local.get $p) (local.get $n)) (i64.mul (memory.size) (i64.const 65536)))
      (then (if (i64.eq (memory.grow (i64.add (i64.div_u (local.get $n) (i64.const 65536)) (i64.const 1)))
                        (i64.const -1))
              (then (return (i64.const 0))))))
    (global.set $bump (i64.and (i64.add (i64.add (local.get $p) (local.get $n)) (i64.const 7)) (i64.const -8)))
    (global.set $live (i64.add (global.get $live) (i64.const 1)))
    (local.get $p))

  (func (export "free") (param $p i64)
    (if (i64.eqz (local.get $p)) (then (return)))
    (global.set $live (i64.sub (global.get $live) (i64.const 1)))
    (if (i64.eqz (global.get $live)) (then (global.set $bump (global.get $base)))))

  ;; Copy the NUL-terminated string at $src to $dst; returns the end of the copy.
  (func $copy (param $dst i64) (param $src i64) (result i64)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (local.get $src))))
        (i32.store8 (local.get $dst) (i32.load8_u (local.get $src)))
        (local.set $dst (i64.add (local.get $dst) (i64.const 1)))
        (local.set $src (i64.add (local.get $src) (i64.const 1)))
        (br $next)))
    (local.get $dst))

  ;; Write $v in decimal at $dst; returns the end.
  (func $utoa (param $dst i64) (param $v i64) (result i64)
    (local $digits i64) (local $t i64) (local $end i64)
    (local.set $digits (i64.const 1))
    (local.set $t (local.get $v))
    (block $done (loop $count
      (br_if $done (i64.lt_u (local.get $t) (i64.const 10)))
      (local.set $t (i64.div_u (local.get $t) (i64.const 10)))
      (local.set $digits (i64.add (local.get $digits) (i64.const 1)))
      (br $count)))
    (local.set $end (i64.add (local.get $dst) (local.get $digits)))
    (local.set $t (local.get $end))
    (loop $write
      (local.set $t (i64.sub (local.get $t) (i64.const 1)))
      (i64.store8 (local.get $t) (i64.add (i64.const 48) (i64.rem_u (local.get $v) (i64.const 10))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $write (i64.gt_u (local.get $t) (local.get $dst))))
    (local.get $end))

  (func $has_bang (param $p i64) (result i32)
    (local $c i32)
    (block $no
      (loop $next
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $no (i32.eqz (local.get $c)))
        (if (i32.eq (local.get $c) (i32.const 33)) (then (return (i32.const 1))))
        (local.set $p (i64.add (local.get $p) (i64.const 1)))
        (br $next)))
    (i32.const 0))

  (func (export "handle") (param $msg i64) (param $env i64) (result i64)
    (local $out i64) (local $at i64)
    (i64.store (i64.const 512) (i64.add (i64.load (i64.const 512)) (i64.const 1)))
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (if (call $has_bang (local.get $msg)) (then unreachable))
    (local.set $out (i64.const 4096))
    (local.set $at (call $copy (local.get $out) (i64.const 1024)))
    (local.set $at (call $utoa (local.get $at) (i64.load (i64.const 512))))
    (local.set $at (call $copy (local.get $at) (i64.const 1100)))
    (local.set $at (call $utoa (local.get $at) (global.get $count)))
    (local.set $at (call $copy (local.get $at) (i64.const 1200)))
    (i32.store8 (local.get $at) (i32.const 0))
    (local.get $out)))
