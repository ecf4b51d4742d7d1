import { type ArenaArray, KernelArena } from './kernels/optim.js';

/**
 * Where a `QNetwork` keeps its numbers: the layout of its WebAssembly arena (agents/kernels/optim.ts).
 *
 * Parameters, gradients and Adam's m and v are four parallel regions with identical per-layer offsets,
 * so global-norm clipping and Adam are one kernel call each over every parameter; constant rows and
 * padding have zero gradient and moments, which leaves them exactly unchanged under Adam. After them
 * come the folded dueling head and its gradient, the transposed weights Wₗᵀ (the forward kernel's right
 * operands; the head's rows padded to a multiple of 4 floats), and — reserved on the first training
 * batch and grown with it — the training workspace. Everything is addressed by float offsets, so views
 * can be re-created after the memory grows. The Q-network API (agents/q-network.ts) binds views to
 * these offsets and runs the kernels; this module only decides the layout.
 */

export interface Layer {
  /** Trainable output units. */
  rows: number;
  /** Inputs + 1 (bias column). */
  cols: number;
  /** Rows of `data`: `rows`, +1 constant row for hidden layers. */
  dataRows: number;
  /** dataRows × cols; a view into the network's kernel arena. */
  data: Float32Array;
  /** rows × cols views into the arena (gradient, Adam moments). */
  grad: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** Byte offsets of `data` and `grad` in the arena. */
  ptr: number;
  gptr: number;
}

/** Float offsets of everything in the arena, so views can be re-created after it grows. */
export interface ArenaLayout {
  p: number[];
  g: number[];
  m: number[];
  v: number[];
  /** Folded dueling head and its gradient (−1 without dueling). */
  qHead: number;
  duelingGrad: number;
  /** Per forward layer 0..L: transposed trainable weights, cols × rows. */
  wt: number[];
}

/** Training buffers for batches of up to `capacity` rows (float offsets in the arena). */
export interface WorkspaceLayout {
  capacity: number;
  /** Per forward layer 0..L: its input, capacity × cols (last column = 1). */
  x: number[];
  q: number;
  dq: number;
  dh: number;
  dz: number;
  list1: number;
  rows1: number;
  list2: number;
  rows2: number;
  /** Floats per list, row pointers per list. */
  listLen: number;
  rowsLen: number;
}

export interface Workspace {
  layout: WorkspaceLayout;
  x: ArenaArray[];
  q: ArenaArray;
  dh: ArenaArray;
  lists: [GemmList, GemmList];
  /** ∂loss/∂Q (B × A) and ∂loss/∂Z (B × width). */
  dq: ArenaArray;
  dz: ArenaArray;
}

/** Byte offsets of a `gemmList` entry list and its row pointers. */
export interface GemmList {
  ptr: number;
  rowsPtr: number;
}

/** Byte offsets / float length of the four parallel parameter regions of the arena. */
export interface ParamBlock {
  p: number;
  g: number;
  m: number;
  v: number;
  floats: number;
}

/** Trainable layer shapes: hidden layers (with their constant row), [dueling value head], Q/advantage head. */
export interface LayerShape {
  rows: number;
  cols: number;
  dataRows: number;
}

export interface ParameterPlan {
  arena: KernelArena;
  shapes: LayerShape[];
  /** Columns of the head: last hidden width + 1 (bias). */
  headCols: number;
  /** numActions rounded up to a multiple of 4: row stride of the head's W̃ᵀ copy and of Q in the workspace. */
  headPad: number;
  layout: ArenaLayout;
  block: ParamBlock;
}

/** Reserves and commits the parameter regions of a network (before any workspace). */
export function planParameters(inputSize: number, hidden: readonly number[], numActions: number, dueling: boolean): ParameterPlan {
  const shapes: LayerShape[] = [];
  let fanIn = inputSize;
  for (const width of hidden) {
    shapes.push({ rows: width, cols: fanIn + 1, dataRows: width + 1 });
    fanIn = width;
  }
  const headCols = fanIn + 1;
  const headPad = Math.ceil(numActions / 4) * 4;
  if (dueling) shapes.push({ rows: 1, cols: headCols, dataRows: 1 });
  shapes.push({ rows: numActions, cols: headCols, dataRows: numActions });
  const arena = new KernelArena();
  const regions = [0, 1, 2, 3].map(() => shapes.map((sh) => arena.reserve(sh.dataRows * sh.cols)));
  const blockFloats = (regions[1]?.[0] as number) - (regions[0]?.[0] as number);
  const [pOff, gOff, mOff, vOff] = regions as [number[], number[], number[], number[]];
  const layout: ArenaLayout = {
    p: pOff,
    g: gOff,
    m: mOff,
    v: vOff,
    qHead: dueling ? arena.reserve(numActions * headCols) : -1,
    duelingGrad: dueling ? arena.reserve(numActions * headCols) : -1,
    wt: [...hidden.map((h, l) => arena.reserve(h * (shapes[l] as LayerShape).cols)), arena.reserve(headPad * headCols)],
  };
  const block: ParamBlock = {
    p: (pOff[0] as number) * 4,
    g: (gOff[0] as number) * 4,
    m: (mOff[0] as number) * 4,
    v: (vOff[0] as number) * 4,
    floats: blockFloats,
  };
  arena.commit();
  return { arena, shapes, headCols, headPad, layout, block };
}

/**
 * Reserves training buffers for up to `capacity` rows; the caller commits the arena (which may grow it).
 * `forward[l]` is forward layer l's (output rows, input cols incl. the ones column), l = 0..L.
 */
export function planWorkspace(
  arena: KernelArena,
  capacity: number,
  forward: ReadonlyArray<{ rows: number; cols: number }>,
  numActions: number,
  headPad: number,
  hidden: readonly number[],
): WorkspaceLayout {
  const maxDim = Math.max(numActions, ...forward.map((s) => Math.max(s.rows, s.cols)));
  const maxHidden = Math.max(1, ...hidden);
  const listLen = 2 * capacity * maxDim;
  const rowsLen = Math.max(capacity, maxDim) + 1;
  return {
    capacity,
    x: forward.map((s) => arena.reserve(capacity * s.cols)),
    q: arena.reserve(capacity * headPad),
    dq: arena.reserve(capacity * numActions),
    dh: arena.reserve(capacity * maxHidden),
    dz: arena.reserve(capacity * maxHidden),
    list1: arena.reserve(listLen),
    rows1: arena.reserve(rowsLen),
    list2: arena.reserve(listLen),
    rows2: arena.reserve(rowsLen),
    listLen,
    rowsLen,
  };
}

/** Views of a committed workspace; every layer input gets its ones column. `cols[l]` as in `planWorkspace`. */
export function bindWorkspace(
  arena: KernelArena,
  w: WorkspaceLayout,
  cols: readonly number[],
  numActions: number,
  headPad: number,
  hidden: readonly number[],
): Workspace {
  const list = (off: number, rowsOff: number): GemmList => ({ ptr: off * 4, rowsPtr: rowsOff * 4 });
  const x = w.x.map((off, l) => arena.array(off, w.capacity * (cols[l] as number)));
  for (let l = 0; l < x.length; l++) {
    const c = cols[l] as number;
    const view = (x[l] as ArenaArray).view;
    for (let b = 0; b < w.capacity; b++) view[b * c + c - 1] = 1;
  }
  const maxHidden = Math.max(1, ...hidden);
  return {
    layout: w,
    x,
    q: arena.array(w.q, w.capacity * headPad),
    dh: arena.array(w.dh, w.capacity * maxHidden),
    lists: [list(w.list1, w.rows1), list(w.list2, w.rows2)],
    dq: arena.array(w.dq, w.capacity * numActions),
    dz: arena.array(w.dz, w.capacity * maxHidden),
  };
}
