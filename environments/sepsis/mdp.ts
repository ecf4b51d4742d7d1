import { TwinlabError } from '../../engine/errors.js';

/**
 * A finite MDP in compressed sparse rows: row `s·nActions + a` lists the successors of (s, a) in
 * `next[rowStart[row] .. rowStart[row+1])` with probabilities `prob`. The reward is earned on *arrival*
 * in a state (`arrivalReward[s']`); arriving in a `terminal` state ends the episode. This is the form of
 * the Oberst–Sontag simulator (reward ±1 on reaching death/discharge), and of any tabular twin.
 */
export interface TabularMdp {
  nStates: number;
  nActions: number;
  rowStart: Int32Array;
  next: Int32Array;
  prob: Float64Array;
  arrivalReward: Float64Array;
  terminal: Uint8Array;
}

export interface ValueIterationOptions {
  gamma: number;
  /** Stop when a sweep changes no value by more than this (default 1e-13). */
  tolerance?: number;
  maxIterations?: number;
  /**
   * false (default): arriving in a terminal state ends the episode (V(terminal) is not added).
   * true: the notebook convention of `plots-main-paper.ipynb`, whose 1440-state matrices keep simulating
   * from death/discharge states, so the backup adds γ·V(s′) for every s′.
   */
  continueAfterTerminal?: boolean;
}

export interface ValueIterationResult {
  V: Float64Array;
  /** Q[s·nActions + a]. */
  Q: Float64Array;
  /** Greedy action per state (lowest index among actions within 1e-12 of the best). */
  policy: Int32Array;
  iterations: number;
  /** max_s |max_a Q(s,a) − V(s)| after the final sweep: the Bellman residual. */
  residual: number;
}

/**
 * Value iteration (Bellman 1957; Puterman 1994 §6.3) with Gauss–Seidel sweeps:
 *   Q(s,a) = Σ_{s′} P(s′|s,a) · (R(s′) + γ·[¬terminal(s′)]·V(s′)),   V(s) = max_a Q(s,a),
 * iterated to the fixed point; terminal states keep V = 0. Returns V, Q, the greedy policy and the
 * Bellman residual of the returned V.
 */
export function valueIteration(mdp: TabularMdp, options: ValueIterationOptions): ValueIterationResult {
  const { gamma } = options;
  if (!(gamma >= 0 && gamma < 1)) throw new TwinlabError('INVALID_ARGUMENT', `valueIteration: gamma must be in [0, 1), got ${gamma}`);
  const tolerance = options.tolerance ?? 1e-13;
  const maxIterations = options.maxIterations ?? 100_000;
  const cont = options.continueAfterTerminal === true;
  const { nStates, nActions, rowStart, next, prob, arrivalReward, terminal } = mdp;
  const V = new Float64Array(nStates);
  const Q = new Float64Array(nStates * nActions);
  const live = new Float64Array(nStates);
  const refresh = (): void => {
    for (let s = 0; s < nStates; s++) live[s] = cont || terminal[s] === 0 ? 1 : 0;
  };
  refresh();
  const backup = (row: number): number => {
    let q = 0;
    for (let k = rowStart[row] as number, end = rowStart[row + 1] as number; k < end; k++) {
      const sp = next[k] as number;
      q += (prob[k] as number) * ((arrivalReward[sp] as number) + gamma * (live[sp] as number) * (V[sp] as number));
    }
    return q;
  };
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    let delta = 0;
    for (let s = 0; s < nStates; s++) {
      if (!cont && terminal[s] === 1) continue;
      let best = -Infinity;
      for (let a = 0; a < nActions; a++) {
        const q = backup(s * nActions + a);
        if (q > best) best = q;
      }
      const d = Math.abs(best - (V[s] as number));
      if (d > delta) delta = d;
      V[s] = best;
    }
    if (delta <= tolerance) {
      iterations++;
      break;
    }
  }
  const policy = new Int32Array(nStates);
  let residual = 0;
  for (let s = 0; s < nStates; s++) {
    let best = -Infinity;
    let arg = 0;
    for (let a = 0; a < nActions; a++) {
      const q = backup(s * nActions + a);
      Q[s * nActions + a] = q;
      if (q > best + 1e-12) {
        best = q;
        arg = a;
      }
    }
    policy[s] = arg;
    if (!cont && terminal[s] === 1) continue;
    let max = -Infinity;
    for (let a = 0; a < nActions; a++) max = Math.max(max, Q[s * nActions + a] as number);
    residual = Math.max(residual, Math.abs(max - (V[s] as number)));
  }
  return { V, Q, policy, iterations, residual };
}

/** Check that every row is a probability distribution (|Σ − 1| ≤ tol, all p ≥ 0); returns the worst deviation. */
export function maxRowSumError(mdp: TabularMdp): number {
  let worst = 0;
  for (let row = 0; row < mdp.nStates * mdp.nActions; row++) {
    let sum = 0;
    for (let k = mdp.rowStart[row] as number; k < (mdp.rowStart[row + 1] as number); k++) {
      const p = mdp.prob[k] as number;
      if (p < 0) return Infinity;
      sum += p;
    }
    worst = Math.max(worst, Math.abs(sum - 1));
  }
  return worst;
}

/** Dense probability row of (s, a) (for tests and dumps). */
export function transitionRow(mdp: TabularMdp, s: number, a: number): Map<number, number> {
  const row = s * mdp.nActions + a;
  const out = new Map<number, number>();
  for (let k = mdp.rowStart[row] as number; k < (mdp.rowStart[row + 1] as number); k++) out.set(mdp.next[k] as number, mdp.prob[k] as number);
  return out;
}

/** Incrementally builds CSR rows in order (row 0, 1, …). */
export class CsrBuilder {
  private readonly rowStart: Int32Array;
  private next: Int32Array;
  private prob: Float64Array;
  private size = 0;
  private row = 0;
  constructor(
    private readonly nStates: number,
    private readonly nActions: number,
    capacity: number,
  ) {
    this.rowStart = new Int32Array(nStates * nActions + 1);
    this.next = new Int32Array(capacity);
    this.prob = new Float64Array(capacity);
  }
  push(nextState: number, p: number): void {
    if (this.size === this.next.length) {
      const n = new Int32Array(this.size * 2);
      n.set(this.next);
      this.next = n;
      const q = new Float64Array(this.size * 2);
      q.set(this.prob);
      this.prob = q;
    }
    this.next[this.size] = nextState;
    this.prob[this.size] = p;
    this.size++;
  }
  endRow(): void {
    this.row++;
    this.rowStart[this.row] = this.size;
  }
  build(arrivalReward: Float64Array, terminal: Uint8Array): TabularMdp {
    if (this.row !== this.nStates * this.nActions) {
      throw new TwinlabError('INTERNAL', `CsrBuilder: ${this.row} rows written, expected ${this.nStates * this.nActions}`);
    }
    return {
      nStates: this.nStates,
      nActions: this.nActions,
      rowStart: this.rowStart,
      next: this.next.slice(0, this.size),
      prob: this.prob.slice(0, this.size),
      arrivalReward,
      terminal,
    };
  }
}
