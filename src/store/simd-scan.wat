;; The exact-scan kernels behind src/store/simd-scan.ts, in WebAssembly text.
;;
;; This file is the source; src/store/simd-scan.wasm.ts holds the bytes compiled from it, so the
;; runtime needs no toolchain. After an edit run `npm run build:wasm` (scripts/build-wasm.ts, wabt
;; with SIMD); tests/unit/simd-scan.test.ts fails while the two differ.
;;
;; Both kernels take byte offsets into the memory the caller supplies (imported as env.mem):
;;   scan  (q, data, n, rowBytes, out): out[i] = dot(q, row i), float32 rows and query
;;   scan8 (q, data, n, rowBytes, out): the same for int8 rows and an int16 query, out as float32
;; Row i starts at data + i * rowBytes. The inner loop runs at least once and steps a whole chunk,
;; so rowBytes must be a positive multiple of 64 for scan (16 floats) and of 32 for scan8 (32 int8),
;; rows and query padded with zeros.
(module
  (import "env" "mem" (memory 1))

  ;; Four f32x4 accumulators, 16 floats per step: independent adds hide the latency of each one.
  (func $scan (export "scan")
    (param $q i32) (param $data i32) (param $n i32) (param $rowBytes i32) (param $out i32)
    (local $i i32) (local $j i32) (local $row i32)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local.set $row (local.get $data))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc0 (v128.const i32x4 0 0 0 0))
        (local.set $acc1 (v128.const i32x4 0 0 0 0))
        (local.set $acc2 (v128.const i32x4 0 0 0 0))
        (local.set $acc3 (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        ;; j is the byte offset of the current 16-float chunk, in the query and in the row alike.
        (loop $chunks
          (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul
            (v128.load align=4 (i32.add (local.get $q) (local.get $j)))
            (v128.load align=4 (i32.add (local.get $row) (local.get $j))))))
          (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul
            (v128.load offset=16 align=4 (i32.add (local.get $q) (local.get $j)))
            (v128.load offset=16 align=4 (i32.add (local.get $row) (local.get $j))))))
          (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul
            (v128.load offset=32 align=4 (i32.add (local.get $q) (local.get $j)))
            (v128.load offset=32 align=4 (i32.add (local.get $row) (local.get $j))))))
          (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul
            (v128.load offset=48 align=4 (i32.add (local.get $q) (local.get $j)))
            (v128.load offset=48 align=4 (i32.add (local.get $row) (local.get $j))))))
          (br_if $chunks (i32.lt_u
            (local.tee $j (i32.add (local.get $j) (i32.const 64)))
            (local.get $rowBytes))))
        ;; (acc0 + acc1) + (acc2 + acc3), then its four lanes left to right: the summation order
        ;; the exactness tests' reference follows.
        (local.set $acc0 (f32x4.add
          (f32x4.add (local.get $acc0) (local.get $acc1))
          (f32x4.add (local.get $acc2) (local.get $acc3))))
        (f32.store
          (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
          (f32.add
            (f32.add
              (f32.add
                (f32x4.extract_lane 0 (local.get $acc0))
                (f32x4.extract_lane 1 (local.get $acc0)))
              (f32x4.extract_lane 2 (local.get $acc0)))
            (f32x4.extract_lane 3 (local.get $acc0))))
        (local.set $row (i32.add (local.get $row) (local.get $rowBytes)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; Per 32 int8 values of a row: two 16-byte loads, each widened to two i16x8 halves and multiplied
  ;; with the matching int16 query values by i32x4.dot_i16x8_s into two i32x4 sums. Int32 cannot
  ;; overflow for |row| <= 127, |query| <= 4095 and up to 4096 dimensions. Rows are only 1-aligned
  ;; (int8), the query 16-aligned; query offsets are twice the row's since its values are int16.
  (func $scan8 (export "scan8")
    (param $q i32) (param $data i32) (param $n i32) (param $rowBytes i32) (param $out i32)
    (local $i i32) (local $j i32) (local $row i32)
    (local $acc0 v128) (local $acc1 v128) (local $v v128)
    (local.set $row (local.get $data))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc0 (v128.const i32x4 0 0 0 0))
        (local.set $acc1 (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        ;; j is the byte offset of the current 32-value chunk in the row; 2 * j in the query.
        (loop $chunks
          (local.set $v (v128.load align=1 (i32.add (local.get $row) (local.get $j))))
          (local.set $acc0 (i32x4.add (local.get $acc0) (i32x4.dot_i16x8_s
            (i16x8.extend_low_i8x16_s (local.get $v))
            (v128.load (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 1)))))))
          (local.set $acc1 (i32x4.add (local.get $acc1) (i32x4.dot_i16x8_s
            (i16x8.extend_high_i8x16_s (local.get $v))
            (v128.load offset=16 (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 1)))))))
          (local.set $v (v128.load offset=16 align=1 (i32.add (local.get $row) (local.get $j))))
          (local.set $acc0 (i32x4.add (local.get $acc0) (i32x4.dot_i16x8_s
            (i16x8.extend_low_i8x16_s (local.get $v))
            (v128.load offset=32 (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 1)))))))
          (local.set $acc1 (i32x4.add (local.get $acc1) (i32x4.dot_i16x8_s
            (i16x8.extend_high_i8x16_s (local.get $v))
            (v128.load offset=48 (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 1)))))))
          (br_if $chunks (i32.lt_u
            (local.tee $j (i32.add (local.get $j) (i32.const 32)))
            (local.get $rowBytes))))
        (local.set $acc0 (i32x4.add (local.get $acc0) (local.get $acc1)))
        (f32.store
          (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
          (f32.convert_i32_s
            (i32.add
              (i32.add
                (i32.add
                  (i32x4.extract_lane 0 (local.get $acc0))
                  (i32x4.extract_lane 1 (local.get $acc0)))
                (i32x4.extract_lane 2 (local.get $acc0)))
              (i32x4.extract_lane 3 (local.get $acc0)))))
        (local.set $row (i32.add (local.get $row) (local.get $rowBytes)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))))
