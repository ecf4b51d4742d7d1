import type { DqnResult } from '../../agents/dqn.js';
import type { Env, ResetOptions, ResetResult, StepResult } from '../../engine/env.js';
import { Rng } from '../../engine/random.js';
import { make } from '../../engine/registry.js';
import type { Action } from '../../engine/spaces.js';
import { getTwin } from '../../engine/twin.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import { GreedyQPolicy } from '../../policies/greedy-q.js';
import type { Policy } from '../../policies/policy.js';

/** The trained network as a backend-independent greedy policy (what a saved policy would do). */
export function greedyPolicy(result: DqnResult, weights: Float32Array[] | null = null): GreedyQPolicy {
  if (weights) result.online.setWeights(weights);
  return new GreedyQPolicy(result.online.toDenseLayers(), { name: 'dqn', normalization: result.normalizer.toSpec() });
}

/**
 * One episode of `policy` per seed on a fresh env from `makeEnv(k)`, recorded, and the twin's
 * endpoints computed from each log. Arms evaluated with the same seeds and env factory are paired
 * (common random numbers: same patient, meals, noise).
 */
export function endpointsPerSeed(
  twinId: string,
  endpointIds: string[],
  makeEnv: (k: number) => Env,
  makePolicy: (env: Env) => Policy,
  seeds: number[],
): { values: Record<string, number[]>; returns: number[] } {
  const twin = getTwin(twinId);
  const defs = endpointIds.map((id) => {
    const d = twin.endpoints.find((e) => e.id === id);
    if (!d) throw new Error(`twin ${twinId} has no endpoint ${id}`);
    return d;
  });
  const values: Record<string, number[]> = Object.fromEntries(endpointIds.map((id) => [id, [] as number[]]));
  const returns: number[] = [];
  seeds.forEach((seed, k) => {
    const env = makeEnv(k);
    const policy = makePolicy(env);
    const result = evaluatePolicy(env, policy, { seed, episodes: 1, episodeSeeds: [seed], record: true });
    const episode = result.episodes[0];
    if (!episode?.log) throw new Error('evaluatePolicy did not record the episode');
    for (const d of defs) (values[d.id] as number[]).push(d.compute(episode.log));
    returns.push(episode.return);
    env.close?.();
  });
  return { values, returns };
}

export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function sd(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(xs.length - 1, 1));
}

/** Mean and normal-approximation 95 % CI of paired differences. */
export function pairedDifference(a: number[], b: number[]): { mean: number; lo: number; hi: number; sd: number } {
  const d = a.map((x, i) => x - (b[i] as number));
  const m = mean(d);
  const s = sd(d);
  const half = (1.96 * s) / Math.sqrt(d.length);
  return { mean: m, lo: m - half, hi: m + half, sd: s };
}

export function fmt(x: number, digits = 2): string {
  return x.toFixed(digits);
}

/**
 * An env that puts a new virtual patient in at every reset: patient `pool[j]` of the twin's cohort
 * (population, cohortSeed), j drawn from the reset seed's substream `cohort-env` (and from that
 * stream's continuation on seedless autoresets), so training sees the whole pool and stays
 * deterministic. The inner env is reset with a seed drawn from the same stream. One inner env per
 * patient is built lazily and kept.
 */
export class CohortEnv implements Env {
  readonly id: string;
  readonly observationSpace: Env['observationSpace'];
  readonly actionSpace: Env['actionSpace'];
  private readonly inner = new Map<number, Env>();
  private current: Env;
  private rng: Rng = Rng.fromSeed(0).fork('cohort-env');

  constructor(
    private readonly envId: string,
    private readonly twinId: string,
    private readonly population: string,
    private readonly cohortSeed: number,
    private readonly pool: number[],
    private readonly baseOptions: Record<string, unknown> = {},
    /** Optional training reward replacing the env's (e.g. one aligned with a primary endpoint). */
    private readonly reshape?: (result: StepResult, env: CohortEnv) => number,
  ) {
    this.current = this.envFor(pool[0] as number);
    this.id = this.current.id;
    this.observationSpace = this.current.observationSpace;
    this.actionSpace = this.current.actionSpace;
  }

  private envFor(index: number): Env {
    let env = this.inner.get(index);
    if (!env) {
      const member = getTwin(this.twinId).cohortMember({ population: this.population, size: index + 1, seed: this.cohortSeed }, index);
      env = make(this.envId, { ...this.baseOptions, ...member.envOptions });
      this.inner.set(index, env);
    }
    return env;
  }

  reset(options: ResetOptions = {}): ResetResult {
    if (options.seed !== undefined) this.rng = Rng.fromSeed(options.seed).fork('cohort-env');
    this.current = this.envFor(this.pool[this.rng.integer(0, this.pool.length)] as number);
    this.steps = 0;
    this.done = false;
    return this.current.reset({ seed: this.rng.uint32() });
  }

  /** Steps of the current episode and whether `reshape` declared it over for the reward. */
  steps = 0;
  done = false;

  step(action: Action): StepResult {
    const result = this.current.step(action);
    if (this.reshape) result.reward = this.reshape(result, this);
    this.steps++;
    return result;
  }

  close(): void {
    for (const env of this.inner.values()) env.close?.();
  }
}

/** Env options of patient `index` of a twin cohort. */
export function memberOptions(twinId: string, population: string, cohortSeed: number, index: number): Record<string, unknown> {
  return getTwin(twinId).cohortMember({ population, size: index + 1, seed: cohortSeed }, index).envOptions;
}
