import { TwinlabError } from './errors.js';
import type { Rng } from './random.js';

/**
 * Gymnasium-style spaces. Observations are always `Float32Array`s described by a `Box`; actions are
 * an integer (`Discrete`), a `Float32Array` (`Box`) or an `Int32Array` (`MultiDiscrete`).
 */
export const SPACE_KINDS = { discrete: 'discrete', box: 'box', multiDiscrete: 'multi-discrete' } as const;
export type SpaceKind = (typeof SPACE_KINDS)[keyof typeof SPACE_KINDS];

export type Action = number | Float32Array | Int32Array;

export interface SpaceJSON {
  kind: SpaceKind;
  n?: number;
  start?: number;
  shape?: number[];
  low?: number[];
  high?: number[];
  nvec?: number[];
  labels?: string[];
}

export interface Space<T extends Action | Float32Array = Action> {
  readonly kind: SpaceKind;
  readonly shape: readonly number[];
  contains(value: unknown): value is T;
  sample(rng: Rng): T;
  toString(): string;
  toJSON(): SpaceJSON;
}

export class Discrete implements Space<number> {
  readonly kind = SPACE_KINDS.discrete;
  readonly shape: readonly number[] = [];
  constructor(
    readonly n: number,
    readonly start = 0,
    /** Optional human-readable meaning of each action, e.g. "2× basal". */
    readonly labels?: readonly string[],
  ) {
    if (!Number.isInteger(n) || n < 1) throw new TwinlabError('INVALID_ARGUMENT', `Discrete(n) needs an integer n ≥ 1, got ${n}`);
    if (labels !== undefined && labels.length !== n) {
      throw new TwinlabError('INVALID_ARGUMENT', `Discrete(${n}) got ${labels.length} labels`);
    }
  }
  contains(value: unknown): value is number {
    return typeof value === 'number' && Number.isInteger(value) && value >= this.start && value < this.start + this.n;
  }
  sample(rng: Rng): number {
    return this.start + Math.floor(rng.next() * this.n);
  }
  toString(): string {
    return this.start === 0 ? `Discrete(${this.n})` : `Discrete(${this.n}, start=${this.start})`;
  }
  toJSON(): SpaceJSON {
    const json: SpaceJSON = { kind: this.kind, n: this.n, start: this.start };
    if (this.labels) json.labels = [...this.labels];
    return json;
  }
}

/** A (possibly unbounded) box of float32 values; `low`/`high` may be ±Infinity. */
export class Box implements Space<Float32Array> {
  readonly kind = SPACE_KINDS.box;
  readonly low: Float32Array;
  readonly high: Float32Array;
  readonly size: number;
  constructor(
    low: number | ArrayLike<number>,
    high: number | ArrayLike<number>,
    readonly shape: readonly number[] = typeof low === 'number' ? [typeof high === 'number' ? 1 : high.length] : [low.length],
    /** Optional names of the components, e.g. ["cgm_t-0", "iob"]. */
    readonly labels?: readonly string[],
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
    this.low = Float32Array.from({ length: this.size }, (_, i) => (typeof low === 'number' ? low : (low[i] as number)));
    this.high = Float32Array.from({ length: this.size }, (_, i) => (typeof high === 'number' ? high : (high[i] as number)));
    for (let i = 0; i < this.size; i++) {
      if (!((this.low[i] as number) <= (this.high[i] as number))) {
        throw new TwinlabError('INVALID_ARGUMENT', `Box: low[${i}] = ${this.low[i]} exceeds high[${i}] = ${this.high[i]}`);
      }
    }
    if (labels !== undefined && labels.length !== this.size) {
      throw new TwinlabError('INVALID_ARGUMENT', `Box of size ${this.size} got ${labels.length} labels`);
    }
  }
  contains(value: unknown): value is Float32Array {
    if (!(value instanceof Float32Array) || value.length !== this.size) return false;
    for (let i = 0; i < this.size; i++) {
      const v = value[i] as number;
      if (!(v >= (this.low[i] as number) && v <= (this.high[i] as number))) return false;
    }
    return true;
  }
  /** Uniform where bounded on both sides, shifted exponential where half-bounded, normal where unbounded (as Gymnasium). */
  sample(rng: Rng): Float32Array {
    const out = new Float32Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const lo = this.low[i] as number;
      const hi = this.high[i] as number;
      const loFinite = Number.isFinite(lo);
      const hiFinite = Number.isFinite(hi);
      let v: number;
      if (loFinite && hiFinite) v = rng.uniform(lo, hi);
      else if (loFinite) v = lo - Math.log(1 - rng.next());
      else if (hiFinite) v = hi + Math.log(1 - rng.next());
      else v = rng.normal();
      out[i] = Math.min(hi, Math.max(lo, Math.fround(v)));
    }
    return out;
  }
  /** True when every component has finite bounds (so observations can be normalised from them). */
  get bounded(): boolean {
    for (let i = 0; i < this.size; i++) if (!Number.isFinite(this.low[i]) || !Number.isFinite(this.high[i])) return false;
    return true;
  }
  toString(): string {
    const uniform = this.low.every((v) => v === this.low[0]) && this.high.every((v) => v === this.high[0]);
    return uniform
      ? `Box(${this.low[0]}, ${this.high[0]}, [${this.shape.join(', ')}])`
      : `Box([${Array.from(this.low).join(', ')}], [${Array.from(this.high).join(', ')}])`;
  }
  toJSON(): SpaceJSON {
    const finite = (v: number) => (Number.isFinite(v) ? v : v > 0 ? 'Infinity' : '-Infinity');
    const json: SpaceJSON = {
      kind: this.kind,
      shape: [...this.shape],
      low: Array.from(this.low, finite) as number[],
      high: Array.from(this.high, finite) as number[],
    };
    if (this.labels) json.labels = [...this.labels];
    return json;
  }
}

export class MultiDiscrete implements Space<Int32Array> {
  readonly kind = SPACE_KINDS.multiDiscrete;
  readonly nvec: Int32Array;
  readonly shape: readonly number[];
  constructor(nvec: ArrayLike<number>) {
    this.nvec = Int32Array.from(nvec);
    this.shape = [this.nvec.length];
    for (const n of this.nvec) {
      if (n < 1) throw new TwinlabError('INVALID_ARGUMENT', `MultiDiscrete needs every n ≥ 1, got [${Array.from(nvec).join(', ')}]`);
    }
  }
  contains(value: unknown): value is Int32Array {
    if (!(value instanceof Int32Array) || value.length !== this.nvec.length) return false;
    for (let i = 0; i < value.length; i++) if ((value[i] as number) < 0 || (value[i] as number) >= (this.nvec[i] as number)) return false;
    return true;
  }
  sample(rng: Rng): Int32Array {
    return Int32Array.from(this.nvec, (n) => Math.floor(rng.next() * n));
  }
  toString(): string {
    return `MultiDiscrete([${Array.from(this.nvec).join(', ')}])`;
  }
  toJSON(): SpaceJSON {
    return { kind: this.kind, nvec: Array.from(this.nvec) };
  }
}

export function isDiscrete(space: Space): space is Discrete {
  return space.kind === SPACE_KINDS.discrete;
}
export function isBox(space: Space): space is Box {
  return space.kind === SPACE_KINDS.box;
}
export function isMultiDiscrete(space: Space): space is MultiDiscrete {
  return space.kind === SPACE_KINDS.multiDiscrete;
}

/** Flat length of an observation from its Box space. */
export function flatSize(space: Space): number {
  return space.shape.reduce((a, b) => a * b, 1);
}
