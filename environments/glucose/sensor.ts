import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rng, type RngState } from '../../engine/random.js';
import type { SensorParams } from './params.js';

/**
 * Continuous glucose monitor with the error model of M. Breton & B. Kovatchev, "Analysis, modeling,
 * and simulation of the accuracy of continuous glucose sensors", J. Diabetes Sci. Technol.
 * 2(5):853–862 (2008), as simglucose v0.2.11 implements it (`sensor/noise_gen.py`, `sensor/cgm.py`):
 *
 * 1. latent AR(1) on a 15-min grid: e₀ ~ N(0,1), e_k = PACF·(e_{k−1} + N(0,1));
 * 2. Johnson SU transform ε_k = xi + λ·sinh((e_k − γ)/δ)  (sensor_params.csv: PACF 0.7, γ −0.5444,
 *    λ 15.9574, δ 1.6898, xi −5.47 for all three sensors);
 * 3. batches of 11 knots (the last knot of the previous batch + 10 new ones, 150 min), a cubic
 *    spline through them sampled every `sampleTime` minutes; the first sample (the shared knot) is
 *    dropped, so each batch yields ⌊150/sampleTime⌋ values consumed one per reading;
 * 4. CGM = Gsub + ε clipped to [min, max]; a new reading only when minute % sampleTime == 0, else
 *    the previous reading is held (zero-order hold).
 *
 * Spline boundary conditions: simglucose calls `scipy.interpolate.interp1d(kind='cubic')`, which is a
 * **not-a-knot** cubic spline (scipy's `make_interp_spline(k=3)` default). That is our default;
 * `spline: 'natural'` gives the natural spline (M₀ = M₁₀ = 0). On 11 equally spaced knots the spline is
 * linear in the knot values, so each sample is a fixed weighted sum of the 11 knots: the weights are
 * computed once per sensor, and a batch costs 10 normal draws, 10 sinh and (samples × 11) multiply-adds.
 *
 * Draws come only from the Rng handed to `reset` (the env passes its 'sensor' substream), one
 * normal per 15-min knot, so the noise sequence depends only on the seed and the number of readings —
 * never on glucose — which keeps paired (common-random-number) trials paired.
 */
export const KNOTS_PER_BATCH = 11;
export const KNOT_SPACING_MIN = 15;

export type SplineKind = 'not-a-knot' | 'natural';

export interface CgmOptions {
  /** Add the Breton–Kovatchev noise (default true); false gives CGM = clip(Gsub). */
  noise?: boolean;
  spline?: SplineKind;
}

export interface CgmState {
  rng: RngState | null;
  e: number;
  lastKnot: number;
  batch: number[];
  index: number;
  last: number;
  started: boolean;
}

/**
 * Weights W (samples × knots) of the cubic spline through `knots` equally spaced points (spacing h),
 * evaluated at x_j = (j+1)·dt, j = 0…samples−1 (the sample at 0 is dropped as simglucose does).
 * Second-derivative form: for x in [x_i, x_{i+1}],
 *   S(x) = M_i (x_{i+1}−x)³/6h + M_{i+1}(x−x_i)³/6h + (y_i − M_i h²/6)(x_{i+1}−x)/h + (y_{i+1} − M_{i+1}h²/6)(x−x_i)/h,
 * interior rows M_{i−1} + 4M_i + M_{i+1} = 6(y_{i−1} − 2y_i + y_{i+1})/h²; end rows: natural M_0 = M_{n−1} = 0,
 * not-a-knot M_0 − 2M_1 + M_2 = 0 and M_{n−3} − 2M_{n−2} + M_{n−1} = 0 (continuous third derivative).
 */
export function splineWeights(knots: number, h: number, dt: number, samples: number, kind: SplineKind): Float64Array {
  const n = knots;
  const w = new Float64Array(samples * n);
  const A = new Float64Array(n * n);
  const rhs = new Float64Array(n);
  const M = new Float64Array(n);
  for (let unit = 0; unit < n; unit++) {
    A.fill(0);
    rhs.fill(0);
    const y = (i: number) => (i === unit ? 1 : 0);
    for (let i = 1; i < n - 1; i++) {
      A[i * n + i - 1] = 1;
      A[i * n + i] = 4;
      A[i * n + i + 1] = 1;
      rhs[i] = (6 * (y(i - 1) - 2 * y(i) + y(i + 1))) / (h * h);
    }
    if (kind === 'natural') {
      A[0] = 1;
      A[(n - 1) * n + n - 1] = 1;
    } else {
      A[0] = 1;
      A[1] = -2;
      A[2] = 1;
      A[(n - 1) * n + n - 3] = 1;
      A[(n - 1) * n + n - 2] = -2;
      A[(n - 1) * n + n - 1] = 1;
    }
    solveDense(A, rhs, M, n);
    for (let j = 0; j < samples; j++) {
      const x = (j + 1) * dt;
      let i = Math.min(n - 2, Math.floor(x / h));
      if (i < 0) i = 0;
      const xl = i * h;
      const xr = xl + h;
      const a = xr - x;
      const b = x - xl;
      const Mi = M[i] as number;
      const Mj = M[i + 1] as number;
      w[j * n + unit] = (Mi * a * a * a) / (6 * h) + (Mj * b * b * b) / (6 * h) + ((y(i) - (Mi * h * h) / 6) * a) / h + ((y(i + 1) - (Mj * h * h) / 6) * b) / h;
    }
  }
  return w;
}

/** Gaussian elimination with partial pivoting on a small dense system (A is overwritten). */
function solveDense(A: Float64Array, b: Float64Array, x: Float64Array, n: number): void {
  const rhs = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r * n + c] as number) > Math.abs(A[p * n + c] as number)) p = r;
    if (p !== c) {
      for (let k = 0; k < n; k++) {
        const t = A[c * n + k] as number;
        A[c * n + k] = A[p * n + k] as number;
        A[p * n + k] = t;
      }
      const t = rhs[c] as number;
      rhs[c] = rhs[p] as number;
      rhs[p] = t;
    }
    const piv = A[c * n + c] as number;
    for (let r = c + 1; r < n; r++) {
      const f = (A[r * n + c] as number) / piv;
      if (f === 0) continue;
      for (let k = c; k < n; k++) A[r * n + k] = (A[r * n + k] as number) - f * (A[c * n + k] as number);
      rhs[r] = (rhs[r] as number) - f * (rhs[c] as number);
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = rhs[r] as number;
    for (let k = r + 1; k < n; k++) s -= (A[r * n + k] as number) * (x[k] as number);
    x[r] = s / (A[r * n + r] as number);
  }
}

export class CgmSensor {
  readonly params: SensorParams;
  readonly noise: boolean;
  readonly spline: SplineKind;
  /** Readings per 150-min batch: ⌊150/sampleTime⌋. */
  readonly batchSize: number;
  private readonly weights: Float64Array;
  private readonly knots = new Float64Array(KNOTS_PER_BATCH);
  private readonly batch: Float64Array;
  private index = 0;
  private e = 0;
  private lastKnot = 0;
  private started = false;
  private last = Number.NaN;
  private rng: Rng | null = null;

  constructor(params: SensorParams, options: CgmOptions = {}) {
    if (!(Number.isInteger(params.sampleTime) && params.sampleTime >= 1)) {
      throw new TwinlabError('INVALID_ARGUMENT', `sensor ${params.name}: sampleTime must be an integer ≥ 1 min, got ${describeValue(params.sampleTime)}`);
    }
    const spline = options.spline ?? 'not-a-knot';
    if (spline !== 'not-a-knot' && spline !== 'natural') {
      throw new TwinlabError('INVALID_ARGUMENT', `sensor spline must be 'not-a-knot' or 'natural', got ${describeValue(spline)}`);
    }
    this.params = params;
    this.noise = options.noise ?? true;
    this.spline = spline;
    const span = (KNOTS_PER_BATCH - 1) * KNOT_SPACING_MIN;
    this.batchSize = Math.floor(span / params.sampleTime);
    this.weights = splineWeights(KNOTS_PER_BATCH, KNOT_SPACING_MIN, params.sampleTime, this.batchSize, spline);
    this.batch = new Float64Array(this.batchSize);
    this.index = this.batchSize;
  }

  get sampleTime(): number {
    return this.params.sampleTime;
  }

  /** The last reading (NaN before the first). */
  get reading(): number {
    return this.last;
  }

  /** Start a new noise sequence drawn from `rng` (the caller's substream; kept by reference). */
  reset(rng: Rng): void {
    this.rng = rng;
    this.started = false;
    this.index = this.batchSize;
    this.e = 0;
    this.lastKnot = 0;
    this.last = Number.NaN;
  }

  /** Johnson SU transform of the next latent AR(1) value. */
  private nextKnot(): number {
    const p = this.params;
    const rng = this.rng as Rng;
    this.e = this.started ? p.PACF * (this.e + rng.normal()) : rng.normal();
    this.started = true;
    return p.xi + p.lambda * Math.sinh((this.e - p.gamma) / p.delta);
  }

  private refill(): void {
    const k = this.knots;
    if (!this.started) this.lastKnot = this.nextKnot();
    k[0] = this.lastKnot;
    for (let i = 1; i < KNOTS_PER_BATCH; i++) k[i] = this.nextKnot();
    this.lastKnot = k[KNOTS_PER_BATCH - 1] as number;
    const w = this.weights;
    for (let j = 0; j < this.batchSize; j++) {
      let s = 0;
      const o = j * KNOTS_PER_BATCH;
      for (let i = 0; i < KNOTS_PER_BATCH; i++) s += (w[o + i] as number) * (k[i] as number);
      this.batch[j] = s;
    }
    this.index = 0;
  }

  /** The next noise value ε (mg/dL) of the sequence. */
  nextNoise(): number {
    if (this.rng === null) throw new TwinlabError('INVALID_STATE', 'CgmSensor: reset(rng) must be called before reading');
    if (this.index >= this.batchSize) this.refill();
    return this.batch[this.index++] as number;
  }

  /**
   * Reading at integer clock `minute` for subcutaneous glucose `gsub` (mg/dL): a new value when
   * minute % sampleTime == 0 (or before the first reading), else the held value.
   */
  measure(gsub: number, minute: number): number {
    if (minute % this.params.sampleTime !== 0 && !Number.isNaN(this.last)) return this.last;
    const raw = this.noise ? gsub + this.nextNoise() : gsub;
    this.last = Math.min(this.params.max, Math.max(this.params.min, raw));
    return this.last;
  }

  getState(): CgmState {
    return {
      rng: this.rng ? this.rng.saveState() : null,
      e: this.e,
      lastKnot: this.lastKnot,
      batch: Array.from(this.batch),
      index: this.index,
      last: this.last,
      started: this.started,
    };
  }

  setState(s: CgmState): void {
    if (s === null || typeof s !== 'object' || !Array.isArray(s.batch) || s.batch.length !== this.batchSize) {
      throw new TwinlabError('INVALID_STATE', `CgmSensor state must carry a batch of ${this.batchSize} values, got ${describeValue(s)}`);
    }
    this.rng = s.rng ? Rng.restore(s.rng) : null;
    this.e = s.e;
    this.lastKnot = s.lastKnot;
    this.batch.set(s.batch);
    this.index = s.index;
    // JSON turns NaN into null
    this.last = typeof s.last === 'number' ? s.last : Number.NaN;
    this.started = s.started;
  }
}
