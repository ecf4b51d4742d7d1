import type { Env, Info } from '../../engine/env.js';
import type { EpisodeLog } from '../../engine/episode-log.js';
import { TwinlabError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';
import { Discrete } from '../../engine/spaces.js';
import { type Policy, policyContext } from '../../policies/policy.js';

/**
 * Logged data for off-policy evaluation: whole trajectories of one behaviour policy over a Discrete
 * action space. `observations` has T + 1 entries (the last is the observation after the final
 * step, used only for bootstrapping a truncated episode); `terminated` marks an absorbing end (no
 * value after it), otherwise the episode was cut by a time limit.
 */
export interface Trajectory {
  observations: Float32Array[];
  actions: Int32Array;
  rewards: Float64Array;
  terminated: boolean;
  /** π_b(a_t | h_t) of the logged action, when the logging system recorded it. */
  behaviourProbs?: Float64Array;
}

export interface OpeData {
  trajectories: Trajectory[];
  nActions: number;
  /** Discount of the value being estimated (1 = the undiscounted return over the episode). */
  gamma: number;
}

/**
 * Action probabilities of a policy along each logged trajectory: `probs[i][t·nA + a]` = π(a | h_{i,t})
 * for t = 0 … T_i (the last row is at the observation after the final step).
 */
export type PolicyProbs = Float64Array[];

export function validateData(data: OpeData): void {
  if (!Number.isInteger(data.nActions) || data.nActions < 2) throw new TwinlabError('INVALID_ARGUMENT', `OPE: nActions must be an integer ≥ 2, got ${data.nActions}`);
  if (!(data.gamma > 0 && data.gamma <= 1)) throw new TwinlabError('INVALID_ARGUMENT', `OPE: gamma must be in (0, 1], got ${data.gamma}`);
  if (data.trajectories.length < 2) throw new TwinlabError('INVALID_ARGUMENT', `OPE: need at least 2 trajectories, got ${data.trajectories.length}`);
  data.trajectories.forEach((tr, i) => {
    const T = tr.actions.length;
    if (T === 0) throw new TwinlabError('INVALID_ARGUMENT', `OPE: trajectory ${i} has no steps`);
    if (tr.rewards.length !== T || tr.observations.length !== T + 1) {
      throw new TwinlabError('INVALID_ARGUMENT', `OPE: trajectory ${i} needs T actions, T rewards and T + 1 observations (T = ${T}), got ${tr.rewards.length} rewards and ${tr.observations.length} observations`);
    }
    for (let t = 0; t < T; t++) {
      const a = tr.actions[t] as number;
      if (!(a >= 0 && a < data.nActions)) throw new TwinlabError('INVALID_ARGUMENT', `OPE: trajectory ${i} step ${t}: action ${a} outside 0…${data.nActions - 1}`);
      const p = tr.behaviourProbs?.[t];
      if (p !== undefined && !(p > 0 && p <= 1)) throw new TwinlabError('INVALID_ARGUMENT', `OPE: trajectory ${i} step ${t}: behaviour probability ${p} outside (0, 1]`);
    }
  });
}

/** An `EpisodeLog` (engine/episode-log.ts) as a trajectory: o_0 = initialObservation, o_{t+1} = steps[t].observation. */
export function trajectoryFromLog(log: EpisodeLog): Trajectory {
  const T = log.steps.length;
  const observations: Float32Array[] = [Float32Array.from(log.initialObservation)];
  const actions = new Int32Array(T);
  const rewards = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const s = log.steps[t] as EpisodeLog['steps'][number];
    if (typeof s.action !== 'number') throw new TwinlabError('INVALID_ARGUMENT', `OPE needs a Discrete action space; episode of ${log.envId} step ${t} has action ${JSON.stringify(s.action)}`);
    actions[t] = s.action;
    rewards[t] = s.reward;
    observations.push(Float32Array.from(s.observation));
  }
  return { observations, actions, rewards, terminated: log.terminated };
}

/** A policy given directly by its action probabilities at an observation (stateless). */
export type ProbabilityFunction = (observation: Float32Array) => Float64Array;

/** π(· | o) for every row of every trajectory, from a stateless probability function. */
export function probsFromFunction(data: OpeData, pi: ProbabilityFunction): PolicyProbs {
  const nA = data.nActions;
  return data.trajectories.map((tr) => {
    const out = new Float64Array(tr.observations.length * nA);
    tr.observations.forEach((o, t) => out.set(pi(o), t * nA));
    return out;
  });
}

export interface PolicyReplayOptions {
  /** Reset infos per trajectory (protocols may read `prescription`); default {}. */
  resetInfos?: Info[];
  /** infos[i][t]: the info a protocol would have seen before deciding at step t (t = 0: the reset info), from the episode log. */
  infos?: Info[][];
  /** Seed of the policy's random stream (a stochastic policy's single draw). */
  seed?: number;
}

/**
 * π_e(· | h_t) of a `Policy` along the logged trajectories: the policy is reset per trajectory and
 * asked for its action at every logged observation in order (so stateful protocols see the same
 * history), and treated as deterministic — π_e(a | h_t) = 1[a = act(o_t)] — except a policy of kind
 * "random", which is uniform over the Discrete space. A stochastic learned policy would need its
 * probabilities; the `Policy` contract does not expose them, so its one seeded draw stands in.
 */
export function probsFromPolicy(data: OpeData, policy: Policy, env: Env, options: PolicyReplayOptions = {}): PolicyProbs {
  if (!(env.actionSpace instanceof Discrete)) throw new TwinlabError('INVALID_ARGUMENT', `OPE needs a Discrete action space; ${env.id} has ${env.actionSpace.toString()}`);
  const nA = data.nActions;
  if (policy.kind === 'random') return data.trajectories.map((tr) => new Float64Array(tr.observations.length * nA).fill(1 / nA));
  return data.trajectories.map((tr, i) => {
    const rng = Rng.fromSeed(options.seed ?? 0).fork(`ope/target/${i}`);
    policy.reset?.(policyContext(env, options.resetInfos?.[i] ?? {}));
    const out = new Float64Array(tr.observations.length * nA);
    tr.observations.forEach((o, t) => {
      const a = policy.act(o, rng, options.infos?.[i]?.[t]) as number;
      if (!Number.isInteger(a) || a < 0 || a >= nA) throw new TwinlabError('INVALID_ARGUMENT', `target policy ${policy.name} returned action ${a}, outside 0…${nA - 1}`);
      out[t * nA + a] = 1;
    });
    return out;
  });
}

/** The constant policy that always takes action `a`. */
export function constantProbs(data: OpeData, a: number): PolicyProbs {
  const nA = data.nActions;
  return data.trajectories.map((tr) => {
    const out = new Float64Array(tr.observations.length * nA);
    for (let t = 0; t < tr.observations.length; t++) out[t * nA + a] = 1;
    return out;
  });
}

export function uniformProbs(data: OpeData): PolicyProbs {
  const nA = data.nActions;
  return data.trajectories.map((tr) => new Float64Array(tr.observations.length * nA).fill(1 / nA));
}

/** The greedy (argmax, lowest index on ties) policy of given probabilities — behaviour cloning's deterministic policy. */
export function greedyProbs(probs: PolicyProbs, nA: number): PolicyProbs {
  return probs.map((p) => {
    const out = new Float64Array(p.length);
    for (let r = 0; r < p.length / nA; r++) {
      let best = 0;
      for (let a = 1; a < nA; a++) if ((p[r * nA + a] as number) > (p[r * nA + best] as number)) best = a;
      out[r * nA + best] = 1;
    }
    return out;
  });
}

/** Per-step probability of the logged action under `probs`. */
export function takenProbs(data: OpeData, probs: PolicyProbs): Float64Array[] {
  const nA = data.nActions;
  return data.trajectories.map((tr, i) => {
    const p = probs[i] as Float64Array;
    return Float64Array.from(tr.actions, (a, t) => p[t * nA + a] as number);
  });
}

export function discountedReturn(tr: Trajectory, gamma: number): number {
  let g = 0;
  let d = 1;
  for (let t = 0; t < tr.rewards.length; t++) {
    g += d * (tr.rewards[t] as number);
    d *= gamma;
  }
  return g;
}

export function horizonOf(data: OpeData): number {
  let h = 0;
  for (const tr of data.trajectories) h = Math.max(h, tr.actions.length);
  return h;
}
