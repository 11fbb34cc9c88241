;; murmur3_x64_128 (seed 0), continued from an absorbed prefix: the body of HashPrefix.bucket.
;; Native 64-bit multiplies instead of JavaScript's 16-bit emulation of them.
;;
;; Memory: bytes [0, 16) receive the result as four 32-bit words [h1hi, h1lo, h2hi, h2lo];
;; the bytes to hash start at 16; whatever follows them is masked off (not read as key bytes).
;; hash(h1hi, h1lo, h2hi, h2lo, len, total, n): the state after the prefix's whole blocks, the
;; number of bytes at 16 (the prefix's tail, then the unit), the whole key's length, and a
;; bucket count n in [1, 2^31); returns the bucket (h1 >>> 4) mod n, unsigned 64-bit.
(module
  (memory (export "memory") 1)
  (func $fmix (param $k i64) (result i64)
    (local.set $k (i64.xor (local.get $k) (i64.shr_u (local.get $k) (i64.const 33))))
    (local.set $k (i64.mul (local.get $k) (i64.const 0xff51afd7ed558ccd)))
    (local.set $k (i64.xor (local.get $k) (i64.shr_u (local.get $k) (i64.const 33))))
    (local.set $k (i64.mul (local.get $k) (i64.const 0xc4ceb9fe1a85ec53)))
    (i64.xor (local.get $k) (i64.shr_u (local.get $k) (i64.const 33))))
  (func (export "hash") (param $h1hi i32) (param $h1lo i32) (param $h2hi i32) (param $h2lo i32) (param $len i32) (param $total i32) (param $n i32) (result i32)
    (local $h1 i64) (local $h2 i64) (local $k1 i64) (local $k2 i64) (local $p i32) (local $end i32) (local $rem i32)
    (local.set $h1 (i64.or (i64.shl (i64.extend_i32_u (local.get $h1hi)) (i64.const 32)) (i64.extend_i32_u (local.get $h1lo))))
    (local.set $h2 (i64.or (i64.shl (i64.extend_i32_u (local.get $h2hi)) (i64.const 32)) (i64.extend_i32_u (local.get $h2lo))))
    (local.set $p (i32.const 16))
    (local.set $end (i32.add (i32.const 16) (i32.and (local.get $len) (i32.const -16))))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $k1 (i64.load (local.get $p)))
        (local.set $k2 (i64.load offset=8 (local.get $p)))
        (local.set $k1 (i64.mul (i64.rotl (i64.mul (local.get $k1) (i64.const 0x87c37b91114253d5)) (i64.const 31)) (i64.const 0x4cf5ad432745937f)))
        (local.set $h1 (i64.xor (local.get $h1) (local.get $k1)))
        (local.set $h1 (i64.add (i64.rotl (local.get $h1) (i64.const 27)) (local.get $h2)))
        (local.set $h1 (i64.add (i64.mul (local.get $h1) (i64.const 5)) (i64.const 0x52dce729)))
        (local.set $k2 (i64.mul (i64.rotl (i64.mul (local.get $k2) (i64.const 0x4cf5ad432745937f)) (i64.const 33)) (i64.const 0x87c37b91114253d5)))
        (local.set $h2 (i64.xor (local.get $h2) (local.get $k2)))
        (local.set $h2 (i64.add (i64.rotl (local.get $h2) (i64.const 31)) (local.get $h1)))
        (local.set $h2 (i64.add (i64.mul (local.get $h2) (i64.const 5)) (i64.const 0x38495ab5)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $blocks)))
    ;; The tail: whole words are read and the bytes past the data masked off, so the caller
    ;; need not zero them (-1 >>u (64 - 8n) keeps the low n bytes, n in 1..8).
    (local.set $rem (i32.and (local.get $len) (i32.const 15)))
    (if (i32.gt_u (local.get $rem) (i32.const 8))
      (then
        (local.set $k2 (i64.and (i64.load offset=8 (local.get $end))
          (i64.shr_u (i64.const -1) (i64.extend_i32_u (i32.sub (i32.const 128) (i32.shl (local.get $rem) (i32.const 3)))))))
        (local.set $h2 (i64.xor (local.get $h2)
          (i64.mul (i64.rotl (i64.mul (local.get $k2) (i64.const 0x4cf5ad432745937f)) (i64.const 33)) (i64.const 0x87c37b91114253d5))))))
    (if (i32.gt_u (local.get $rem) (i32.const 0))
      (then
        (local.set $k1 (i64.load (local.get $end)))
        (if (i32.lt_u (local.get $rem) (i32.const 8))
          (then (local.set $k1 (i64.and (local.get $k1)
            (i64.shr_u (i64.const -1) (i64.extend_i32_u (i32.sub (i32.const 64) (i32.shl (local.get $rem) (i32.const 3)))))))))
        (local.set $h1 (i64.xor (local.get $h1)
          (i64.mul (i64.rotl (i64.mul (local.get $k1) (i64.const 0x87c37b91114253d5)) (i64.const 31)) (i64.const 0x4cf5ad432745937f))))))
    (local.set $h1 (i64.xor (local.get $h1) (i64.extend_i32_u (local.get $total))))
    (local.set $h2 (i64.xor (local.get $h2) (i64.extend_i32_u (local.get $total))))
    (local.set $h1 (i64.add (local.get $h1) (local.get $h2)))
    (local.set $h2 (i64.add (local.get $h2) (local.get $h1)))
    (local.set $h1 (call $fmix (local.get $h1)))
    (local.set $h2 (call $fmix (local.get $h2)))
    (local.set $h1 (i64.add (local.get $h1) (local.get $h2)))
    (local.set $h2 (i64.add (local.get $h2) (local.get $h1)))
    (i32.store (i32.const 0) (i32.wrap_i64 (i64.shr_u (local.get $h1) (i64.const 32))))
    (i32.store (i32.const 4) (i32.wrap_i64 (local.get $h1)))
    (i32.store (i32.const 8) (i32.wrap_i64 (i64.shr_u (local.get $h2) (i64.const 32))))
    (i32.store (i32.const 12) (i32.wrap_i64 (local.get $h2)))
    (i32.wrap_i64 (i64.rem_u (i64.shr_u (local.get $h1) (i64.const 4)) (i64.extend_i32_u (local.get $n))))))
