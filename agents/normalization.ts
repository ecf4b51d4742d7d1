import { TwinlabError } from '../engine/errors.js';
import type { Box } from '../engine/spaces.js';
import type { NormalizationSpec } from '../policies/observation-transform.js';

/**
 * Observation normalisation for network inputs (the replay buffer stores raw observations).
 *
 * - `bounds`: components with finite Box bounds map affinely to [−1, 1]: x' = 2(x − lo)/(hi − lo) − 1;
 *   components with an infinite bound pass through unchanged.
 * - `running`: Welford's (1962) online mean/variance over the warm-up (the first `learningStarts`
 *   env steps, when actions are uniform random and no network is trained), then frozen:
 *   x' = clip((x − μ)/√(σ² + 1e−8), ±10) (the clip of SB3's VecNormalize). Freezing keeps the
 *   inputs of stored transitions and of the learned Q-function consistent.
 * - `none`: identity (SB3's default for DQN).
 *
 * The transform is x' = scale·x + shift (per component) plus the optional clip, so a saved policy
 * carries it as two vectors.
 */
export type NormalizationMode = 'none' | 'bounds' | 'running';

export interface NormalizerState {
  mode: NormalizationMode;
  frozen: boolean;
  count: number;
  mean: number[];
  m2: number[];
  scale: number[];
  shift: number[];
  clip: number | null;
}

export class ObservationNormalizer {
  readonly dim: number;
  private readonly scale: Float64Array;
  private readonly shift: Float64Array;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private count = 0;
  private frozen: boolean;
  private clip: number | null = null;

  constructor(
    readonly mode: NormalizationMode,
    space: Box,
  ) {
    this.dim = space.size;
    this.scale = new Float64Array(this.dim).fill(1);
    this.shift = new Float64Array(this.dim);
    this.mean = new Float64Array(this.dim);
    this.m2 = new Float64Array(this.dim);
    this.frozen = mode !== 'running';
    if (mode === 'bounds') {
      for (let i = 0; i < this.dim; i++) {
        const lo = space.low[i] as number;
        const hi = space.high[i] as number;
        // Float32 MAX is gymnasium's stand-in for "unbounded" (CartPole velocities): treat as infinite.
        if (Number.isFinite(lo) && Number.isFinite(hi) && hi > lo && hi - lo < 1e30) {
          this.scale[i] = 2 / (hi - lo);
          this.shift[i] = -1 - (2 * lo) / (hi - lo);
        }
      }
    } else if (mode !== 'none' && mode !== 'running') {
      throw new TwinlabError('INVALID_ARGUMENT', `normalization must be "none", "bounds" or "running", got ${String(mode)}`);
    }
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  get isIdentity(): boolean {
    return this.mode === 'none' || (this.mode === 'running' && this.count === 0) || (this.mode === 'bounds' && this.scale.every((s) => s === 1) && this.shift.every((s) => s === 0));
  }

  /** Add `rows` observations (row-major) to the running statistics; ignored once frozen. */
  observe(obs: Float32Array, rows: number): void {
    if (this.frozen) return;
    const d = this.dim;
    for (let r = 0; r < rows; r++) {
      this.count++;
      for (let i = 0; i < d; i++) {
        const x = obs[r * d + i] as number;
        const delta = x - (this.mean[i] as number);
        this.mean[i] = (this.mean[i] as number) + delta / this.count;
        this.m2[i] = (this.m2[i] as number) + delta * (x - (this.mean[i] as number));
      }
    }
  }

  /** Stop updating; fixes scale/shift from the statistics gathered so far. */
  freeze(): void {
    if (this.frozen) return;
    this.frozen = true;
    if (this.count === 0) return;
    for (let i = 0; i < this.dim; i++) {
      const variance = (this.m2[i] as number) / this.count;
      const s = 1 / Math.sqrt(variance + 1e-8);
      this.scale[i] = s;
      this.shift[i] = -(this.mean[i] as number) * s;
    }
    this.clip = 10;
  }

  /** out[r·d + i] = transform(obs[r·d + i]) for `rows` rows; `out` may be `obs`. */
  apply(obs: Float32Array, rows: number, out: Float32Array): Float32Array {
    const d = this.dim;
    const c = this.clip;
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < d; i++) {
        const k = r * d + i;
        let v = (this.scale[i] as number) * (obs[k] as number) + (this.shift[i] as number);
        if (c !== null) v = v > c ? c : v < -c ? -c : v;
        out[k] = v;
      }
    }
    return out;
  }

  /** The affine transform for saved policies. */
  toJSON(): { mode: NormalizationMode; scale: number[]; shift: number[]; clip: number | null } {
    return { mode: this.mode, scale: Array.from(this.scale), shift: Array.from(this.shift), clip: this.clip };
  }

  /** The spec a saved policy records in policy.json (policies/observation-transform.ts). */
  toSpec(): NormalizationSpec {
    return { kind: this.mode, scale: Array.from(this.scale), shift: Array.from(this.shift), clip: this.clip };
  }

  saveState(): NormalizerState {
    return {
      mode: this.mode,
      frozen: this.frozen,
      count: this.count,
      mean: Array.from(this.mean),
      m2: Array.from(this.m2),
      scale: Array.from(this.scale),
      shift: Array.from(this.shift),
      clip: this.clip,
    };
  }

  restoreState(state: NormalizerState): void {
    if (state.mode !== this.mode || state.mean.length !== this.dim) {
      throw new TwinlabError('INVALID_ARGUMENT', `normalizer state (${state.mode}, dim ${state.mean.length}) does not match (${this.mode}, dim ${this.dim})`);
    }
    this.frozen = state.frozen;
    this.count = state.count;
    this.mean.set(state.mean);
    this.m2.set(state.m2);
    this.scale.set(state.scale);
    this.shift.set(state.shift);
    this.clip = state.clip;
  }
}
