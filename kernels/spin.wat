;; CPU-heavy kernel: each message runs a loop of 1,000,000 iterations (a checksum) and answers
;; `{"data": "<checksum>"}`; a message whose JSON contains `!` loops forever, so only the compute
;; limit or the timeout can end it.
(module
  (memory (export "memory") i64 2)
  (global $bump (mut i64) (i64.const 65536))
  (data (i64.const 1024) "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"\00")
  (data (i64.const 1100) "\"},\"Messages\":[],\"Spawns\":[],\"Assignments\":[]}}\00")

  (func (export "malloc") (param $n i64) (result i64)
    (local $p i64)
    ;; Strings are only needed during one call: reuse the same region every time.
    (local.set $p (global.get $bump))
    (global.set $bump (i64.and (i64.add (i64.add (local.get $p) (local.get $n)) (i64.const 7)) (i64.const -8)))
    (if (i64.gt_u (global.get $bump) (i64.const 131072)) (then (global.set $bump (i64.const 65536)) (return (i64.const 0))))
    (local.get $p))
  (func (export "free") (param $p i64) (global.set $bump (i64.const 65536)))

  (func $copy (param $dst i64) (param $src i64) (result i64)
    (block $done (loop $next
      (br_if $done (i32.eqz (i32.load8_u (local.get $src))))
      (i32.store8 (local.get $dst) (i32.load8_u (local.get $src)))
      (local.set $dst (i64.add (local.get $dst) (i64.const 1)))
      (local.set $src (i64.add (local.get $src) (i64.const 1)))
      (br $next)))
    (local.get $dst))

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

  (func $forever (param $p i64) (result i32)
    (local $c i32)
    (block $no (loop $next
      (local.set $c (i32.load8_u (local.get $p)))
      (br_if $no (i32.eqz (local.get $c)))
      (if (i32.eq (local.get $c) (i32.const 33)) (then (return (i32.const 1))))
      (local.set $p (i64.add (local.get $p) (i64.const 1)))
      (br $next)))
    (i32.const 0))

  (func (export "handle") (param $msg i64) (param $env i64) (result i64)
    (local $i i64) (local $sum i64) (local $at i64)
    (if (call $forever (local.get $msg)) (then (loop $ever (br $ever))))
    (loop $spin
      (local.set $sum (i64.add (i64.mul (local.get $sum) (i64.const 31)) (local.get $i)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $spin (i64.lt_u (local.get $i) (i64.const 1000000))))
    (local.set $at (call $copy (i64.const 8192) (i64.const 1024)))
    (local.set $at (call $utoa (local.get $at) (i64.shr_u (local.get $sum) (i64.const 1))))
    (local.set $at (call $copy (local.get $at) (i64.const 1100)))
    (i32.store8 (local.get $at) (i32.const 0))
    (i64.const 8192)))
