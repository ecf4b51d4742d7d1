import { TwinlabError } from '../engine/errors.js';
import type { Rng } from '../engine/random.js';

/**
 * Uniform experience replay (Lin 1992; Mnih et al. 2015) as a ring buffer of typed-array columns —
 * no per-transition objects. Columns per transition:
 *   obs, nextObs  Float32Array × obsDim each
 *   action        Int32Array
 *   reward        Float32Array   (the n-step return when fed by the n-step accumulator)
 *   discount      Float32Array   (γ^k actually applied to the bootstrap, k ≤ n)
 *   done          Uint8Array     (1 = *terminated* only: a time-limit truncation is bootstrapped,
 *                                 as Stable-Baselines3's `handle_timeout_termination`)
 * ⇒ (2·obsDim + 3)·4 + 1 bytes per transition, within the budget (2·obsDim + 4)·4.
 *
 * Sampling is uniform **with replacement** over the filled part (SB3 `ReplayBuffer.sample`), from the
 * caller's Rng substream, into preallocated batch arrays.
 */
export interface ReplayBatch {
  readonly size: number;
  readonly obsDim: number;
  observations: Float32Array;
  nextObservations: Float32Array;
  actions: Int32Array;
  rewards: Float32Array;
  discounts: Float32Array;
  /** 1 where the transition terminated (no bootstrap), else 0. */
  dones: Float32Array;
  /** Buffer slot of each sampled transition (for priority updates). */
  indices: Int32Array;
  /** Importance-sampling weights (all 1 for uniform replay). */
  weights: Float32Array;
}

export function allocateBatch(size: number, obsDim: number): ReplayBatch {
  return {
    size,
    obsDim,
    observations: new Float32Array(size * obsDim),
    nextObservations: new Float32Array(size * obsDim),
    actions: new Int32Array(size),
    rewards: new Float32Array(size),
    discounts: new Float32Array(size),
    dones: new Float32Array(size),
    indices: new Int32Array(size),
    weights: new Float32Array(size).fill(1),
  };
}

/** Snapshot of a buffer; columns hold only the filled part [0, size). */
export interface ReplayBufferState {
  kind: 'uniform' | 'prioritized';
  capacity: number;
  obsDim: number;
  position: number;
  size: number;
  observations: Float32Array;
  nextObservations: Float32Array;
  actions: Int32Array;
  rewards: Float32Array;
  discounts: Float32Array;
  dones: Uint8Array;
  /** Prioritized replay only: leaf priorities p_i^α of the filled part, and the running max p. */
  priorities?: Float64Array;
  maxPriority?: number;
}

export class ReplayBuffer {
  readonly capacity: number;
  readonly obsDim: number;
  protected readonly obs: Float32Array;
  protected readonly nextObs: Float32Array;
  protected readonly action: Int32Array;
  protected readonly reward: Float32Array;
  protected readonly discount: Float32Array;
  protected readonly done: Uint8Array;
  protected position = 0;
  protected filled = 0;

  constructor(capacity: number, obsDim: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new TwinlabError('INVALID_ARGUMENT', `replay buffer capacity must be an integer ≥ 1, got ${capacity}`);
    }
    if (!Number.isInteger(obsDim) || obsDim < 1) {
      throw new TwinlabError('INVALID_ARGUMENT', `replay buffer obsDim must be an integer ≥ 1, got ${obsDim}`);
    }
    this.capacity = capacity;
    this.obsDim = obsDim;
    this.obs = new Float32Array(capacity * obsDim);
    this.nextObs = new Float32Array(capacity * obsDim);
    this.action = new Int32Array(capacity);
    this.reward = new Float32Array(capacity);
    this.discount = new Float32Array(capacity);
    this.done = new Uint8Array(capacity);
  }

  /** Number of stored transitions. */
  get size(): number {
    return this.filled;
  }

  /** Slot the next transition will be written to. */
  get nextIndex(): number {
    return this.position;
  }

  /**
   * Store one transition; `obs`/`nextObs` are read from `offset`/`nextOffset` (rows of a batched
   * array). Returns the slot written.
   */
  add(obs: Float32Array, action: number, reward: number, nextObs: Float32Array, terminated: boolean, discount: number, offset = 0, nextOffset = 0): number {
    const d = this.obsDim;
    const slot = this.position;
    const base = slot * d;
    for (let j = 0; j < d; j++) {
      this.obs[base + j] = obs[offset + j] as number;
      this.nextObs[base + j] = nextObs[nextOffset + j] as number;
    }
    this.action[slot] = action;
    this.reward[slot] = reward;
    this.discount[slot] = discount;
    this.done[slot] = terminated ? 1 : 0;
    this.position = slot + 1 === this.capacity ? 0 : slot + 1;
    if (this.filled < this.capacity) this.filled++;
    this.onAdd(slot);
    return slot;
  }

  protected onAdd(_slot: number): void {}

  /** Uniform sample with replacement from the filled part into `out` (all `out.size` rows). */
  sample(rng: Rng, out: ReplayBatch): ReplayBatch {
    if (this.filled === 0) throw new TwinlabError('INVALID_STATE', 'cannot sample from an empty replay buffer');
    for (let i = 0; i < out.size; i++) out.indices[i] = Math.floor(rng.next() * this.filled);
    this.gather(out);
    return out;
  }

  /** Fill the batch columns from `out.indices`. */
  gather(out: ReplayBatch): void {
    const d = this.obsDim;
    if (out.obsDim !== d) throw new TwinlabError('INVALID_ARGUMENT', `batch obsDim ${out.obsDim} differs from the buffer's ${d}`);
    for (let i = 0; i < out.size; i++) {
      const slot = out.indices[i] as number;
      const src = slot * d;
      const dst = i * d;
      for (let j = 0; j < d; j++) {
        out.observations[dst + j] = this.obs[src + j] as number;
        out.nextObservations[dst + j] = this.nextObs[src + j] as number;
      }
      out.actions[i] = this.action[slot] as number;
      out.rewards[i] = this.reward[slot] as number;
      out.discounts[i] = this.discount[slot] as number;
      out.dones[i] = this.done[slot] as number;
    }
  }

  /** Bytes held by the columns (the per-transition cost times capacity; object overhead excluded). */
  bytes(): number {
    return this.obs.byteLength + this.nextObs.byteLength + this.action.byteLength + this.reward.byteLength + this.discount.byteLength + this.done.byteLength;
  }

  /** Bytes per stored transition. */
  static bytesPerTransition(obsDim: number): number {
    return (2 * obsDim + 3) * 4 + 1;
  }

  /** A copy of the filled part (for checkpoints). */
  saveState(): ReplayBufferState {
    const n = this.filled;
    const d = this.obsDim;
    return {
      kind: 'uniform',
      capacity: this.capacity,
      obsDim: d,
      position: this.position,
      size: n,
      observations: this.obs.slice(0, n * d),
      nextObservations: this.nextObs.slice(0, n * d),
      actions: this.action.slice(0, n),
      rewards: this.reward.slice(0, n),
      discounts: this.discount.slice(0, n),
      dones: this.done.slice(0, n),
    };
  }

  restoreState(state: ReplayBufferState): void {
    if (state.capacity !== this.capacity || state.obsDim !== this.obsDim) {
      throw new TwinlabError(
        'INVALID_ARGUMENT',
        `replay state has capacity ${state.capacity} × obsDim ${state.obsDim}, buffer has ${this.capacity} × ${this.obsDim}`,
      );
    }
    const n = state.size;
    const d = this.obsDim;
    if (!(n >= 0 && n <= this.capacity) || state.observations.length !== n * d || state.actions.length !== n) {
      throw new TwinlabError('INVALID_ARGUMENT', `replay state size ${n} does not match its columns`);
    }
    this.obs.set(state.observations);
    this.nextObs.set(state.nextObservations);
    this.action.set(state.actions);
    this.reward.set(state.rewards);
    this.discount.set(state.discounts);
    this.done.set(state.dones);
    this.filled = n;
    this.position = state.position;
  }
}
