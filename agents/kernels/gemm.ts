import { F32, I32, V128, type WasmFunction, op } from './wasm-asm.js';

/**
 * Sparse-row GEMM for ReLU networks, C = A·B with A given as compressed rows ("lists"):
 *
 *   C[i, 0:N] = ε(Σ_{(r, a) ∈ list(i)} a · B_r[0:N])
 *
 * where each list entry is 8 bytes — the byte address of a row B_r of the right operand (i32) and its
 * coefficient a (f32) — and `rowPtrs[i] … rowPtrs[i+1]` delimit row i's entries. Zeros of A (ReLU's
 * inactive units, the one-hot ∂loss/∂Q) are simply absent, so the work is proportional to the
 * non-zeros; dense operands (tanh) work too. Every output element is accumulated left to right over its
 * list in float32 without fused multiply-add, so the result is the same on every engine.
 *
 * The epilogue ε is fused into the store (three exported variants, same accumulation):
 * - `gemmList`: none;
 * - `gemmListRelu`: max(·, 0) — the forward pass of a ReLU layer (`f32x4.max` orders −0 < +0 and
 *   propagates NaN exactly like `Math.max(z, 0)`);
 * - `gemmListMask`: C[i, j] = (H[i, j] > 0) ? · : +0 with H at byte address h, row stride ldh — the
 *   backward pass through a ReLU, dZ = (dZ'·W̃) ⊙ 1[H > 0], H the layer's output.
 *
 * Column blocks: 16 floats (4 × f32x4 accumulators), then 4, then a scalar tail; rows of B and C need
 * no alignment or padding (`v128.load` may be unaligned). Block width measured in V8 (Node 20, x64) on
 * a 64 × 128-entry × 256-column product: 2 / 3 / 4 / 6 / 8 / 12 accumulators → 9.8 / 11 / 14.1 / 13 /
 * 9.5 / 9 GMAC/s; 8 (the previous choice) apparently runs out of registers. Unrolling the list loop
 * by 2 gains nothing.
 *
 * params: rowPtrs, M, C, ldc (bytes), N (columns) [, H, ldh (bytes) for the mask variant]
 *
 * Generated code (`gemmListFunction`), with the column-block loop written once for width w ∈ {4 v128
 * accumulators = 16 floats, 1 v128 = 4 floats, 0 = one f32} — the function holds all three, in that order:
 *
 * ```wat
 * (func $gemmList (param $rowPtrs i32) (param $M i32) (param $C i32) (param $ldc i32) (param $N i32)
 *   (local $i i32) (local $le i32) (local $p i32) (local $cRow i32) (local $j i32) (local $nb i32)
 *   (local $bp i32) (local $ls i32) (local $hRow i32) (local $a v128) (local $zero v128)
 *   (local $acc0 v128) … (local $acc3 v128) (local $sa f32)
 *   (local.set $zero (f32x4.splat (f32.const 0)))
 *   (local.set $nb (i32.shl (local.get $N) (i32.const 2)))                  ;; row length, bytes
 *   (local.set $i (i32.const 0))
 *   (block (br_if 0 (i32.eqz (local.get $M)))
 *     (loop                                                                 ;; rows i of C
 *       (local.set $ls (i32.load (local.tee $bp (i32.add (local.get $rowPtrs) (i32.shl (local.get $i) (i32.const 2))))))
 *       (local.set $le (i32.load offset=4 (local.get $bp)))
 *       (local.set $cRow (i32.add (local.get $C) (i32.mul (local.get $i) (local.get $ldc))))
 *       (local.set $j (i32.const 0))
 *       (block (loop                                                        ;; column block of width w
 *         (br_if 1 (i32.gt_u (i32.add (local.get $j) (i32.const 16·w)) (local.get $nb)))
 *         (local.set $acc0 (local.get $zero)) …                             ;; w = 0: (local.set $sa (f32.const 0))
 *         (local.set $p (local.get $ls))
 *         (block (br_if 0 (i32.ge_u (local.get $p) (local.get $le)))
 *           (loop                                                           ;; list entries (B row address, a)
 *             (local.set $bp (i32.add (i32.load (local.get $p)) (local.get $j)))
 *             (local.set $a (v128.load32_splat offset=4 (local.get $p)))
 *             (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $a) (v128.load offset=0 (local.get $bp))))) …
 *             (br_if 0 (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 8))) (local.get $le)))))
 *         (v128.store offset=0 (i32.add (local.get $cRow) (local.get $j)) ε(local.get $acc0)) …
 *         (local.set $j (i32.add (local.get $j) (i32.const 16·w)))
 *         (br 0)))
 *       (br_if 0 (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $M))))))
 * ```
 *
 * where ε is nothing, `(f32x4.max · (local.get $zero))`, or, for the mask variant (which also sets
 * `$hRow = H + i·ldh` per row), `(v128.and · (f32x4.gt (v128.load (i32.add $hRow $j)) (local.get $zero)))`;
 * the scalar block uses `f32.load`/`f32.mul`/`f32.add`, `f32.max` and `select` instead.
 */
type Epilogue = 'none' | 'relu' | 'mask';

/** f32x4 accumulators per column block (see the measurements above). */
const BLOCK = 4;

/** Local indices of a gemmList variant (parameters first, then the extra locals in declaration order). */
function gemmLocals(epilogue: Epilogue) {
  const params = epilogue === 'mask' ? 7 : 5;
  const i32 = (k: number) => params + k;
  return {
    ROWPTRS: 0,
    M: 1,
    C: 2,
    LDC: 3,
    N: 4,
    H: 5,
    LDH: 6,
    params,
    I: i32(0),
    LE: i32(1),
    P: i32(2),
    CROW: i32(3),
    J: i32(4),
    NB: i32(5),
    BP: i32(6),
    LS: i32(7),
    HROW: i32(8),
    A: i32(9), // v128
    ZERO: i32(10), // v128
    ACC: i32(11), // v128 × BLOCK
    SA: i32(11 + BLOCK), // f32 scalar accumulator
  };
}

type Locals = ReturnType<typeof gemmLocals>;

/** Σ over row i's list into `width` accumulators (BLOCK or 1 v128), or the scalar accumulator (width 0). */
function listLoop(L: Locals, width: number): number[][] {
  const init: number[][] = [];
  if (width === 0) init.push(op.f32Const(0), op.set(L.SA));
  for (let k = 0; k < width; k++) init.push(op.get(L.ZERO), op.set(L.ACC + k));
  const body: number[][] = [op.get(L.P), op.i32Load(), op.get(L.J), op.i32Add, op.set(L.BP)];
  if (width === 0) {
    body.push(op.get(L.P), op.f32Load(4), op.get(L.BP), op.f32Load(), op.f32Mul, op.get(L.SA), op.f32Add, op.set(L.SA));
  } else {
    body.push(op.get(L.P), op.v128Load32Splat(4), op.set(L.A));
    for (let k = 0; k < width; k++) {
      body.push(op.get(L.ACC + k), op.get(L.A), op.get(L.BP), op.v128Load(16 * k), op.f32x4Mul, op.f32x4Add, op.set(L.ACC + k));
    }
  }
  return [
    ...init,
    op.get(L.LS),
    op.set(L.P),
    op.block,
    op.get(L.P),
    op.get(L.LE),
    op.i32GeU,
    op.brIf(0),
    op.loop,
    ...body,
    op.get(L.P),
    op.i32Const(8),
    op.i32Add,
    op.tee(L.P),
    op.get(L.LE),
    op.i32LtU,
    op.brIf(0),
    op.end,
    op.end,
  ];
}

/** The stored value of accumulator `acc` (v128, or the f32 scalar when width 0) at column byte offset J. */
function epilogueValue(L: Locals, epilogue: Epilogue, width: number, acc: number, offset: number): number[][] {
  if (epilogue === 'none') return [op.get(acc)];
  if (epilogue === 'relu') return width === 0 ? [op.get(acc), op.f32Const(0), op.f32Max] : [op.get(acc), op.get(L.ZERO), op.f32x4Max];
  // mask: acc & (H > 0), lane-wise; scalar: select(acc, 0, H > 0)
  const h = [op.get(L.HROW), op.get(L.J), op.i32Add];
  if (width === 0) return [op.get(acc), op.f32Const(0), ...h, op.f32Load(offset), op.f32Const(0), op.f32Gt, op.select];
  return [op.get(acc), ...h, op.v128Load(offset), op.get(L.ZERO), op.f32x4Gt, op.v128And];
}

/** while (j + bytes <= nb) { lists → store; j += bytes } */
function columnBlocks(L: Locals, epilogue: Epilogue, width: number): number[][] {
  const bytes = width === 0 ? 4 : 16 * width;
  const store: number[][] = [];
  if (width === 0) store.push(op.get(L.CROW), op.get(L.J), op.i32Add, ...epilogueValue(L, epilogue, 0, L.SA, 0), op.f32Store());
  else {
    for (let k = 0; k < width; k++) {
      store.push(op.get(L.CROW), op.get(L.J), op.i32Add, ...epilogueValue(L, epilogue, width, L.ACC + k, 16 * k), op.v128Store(16 * k));
    }
  }
  return [
    op.block,
    op.loop,
    op.get(L.J),
    op.i32Const(bytes),
    op.i32Add,
    op.get(L.NB),
    op.i32GtU,
    op.brIf(1),
    ...listLoop(L, width),
    ...store,
    op.get(L.J),
    op.i32Const(bytes),
    op.i32Add,
    op.set(L.J),
    op.br(0),
    op.end,
    op.end,
  ];
}

export function gemmListFunction(epilogue: Epilogue = 'none'): WasmFunction {
  const L = gemmLocals(epilogue);
  const name = { none: 'gemmList', relu: 'gemmListRelu', mask: 'gemmListMask' }[epilogue];
  return {
    name,
    params: Array<typeof I32>(L.params).fill(I32),
    results: [],
    locals: [...Array<typeof I32>(9).fill(I32), V128, V128, ...Array<typeof V128>(BLOCK).fill(V128), F32],
    body: [
      op.f32Const(0),
      op.f32x4Splat,
      op.set(L.ZERO),
      op.get(L.N),
      op.i32Const(2),
      op.i32Shl,
      op.set(L.NB),
      op.i32Const(0),
      op.set(L.I),
      op.block,
      op.get(L.M),
      op.i32Eqz,
      op.brIf(0),
      op.loop,
      // ls = rowPtrs[i], le = rowPtrs[i+1], cRow = C + i·ldc, hRow = H + i·ldh, j = 0
      op.get(L.ROWPTRS),
      op.get(L.I),
      op.i32Const(2),
      op.i32Shl,
      op.i32Add,
      op.tee(L.BP),
      op.i32Load(),
      op.set(L.LS),
      op.get(L.BP),
      op.i32Load(4),
      op.set(L.LE),
      op.get(L.C),
      op.get(L.I),
      op.get(L.LDC),
      op.i32Mul,
      op.i32Add,
      op.set(L.CROW),
      ...(epilogue === 'mask' ? [op.get(L.H), op.get(L.I), op.get(L.LDH), op.i32Mul, op.i32Add, op.set(L.HROW)] : []),
      op.i32Const(0),
      op.set(L.J),
      ...columnBlocks(L, epilogue, BLOCK),
      ...columnBlocks(L, epilogue, 1),
      ...columnBlocks(L, epilogue, 0),
      op.get(L.I),
      op.i32Const(1),
      op.i32Add,
      op.tee(L.I),
      op.get(L.M),
      op.i32LtU,
      op.brIf(0),
      op.end,
      op.end,
    ],
  };
}

/**
 * Builds `gemmList` lists, branch-free (ReLU zeros are unpredictable): for i < M, row i lists
 * (base + k·stride, a[i,k]) for each k < K with a[i,k] ≠ 0, where a[i,k] is the float at
 * a + i·strideI + k·strideK (bytes). Every entry is written, and the cursor advances only past non-zeros.
 *
 * params: a, M, K, strideI, strideK, base, stride, list, rowPtrs
 *
 * ```wat
 * (func $buildLists (param $a i32) (param $M i32) (param $K i32) (param $strideI i32) (param $strideK i32)
 *                   (param $base i32) (param $stride i32) (param $list i32) (param $rowPtrs i32)
 *   (local $i i32) (local $k i32) (local $e i32) (local $row i32) (local $x f32) (local $src i32) (local $dst i32)
 *   (local.set $e (local.get $list))
 *   (local.set $i (i32.const 0))
 *   (block (br_if 0 (i32.eqz (local.get $M)))
 *     (loop
 *       (i32.store (i32.add (local.get $rowPtrs) (i32.shl (local.get $i) (i32.const 2))) (local.get $e))
 *       (local.set $src (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $strideI))))
 *       (local.set $dst (local.get $base))
 *       (local.set $k (local.get $K))
 *       (block (br_if 0 (i32.eqz (local.get $k)))
 *         (loop
 *           (i32.store (local.get $e) (local.get $dst))
 *           (f32.store offset=4 (local.get $e) (local.tee $x (f32.load (local.get $src))))
 *           (local.set $e (i32.add (local.get $e) (i32.shl (f32.ne (local.get $x) (f32.const 0)) (i32.const 3))))
 *           (local.set $src (i32.add (local.get $src) (local.get $strideK)))
 *           (local.set $dst (i32.add (local.get $dst) (local.get $stride)))
 *           (br_if 0 (local.tee $k (i32.sub (local.get $k) (i32.const 1))))))
 *       (br_if 0 (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $M)))))
 *   (i32.store (i32.add (local.get $rowPtrs) (i32.shl (local.get $M) (i32.const 2))) (local.get $e)))
 * ```
 */
export function buildListsFunction(): WasmFunction {
  // locals: i 9, k 10, e 11, row 12, x 13 (f32), src 14, dst 15
  const [a, M, K, strideI, strideK, base, stride, list, rowPtrs] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [i, k, e, _row, x, src, dst] = [9, 10, 11, 12, 13, 14, 15];
  return {
    name: 'buildLists',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, F32, I32, I32],
    body: [
      op.get(list),
      op.set(e),
      op.i32Const(0),
      op.set(i),
      op.block,
      op.get(M),
      op.i32Eqz,
      op.brIf(0),
      op.loop,
      // rowPtrs[i] = e
      op.get(rowPtrs),
      op.get(i),
      op.i32Const(2),
      op.i32Shl,
      op.i32Add,
      op.get(e),
      op.i32Store(),
      op.get(a),
      op.get(i),
      op.get(strideI),
      op.i32Mul,
      op.i32Add,
      op.set(src),
      op.get(base),
      op.set(dst),
      op.get(K),
      op.set(k),
      op.block,
      op.get(k),
      op.i32Eqz,
      op.brIf(0),
      op.loop,
      op.get(e),
      op.get(dst),
      op.i32Store(),
      op.get(e),
      op.get(src),
      op.f32Load(),
      op.tee(x),
      op.f32Store(4),
      // e += (x ≠ 0) << 3
      op.get(e),
      op.get(x),
      op.f32Const(0),
      op.f32Ne,
      op.i32Const(3),
      op.i32Shl,
      op.i32Add,
      op.set(e),
      op.get(src),
      op.get(strideK),
      op.i32Add,
      op.set(src),
      op.get(dst),
      op.get(stride),
      op.i32Add,
      op.set(dst),
      op.get(k),
      op.i32Const(1),
      op.i32Sub,
      op.tee(k),
      op.brIf(0),
      op.end,
      op.end,
      op.get(i),
      op.i32Const(1),
      op.i32Add,
      op.tee(i),
      op.get(M),
      op.i32LtU,
      op.brIf(0),
      op.end,
      op.end,
      // rowPtrs[M] = e
      op.get(rowPtrs),
      op.get(M),
      op.i32Const(2),
      op.i32Shl,
      op.i32Add,
      op.get(e),
      op.i32Store(),
    ],
  };
}
