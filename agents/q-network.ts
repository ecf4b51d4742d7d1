import type { Tensor2D } from '@tensorflow/tfjs';
import { TwinlabError } from '../engine/errors.js';
import { sha256Hex } from '../engine/hash.js';
import type { Rng } from '../engine/random.js';
import type { DenseLayerWeights } from '../policies/dense-stack.js';
import { backendInfo, getTf } from './backend.js';
import type { ArenaArray, KernelArena } from './kernels/optim.js';
import {
  type ArenaLayout,
  bindWorkspace,
  type GemmList,
  type Layer,
  type ParamBlock,
  planParameters,
  planWorkspace,
  type Workspace,
  type WorkspaceLayout,
} from './q-network-arena.js';

/**
 * The Q-network of the DQN family: an MLP (ReLU or tanh hidden layers) with a plain or dueling head,
 * trained by one Adam step per `trainStep`.
 *
 * ## Layout and kernels (why it is fast)
 * Parameters live in one WebAssembly memory per network (agents/kernels/optim.ts; its layout is
 * planned in agents/q-network-arena.ts), one *augmented*
 * matrix per layer: W̃ = [W | b], `out × (in+1)`, row-major (PyTorch `nn.Linear` layout with the bias as
 * an extra column); hidden layers carry one extra constant row [0 … 0 | c] used by the tfjs forward pass
 * (c = 1 for ReLU, 20 for tanh, where tanh(20) rounds to 1 in float32). Training runs without tfjs, in
 * the row layout (one row per sample, a ones column last so biases ride inside the products), on the
 * sparse-row SIMD GEMM `gemmList` (agents/kernels/gemm.ts), which skips zero entries of its left operand:
 *
 *   Xₗ₊₁ = [act(Xₗ·W̃ₗᵀ) | 1],  Q = X_L·W̃_qᵀ                      (X₀ = [x | 1])
 *   dQ[b,a] = w_b·ℓ'(δ_b)/B for a = a_b (else 0),  δ_b = Q[b,a_b] − y_b
 *   dW̃ = dZᵀ·Xₗ,  dXₗ = dZ·W̃ₗ (ones column dropped),  dZₗ₋₁ = dXₗ ⊙ act'(Xₗ)
 *
 * Global-norm clipping (PyTorch `clip_grad_norm_`) and Adam (PyTorch semantics: ε added to √v̂, bias
 * corrections via the step size) are fused SIMD passes over the whole parameter region, so optimizer
 * state is synchronous and exactly restorable, and the arrays used for acting are always current.
 *
 * ## Dueling head (Wang et al. 2016, eq. 9)
 * Q(s,a) = V(s) + A(s,a) − mean_a' A(s,a'). Both streams are linear in the last hidden layer, so the
 * head folds exactly into one dense layer: W̃_q[a,·] = w̃_v + W̃_a[a,·] − mean_a' W̃_a[a',·]. The forward
 * pass uses the folded matrix; gradients map back by dw̃_v = Σ_a dW̃_q[a,·] and
 * dW̃_a[a,·] = dW̃_q[a,·] − mean_a' dW̃_q[a',·]. Saved models are therefore plain dense stacks.
 *
 * ## Initialisation
 * PyTorch `nn.Linear` defaults (used by Stable-Baselines3's DQN, which applies no orthogonal init):
 * weights and biases U(−1/√fan_in, 1/√fan_in), drawn from the caller's `rng` layer by layer (weights
 * row-major, then biases; dueling: value stream before advantage stream).
 */
export interface QNetworkSpec {
  inputSize: number;
  numActions: number;
  hidden: number[];
  dueling: boolean;
  activation?: 'relu' | 'tanh';
}

export interface OptimizerConfig {
  learningRate: number;
  adamEpsilon: number;
  maxGradNorm: number | null;
  loss: 'huber' | 'mse';
  /** Adam β₁ (PyTorch default 0.9). */
  beta1?: number;
  /** Adam β₂ (PyTorch default 0.999). */
  beta2?: number;
}

export interface TrainBatch {
  /** B × inputSize, row-major. */
  observations: Float32Array;
  /** B action indices. */
  actions: Int32Array;
  /** B TD targets r + γⁿ·(1 − done)·Q_target. */
  targets: Float32Array;
  /** B importance-sampling weights (prioritized replay); all 1 when absent. */
  weights?: Float32Array;
}

export interface TrainResult {
  /** Weighted mean loss before the update. */
  loss: number;
  /** Mean of Q(s, a) over the batch, before the update. */
  meanQ: number;
  /** δ_b = Q(s_b, a_b) − target_b, before the update. */
  tdErrors: Float32Array;
}

export interface GradientResult extends TrainResult {
  /** ∂loss/∂θ in `getWeights()` order and shapes, before clipping. */
  gradients: Float32Array[];
  /** Global L2 norm of the gradients, before clipping. */
  gradNorm: number;
}

export interface OptimizerState {
  step: number;
  /** Adam first moments for each array of `getWeights()` (same order), then the second moments. */
  tensors: Float32Array[];
}

const DEFAULT_BETA1 = 0.9;
const DEFAULT_BETA2 = 0.999;

/**
 * Largest batch for which `predict` of a tanh network uses the wasm kernels instead of tfjs: acting
 * (batch 1) takes ≈1–5 µs there vs 25–35 µs through tfjs, while for large dense (tanh) batches tfjs-wasm
 * measured ≈1.2× faster. ReLU networks always use the kernels: with ReLU fused into the store and
 * half the hidden units inactive they beat tfjs at every batch size (agents/README.md).
 */
const KERNEL_PREDICT_MAX_BATCH = 16;

function checkPositiveInt(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new TwinlabError('INVALID_SPEC', `${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export class QNetwork {
  readonly spec: QNetworkSpec;
  private readonly activation: 'relu' | 'tanh';
  private readonly constValue: number;
  private readonly layers: Layer[];
  private readonly numHidden: number;
  /** Folded head W̃_q (A × cols); for a plain head this is the head layer's own array. */
  private qHead!: Float32Array;
  private qHeadPtr = 0;
  private readonly headCols: number;
  /** numActions rounded up to a multiple of 4: row stride (floats) of the head's W̃ᵀ copy and of Q in the workspace. */
  private readonly headPad: number;
  /** WebAssembly memory with parameters, gradients, Adam moments and training buffers (agents/kernels/). */
  private readonly arena: KernelArena;
  private readonly layout: ArenaLayout;
  private readonly block: ParamBlock;
  private duelingGrad: ArenaArray | null = null;
  /** Transposed trainable weights per forward layer (the kernel's right operands), valid for `wtVersion`. */
  private wt: ArenaArray[] = [];
  private wtVersion = -1;
  private ws: Workspace | null = null;
  private optimizer: Required<OptimizerConfig>;
  private step = 0;
  private version = 0;
  private headVersion = -1;
  private kernelCache: { version: number; kernels: Tensor2D[] } | null = null;
  /** Per batch size, B × (in + 1) input rows with the trailing ones column, for `predictTf`. */
  private inputRows = new Map<number, Float32Array>();
  private readonly jsActs: Float64Array[];
  private readonly jsInput: Float64Array;
  private disposed = false;

  private constructor(spec: QNetworkSpec, optimizer: OptimizerConfig) {
    const inputSize = checkPositiveInt('inputSize', spec.inputSize);
    const numActions = checkPositiveInt('numActions', spec.numActions);
    if (!Array.isArray(spec.hidden)) throw new TwinlabError('INVALID_SPEC', `hidden must be an array of layer widths, got ${String(spec.hidden)}`);
    spec.hidden.forEach((h, i) => {
      checkPositiveInt(`hidden[${i}]`, h);
    });
    const activation = spec.activation ?? 'relu';
    if (activation !== 'relu' && activation !== 'tanh') {
      throw new TwinlabError('INVALID_SPEC', `activation must be "relu" or "tanh", got ${String(activation)}`);
    }
    this.spec = { inputSize, numActions, hidden: [...spec.hidden], dueling: Boolean(spec.dueling), activation };
    this.activation = activation;
    this.constValue = activation === 'relu' ? 1 : 20;
    this.optimizer = QNetwork.checkOptimizer(optimizer);
    this.numHidden = spec.hidden.length;
    const plan = planParameters(inputSize, this.spec.hidden, numActions, this.spec.dueling);
    const { arena, shapes } = plan;
    this.headCols = plan.headCols;
    this.headPad = plan.headPad;
    this.layout = plan.layout;
    this.block = plan.block;
    this.arena = arena;
    this.layers = shapes.map((sh) => ({
      rows: sh.rows,
      cols: sh.cols,
      dataRows: sh.dataRows,
      data: new Float32Array(0),
      grad: new Float32Array(0),
      m: new Float32Array(0),
      v: new Float32Array(0),
      ptr: 0,
      gptr: 0,
    }));
    this.bindViews();
    for (const layer of this.layers) if (layer.dataRows > layer.rows) layer.data[layer.rows * layer.cols + layer.cols - 1] = this.constValue;
    this.jsActs = [...spec.hidden.map((h) => new Float64Array(h)), new Float64Array(numActions)];
    this.jsInput = new Float64Array(inputSize);
  }

  /** (Re-)create every typed-array view of the arena (after construction and after it grew). */
  private bindViews(): void {
    const a = this.arena;
    const o = this.layout;
    this.layers.forEach((layer, l) => {
      const n = layer.rows * layer.cols;
      const data = a.array(o.p[l] as number, layer.dataRows * layer.cols);
      const grad = a.array(o.g[l] as number, n);
      layer.data = data.view;
      layer.ptr = data.ptr;
      layer.grad = grad.view;
      layer.gptr = grad.ptr;
      layer.m = a.array(o.m[l] as number, n).view;
      layer.v = a.array(o.v[l] as number, n).view;
    });
    const A = this.spec.numActions;
    if (this.spec.dueling) {
      const q = a.array(o.qHead, A * this.headCols);
      this.qHead = q.view;
      this.qHeadPtr = q.ptr;
      this.duelingGrad = a.array(o.duelingGrad, A * this.headCols);
    } else {
      const head = this.layers[this.numHidden] as Layer;
      this.qHead = head.data;
      this.qHeadPtr = head.ptr;
    }
    this.wt = o.wt.map((off, l) =>
      a.array(off, l < this.numHidden ? (this.layers[l] as Layer).rows * (this.layers[l] as Layer).cols : this.headPad * this.headCols),
    );
    if (this.ws) this.ws = this.bindWorkspace(this.ws.layout);
  }

  /** Forward layer l of the training pass: output rows, input cols (incl. the ones column), weights pointer. */
  private forwardShape(l: number): { rows: number; cols: number; ptr: number } {
    if (l === this.numHidden) return { rows: this.spec.numActions, cols: this.headCols, ptr: this.qHeadPtr };
    const layer = this.layers[l] as Layer;
    return { rows: layer.rows, cols: layer.cols, ptr: layer.ptr };
  }

  /** Training buffers for batch size B; grows the arena (and re-binds all views) when B is new and larger. */
  private workspace(B: number): Workspace {
    if (this.ws && this.ws.layout.capacity >= B) return this.ws;
    const a = this.arena;
    const forward = Array.from({ length: this.numHidden + 1 }, (_, l) => this.forwardShape(l));
    const layout = planWorkspace(a, Math.max(B, 32), forward, this.spec.numActions, this.headPad, this.spec.hidden);
    if (a.commit()) {
      this.ws = null;
      this.bindViews();
    }
    this.ws = this.bindWorkspace(layout);
    return this.ws;
  }

  private bindWorkspace(w: WorkspaceLayout): Workspace {
    const cols = Array.from({ length: this.numHidden + 1 }, (_, l) => this.forwardShape(l).cols);
    return bindWorkspace(this.arena, w, cols, this.spec.numActions, this.headPad, this.spec.hidden);
  }

  /**
   * Wₗᵀ (cols × rows) for every forward layer — the right operands of the forward `gemmList`. The head's
   * rows are padded with zeros to `headPad` floats so its product runs in f32x4 blocks instead of the
   * kernel's scalar tail (same accumulation order, so the same Q-values).
   */
  private refreshTransposes(): void {
    if (this.wtVersion === this.version) return;
    this.refreshHead();
    for (let l = 0; l <= this.numHidden; l++) {
      const s = this.forwardShape(l);
      const ld = l === this.numHidden ? this.headPad : s.rows;
      this.arena.k.transpose(s.ptr, (this.wt[l] as ArenaArray).ptr, s.rows, s.cols, ld * 4);
    }
    this.wtVersion = this.version;
  }

  private static checkOptimizer(o: OptimizerConfig): Required<OptimizerConfig> {
    if (!(o.learningRate > 0)) throw new TwinlabError('INVALID_ARGUMENT', `learningRate must be > 0, got ${o.learningRate}`);
    if (!(o.adamEpsilon > 0)) throw new TwinlabError('INVALID_ARGUMENT', `adamEpsilon must be > 0, got ${o.adamEpsilon}`);
    if (o.maxGradNorm !== null && !(o.maxGradNorm > 0)) throw new TwinlabError('INVALID_ARGUMENT', `maxGradNorm must be > 0 or null, got ${o.maxGradNorm}`);
    if (o.loss !== 'huber' && o.loss !== 'mse') throw new TwinlabError('INVALID_ARGUMENT', `loss must be "huber" or "mse", got ${String(o.loss)}`);
    const beta1 = o.beta1 ?? DEFAULT_BETA1;
    const beta2 = o.beta2 ?? DEFAULT_BETA2;
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
      throw new TwinlabError('INVALID_ARGUMENT', `Adam betas must be in [0, 1), got ${beta1}, ${beta2}`);
    return { learningRate: o.learningRate, adamEpsilon: o.adamEpsilon, maxGradNorm: o.maxGradNorm, loss: o.loss, beta1, beta2 };
  }

  /** A new network with PyTorch-default initial weights drawn from `rng` (see the class comment). */
  static create(spec: QNetworkSpec, rng: Rng, optimizer: OptimizerConfig): QNetwork {
    const net = new QNetwork(spec, optimizer);
    for (const layer of net.layers) {
      const bound = 1 / Math.sqrt(layer.cols - 1);
      const { rows, cols, data } = layer;
      for (let o = 0; o < rows; o++) for (let j = 0; j < cols - 1; j++) data[o * cols + j] = rng.uniform(-bound, bound);
      for (let o = 0; o < rows; o++) data[o * cols + cols - 1] = rng.uniform(-bound, bound);
    }
    net.version++;
    return net;
  }

  /** Learning rate used by the next steps (schedules). */
  setLearningRate(learningRate: number): void {
    this.optimizer = QNetwork.checkOptimizer({ ...this.optimizer, learningRate });
  }

  get optimizerConfig(): Readonly<Required<OptimizerConfig>> {
    return this.optimizer;
  }

  /** Adam steps taken so far. */
  get steps(): number {
    return this.step;
  }

  get parameterCount(): number {
    return this.layers.reduce((n, l) => n + l.rows * l.cols, 0);
  }

  // ---------------------------------------------------------------- forward passes

  private refreshHead(): void {
    if (!this.spec.dueling || this.headVersion === this.version) return;
    const A = this.spec.numActions;
    const cols = this.headCols;
    const value = (this.layers[this.numHidden] as Layer).data;
    const adv = (this.layers[this.numHidden + 1] as Layer).data;
    for (let j = 0; j < cols; j++) {
      let mean = 0;
      for (let a = 0; a < A; a++) mean += adv[a * cols + j] as number;
      mean /= A;
      const vj = value[j] as number;
      for (let a = 0; a < A; a++) this.qHead[a * cols + j] = vj + (adv[a * cols + j] as number) - mean;
    }
    this.headVersion = this.version;
  }

  /**
   * Q-values for `batchSize` observations (row-major) → batchSize × numActions. ReLU networks, and up
   * to 16 rows (acting) of tanh networks, run on the wasm `gemmList` kernel (no tfjs dispatch); larger
   * tanh batches on tfjs (or on the kernel before `initBackend`).
   */
  predict(observations: Float32Array, batchSize: number): Float32Array {
    this.checkAlive();
    if (!Number.isInteger(batchSize) || batchSize <= 0 || observations.length < batchSize * this.spec.inputSize) {
      throw new TwinlabError(
        'INVALID_ARGUMENT',
        `predict needs batchSize ≥ 1 and ${this.spec.inputSize} values per observation; got batchSize ${batchSize} with ${observations.length} values`,
      );
    }
    if (this.activation === 'relu' || batchSize <= KERNEL_PREDICT_MAX_BATCH || backendInfo() === null) return this.predictKernel(observations, batchSize);
    return this.predictTf(observations, batchSize);
  }

  /**
   * The reference forward pass: plain TypeScript over the same weights, accumulating in float64. No
   * production path calls it — it is the oracle the kernel (`predictKernel`) and tfjs (`predictTf`)
   * paths are tested against, and a baseline for bench/dqn-network.ts.
   */
  predictJs(observations: Float32Array, batchSize: number, out = new Float32Array(batchSize * this.spec.numActions)): Float32Array {
    this.refreshHead();
    const inSize = this.spec.inputSize;
    const A = this.spec.numActions;
    const relu = this.activation === 'relu';
    const x = this.jsInput;
    for (let r = 0; r < batchSize; r++) {
      // Copy the observation into a Float64Array so every layer reads the same array type (monomorphic).
      for (let i = 0; i < inSize; i++) x[i] = observations[r * inSize + i] as number;
      let prev = x;
      for (let l = 0; l <= this.numHidden; l++) {
        const isHead = l === this.numHidden;
        const layer = this.layers[l] as Layer;
        const w = isHead ? this.qHead : layer.data;
        const rows = isHead ? A : layer.rows;
        const cols = isHead ? this.headCols : layer.cols;
        const h = this.jsActs[l] as Float64Array;
        denseForward(w, rows, cols, prev, h);
        if (!isHead) {
          for (let o = 0; o < rows; o++) {
            const z = h[o] as number;
            h[o] = relu ? (z > 0 ? z : 0) : Math.tanh(z);
          }
        }
        prev = h;
      }
      for (let a = 0; a < A; a++) out[r * A + a] = prev[a] as number;
    }
    return out;
  }

  /**
   * The tfjs forward pass (needs `initBackend()`); used for large batches of tanh networks. It runs in
   * the row layout (batch × features) with the kernels W̃ᵀ as the right operand: XNNPACK caches its
   * packed copy of a right operand per tensor, so a target network whose weights stay fixed for many
   * steps pays the packing once instead of on every call.
   */
  predictTf(observations: Float32Array, batchSize: number): Float32Array {
    const tf = getTf();
    const xRows = this.fillInputRows(observations, batchSize);
    const kernels = this.syncKernels();
    const out = new Float32Array(batchSize * this.spec.numActions);
    // Nothing is returned from tidy: tidy walks a returned object's keys looking for tensors, which
    // costs ≈1 µs per element of a typed array.
    tf.tidy(() => {
      let h = tf.tensor2d(xRows, [batchSize, this.spec.inputSize + 1]);
      for (let l = 0; l < this.numHidden; l++) {
        const k = kernels[l] as Tensor2D;
        h = this.activation === 'relu' ? (tf.fused.matMul({ a: h, b: k, activation: 'relu' }) as Tensor2D) : (tf.tanh(tf.matMul(h, k)) as Tensor2D);
      }
      out.set(tf.matMul(h, kernels[this.numHidden] as Tensor2D).dataSync() as Float32Array);
    });
    return out;
  }

  /** Kernels W̃ᵀ ((in+1) × (out[+1])) for the row-layout forward pass, re-uploaded when weights change. */
  private syncKernels(): Tensor2D[] {
    const tf = getTf();
    if (this.kernelCache && this.kernelCache.version === this.version) return this.kernelCache.kernels;
    for (const t of this.kernelCache?.kernels ?? []) t.dispose();
    this.refreshHead();
    const kernels: Tensor2D[] = [];
    for (let l = 0; l <= this.numHidden; l++) {
      const isHead = l === this.numHidden;
      const layer = this.layers[l] as Layer;
      const rows = isHead ? this.spec.numActions : layer.rows + 1;
      const cols = isHead ? this.headCols : layer.cols;
      const src = isHead ? this.qHead : layer.data;
      const k = new Float32Array(rows * cols);
      for (let o = 0; o < rows; o++) for (let j = 0; j < cols; j++) k[j * rows + o] = src[o * cols + j] as number;
      kernels.push(tf.tensor2d(k, [cols, rows]));
    }
    this.kernelCache = { version: this.version, kernels };
    return kernels;
  }

  /** The observations as B × (in + 1) rows ending in the constant 1 of the bias column. */
  private fillInputRows(obs: Float32Array, B: number): Float32Array {
    const n = this.spec.inputSize;
    const np = n + 1;
    let rows = this.inputRows.get(B);
    if (!rows) {
      rows = new Float32Array(B * np);
      for (let b = 0; b < B; b++) rows[b * np + n] = 1;
      this.inputRows.set(B, rows);
    }
    for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) rows[b * np + i] = obs[b * n + i] as number;
    return rows;
  }

  // ---------------------------------------------------------------- training

  private checkBatch(batch: TrainBatch): number {
    const B = batch.actions.length;
    const { inputSize, numActions } = this.spec;
    if (B === 0) throw new TwinlabError('INVALID_ARGUMENT', 'train batch is empty (actions.length = 0)');
    if (batch.observations.length !== B * inputSize) {
      throw new TwinlabError('INVALID_ARGUMENT', `batch.observations has ${batch.observations.length} values, expected ${B}×${inputSize}`);
    }
    if (batch.targets.length !== B) throw new TwinlabError('INVALID_ARGUMENT', `batch.targets has ${batch.targets.length} values, expected ${B}`);
    if (batch.weights !== undefined && batch.weights.length !== B) {
      throw new TwinlabError('INVALID_ARGUMENT', `batch.weights has ${batch.weights.length} values, expected ${B}`);
    }
    for (let b = 0; b < B; b++) {
      const a = batch.actions[b] as number;
      if (!(a >= 0 && a < numActions)) throw new TwinlabError('INVALID_ARGUMENT', `batch.actions[${b}] = ${a} is not an action in [0, ${numActions})`);
    }
    return B;
  }

  /**
   * Forward pass with the `gemmList` kernel for observation rows [row0, row0 + B) of `obs` (B ≤ the
   * workspace capacity): activations in `ws.x`, Q-values in `ws.q` (B × headPad, the first numActions
   * columns used). ReLU is fused into the kernel's store. Needs `refreshTransposes()` first.
   */
  private forwardKernel(ws: Workspace, obs: Float32Array, row0: number, B: number): void {
    const k = this.arena.k;
    const QP = this.headPad;
    const L = this.numHidden;
    const relu = this.activation === 'relu';
    const inSize = this.spec.inputSize;
    const [l1] = ws.lists;
    const x0 = (ws.x[0] as ArenaArray).view;
    const o0 = row0 * inSize;
    for (let b = 0; b < B; b++) for (let i = 0; i < inSize; i++) x0[b * (inSize + 1) + i] = obs[o0 + b * inSize + i] as number;
    // Xₗ₊₁ = act(Xₗ·W̃ₗᵀ) over the non-zeros of Xₗ (ReLU in the kernel, tanh in place afterwards).
    for (let l = 0; l <= L; l++) {
      const { rows, cols } = this.forwardShape(l);
      rowLists(k, (ws.x[l] as ArenaArray).ptr, B, cols, (this.wt[l] as ArenaArray).ptr, (l === L ? QP : rows) * 4, l1);
      if (l === L) {
        k.gemmList(l1.rowsPtr, B, ws.q.ptr, QP * 4, QP);
        break;
      }
      const out = ws.x[l + 1] as ArenaArray;
      if (relu) {
        k.gemmListRelu(l1.rowsPtr, B, out.ptr, (rows + 1) * 4, rows);
        continue;
      }
      k.gemmList(l1.rowsPtr, B, out.ptr, (rows + 1) * 4, rows);
      const h = out.view;
      for (let b = 0; b < B; b++) {
        const r = b * (rows + 1);
        for (let i = r; i < r + rows; i++) h[i] = Math.tanh(h[i] as number);
      }
    }
  }

  /** Q-values by the wasm kernels, in chunks of up to 64 rows (the training workspace). */
  predictKernel(observations: Float32Array, batchSize: number, out = new Float32Array(batchSize * this.spec.numActions)): Float32Array {
    this.checkAlive();
    const A = this.spec.numActions;
    const chunk = Math.min(batchSize, 64);
    const ws = this.workspace(chunk);
    this.refreshTransposes();
    const QP = this.headPad;
    const q = ws.q.view;
    for (let row0 = 0; row0 < batchSize; row0 += chunk) {
      const n = Math.min(chunk, batchSize - row0);
      this.forwardKernel(ws, observations, row0, n);
      for (let b = 0; b < n; b++) for (let a = 0; a < A; a++) out[(row0 + b) * A + a] = q[b * QP + a] as number;
    }
    return out;
  }

  /**
   * Forward + loss + backward with the `gemmList` kernel (row layout: one row per sample, the ones
   * column last); fills each layer's `grad`. Returns loss statistics.
   */
  private backprop(batch: TrainBatch): TrainResult {
    this.checkAlive();
    const B = this.checkBatch(batch);
    const ws = this.workspace(B);
    this.refreshTransposes();
    const k = this.arena.k;
    const A = this.spec.numActions;
    const L = this.numHidden;
    const relu = this.activation === 'relu';
    const [l1, l2] = ws.lists;
    this.forwardKernel(ws, batch.observations, 0, B);

    // Loss and ∂loss/∂Q in JS: a few flops per sample.
    const q = ws.q.view;
    const QP = this.headPad;
    const dq = ws.dq.view;
    dq.fill(0, 0, B * A);
    const tdErrors = new Float32Array(B);
    const huber = this.optimizer.loss === 'huber';
    const invB = 1 / B;
    let loss = 0;
    let sumQ = 0;
    for (let b = 0; b < B; b++) {
      const a = batch.actions[b] as number;
      const qsa = q[b * QP + a] as number;
      const delta = qsa - (batch.targets[b] as number);
      const w = batch.weights ? (batch.weights[b] as number) : 1;
      const ad = Math.abs(delta);
      let lb: number;
      let g: number;
      if (huber) {
        lb = ad < 1 ? 0.5 * delta * delta : ad - 0.5;
        g = ad < 1 ? delta : Math.sign(delta);
      } else {
        lb = delta * delta;
        g = 2 * delta;
      }
      loss += w * lb;
      sumQ += qsa;
      tdErrors[b] = delta;
      dq[b * A + a] = w * g * invB;
    }
    loss *= invB;

    // Backward. dW̃ = dZᵀ·X (lists per output unit over the batch), dX = dZ·W̃ (lists per sample).
    // With ReLU, dZ = dX ⊙ 1[X > 0] is fused into the dX product (`gemmListMask` writes dZ directly;
    // its lists were already copied out of dZ, so it may overwrite dZ in place).
    const xL = ws.x[L] as ArenaArray;
    const headCols = this.headCols;
    colLists(k, ws.dq.ptr, B, A, xL.ptr, headCols * 4, l1);
    const headGradPtr = this.duelingGrad ? this.duelingGrad.ptr : (this.layers[L] as Layer).gptr;
    k.gemmList(l1.rowsPtr, A, headGradPtr, headCols * 4, headCols);
    if (L > 0) {
      const dh = ws.dh.view;
      const dz = ws.dz.view;
      /** dZₗ (B × width) of hidden layer l (output Xₗ₊₁) from the lists of ∂loss/∂Z of the layer above. */
      const backThrough = (list: GemmList, l: number): void => {
        const width = (this.layers[l] as Layer).rows;
        const hArr = ws.x[l + 1] as ArenaArray;
        if (relu) {
          k.gemmListMask(list.rowsPtr, B, ws.dz.ptr, width * 4, width, hArr.ptr, (width + 1) * 4);
          return;
        }
        k.gemmList(list.rowsPtr, B, ws.dh.ptr, width * 4, width);
        const h = hArr.view;
        for (let b = 0; b < B; b++) {
          const r = b * width;
          const rh = b * (width + 1);
          for (let i = 0; i < width; i++) {
            const hv = h[rh + i] as number;
            dz[r + i] = (dh[r + i] as number) * (1 - hv * hv);
          }
        }
      };
      rowLists(k, ws.dq.ptr, B, A, this.qHeadPtr, headCols * 4, l1);
      backThrough(l1, L - 1);
      for (let l = L - 1; l >= 0; l--) {
        const layer = this.layers[l] as Layer;
        const { rows, cols } = layer;
        colLists(k, ws.dz.ptr, B, rows, (ws.x[l] as ArenaArray).ptr, cols * 4, l1);
        k.gemmList(l1.rowsPtr, rows, layer.gptr, cols * 4, cols);
        if (l > 0) {
          rowLists(k, ws.dz.ptr, B, rows, layer.ptr, cols * 4, l2);
          backThrough(l2, l - 1);
        }
      }
    }

    if (this.duelingGrad) {
      const headGrad = this.duelingGrad.view;
      const cols = this.headCols;
      const vg = (this.layers[L] as Layer).grad;
      const ag = (this.layers[L + 1] as Layer).grad;
      for (let j = 0; j < cols; j++) {
        let sum = 0;
        for (let a = 0; a < A; a++) sum += headGrad[a * cols + j] as number;
        vg[j] = sum;
        const mean = sum / A;
        for (let a = 0; a < A; a++) ag[a * cols + j] = (headGrad[a * cols + j] as number) - mean;
      }
    }
    return { loss, meanQ: sumQ / B, tdErrors };
  }

  /** Global L2 norm over every gradient (float64 accumulation in the wasm kernel). */
  private gradNorm(): number {
    return Math.sqrt(this.arena.k.sumSquares(this.block.g, this.block.floats));
  }

  /** Gradients of the loss for `batch` without updating anything (tests, diagnostics). */
  gradients(batch: TrainBatch): GradientResult {
    const result = this.backprop(batch);
    const gradients: Float32Array[] = [];
    for (const layer of this.layers) gradients.push(...splitAugmented(layer.grad, layer.rows, layer.cols));
    return { ...result, gradients, gradNorm: this.gradNorm() };
  }

  /**
   * One Adam step on the weighted mean Huber (δ = 1) or squared loss of Q(s,a) − target, after
   * global-norm gradient clipping (PyTorch `clip_grad_norm_`: scale by max/(‖g‖ + 1e−6) when below 1).
   */
  trainStep(batch: TrainBatch): TrainResult {
    const result = this.backprop(batch);
    const { learningRate, adamEpsilon, maxGradNorm, beta1, beta2 } = this.optimizer;
    let scale = 1;
    if (maxGradNorm !== null) {
      const coef = maxGradNorm / (this.gradNorm() + 1e-6);
      if (coef < 1) scale = coef;
    }
    this.step++;
    const bc1 = 1 - beta1 ** this.step;
    const bc2Sqrt = Math.sqrt(1 - beta2 ** this.step);
    const stepSize = learningRate / bc1;
    const b = this.block;
    this.arena.k.adam(b.p, b.g, b.m, b.v, b.floats, scale, beta1, beta2, 1 - beta1, 1 - beta2, stepSize, bc2Sqrt, adamEpsilon);
    this.version++;
    return result;
  }

  // ---------------------------------------------------------------- weights and state

  private sameShape(other: QNetwork): void {
    if (JSON.stringify(other.spec) !== JSON.stringify(this.spec)) {
      throw new TwinlabError('INVALID_ARGUMENT', `networks differ: ${JSON.stringify(this.spec)} vs ${JSON.stringify(other.spec)}`);
    }
  }

  /** Hard copy of the weights into `target` (optimizer state is not copied). */
  copyTo(target: QNetwork): void {
    this.sameShape(target);
    target.checkAlive();
    for (let l = 0; l < this.layers.length; l++) (target.layers[l] as Layer).data.set((this.layers[l] as Layer).data);
    target.version++;
  }

  /** θ_target ← τ·θ + (1 − τ)·θ_target (SB3 `polyak_update`); τ = 1 is an exact copy. */
  polyakTo(target: QNetwork, tau: number): void {
    if (!(tau > 0 && tau <= 1)) throw new TwinlabError('INVALID_ARGUMENT', `tau must be in (0, 1], got ${tau}`);
    if (tau === 1) {
      this.copyTo(target);
      return;
    }
    this.sameShape(target);
    target.checkAlive();
    for (let l = 0; l < this.layers.length; l++) {
      const src = (this.layers[l] as Layer).data;
      const dst = (target.layers[l] as Layer).data;
      const n = (this.layers[l] as Layer).rows * (this.layers[l] as Layer).cols;
      for (let i = 0; i < n; i++) dst[i] = (1 - tau) * (dst[i] as number) + tau * (src[i] as number);
    }
    target.version++;
  }

  /**
   * Copies of the parameters: per layer its weight matrix (out × in, row-major, PyTorch layout) then
   * its bias; hidden layers first, then the head (dueling: value stream, then advantage stream).
   */
  getWeights(): Float32Array[] {
    const out: Float32Array[] = [];
    for (const layer of this.layers) out.push(...splitAugmented(layer.data, layer.rows, layer.cols));
    return out;
  }

  setWeights(weights: Float32Array[]): void {
    this.checkAlive();
    this.checkArrays('weights', weights, 0);
    this.layers.forEach((layer, l) => {
      joinAugmented(weights[2 * l] as Float32Array, weights[2 * l + 1] as Float32Array, layer.data, layer.rows, layer.cols);
    });
    this.version++;
  }

  private checkArrays(what: string, arrays: Float32Array[], offset: number): void {
    const expected = this.layers.length * 2;
    if (arrays.length < offset + expected) throw new TwinlabError('INVALID_ARGUMENT', `${what}: expected ${expected} arrays, got ${arrays.length - offset}`);
    this.layers.forEach((layer, l) => {
      const w = arrays[offset + 2 * l];
      const b = arrays[offset + 2 * l + 1];
      if (!(w instanceof Float32Array) || w.length !== layer.rows * (layer.cols - 1) || !(b instanceof Float32Array) || b.length !== layer.rows) {
        throw new TwinlabError(
          'INVALID_ARGUMENT',
          `${what}: layer ${l} needs a ${layer.rows}×${layer.cols - 1} weight and ${layer.rows} bias Float32Array, got lengths ${w?.length} and ${b?.length}`,
        );
      }
    });
  }

  getOptimizerState(): OptimizerState {
    const m: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (const layer of this.layers) {
      m.push(...splitAugmented(layer.m, layer.rows, layer.cols));
      v.push(...splitAugmented(layer.v, layer.rows, layer.cols));
    }
    return { step: this.step, tensors: [...m, ...v] };
  }

  setOptimizerState(state: OptimizerState): void {
    this.checkAlive();
    if (!Number.isInteger(state.step) || state.step < 0)
      throw new TwinlabError('INVALID_ARGUMENT', `optimizer state step must be a non-negative integer, got ${state.step}`);
    const n = this.layers.length * 2;
    if (state.tensors.length !== 2 * n) throw new TwinlabError('INVALID_ARGUMENT', `optimizer state needs ${2 * n} arrays, got ${state.tensors.length}`);
    this.checkArrays('optimizer state (m)', state.tensors, 0);
    this.checkArrays('optimizer state (v)', state.tensors, n);
    this.layers.forEach((layer, l) => {
      joinAugmented(state.tensors[2 * l] as Float32Array, state.tensors[2 * l + 1] as Float32Array, layer.m, layer.rows, layer.cols);
      joinAugmented(state.tensors[n + 2 * l] as Float32Array, state.tensors[n + 2 * l + 1] as Float32Array, layer.v, layer.rows, layer.cols);
    });
    this.step = state.step;
  }

  /** SHA-256 over the little-endian float32 bytes of `getWeights()`, in order. */
  weightsHash(): string {
    const arrays = this.getWeights();
    const bytes = new Uint8Array(arrays.reduce((n, a) => n + a.byteLength, 0));
    const view = new DataView(bytes.buffer);
    let k = 0;
    for (const a of arrays) {
      for (let i = 0; i < a.length; i++, k += 4) view.setFloat32(k, a[i] as number, true);
    }
    return sha256Hex(bytes);
  }

  /**
   * The network as a plain dense stack (dueling head folded into one layer), for saving and for
   * greedy policies: kernels out × in, row-major.
   */
  toDenseLayers(): DenseLayerWeights[] {
    this.refreshHead();
    const out: DenseLayerWeights[] = [];
    for (let l = 0; l < this.numHidden; l++) {
      const layer = this.layers[l] as Layer;
      const [kernel, bias] = splitAugmented(layer.data, layer.rows, layer.cols) as [Float32Array, Float32Array];
      out.push({ inputSize: layer.cols - 1, outputSize: layer.rows, kernel, bias, activation: this.activation });
    }
    const [kernel, bias] = splitAugmented(this.qHead, this.spec.numActions, this.headCols) as [Float32Array, Float32Array];
    out.push({ inputSize: this.headCols - 1, outputSize: this.spec.numActions, kernel, bias, activation: 'linear' });
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    for (const t of this.kernelCache?.kernels ?? []) t.dispose();
    this.kernelCache = null;
    this.disposed = true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new TwinlabError('INVALID_STATE', 'this QNetwork has been disposed');
  }
}

/** h[o] = Σ_j w[o, j]·x[j] + w[o, cols−1] for an augmented row-major matrix (float64 accumulation). */
function denseForward(w: Float32Array, rows: number, cols: number, x: Float64Array, h: Float64Array): void {
  const n = cols - 1;
  for (let o = 0; o < rows; o++) {
    const k = o * cols;
    let s = w[k + n] as number;
    for (let j = 0; j < n; j++) s += (w[k + j] as number) * (x[j] as number);
    h[o] = s;
  }
}

/** [W | b] (rows × cols) → [W (rows × (cols−1)), b (rows)]. */
function splitAugmented(aug: Float32Array, rows: number, cols: number): Float32Array[] {
  const n = cols - 1;
  const w = new Float32Array(rows * n);
  const b = new Float32Array(rows);
  for (let o = 0; o < rows; o++) {
    w.set(aug.subarray(o * cols, o * cols + n), o * n);
    b[o] = aug[o * cols + n] as number;
  }
  return [w, b];
}

function joinAugmented(w: Float32Array, b: Float32Array, aug: Float32Array, rows: number, cols: number): void {
  const n = cols - 1;
  for (let o = 0; o < rows; o++) {
    aug.set(w.subarray(o * n, o * n + n), o * cols);
    aug[o * cols + n] = b[o] as number;
  }
}

/**
 * `gemmList` rows of a row-major M × K matrix at byte offset `a`: row i lists (base + k·stride, a[i,k])
 * for every non-zero a[i,k] — the kernel then computes row i of a·Bmat, Bmat's row k at base + k·stride.
 */
function rowLists(k: KernelArena['k'], a: number, M: number, K: number, base: number, stride: number, list: GemmList): void {
  k.buildLists(a, M, K, K * 4, 4, base, stride, list.ptr, list.rowsPtr);
}

/** `gemmList` rows of aᵀ for a row-major M × K matrix `a`: row k lists (base + i·stride, a[i,k]). */
function colLists(k: KernelArena['k'], a: number, M: number, K: number, base: number, stride: number, list: GemmList): void {
  k.buildLists(a, K, M, 4, K * 4, base, stride, list.ptr, list.rowsPtr);
}
