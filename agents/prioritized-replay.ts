import { TwinlabError } from '../engine/errors.js';
import type { Rng } from '../engine/random.js';
import { type ReplayBatch, ReplayBuffer, type ReplayBufferState, type ReplayExtras } from './replay-buffer.js';
import { SumTree } from './sum-tree.js';

/**
 * Proportional prioritized experience replay (Schaul, Quan, Antonoglou & Silver 2016, "Prioritized
 * Experience Replay", ICLR, Algorithm 1 and §3.3–3.4):
 *   p_i = (|δ_i| + ε)^α,   P(i) = p_i / Σ_k p_k,
 *   w_i = (N·P(i))^(−β) / max_j w_j   with max_j w_j = (N·min_k P(k))^(−β),
 * β annealed to 1 by the caller. New transitions enter at the largest priority seen so far, so every
 * transition is replayed at least once with high probability. Sampling is stratified: the total mass
 * is cut into B equal segments and one point is drawn uniformly inside each.
 */
export class PrioritizedReplayBuffer extends ReplayBuffer {
  private readonly tree: SumTree;
  /** Largest raw priority |δ| + ε seen so far (before the exponent α). */
  private maxPriority = 1;

  constructor(
    capacity: number,
    obsDim: number,
    readonly alpha: number,
    readonly epsilon: number,
    extras: ReplayExtras = {},
  ) {
    super(capacity, obsDim, extras);
    if (!(alpha >= 0)) throw new TwinlabError('INVALID_ARGUMENT', `prioritized.alpha must be ≥ 0, got ${alpha}`);
    if (!(epsilon > 0)) throw new TwinlabError('INVALID_ARGUMENT', `prioritized.epsilon must be > 0, got ${epsilon}`);
    this.tree = new SumTree(capacity);
  }

  protected override onAdd(slot: number): void {
    this.tree.set(slot, this.maxPriority ** this.alpha);
  }

  /** Stratified proportional sample; fills `out.indices` and `out.weights` (normalised by max w). */
  sampleWeighted(rng: Rng, out: ReplayBatch, beta: number): ReplayBatch {
    const n = this.size;
    if (n === 0) throw new TwinlabError('INVALID_STATE', 'cannot sample from an empty replay buffer');
    const total = this.tree.total;
    const segment = total / out.size;
    const pMin = this.tree.min / total;
    const maxWeight = (n * pMin) ** -beta;
    for (let i = 0; i < out.size; i++) {
      let idx = this.tree.find((i + rng.next()) * segment);
      if (idx >= n) idx = n - 1;
      out.indices[i] = idx;
      const p = this.tree.get(idx) / total;
      out.weights[i] = (n * p) ** -beta / maxWeight;
    }
    this.gather(out);
    return out;
  }

  /** Set p_i = (|δ_i| + ε)^α for the sampled slots. */
  updatePriorities(indices: Int32Array, tdErrors: ArrayLike<number>): void {
    for (let i = 0; i < indices.length; i++) {
      const raw = Math.abs(tdErrors[i] as number) + this.epsilon;
      if (!Number.isFinite(raw)) throw new TwinlabError('INVALID_ARGUMENT', `TD error ${tdErrors[i]} at batch row ${i} is not finite`);
      this.tree.set(indices[i] as number, raw ** this.alpha);
      if (raw > this.maxPriority) this.maxPriority = raw;
    }
  }

  priority(index: number): number {
    return this.tree.get(index);
  }

  override bytes(): number {
    return super.bytes() + this.tree.bytes();
  }

  override saveState(): ReplayBufferState {
    return { ...super.saveState(), kind: 'prioritized', priorities: this.tree.leafValues(this.size), maxPriority: this.maxPriority };
  }

  override restoreState(state: ReplayBufferState): void {
    if (state.priorities === undefined || state.maxPriority === undefined) {
      throw new TwinlabError('INVALID_ARGUMENT', 'prioritized replay state lacks priorities');
    }
    super.restoreState(state);
    this.tree.load(state.priorities);
    this.maxPriority = state.maxPriority;
  }
}
