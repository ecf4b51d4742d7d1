import { TwinlabError } from '../../engine/errors.js';
import { buildListsFunction, gemmListFunction } from './gemm.js';
import { F32, F64, I32, V128, type WasmFunction, encodeModule, op } from './wasm-asm.js';

/**
 * WebAssembly SIMD kernels for the optimizer side of a Q-network step, over float32 arrays that live
 * in one `WebAssembly.Memory` (an arena per network; views never detach because it never grows):
 *
 * - `sumSquares(ptr, n)`: Σ xᵢ² with float64 accumulation (two f64x2 accumulators: lanes 0–1 / 2–3),
 *   for the global gradient norm of `clip_grad_norm_`.
 * - `adam(p, g, m, v, n, …)`: one fused pass of PyTorch Adam on clipped gradients, 4 lanes at a time,
 *   in float32 like PyTorch's own CPU kernel: g ← s·g, m ← β₁m + (1−β₁)g, v ← β₂v + ((1−β₂)g)g,
 *   p ← p − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε). Baseline SIMD has no fused multiply-add, and
 *   `f32x4.sqrt`/`f32x4.div` are correctly rounded, so results are bit-identical on every engine.
 * - `transpose(src, dst, rows, cols, ldDst)`: dst (cols × rows, row stride ldDst bytes) = srcᵀ, for the
 *   forward-pass copies of W̃ᵀ (the head's rows padded to a multiple of 4 floats).
 *
 * Lengths passed to `sumSquares` and `adam` are multiples of 4 floats (the arena pads every array).
 */

/** Local indices of `adam`: parameters first, then the extra locals in declaration order. */
const ADAM = {
  P: 0,
  G: 1,
  M: 2,
  V: 3,
  N: 4,
  /** f32 scalars 5..12: scale, b1, b2, c1, c2, stepSize, bc2Sqrt, eps. */
  SCALE: 5,
  I: 13,
  /** v128 locals 14..21: the eight scalars splatted. */
  SPLATS: 14,
  GI: 22,
  MI: 23,
  VI: 24,
} as const;

/**
 * One fused PyTorch Adam pass (module comment), 4 floats per iteration. `n` is a multiple of 4.
 *
 * ```wat
 * (func $adam (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
 *             (param $scale f32) (param $b1 f32) (param $b2 f32) (param $c1 f32) (param $c2 f32)
 *             (param $step f32) (param $bc2 f32) (param $eps f32)
 *   (local $i i32) (local $sScale v128) … (local $sEps v128) (local $gi v128) (local $mi v128) (local $vi v128)
 *   (local.set $sScale (f32x4.splat (local.get $scale)))            ;; … and the other seven scalars
 *   (local.set $n (i32.shl (local.get $n) (i32.const 2)))           ;; floats → bytes
 *   (local.set $i (i32.const 0))
 *   (block (br_if 0 (i32.ge_u (local.get $i) (local.get $n)))
 *     (loop
 *       (local.set $gi (f32x4.mul (v128.load (i32.add (local.get $g) (local.get $i))) (local.get $sScale)))
 *       (local.set $mi (f32x4.add (f32x4.mul (local.get $sB1) (v128.load (i32.add (local.get $m) (local.get $i))))
 *                                 (f32x4.mul (local.get $sC1) (local.get $gi))))
 *       (local.set $vi (f32x4.add (f32x4.mul (local.get $sB2) (v128.load (i32.add (local.get $v) (local.get $i))))
 *                                 (f32x4.mul (f32x4.mul (local.get $sC2) (local.get $gi)) (local.get $gi))))
 *       (v128.store (i32.add (local.get $m) (local.get $i)) (local.get $mi))
 *       (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $vi))
 *       (v128.store (i32.add (local.get $p) (local.get $i))
 *         (f32x4.sub (v128.load (i32.add (local.get $p) (local.get $i)))
 *                    (f32x4.div (f32x4.mul (local.get $sStep) (local.get $mi))
 *                               (f32x4.add (f32x4.div (f32x4.sqrt (local.get $vi)) (local.get $sBc2)) (local.get $sEps)))))
 *       (br_if 0 (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $n))))))
 * ```
 */
function adamFunction(): WasmFunction {
  const { P, G, M, V, N, SCALE, I, SPLATS, GI, MI, VI } = ADAM;
  const splat = (k: number) => [...op.get(SCALE + k), ...op.f32x4Splat, ...op.set(SPLATS + k)];
  const [sScale, sB1, sB2, sC1, sC2, sStep, sBc2, sEps] = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => op.get(SPLATS + k)) as number[][];
  const addr = (base: number) => [...op.get(base), ...op.get(I), ...op.i32Add];
  return {
    name: 'adam',
    params: [I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32],
    results: [],
    locals: [I32, V128, V128, V128, V128, V128, V128, V128, V128, V128, V128, V128],
    body: [
      ...[0, 1, 2, 3, 4, 5, 6, 7].map(splat),
      op.get(N),
      op.i32Const(2),
      op.i32Shl,
      op.set(N), // n → byte length
      op.i32Const(0),
      op.set(I),
      op.block,
      op.get(I),
      op.get(N),
      op.i32GeU,
      op.brIf(0),
      op.loop,
      // gi = g·scale
      addr(G),
      op.v128Load(),
      sScale,
      op.f32x4Mul,
      op.set(GI),
      // mi = b1·m + c1·gi
      sB1,
      addr(M),
      op.v128Load(),
      op.f32x4Mul,
      sC1,
      op.get(GI),
      op.f32x4Mul,
      op.f32x4Add,
      op.set(MI),
      // vi = b2·v + (c2·gi)·gi
      sB2,
      addr(V),
      op.v128Load(),
      op.f32x4Mul,
      sC2,
      op.get(GI),
      op.f32x4Mul,
      op.get(GI),
      op.f32x4Mul,
      op.f32x4Add,
      op.set(VI),
      addr(M),
      op.get(MI),
      op.v128Store(),
      addr(V),
      op.get(VI),
      op.v128Store(),
      // p = p − (step·mi)/(√vi/bc2 + eps)
      addr(P),
      addr(P),
      op.v128Load(),
      sStep,
      op.get(MI),
      op.f32x4Mul,
      op.get(VI),
      op.f32x4Sqrt,
      sBc2,
      op.f32x4Div,
      sEps,
      op.f32x4Add,
      op.f32x4Div,
      op.f32x4Sub,
      op.v128Store(),
      op.get(I),
      op.i32Const(16),
      op.i32Add,
      op.tee(I),
      op.get(N),
      op.i32LtU,
      op.brIf(0),
      op.end,
      op.end,
    ],
  };
}

/**
 * Σ xᵢ² over n floats (n a multiple of 4) in float64: of each f32x4, lanes 0–1 go to acc0 and lanes 2–3
 * to acc1 (promoted to f64x2), summed at the end.
 *
 * ```wat
 * (func $sumSquares (param $ptr i32) (param $n i32) (result f64)
 *   (local $end i32) (local $acc0 v128) (local $acc1 v128) (local $x v128) (local $t v128)
 *   (local.set $end (i32.add (local.get $ptr) (i32.shl (local.get $n) (i32.const 2))))
 *   (local.set $acc1 (local.tee $acc0 (f64x2.splat (f64.const 0))))
 *   (block (br_if 0 (i32.ge_u (local.get $ptr) (local.get $end)))
 *     (loop
 *       (local.set $x (v128.load (local.get $ptr)))
 *       (local.set $t (f64x2.promote_low_f32x4 (local.get $x)))
 *       (local.set $acc0 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc0)))
 *       (local.set $t (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
 *       (local.set $acc1 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc1)))
 *       (br_if 0 (i32.lt_u (local.tee $ptr (i32.add (local.get $ptr) (i32.const 16))) (local.get $end)))))
 *   (local.set $acc0 (f64x2.add (local.get $acc0) (local.get $acc1)))
 *   (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0))))
 * ```
 */
function sumSquaresFunction(): WasmFunction {
  const [PTR, N, END, ACC0, ACC1, X, T] = [0, 1, 2, 3, 4, 5, 6];
  const square = [...op.set(T), ...op.get(T), ...op.get(T), ...op.f64x2Mul];
  return {
    name: 'sumSquares',
    params: [I32, I32],
    results: [F64],
    locals: [I32, V128, V128, V128, V128],
    body: [
      op.get(PTR),
      op.get(N),
      op.i32Const(2),
      op.i32Shl,
      op.i32Add,
      op.set(END),
      op.f64Const(0),
      op.f64x2Splat,
      op.tee(ACC0),
      op.set(ACC1),
      op.block,
      op.get(PTR),
      op.get(END),
      op.i32GeU,
      op.brIf(0),
      op.loop,
      op.get(PTR),
      op.v128Load(),
      op.tee(X),
      op.f64x2PromoteLow,
      square,
      op.get(ACC0),
      op.f64x2Add,
      op.set(ACC0),
      op.get(X),
      op.get(X),
      op.i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]),
      op.f64x2PromoteLow,
      square,
      op.get(ACC1),
      op.f64x2Add,
      op.set(ACC1),
      op.get(PTR),
      op.i32Const(16),
      op.i32Add,
      op.tee(PTR),
      op.get(END),
      op.i32LtU,
      op.brIf(0),
      op.end,
      op.end,
      op.get(ACC0),
      op.get(ACC1),
      op.f64x2Add,
      op.tee(ACC0),
      op.f64x2ExtractLane(0),
      op.get(ACC0),
      op.f64x2ExtractLane(1),
      op.f64Add,
    ],
  };
}

/**
 * dst (cols × rows, row stride ldDst bytes) = src (rows × cols, dense)ᵀ, one float at a time; both loops
 * test at the bottom, so rows and cols must be ≥ 1.
 *
 * ```wat
 * (func $transpose (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32) (param $ldDst i32)
 *   (local $j i32) (local $o i32) (local $sp i32) (local $stride i32) (local $dp i32)
 *   (local.set $stride (i32.shl (local.get $cols) (i32.const 2)))  ;; one source row, bytes
 *   (local.set $j (i32.const 0))
 *   (block (loop                                                     ;; source column j → destination row j
 *     (local.set $sp (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 2))))
 *     (local.set $dp (i32.add (local.get $dst) (i32.mul (local.get $j) (local.get $ldDst))))
 *     (local.set $o (local.get $rows))
 *     (loop
 *       (f32.store (local.get $dp) (f32.load (local.get $sp)))
 *       (local.set $dp (i32.add (local.get $dp) (i32.const 4)))
 *       (local.set $sp (i32.add (local.get $sp) (local.get $stride)))
 *       (br_if 0 (local.tee $o (i32.sub (local.get $o) (i32.const 1)))))
 *     (br_if 0 (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $cols)))))
 * ```
 */
function transposeFunction(): WasmFunction {
  const [SRC, DST, ROWS, COLS, LD_DST, J, O, SP, STRIDE, DP] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  return {
    name: 'transpose',
    params: [I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32],
    body: [
      op.get(COLS),
      op.i32Const(2),
      op.i32Shl,
      op.set(STRIDE),
      op.i32Const(0),
      op.set(J),
      op.block,
      op.loop,
      // sp = src + 4j; dp = dst + j·ldDst; o = rows
      op.get(SRC),
      op.get(J),
      op.i32Const(2),
      op.i32Shl,
      op.i32Add,
      op.set(SP),
      op.get(DST),
      op.get(J),
      op.get(LD_DST),
      op.i32Mul,
      op.i32Add,
      op.set(DP),
      op.get(ROWS),
      op.set(O),
      op.loop,
      op.get(DP),
      op.get(SP),
      op.f32Load(),
      op.f32Store(),
      op.get(DP),
      op.i32Const(4),
      op.i32Add,
      op.set(DP),
      op.get(SP),
      op.get(STRIDE),
      op.i32Add,
      op.set(SP),
      op.get(O),
      op.i32Const(1),
      op.i32Sub,
      op.tee(O),
      op.brIf(0),
      op.end,
      op.get(J),
      op.i32Const(1),
      op.i32Add,
      op.tee(J),
      op.get(COLS),
      op.i32LtU,
      op.brIf(0),
      op.end,
      op.end,
    ],
  };
}

interface Exports {
  adam(
    p: number,
    g: number,
    m: number,
    v: number,
    n: number,
    scale: number,
    b1: number,
    b2: number,
    c1: number,
    c2: number,
    step: number,
    bc2: number,
    eps: number,
  ): void;
  sumSquares(ptr: number, n: number): number;
  transpose(src: number, dst: number, rows: number, cols: number, ldDstBytes: number): void;
  /** See agents/kernels/gemm.ts. */
  gemmList(rowPtrs: number, m: number, c: number, ldcBytes: number, n: number): void;
  gemmListRelu(rowPtrs: number, m: number, c: number, ldcBytes: number, n: number): void;
  gemmListMask(rowPtrs: number, m: number, c: number, ldcBytes: number, n: number, h: number, ldhBytes: number): void;
  buildLists(a: number, m: number, k: number, strideI: number, strideK: number, base: number, stride: number, list: number, rowPtrs: number): void;
}

let compiled: WebAssembly.Module | null = null;

function module(): WebAssembly.Module {
  if (!compiled)
    compiled = new WebAssembly.Module(
      encodeModule([
        adamFunction(),
        sumSquaresFunction(),
        transposeFunction(),
        gemmListFunction('none'),
        gemmListFunction('relu'),
        gemmListFunction('mask'),
        buildListsFunction(),
      ]),
    );
  return compiled;
}

/** A float32 array inside an arena, with its byte offset for the kernels. */
export interface ArenaArray {
  ptr: number;
  /** Length rounded up to a multiple of 4 (the kernels' unit). */
  padded: number;
  view: Float32Array;
}

/**
 * A float32 arena plus the kernels bound to it. `reserve` space (any time), then `commit()` to create or
 * grow the memory. Growing detaches every view of the old buffer: `commit()` returns true when that
 * happened, and the owner must re-create its views with `array()`.
 */
export class KernelArena {
  private floats = 0;
  private memory: WebAssembly.Memory | null = null;
  private kernels: Exports | null = null;

  /** Reserve `length` floats (16-byte aligned, padded to 4); returns the float offset. */
  reserve(length: number): number {
    const offset = this.floats;
    this.floats += Math.ceil(length / 4) * 4;
    return offset;
  }

  /** Floats reserved so far (the offset the next `reserve` returns). */
  get reserved(): number {
    return this.floats;
  }

  commit(): boolean {
    const pages = Math.max(1, Math.ceil((this.floats * 4) / 65536));
    if (!this.memory) {
      this.memory = new WebAssembly.Memory({ initial: pages });
      const instance = new WebAssembly.Instance(module(), { env: { mem: this.memory } });
      this.kernels = instance.exports as unknown as Exports;
      return true;
    }
    const have = this.memory.buffer.byteLength / 65536;
    if (pages <= have) return false;
    this.memory.grow(pages - have);
    return true;
  }

  array(offset: number, length: number): ArenaArray {
    if (!this.memory) throw new TwinlabError('INTERNAL', 'KernelArena.array called before commit()');
    return { ptr: offset * 4, padded: Math.ceil(length / 4) * 4, view: new Float32Array(this.memory.buffer, offset * 4, length) };
  }

  /** An Int32Array view (list entries and row pointers of `gemmList`). */
  ints(offset: number, length: number): Int32Array {
    if (!this.memory) throw new TwinlabError('INTERNAL', 'KernelArena.ints called before commit()');
    return new Int32Array(this.memory.buffer, offset * 4, length);
  }

  get k(): Exports {
    if (!this.kernels) throw new TwinlabError('INTERNAL', 'KernelArena used before commit()');
    return this.kernels;
  }
}
