;; Memory-grower kernel: each message grows memory by 16 pages (1 MiB) and writes to the new
;; pages, answering `{"data": "<pages>"}`. When memory cannot grow (the process' memory limit),
;; the message traps, so the limit ends it and a rollback must restore the previous size.
(module
  (memory (export "memory") i64 2)
  (global $bump (mut i64) (i64.const 65536))
  (data (i64.const 1024) "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"\00")
  (data (i64.const 1100) "\"},\"Messages\":[],\"Spawns\":[],\"Assignments\":[]}}\00")

  (func (export "malloc") (param $n i64) (result i64)
    (local $p i64)
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

  (func (export "handle") (param $msg i64) (param $env i64) (result i64)
    (local $old i64) (local $at i64)
    (local.set $old (memory.grow (i64.const 16)))
    (if (i64.eq (local.get $old) (i64.const -1)) (then unreachable))
    ;; Touch the last byte of the new pages.
    (i32.store8 (i64.sub (i64.mul (memory.size) (i64.const 65536)) (i64.const 1)) (i32.const 1))
    (local.set $at (call $copy (i64.const 8192) (i64.const 1024)))
    (local.set $at (call $utoa (local.get $at) (memory.size)))
    (local.set $at (call $copy (local.get $at) (i64.const 1100)))
    (i32.store8 (local.get $at) (i32.const 0))
    (i64.const 8192)))
