import type { Tensor2D } from '@tensorflow/tfjs';
import { TwinlabError } from '../engine/errors.js';
import { sha256Hex } from '../engine/hash.js';
import type { Rng } from '../engine/random.js';
import type { DenseLayerWeights } from '../policies/dense-stack.js';
import { backendInfo, getTf } from './backend.js';
import { KernelArena } from './kernels/optim.js';

/**
 * The Q-network of the DQN family: an MLP (ReLU or tanh hidden layers) with a plain or dueling head,
 * trained by one Adam step per `trainStep`.
 *
 * ## Layout (why it is fast on tfjs `wasm`)
 * Parameters live in JavaScript, one *augmented* matrix per layer: W̃ = [W | b], `out × (in+1)`,
 * row-major (PyTorch `nn.Linear` layout with the bias as an extra column). Hidden layers carry one extra
 * constant row [0 … 0 | c] whose activation is exactly 1 (c = 1 for ReLU, c = 20 for tanh, where
 * tanh(20) rounds to 1 in float32), so every activation matrix has a row of ones and biases ride along
 * inside the matrix products: forward is one fused `matMul + relu` per layer, and dW̃ includes db.
 * Activations are kept transposed (features × batch) so the weights are always the *left* operand of
 * `matMul`. XNNPACK in the wasm backend repacks the right operand on every call (≈175 µs for a fresh
 * 256×256 matrix vs ≈25 µs for a 256×64 activation), and `matMul` with `transposeA/B` is 10–17× slower
 * than an explicit `tf.transpose` (DESIGN.md), so the backward pass is written by hand with explicit
 * transposes instead of tfjs autodiff:
 *
 *   Hₗ = act(W̃ₗ·Hₗ₋₁),  Q = W̃_q·H_L                      (H₀ = [xᵀ; 1])
 *   dQ[a,b] = w_b·ℓ'(δ_b)/B for a = a_b (else 0),  δ_b = Q[a_b,b] − y_b
 *   dW̃_q = dQ·H_Lᵀ,  dH_L = W̃_qᵀ·dQ,  dZₗ = dHₗ ⊙ act'(Hₗ),  dW̃ₗ = dZₗ·Hₗ₋₁ᵀ,  dHₗ₋₁ = W̃ₗᵀ·dZₗ
 *
 * Q-values are read back once between the forward and backward passes (the loss derivative is a few
 * hundred flops, cheaper in JS than as tf ops), and gradients once at the end. Global-norm clipping
 * (PyTorch `clip_grad_norm_`) and Adam (PyTorch semantics: ε added to √v̂, bias corrections via the
 * step size) run in JS on the parameter arrays, so optimizer state is synchronous and exactly
 * restorable, and the JS copy used for single-observation acting is always current.
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

interface Layer {
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
  /** Byte offset of `data` in the arena. */
  ptr: number;
}

/** Byte offsets / float length of the four parallel parameter regions of the arena. */
interface ParamBlock {
  p: number;
  g: number;
  m: number;
  v: number;
  floats: number;
}

interface TensorCache {
  version: number;
  /** Per hidden layer: W̃ₗ with its constant row; last entry: the (folded) head. */
  weights: Tensor2D[];
  /** Transposes for the backward pass (index as `weights`; the first hidden layer's is never needed). */
  transposed: (Tensor2D | null)[] | null;
}

interface BatchScratch {
  xT: Float32Array; // (in+1) × B
  xRows: Float32Array; // B × (in+1)
  dq: Float32Array; // A × B
  out: Float32Array; // B × A
}

const DEFAULT_BETA1 = 0.9;
const DEFAULT_BETA2 = 0.999;

/** Largest batch for which `predict` uses the JS forward pass instead of tfjs (see agents/README.md). */
const JS_PREDICT_MAX_MACS = 16_000;

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
  private readonly qHead: Float32Array;
  private readonly qHeadPtr: number;
  private readonly headCols: number;
  /** WebAssembly memory holding parameters, gradients, Adam moments and transposes (agents/kernels/optim.ts). */
  private readonly arena: KernelArena;
  private readonly block: ParamBlock;
  /** Per layer index l ≥ 1 of `TensorCache.weights`: scratch for W̃ₗᵀ (byte offset and view). */
  private readonly transposeScratch: ({ ptr: number; view: Float32Array } | null)[];
  private readonly duelingGrad: Float32Array | null;
  private optimizer: Required<OptimizerConfig>;
  private step = 0;
  private version = 0;
  private headVersion = -1;
  private cache: TensorCache | null = null;
  private kernelCache: { version: number; kernels: Tensor2D[] } | null = null;
  private scratch = new Map<number, BatchScratch>();
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
    // Arena layout: four parallel regions (parameters, gradients, m, v) with identical per-layer
    // offsets, so clipping and Adam are one kernel call each over every parameter. Constant rows and
    // padding have zero gradient and moments, which leaves them exactly unchanged under Adam.
    const shapes: { rows: number; cols: number; dataRows: number }[] = [];
    let fanIn = inputSize;
    for (const width of spec.hidden) {
      shapes.push({ rows: width, cols: fanIn + 1, dataRows: width + 1 });
      fanIn = width;
    }
    this.headCols = fanIn + 1;
    if (this.spec.dueling) shapes.push({ rows: 1, cols: this.headCols, dataRows: 1 });
    shapes.push({ rows: numActions, cols: this.headCols, dataRows: numActions });
    const arena = new KernelArena();
    const regions = [0, 1, 2, 3].map(() => shapes.map((sh) => arena.reserve(sh.dataRows * sh.cols)));
    const blockFloats = (regions[1]?.[0] as number) - (regions[0]?.[0] as number);
    const transposeOffsets = shapes.map((sh, l) => (l >= 1 && l <= this.numHidden ? arena.reserve(sh.dataRows * sh.cols) : -1));
    const qHeadOffset = this.spec.dueling ? arena.reserve(numActions * this.headCols) : -1;
    const duelingT = this.spec.dueling && this.numHidden >= 1 ? arena.reserve(numActions * this.headCols) : -1;
    arena.seal();
    this.arena = arena;
    const [pOff, gOff, mOff, vOff] = regions as [number[], number[], number[], number[]];
    this.block = { p: (pOff[0] as number) * 4, g: (gOff[0] as number) * 4, m: (mOff[0] as number) * 4, v: (vOff[0] as number) * 4, floats: blockFloats };
    this.layers = shapes.map((sh, l) => {
      const n = sh.rows * sh.cols;
      const data = arena.array(pOff[l] as number, sh.dataRows * sh.cols);
      if (sh.dataRows > sh.rows) data.view[n + sh.cols - 1] = this.constValue;
      return {
        rows: sh.rows,
        cols: sh.cols,
        dataRows: sh.dataRows,
        data: data.view,
        ptr: data.ptr,
        grad: arena.array(gOff[l] as number, n).view,
        m: arena.array(mOff[l] as number, n).view,
        v: arena.array(vOff[l] as number, n).view,
      };
    });
    if (this.spec.dueling) {
      const q = arena.array(qHeadOffset, numActions * this.headCols);
      this.qHead = q.view;
      this.qHeadPtr = q.ptr;
      this.duelingGrad = new Float32Array(numActions * this.headCols);
    } else {
      const head = this.layers[this.numHidden] as Layer;
      this.qHead = head.data;
      this.qHeadPtr = head.ptr;
      this.duelingGrad = null;
    }
    // Index as TensorCache.weights: hidden layers 1..L−1, then the (folded) head at L.
    this.transposeScratch = [];
    for (let l = 0; l <= this.numHidden; l++) {
      const isHead = l === this.numHidden;
      const off = isHead ? (this.spec.dueling ? duelingT : transposeOffsets[l]) : transposeOffsets[l];
      if (l === 0 || off === undefined || off < 0) {
        this.transposeScratch.push(null);
        continue;
      }
      const len = isHead ? numActions * this.headCols : (shapes[l] as { dataRows: number; cols: number }).dataRows * (shapes[l] as { cols: number }).cols;
      const a = arena.array(off, len);
      this.transposeScratch.push({ ptr: a.ptr, view: a.view });
    }
    this.jsActs = [...spec.hidden.map((h) => new Float64Array(h)), new Float64Array(numActions)];
    this.jsInput = new Float64Array(inputSize);
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
   * Q-values for `batchSize` observations (row-major) → batchSize × numActions. Small work (≤ 16k
   * multiply-adds: [64, 64] nets up to batch 3) runs a plain TypeScript forward pass over the parameter
   * arrays (≈8 µs vs ≈25 µs of tfjs dispatch); larger work runs on tfjs (or in TS before `initBackend`).
   */
  predict(observations: Float32Array, batchSize: number): Float32Array {
    this.checkAlive();
    if (!Number.isInteger(batchSize) || batchSize <= 0 || observations.length < batchSize * this.spec.inputSize) {
      throw new TwinlabError(
        'INVALID_ARGUMENT',
        `predict needs batchSize ≥ 1 and ${this.spec.inputSize} values per observation; got batchSize ${batchSize} with ${observations.length} values`,
      );
    }
    const macs = batchSize * this.parameterCount;
    if (macs <= JS_PREDICT_MAX_MACS || backendInfo() === null) return this.predictJs(observations, batchSize);
    return this.predictTf(observations, batchSize);
  }

  /** The TypeScript forward pass (float64 accumulation) — always available, no tfjs needed. */
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
   * The tfjs forward pass (needs `initBackend()`); used for batches. Unlike training it runs in the
   * row layout (batch × features) with the kernels W̃ᵀ as the right operand: XNNPACK caches its packed
   * copy of a right operand per tensor, so a target network whose weights stay fixed for many steps
   * pays the packing once instead of on every call.
   */
  predictTf(observations: Float32Array, batchSize: number): Float32Array {
    const tf = getTf();
    const s = this.batchScratch(batchSize);
    this.fillInputs(observations, batchSize, s, true);
    const kernels = this.syncKernels();
    const out = new Float32Array(batchSize * this.spec.numActions);
    // Nothing is returned from tidy: tidy walks a returned object's keys looking for tensors, which
    // costs ≈1 µs per element of a typed array.
    tf.tidy(() => {
      let h = tf.tensor2d(s.xRows, [batchSize, this.spec.inputSize + 1]);
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

  private hiddenForward(w: Tensor2D, h: Tensor2D): Tensor2D {
    const tf = getTf();
    if (this.activation === 'relu') return tf.fused.matMul({ a: w, b: h, activation: 'relu' }) as Tensor2D;
    return tf.tanh(tf.matMul(w, h)) as Tensor2D;
  }

  private batchScratch(B: number): BatchScratch {
    let s = this.scratch.get(B);
    if (!s) {
      const inPlus = this.spec.inputSize + 1;
      s = {
        xT: new Float32Array(inPlus * B),
        xRows: new Float32Array(B * inPlus),
        dq: new Float32Array(this.spec.numActions * B),
        out: new Float32Array(B * this.spec.numActions),
      };
      s.xT.fill(1, this.spec.inputSize * B);
      for (let b = 0; b < B; b++) s.xRows[b * inPlus + this.spec.inputSize] = 1;
      this.scratch.set(B, s);
    }
    return s;
  }

  private fillInputs(obs: Float32Array, B: number, s: BatchScratch, rows: boolean): void {
    const n = this.spec.inputSize;
    for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) s.xT[i * B + b] = obs[b * n + i] as number;
    if (rows) {
      const np = n + 1;
      for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) s.xRows[b * np + i] = obs[b * n + i] as number;
    }
  }

  /** Upload the parameters to tfjs when they changed; transposes only when training needs them. */
  private syncTensors(training: boolean): TensorCache {
    const tf = getTf();
    if (!this.cache || this.cache.version !== this.version) {
      this.disposeCache();
      this.refreshHead();
      const weights: Tensor2D[] = [];
      for (let l = 0; l < this.numHidden; l++) {
        const layer = this.layers[l] as Layer;
        weights.push(tf.tensor2d(this.uploadable(layer.data), [layer.dataRows, layer.cols]));
      }
      weights.push(tf.tensor2d(this.uploadable(this.qHead), [this.spec.numActions, this.headCols]));
      this.cache = { version: this.version, weights, transposed: null };
    }
    if (training && !this.cache.transposed) {
      // W̃ₗᵀ by the wasm kernel in the arena (≈20 µs for 257×257) and uploaded, instead of tf.transpose
      // (≈110 µs on tfjs-wasm).
      const transposed: (Tensor2D | null)[] = [null];
      for (let l = 1; l <= this.numHidden; l++) {
        const isHead = l === this.numHidden;
        const layer = this.layers[l] as Layer;
        const rows = isHead ? this.spec.numActions : layer.dataRows;
        const cols = isHead ? this.headCols : layer.cols;
        const scratch = this.transposeScratch[l] as { ptr: number; view: Float32Array };
        this.arena.k.transpose(isHead ? this.qHeadPtr : layer.ptr, scratch.ptr, rows, cols);
        transposed.push(tf.tensor2d(this.uploadable(scratch.view), [cols, rows]));
      }
      this.cache.transposed = transposed;
    }
    return this.cache;
  }

  /** The wasm backend copies a tensor's values on creation; the cpu backend keeps the array, so copy. */
  private uploadable(a: Float32Array): Float32Array {
    return backendInfo()?.backend === 'wasm' ? a : a.slice();
  }

  private disposeCache(): void {
    if (!this.cache) return;
    for (const t of this.cache.weights) t.dispose();
    for (const t of this.cache.transposed ?? []) t?.dispose();
    this.cache = null;
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

  /** Forward + loss + backward on tfjs; fills each layer's `grad`. Returns loss statistics. */
  private backprop(batch: TrainBatch): TrainResult {
    this.checkAlive();
    const tf = getTf();
    const B = this.checkBatch(batch);
    const A = this.spec.numActions;
    const L = this.numHidden;
    const huber = this.optimizer.loss === 'huber';
    const s = this.batchScratch(B);
    this.fillInputs(batch.observations, B, s, true);
    const cache = this.syncTensors(true);
    const transposed = cache.transposed as (Tensor2D | null)[];
    const tdErrors = new Float32Array(B);
    let loss = 0;
    let sumQ = 0;
    const headGrad = this.duelingGrad ?? (this.layers[L] as Layer).grad;

    tf.tidy(() => {
      const acts: Tensor2D[] = [tf.tensor2d(s.xT, [this.spec.inputSize + 1, B])];
      for (let l = 0; l < L; l++) acts.push(this.hiddenForward(cache.weights[l] as Tensor2D, acts[l] as Tensor2D));
      const q = tf.matMul(cache.weights[L] as Tensor2D, acts[L] as Tensor2D).dataSync();

      // Loss and ∂loss/∂Q in JS: a few flops per sample.
      const dq = s.dq;
      dq.fill(0);
      const invB = 1 / B;
      for (let b = 0; b < B; b++) {
        const a = batch.actions[b] as number;
        const qsa = q[a * B + b] as number;
        const delta = qsa - (batch.targets[b] as number);
        const w = batch.weights ? (batch.weights[b] as number) : 1;
        const ad = Math.abs(delta);
        let l: number;
        let g: number;
        if (huber) {
          l = ad < 1 ? 0.5 * delta * delta : ad - 0.5;
          g = ad < 1 ? delta : Math.sign(delta);
        } else {
          l = delta * delta;
          g = 2 * delta;
        }
        loss += w * l;
        sumQ += qsa;
        tdErrors[b] = delta;
        dq[a * B + b] = w * g * invB;
      }
      loss *= invB;

      const dQ = tf.tensor2d(dq, [A, B]);
      const hL = acts[L] as Tensor2D;
      const prevRowsL = L === 0 ? tf.tensor2d(s.xRows, [B, this.spec.inputSize + 1]) : tf.transpose(hL);
      headGrad.set(tf.matMul(dQ, prevRowsL).dataSync() as Float32Array);
      if (L === 0) return;
      let dH = tf.matMul(transposed[L] as Tensor2D, dQ);
      for (let l = L - 1; l >= 0; l--) {
        const h = acts[l + 1] as Tensor2D;
        const deriv = this.activation === 'relu' ? tf.step(h) : tf.sub(1, tf.square(h));
        const dZ = tf.mul(dH, deriv);
        const prevRows = l === 0 ? tf.tensor2d(s.xRows, [B, this.spec.inputSize + 1]) : tf.transpose(acts[l] as Tensor2D);
        const layer = this.layers[l] as Layer;
        const dW = tf.matMul(dZ, prevRows).dataSync() as Float32Array;
        layer.grad.set(dW.subarray(0, layer.rows * layer.cols));
        if (l > 0) dH = tf.matMul(transposed[l] as Tensor2D, dZ);
      }
    });

    if (this.spec.dueling) {
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
    this.disposeCache();
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
