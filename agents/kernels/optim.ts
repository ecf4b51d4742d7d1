import { TwinlabError } from '../../engine/errors.js';
import { buildListsFunction, gemmListFunction } from './gemm.js';
import { F32, F64, I32, V128, type WasmFunction, encodeModule, op } from './wasm-asm.js';

/**
 * WebAssembly SIMD kernels for the optimizer side of a Q-network step, over float32 arrays that live
 * in one `WebAssembly.Memory` (an arena per network; views never detach because it never grows):
 *
 * - `sumSquares(ptr, n)`: Σ xᵢ² with float64 accumulation (two f64x2 accumulators: lanes 0,2 / 1,3),
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

// adam parameter/local indices
const P = 0;
const G = 1;
const M = 2;
const V = 3;
const N = 4;
const SCALE = 5; // f32 scalars 5..12: scale, b1, b2, c1, c2, stepSize, bc2Sqrt, eps
const SPLATS = 14; // v128 locals 14..21: the splatted scalars
const I = 13;
const GI = 22;
const MI = 23;
const VI = 24;

function adamFunction(): WasmFunction {
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

function sumSquaresFunction(): WasmFunction {
  // params: ptr 0, n 1; locals: end 2, acc0 3, acc1 4, x 5, t 6
  const square = [...op.set(6), ...op.get(6), ...op.get(6), ...op.f64x2Mul];
  return {
    name: 'sumSquares',
    params: [I32, I32],
    results: [F64],
    locals: [I32, V128, V128, V128, V128],
    body: [
      op.get(0),
      op.get(1),
      op.i32Const(2),
      op.i32Shl,
      op.i32Add,
      op.set(2),
      op.f64Const(0),
      op.f64x2Splat,
      op.tee(3),
      op.set(4),
      op.block,
      op.get(0),
      op.get(2),
      op.i32GeU,
      op.brIf(0),
      op.loop,
      op.get(0),
      op.v128Load(),
      op.tee(5),
      op.f64x2PromoteLow,
      square,
      op.get(3),
      op.f64x2Add,
      op.set(3),
      op.get(5),
      op.get(5),
      op.i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]),
      op.f64x2PromoteLow,
      square,
      op.get(4),
      op.f64x2Add,
      op.set(4),
      op.get(0),
      op.i32Const(16),
      op.i32Add,
      op.tee(0),
      op.get(2),
      op.i32LtU,
      op.brIf(0),
      op.end,
      op.end,
      op.get(3),
      op.get(4),
      op.f64x2Add,
      op.tee(3),
      op.f64x2ExtractLane(0),
      op.get(3),
      op.f64x2ExtractLane(1),
      op.f64Add,
    ],
  };
}

function transposeFunction(): WasmFunction {
  // params: src 0, dst 1, rows 2, cols 3, ldDst 4; locals: j 5, o 6, sp 7, stride 8, dp 9
  return {
    name: 'transpose',
    params: [I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32],
    body: [
      op.get(3),
      op.i32Const(2),
      op.i32Shl,
      op.set(8),
      op.i32Const(0),
      op.set(5),
      op.block,
      op.loop,
      // sp = src + 4j; dp = dst + j·ldDst; o = rows
      op.get(0),
      op.get(5),
      op.i32Const(2),
      op.i32Shl,
      op.i32Add,
      op.set(7),
      op.get(1),
      op.get(5),
      op.get(4),
      op.i32Mul,
      op.i32Add,
      op.set(9),
      op.get(2),
      op.set(6),
      op.loop,
      op.get(9),
      op.get(7),
      op.f32Load(),
      op.f32Store(),
      op.get(9),
      op.i32Const(4),
      op.i32Add,
      op.set(9),
      op.get(7),
      op.get(8),
      op.i32Add,
      op.set(7),
      op.get(6),
      op.i32Const(1),
      op.i32Sub,
      op.tee(6),
      op.brIf(0),
      op.end,
      op.get(5),
      op.i32Const(1),
      op.i32Add,
      op.tee(5),
      op.get(3),
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
