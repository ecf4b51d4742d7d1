import { TwinlabError } from '../engine/errors.js';

/**
 * n-step returns (Sutton 1988; Hessel et al. 2018, "Rainbow", AAAI, §"Multi-step learning") for
 * every env of a VectorEnv. For the oldest pending step t of an env the emitted transition is
 *   (s_t, a_t, R = Σ_{j=0}^{k−1} γ^j r_{t+j}, s_{t+k}, done, γ^k)
 * with k = n in mid-episode. At an episode end every pending step is flushed with the k that is
 * left: on *termination* done = 1 (no bootstrap); on *truncation* done = 0 and s_{t+k} is the true
 * final observation, so the learner bootstraps through the time limit. The discount column carries
 * the γ^k actually applied, so the TD target is R + γ^k·(1 − done)·Q(s_{t+k}).
 *
 * A per-step cost (constrained training) is accumulated the same way, C = Σ_{j=0}^{k−1} γ^j c_{t+j},
 * and handed to the sink with the env index (whose current next-state mask the sink may read).
 *
 * Storage: one ring of n pending (obs, action, reward, cost) per env, preallocated; nothing allocates per step.
 */
export type TransitionSink = (
  obs: Float32Array,
  obsOffset: number,
  action: number,
  reward: number,
  nextObs: Float32Array,
  nextOffset: number,
  terminated: boolean,
  discount: number,
  cost: number,
  env: number,
) => void;

export interface NStepState {
  n: number;
  gamma: number;
  numEnvs: number;
  obsDim: number;
  /** Per env: ring head and count. */
  heads: number[];
  counts: number[];
  observations: Float32Array;
  actions: Int32Array;
  rewards: Float64Array;
  /** Pending per-step costs (absent in states saved before costs existed: all 0). */
  costs?: Float64Array;
}

export class NStepAccumulator {
  private readonly obs: Float32Array;
  private readonly actions: Int32Array;
  private readonly rewards: Float64Array;
  private readonly costs: Float64Array;
  private readonly heads: Int32Array;
  private readonly counts: Int32Array;

  constructor(
    readonly n: number,
    readonly gamma: number,
    readonly numEnvs: number,
    readonly obsDim: number,
    private readonly sink: TransitionSink,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new TwinlabError('INVALID_ARGUMENT', `nStep must be an integer ≥ 1, got ${n}`);
    if (!(gamma >= 0 && gamma <= 1)) throw new TwinlabError('INVALID_ARGUMENT', `gamma must lie in [0, 1], got ${gamma}`);
    this.obs = new Float32Array(numEnvs * n * obsDim);
    this.actions = new Int32Array(numEnvs * n);
    this.rewards = new Float64Array(numEnvs * n);
    this.costs = new Float64Array(numEnvs * n);
    this.heads = new Int32Array(numEnvs);
    this.counts = new Int32Array(numEnvs);
  }

  /**
   * Record env `env`'s step (obs row `obsOffset` of `obs`, action, reward) that led to `nextObs`
   * (row `nextOffset`; the true final observation when the episode ended), with the step's cost.
   */
  push(
    env: number,
    obs: Float32Array,
    obsOffset: number,
    action: number,
    reward: number,
    nextObs: Float32Array,
    nextOffset: number,
    terminated: boolean,
    truncated: boolean,
    cost = 0,
  ): void {
    const n = this.n;
    const d = this.obsDim;
    const count = this.counts[env] as number;
    const slot = ((this.heads[env] as number) + count) % n;
    const k = env * n + slot;
    this.obs.set(obs.subarray(obsOffset, obsOffset + d), k * d);
    this.actions[k] = action;
    this.rewards[k] = reward;
    this.costs[k] = cost;
    this.counts[env] = count + 1;
    if (terminated || truncated) {
      while ((this.counts[env] as number) > 0) this.emitOldest(env, nextObs, nextOffset, terminated);
    } else if (count + 1 === n) {
      this.emitOldest(env, nextObs, nextOffset, false);
    }
  }

  /** Pending steps of env `env` (not yet emitted). */
  pending(env: number): number {
    return this.counts[env] as number;
  }

  private emitOldest(env: number, nextObs: Float32Array, nextOffset: number, terminated: boolean): void {
    const n = this.n;
    const head = this.heads[env] as number;
    const count = this.counts[env] as number;
    let ret = 0;
    let cost = 0;
    let discount = 1;
    for (let j = 0; j < count; j++) {
      const slot = env * n + ((head + j) % n);
      ret += discount * (this.rewards[slot] as number);
      cost += discount * (this.costs[slot] as number);
      discount *= this.gamma;
    }
    const k = env * n + head;
    this.sink(this.obs, k * this.obsDim, this.actions[k] as number, ret, nextObs, nextOffset, terminated, discount, cost, env);
    this.heads[env] = (head + 1) % n;
    this.counts[env] = count - 1;
  }

  saveState(): NStepState {
    return {
      n: this.n,
      gamma: this.gamma,
      numEnvs: this.numEnvs,
      obsDim: this.obsDim,
      heads: Array.from(this.heads),
      counts: Array.from(this.counts),
      observations: this.obs.slice(),
      actions: this.actions.slice(),
      rewards: this.rewards.slice(),
      costs: this.costs.slice(),
    };
  }

  restoreState(state: NStepState): void {
    if (state.n !== this.n || state.numEnvs !== this.numEnvs || state.obsDim !== this.obsDim || state.gamma !== this.gamma) {
      throw new TwinlabError(
        'INVALID_ARGUMENT',
        `n-step state (n ${state.n}, γ ${state.gamma}, ${state.numEnvs} envs, obsDim ${state.obsDim}) does not match the accumulator (n ${this.n}, γ ${this.gamma}, ${this.numEnvs}, ${this.obsDim})`,
      );
    }
    this.heads.set(state.heads);
    this.counts.set(state.counts);
    this.obs.set(state.observations);
    this.actions.set(state.actions);
    this.rewards.set(state.rewards);
    if (state.costs) this.costs.set(state.costs);
    else this.costs.fill(0);
  }
}
