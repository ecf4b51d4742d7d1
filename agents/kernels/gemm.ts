import { F32, I32, V128, type WasmFunction, op } from './wasm-asm.js';

/**
 * Sparse-row GEMM for ReLU networks, C = A·B with A given as compressed rows ("lists"):
 *
 *   C[i, 0:N] = Σ_{(r, a) ∈ list(i)} a · B_r[0:N]
 *
 * where each list entry is 8 bytes — the byte address of a row B_r of the right operand (i32) and its
 * coefficient a (f32) — and `rowPtrs[i] … rowPtrs[i+1]` delimit row i's entries. Zeros of A (ReLU's
 * inactive units, the one-hot ∂loss/∂Q) are simply absent, so the work is proportional to the
 * non-zeros; dense operands (tanh) work too. Every output element is accumulated left to right over its
 * list in float32 without fused multiply-add, so the result is the same on every engine.
 *
 * Column blocks: 32 floats (8 × f32x4 accumulators), then 4, then a scalar tail; rows of B and C need
 * no alignment or padding (`v128.load` may be unaligned).
 *
 * params: rowPtrs, M, C, ldc (bytes), N (columns)
 */
const ROWPTRS = 0;
const M_ = 1;
const C_ = 2;
const LDC = 3;
const N_ = 4;
const I = 5;
const LE = 6;
const P = 7;
const CROW = 8;
const J = 9;
const NB = 10;
const BP = 11;
const LS = 12;
const A = 13; // v128
const ZERO = 14; // v128
const ACC = 15; // v128 × 8 (15..22)
const SA = 23; // f32 scalar accumulator

/** Σ over row i's list into `width` accumulators (8 or 1 v128), or the scalar accumulator (width 0). */
function listLoop(width: number): number[][] {
  const init: number[][] = [];
  if (width === 0) init.push(op.f32Const(0), op.set(SA));
  for (let k = 0; k < width; k++) init.push(op.get(ZERO), op.set(ACC + k));
  const body: number[][] = [op.get(P), op.i32Load(), op.get(J), op.i32Add, op.set(BP)];
  if (width === 0) {
    body.push(op.get(P), op.f32Load(4), op.get(BP), op.f32Load(), op.f32Mul, op.get(SA), op.f32Add, op.set(SA));
  } else {
    body.push(op.get(P), op.v128Load32Splat(4), op.set(A));
    for (let k = 0; k < width; k++) {
      body.push(op.get(ACC + k), op.get(A), op.get(BP), op.v128Load(16 * k), op.f32x4Mul, op.f32x4Add, op.set(ACC + k));
    }
  }
  return [
    ...init,
    op.get(LS),
    op.set(P),
    op.block,
    op.get(P),
    op.get(LE),
    op.i32GeU,
    op.brIf(0),
    op.loop,
    ...body,
    op.get(P),
    op.i32Const(8),
    op.i32Add,
    op.tee(P),
    op.get(LE),
    op.i32LtU,
    op.brIf(0),
    op.end,
    op.end,
  ];
}

/** while (j + bytes <= nb) { lists → store; j += bytes } */
function columnBlocks(width: number): number[][] {
  const bytes = width === 0 ? 4 : 16 * width;
  const store: number[][] = [];
  if (width === 0) store.push(op.get(CROW), op.get(J), op.i32Add, op.get(SA), op.f32Store());
  else for (let k = 0; k < width; k++) store.push(op.get(CROW), op.get(J), op.i32Add, op.get(ACC + k), op.v128Store(16 * k));
  return [
    op.block,
    op.loop,
    op.get(J),
    op.i32Const(bytes),
    op.i32Add,
    op.get(NB),
    op.i32GtU,
    op.brIf(1),
    ...listLoop(width),
    ...store,
    op.get(J),
    op.i32Const(bytes),
    op.i32Add,
    op.set(J),
    op.br(0),
    op.end,
    op.end,
  ];
}

export function gemmListFunction(): WasmFunction {
  return {
    name: 'gemmList',
    params: [I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, V128, V128, V128, V128, V128, V128, F32],
    body: [
      op.f32Const(0),
      op.f32x4Splat,
      op.set(ZERO),
      op.get(N_),
      op.i32Const(2),
      op.i32Shl,
      op.set(NB),
      op.i32Const(0),
      op.set(I),
      op.block,
      op.get(M_),
      op.i32Eqz,
      op.brIf(0),
      op.loop,
      // ls = rowPtrs[i], le = rowPtrs[i+1], cRow = C + i·ldc, j = 0
      op.get(ROWPTRS),
      op.get(I),
      op.i32Const(2),
      op.i32Shl,
      op.i32Add,
      op.tee(BP),
      op.i32Load(),
      op.set(LS),
      op.get(BP),
      op.i32Load(4),
      op.set(LE),
      op.get(C_),
      op.get(I),
      op.get(LDC),
      op.i32Mul,
      op.i32Add,
      op.set(CROW),
      op.i32Const(0),
      op.set(J),
      ...columnBlocks(8),
      ...columnBlocks(1),
      ...columnBlocks(0),
      op.get(I),
      op.i32Const(1),
      op.i32Add,
      op.tee(I),
      op.get(M_),
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
 */
export function buildListsFunction(): WasmFunction {
  // locals: i 9, k 10, e 11, row 12, x 13 (f32), src 14, dst 15
  const [a, M, K, strideI, strideK, base, stride, list, rowPtrs] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [i, k, e, row, x, src, dst] = [9, 10, 11, 12, 13, 14, 15];
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
