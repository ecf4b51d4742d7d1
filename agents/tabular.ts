import { argmaxRow } from './evaluate.js';
import { BaseEnv, type ResetOptions, type ResetResult, type StepResult } from '../engine/env.js';
import { TwinlabError } from '../engine/errors.js';
import { Rng, type RngState } from '../engine/random.js';
import { Box, Discrete } from '../engine/spaces.js';

/**
 * Exact oracles for small discrete problems, to check DQN against optimal values.
 *
 * An explicit MDP lists, for each state s and action a, the outcomes (probability, next state,
 * reward, done). `done` marks an absorbing transition (no value after it).
 */
export interface Outcome {
  prob: number;
  next: number;
  reward: number;
  done: boolean;
}

export interface ExplicitMdp {
  numStates: number;
  numActions: number;
  /** transitions[s][a] = outcomes; probabilities of each (s, a) sum to 1. */
  transitions: Outcome[][][];
}

export function validateMdp(mdp: ExplicitMdp): void {
  const { numStates, numActions, transitions } = mdp;
  if (transitions.length !== numStates) throw new TwinlabError('INVALID_ARGUMENT', `mdp.transitions has ${transitions.length} states, numStates is ${numStates}`);
  for (let s = 0; s < numStates; s++) {
    const row = transitions[s] as Outcome[][];
    if (row.length !== numActions) throw new TwinlabError('INVALID_ARGUMENT', `mdp.transitions[${s}] has ${row.length} actions, numActions is ${numActions}`);
    for (let a = 0; a < numActions; a++) {
      let total = 0;
      for (const o of row[a] as Outcome[]) {
        if (!(o.prob >= 0) || !Number.isInteger(o.next) || o.next < 0 || o.next >= numStates) {
          throw new TwinlabError('INVALID_ARGUMENT', `mdp.transitions[${s}][${a}] has an invalid outcome ${JSON.stringify(o)}`);
        }
        total += o.prob;
      }
      if (Math.abs(total - 1) > 1e-9) throw new TwinlabError('INVALID_ARGUMENT', `mdp.transitions[${s}][${a}] probabilities sum to ${total}, expected 1`);
    }
  }
}

export interface ValueIterationResult {
  /** Q*[s·A + a]. */
  q: Float64Array;
  /** V*(s) = max_a Q*(s, a). */
  v: Float64Array;
  /** Greedy policy (lowest action index on ties). */
  policy: Int32Array;
  iterations: number;
}

/**
 * Value iteration on Q (Bellman 1957; Sutton & Barto 2018, §4.4):
 *   Q_{k+1}(s,a) = Σ_{s'} P(s'|s,a)·[r + γ·(1 − done)·max_{a'} Q_k(s',a')],
 * iterated until max |Q_{k+1} − Q_k| < tol (a γ-contraction for γ < 1).
 */
export function valueIteration(mdp: ExplicitMdp, gamma: number, tol = 1e-12, maxIterations = 100_000): ValueIterationResult {
  validateMdp(mdp);
  if (!(gamma >= 0 && gamma < 1)) throw new TwinlabError('INVALID_ARGUMENT', `gamma must lie in [0, 1) for value iteration, got ${gamma}`);
  const S = mdp.numStates;
  const A = mdp.numActions;
  let q = new Float64Array(S * A);
  let next = new Float64Array(S * A);
  const v = new Float64Array(S);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    for (let s = 0; s < S; s++) v[s] = maxRow(q, s, A);
    let delta = 0;
    for (let s = 0; s < S; s++) {
      for (let a = 0; a < A; a++) {
        let value = 0;
        for (const o of (mdp.transitions[s] as Outcome[][])[a] as Outcome[]) value += o.prob * (o.reward + (o.done ? 0 : gamma * (v[o.next] as number)));
        next[s * A + a] = value;
        delta = Math.max(delta, Math.abs(value - (q[s * A + a] as number)));
      }
    }
    [q, next] = [next, q];
    if (delta < tol) {
      iterations++;
      break;
    }
  }
  const policy = new Int32Array(S);
  for (let s = 0; s < S; s++) {
    v[s] = maxRow(q, s, A);
    policy[s] = argmaxRow(q, s, A);
  }
  return { q, v, policy, iterations };
}

export interface QLearningOptions {
  gamma: number;
  /** Step size α. */
  alpha: number;
  /** ε of ε-greedy behaviour. */
  epsilon: number;
  episodes: number;
  maxStepsPerEpisode: number;
  /** Start-state distribution: a function of the rng (default uniform over states). */
  startState?: (rng: Rng) => number;
  rng: Rng;
}

/**
 * Tabular Q-learning (Watkins & Dayan 1992): Q(s,a) ← Q(s,a) + α·[r + γ·(1 − done)·max_a' Q(s',a') − Q(s,a)],
 * simulated on the explicit MDP with ε-greedy behaviour. Episodes cut at maxStepsPerEpisode are
 * bootstrapped (a truncation, not a termination).
 */
export function tabularQLearning(mdp: ExplicitMdp, options: QLearningOptions): Float64Array {
  validateMdp(mdp);
  const { gamma, alpha, epsilon, episodes, maxStepsPerEpisode, rng } = options;
  const S = mdp.numStates;
  const A = mdp.numActions;
  const q = new Float64Array(S * A);
  const start = options.startState ?? ((r: Rng) => r.integer(0, S));
  for (let e = 0; e < episodes; e++) {
    let s = start(rng);
    for (let t = 0; t < maxStepsPerEpisode; t++) {
      const a = rng.next() < epsilon ? rng.integer(0, A) : argmaxRow(q, s, A);
      const o = sampleOutcome((mdp.transitions[s] as Outcome[][])[a] as Outcome[], rng);
      const target = o.reward + (o.done ? 0 : gamma * maxRow(q, o.next, A));
      q[s * A + a] = (q[s * A + a] as number) + alpha * (target - (q[s * A + a] as number));
      if (o.done) break;
      s = o.next;
    }
  }
  return q;
}

function sampleOutcome(outcomes: Outcome[], rng: Rng): Outcome {
  let u = rng.next();
  for (const o of outcomes) {
    u -= o.prob;
    if (u < 0) return o;
  }
  return outcomes[outcomes.length - 1] as Outcome;
}

function maxRow(q: Float64Array, s: number, A: number): number {
  let m = q[s * A] as number;
  for (let a = 1; a < A; a++) if ((q[s * A + a] as number) > m) m = q[s * A + a] as number;
  return m;
}


export interface MdpEnvState {
  state: number;
  rng: RngState;
}

/**
 * An explicit MDP as an `Env` with one-hot observations, so DQN can be run on it and compared with
 * `valueIteration`. Reset draws the start state from `startStates` (uniform) with the env's own
 * seeded stream; an absorbing outcome terminates the episode. Wrap it in `TimeLimit` for truncation.
 */
export class MdpEnv extends BaseEnv<number> {
  readonly observationSpace: Box;
  readonly actionSpace: Discrete;
  private readonly observation: Float32Array;
  private rng = Rng.fromSeed(0).fork('mdp');
  private state = 0;
  private readonly result: StepResult;

  constructor(
    readonly mdp: ExplicitMdp,
    readonly startStates: readonly number[],
    readonly id = 'test/mdp-v0',
  ) {
    super();
    validateMdp(mdp);
    this.observationSpace = new Box(0, 1, [mdp.numStates]);
    this.actionSpace = new Discrete(mdp.numActions);
    this.observation = new Float32Array(mdp.numStates);
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: {} };
  }

  get currentState(): number {
    return this.state;
  }

  protected resetEnv(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) this.rng = Rng.fromSeed(options.seed).fork('mdp');
    this.setObservation(this.rng.choice(this.startStates));
    return { observation: this.observation, info: { state: this.state } };
  }

  protected stepEnv(action: number): StepResult {
    const o = sampleOutcome((this.mdp.transitions[this.state] as Outcome[][])[action] as Outcome[], this.rng);
    this.setObservation(o.next);
    const r = this.result;
    r.reward = o.reward;
    r.terminated = o.done;
    r.truncated = false;
    r.info = { state: o.next };
    return r;
  }

  getState(): MdpEnvState {
    return { state: this.state, rng: this.rng.saveState() };
  }

  setState(saved: unknown): void {
    const { state, rng } = saved as MdpEnvState;
    this.setObservation(state);
    this.rng = Rng.restore(rng);
  }

  private setObservation(state: number): void {
    this.state = state;
    this.observation.fill(0);
    this.observation[state] = 1;
  }
}
