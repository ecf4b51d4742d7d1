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
 * Optional columns (only allocated when asked for):
 *   nextMask      Uint8Array × numActions   (allowed actions of s′ under a shield in mask mode: the
 *                                            TD target's max runs over them; `maskWidth` = numActions)
 *   cost          Float32Array              (the n-step discounted cost, for constrained training)
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
  /** size × maskWidth allowed-action bytes of s′ (1 = allowed); empty when the buffer stores no masks. */
  nextMasks: Uint8Array;
  /** n-step discounted cost of each transition; empty when the buffer stores no costs. */
  costs: Float32Array;
}

export interface ReplayExtras {
  /** Store the next state's allowed-action mask, this many bytes per transition (the number of actions). */
  maskWidth?: number;
  /** Store a per-transition cost. */
  costs?: boolean;
}

export function allocateBatch(size: number, obsDim: number, extras: ReplayExtras = {}): ReplayBatch {
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
    nextMasks: new Uint8Array(size * (extras.maskWidth ?? 0)),
    costs: new Float32Array(extras.costs ? size : 0),
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
  /** Optional columns (ReplayExtras): the next-state masks (size × maskWidth) and costs. */
  nextMasks?: Uint8Array;
  costs?: Float32Array;
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
  /** Bytes per transition of the next-state mask column (0 = no masks stored). */
  readonly maskWidth: number;
  protected readonly nextMask: Uint8Array;
  protected readonly cost: Float32Array | null;
  protected position = 0;
  protected filled = 0;

  constructor(capacity: number, obsDim: number, extras: ReplayExtras = {}) {
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
    const w = extras.maskWidth ?? 0;
    if (!Number.isInteger(w) || w < 0) throw new TwinlabError('INVALID_ARGUMENT', `replay buffer maskWidth must be an integer ≥ 0, got ${w}`);
    this.maskWidth = w;
    this.nextMask = new Uint8Array(capacity * w);
    this.cost = extras.costs ? new Float32Array(capacity) : null;
  }

  /** Whether the buffer stores a cost per transition. */
  get storesCosts(): boolean {
    return this.cost !== null;
  }

  /**
   * The optional columns of the transition in `slot` (the value `add` returned): the next state's mask
   * (maskWidth bytes of `mask` from `maskOffset`) and the cost. Call right after `add`.
   */
  setExtras(slot: number, mask: Uint8Array | null, maskOffset: number, cost: number): void {
    const w = this.maskWidth;
    if (w > 0) {
      if (mask === null) throw new TwinlabError('INVALID_ARGUMENT', 'this replay buffer stores next-state masks; none was given');
      const base = slot * w;
      for (let j = 0; j < w; j++) this.nextMask[base + j] = mask[maskOffset + j] as number;
    }
    if (this.cost) this.cost[slot] = cost;
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
    const w = this.maskWidth;
    if (w > 0) {
      if (out.nextMasks.length < out.size * w) throw new TwinlabError('INVALID_ARGUMENT', `batch has no room for next-state masks of width ${w}`);
      for (let i = 0; i < out.size; i++) {
        const src = (out.indices[i] as number) * w;
        for (let j = 0; j < w; j++) out.nextMasks[i * w + j] = this.nextMask[src + j] as number;
      }
    }
    if (this.cost) {
      if (out.costs.length < out.size) throw new TwinlabError('INVALID_ARGUMENT', 'batch has no room for costs');
      for (let i = 0; i < out.size; i++) out.costs[i] = this.cost[out.indices[i] as number] as number;
    }
  }

  /** Bytes held by the columns (the per-transition cost times capacity; object overhead excluded). */
  bytes(): number {
    return (
      this.obs.byteLength +
      this.nextObs.byteLength +
      this.action.byteLength +
      this.reward.byteLength +
      this.discount.byteLength +
      this.done.byteLength +
      this.nextMask.byteLength +
      (this.cost?.byteLength ?? 0)
    );
  }

  /** Bytes per stored transition. */
  static bytesPerTransition(obsDim: number, extras: ReplayExtras = {}): number {
    return (2 * obsDim + 3) * 4 + 1 + (extras.maskWidth ?? 0) + (extras.costs ? 4 : 0);
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
      ...(this.maskWidth > 0 ? { nextMasks: this.nextMask.slice(0, n * this.maskWidth) } : {}),
      ...(this.cost ? { costs: this.cost.slice(0, n) } : {}),
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
    if (this.maskWidth > 0) {
      if (state.nextMasks?.length !== n * this.maskWidth) throw new TwinlabError('INVALID_ARGUMENT', `replay state lacks next-state masks of width ${this.maskWidth}`);
      this.nextMask.set(state.nextMasks);
    }
    if (this.cost) {
      if (state.costs?.length !== n) throw new TwinlabError('INVALID_ARGUMENT', 'replay state lacks costs');
      this.cost.set(state.costs);
    }
    this.filled = n;
    this.position = state.position;
  }
}
