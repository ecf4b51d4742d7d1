import type { Env, Info } from '../../engine/env.js';
import { deriveSeed, Rng } from '../../engine/random.js';
import { make } from '../../engine/registry.js';
import type { Discrete } from '../../engine/spaces.js';
import { registerAll } from '../../environments/index.js';
import { SepsisEnv } from '../../environments/sepsis/env.js';
import { evaluateExact, liftObserved } from '../../environments/sepsis/exact.js';
import { PAPER, solveSepsis } from '../../environments/sepsis/solve.js';
import { type Policy, policyContext } from '../../policies/policy.js';
import { registerAllPolicies } from '../../policies/index.js';
import { makePolicy } from '../../policies/registry.js';
import { estimateBehaviour } from './behaviour.js';
import type { OpeData, PolicyProbs, Trajectory } from './data.js';
import { probsFromPolicy, takenProbs } from './data.js';
import { type EstimateOptions, type EstimatorName, estimatePolicy } from './report.js';

/**
 * Validation of the estimators against ground truth that only a simulator has.
 *
 * Sepsis (Oberst & Sontag 2019; environments/sepsis): target π_e = `sepsis/optimal-observed` (value
 * iteration on the 720-state observed MDP), behaviour π_b = the ε-mixture
 *   π_b(a|o) = (1 − ε)·1[a = π_e(o)] + ε/8,
 * logged with its probabilities; episodes of at most 20 steps (the paper's NSTEPS), γ = 1. The true
 * value is exact: `evaluateExact` pushes the initial-state law through the 1440-state tensor (no
 * sampling error). The observation hides diabetes, so the observed process is not exactly Markov —
 * the FQE/DR model is then slightly misspecified, which is realistic.
 *
 * Glucose (UVA/Padova, environments/glucose): target `glucose/pid`, behaviour its ε-mixture with the
 * uniform policy over the discrete insulin levels; the true value is the mean return of the target
 * itself run on the same patients with the same episode seeds (same meals, same sensor noise).
 */
export interface SepsisLogs {
  data: OpeData;
  piE: PolicyProbs;
  trueValue: number;
}

export function sepsisTrueValue(glucoseDefect = true): { table: Int32Array; value: number } {
  const solution = solveSepsis(glucoseDefect);
  const table = solution.observedVI.policy;
  const value = evaluateExact(solution.full, liftObserved(table), solution.initial, PAPER.horizon).expectedReturn;
  return { table, value };
}

/**
 * n episodes of the ε-mixture behaviour on the sepsis simulator. Observation: the observed state index
 * (default; FQE is then tabular) or the factored one-hot encoding (19 floats, for the linear model).
 */
export function sepsisLogs(n: number, epsilon: number, seed: number, options: { glucoseDefect?: boolean; observation?: 'index' | 'factored' } = {}): SepsisLogs {
  const { table, value } = sepsisTrueValue(options.glucoseDefect ?? true);
  const env = new SepsisEnv({ observation: options.observation ?? 'index', glucoseDefect: options.glucoseDefect ?? true });
  const nA = 8;
  const trajectories: Trajectory[] = [];
  /** π_e's action at every logged observation, read from the true observed state. */
  const targets: number[][] = [];
  const rng = Rng.fromSeed(seed).fork('ope/sepsis/behaviour');
  for (let i = 0; i < n; i++) {
    const reset = env.reset({ seed: deriveSeed(seed, 'ope/sepsis/episode', i) });
    let observation = reset.observation;
    let state = reset.info.obsIndex as number;
    const observations = [Float32Array.from(observation)];
    const targetOf: number[] = [];
    const actions: number[] = [];
    const rewards: number[] = [];
    const probs: number[] = [];
    let terminated = false;
    for (let t = 0; t < PAPER.horizon && !terminated; t++) {
      const greedy = table[state] as number;
      targetOf.push(greedy);
      const a = rng.next() < 1 - epsilon ? greedy : Math.floor(rng.next() * nA);
      const step = env.step(a);
      actions.push(a);
      rewards.push(step.reward);
      probs.push((a === greedy ? 1 - epsilon : 0) + epsilon / nA);
      observation = step.observation;
      state = step.info.obsIndex as number;
      observations.push(Float32Array.from(observation));
      terminated = step.terminated;
    }
    targetOf.push(table[state] as number);
    targets.push(targetOf);
    trajectories.push({ observations, actions: Int32Array.from(actions), rewards: Float64Array.from(rewards), terminated, behaviourProbs: Float64Array.from(probs) });
  }
  const data: OpeData = { trajectories, nActions: nA, gamma: 1 };
  const piE = targets.map((actions) => {
    const p = new Float64Array(actions.length * nA);
    actions.forEach((a, t) => {
      p[t * nA + a] = 1;
    });
    return p;
  });
  return { data, piE, trueValue: value };
}

export interface ValidationRow {
  env: string;
  epsilon: number;
  /** "known": π_b from the logs; "estimated": counts (sepsis) or logistic regression (glucose). */
  behaviour: 'known' | 'estimated';
  estimator: EstimatorName;
  trueValue: number;
  meanEstimate: number;
  bias: number;
  rmse: number;
  /** Fraction of replications whose 95 % bootstrap CI contains the true value (NaN CIs count as misses). */
  coverage: number;
  /** Mean Kish ESS (trajectories) over replications. */
  meanEss: number;
  /** Replications whose estimate was undefined (NaN: no trajectory agrees with π_e). */
  undefinedRuns: number;
  replications: number;
  n: number;
}

function summarise(
  env: string,
  epsilon: number,
  behaviour: 'known' | 'estimated',
  truth: number[],
  runs: { values: Map<EstimatorName, { value: number; lo: number; hi: number }>; ess: number }[],
  n: number,
): ValidationRow[] {
  const names = [...(runs[0]?.values.keys() ?? [])];
  return names.map((estimator) => {
    let sum = 0;
    let sq = 0;
    let covered = 0;
    let defined = 0;
    let ess = 0;
    let truthSum = 0;
    runs.forEach((r, k) => {
      const e = r.values.get(estimator) as { value: number; lo: number; hi: number };
      const v = truth[k] as number;
      truthSum += v;
      ess += r.ess;
      if (!Number.isFinite(e.value)) return;
      defined++;
      sum += e.value - v;
      sq += (e.value - v) ** 2;
      if (e.lo <= v && v <= e.hi) covered++;
    });
    return {
      env,
      epsilon,
      behaviour,
      estimator,
      trueValue: truthSum / runs.length,
      meanEstimate: truthSum / runs.length + (defined ? sum / defined : Number.NaN),
      bias: defined ? sum / defined : Number.NaN,
      rmse: defined ? Math.sqrt(sq / defined) : Number.NaN,
      coverage: covered / runs.length,
      meanEss: ess / runs.length,
      undefinedRuns: runs.length - defined,
      replications: runs.length,
      n,
    };
  });
}

function collect(name: string, data: OpeData, piE: PolicyProbs, piBTaken: Float64Array[], options: EstimateOptions) {
  const est = estimatePolicy(name, data, piE, piBTaken, options);
  return { values: new Map(est.estimates.map((e) => [e.estimator, { value: e.value, lo: e.ci.lo, hi: e.ci.hi }])), ess: est.ess };
}

export interface SepsisValidationOptions {
  epsilons?: number[];
  replications?: number;
  /** Episodes per dataset. */
  n?: number;
  estimate?: EstimateOptions;
  seed?: number;
  /** Also run every replication with π_b estimated by counts. */
  estimatedBehaviour?: boolean;
}

export function validateSepsis(options: SepsisValidationOptions = {}): ValidationRow[] {
  const epsilons = options.epsilons ?? [0.1, 0.3, 0.6];
  const R = options.replications ?? 50;
  const n = options.n ?? 500;
  const seed = options.seed ?? 2026;
  const rows: ValidationRow[] = [];
  for (const epsilon of epsilons) {
    const known: ReturnType<typeof collect>[] = [];
    const estimated: ReturnType<typeof collect>[] = [];
    const truth: number[] = [];
    for (let r = 0; r < R; r++) {
      const logs = sepsisLogs(n, epsilon, deriveSeed(seed, 'epsilon', epsilon, 'replication', r));
      truth.push(logs.trueValue);
      const opts = { ...options.estimate, seed: deriveSeed(seed, 'bootstrap', r) };
      known.push(collect('target', logs.data, logs.piE, logs.data.trajectories.map((tr) => tr.behaviourProbs as Float64Array), opts));
      if (options.estimatedBehaviour !== false) {
        const pib = estimateBehaviour(logs.data, { model: 'counts' });
        estimated.push(collect('target', logs.data, logs.piE, takenProbs(logs.data, pib.probs), opts));
      }
    }
    rows.push(...summarise('sepsis/oberst-v1', epsilon, 'known', truth, known, n));
    if (estimated.length) rows.push(...summarise('sepsis/oberst-v1', epsilon, 'estimated', truth, estimated, n));
  }
  return rows;
}

/** The ε-mixture of a protocol with the uniform policy; the protocol is asked every step (its state stays in step). */
class EpsilonMixture implements Policy<number> {
  readonly kind = 'protocol' as const;
  readonly name: string;
  lastProb = 1;
  constructor(
    private readonly base: Policy,
    private readonly epsilon: number,
    private readonly nA: number,
  ) {
    this.name = `${base.name}+ε${epsilon}`;
  }
  reset(context: Parameters<NonNullable<Policy['reset']>>[0]): void {
    this.base.reset?.(context);
  }
  act(observation: Float32Array, rng: Rng, info?: Info): number {
    const greedy = this.base.act(observation, rng, info) as number;
    const a = rng.next() < 1 - this.epsilon ? greedy : Math.floor(rng.next() * this.nA);
    this.lastProb = (a === greedy ? 1 - this.epsilon : 0) + this.epsilon / this.nA;
    return a;
  }
}

function runEpisode(env: Env, policy: Policy, seed: number, rng: Rng): { trajectory: Trajectory; resetInfo: Info } {
  let { observation, info } = env.reset({ seed });
  const resetInfo = info;
  policy.reset?.(policyContext(env, info));
  const observations = [Float32Array.from(observation)];
  const actions: number[] = [];
  const rewards: number[] = [];
  const probs: number[] = [];
  let done = false;
  let terminated = false;
  while (!done) {
    const a = policy.act(observation, rng, info) as number;
    if (policy instanceof EpsilonMixture) probs.push(policy.lastProb);
    const step = env.step(a);
    actions.push(a);
    rewards.push(step.reward);
    observation = step.observation;
    info = step.info;
    observations.push(Float32Array.from(observation));
    terminated = step.terminated;
    done = step.terminated || step.truncated;
  }
  const trajectory: Trajectory = { observations, actions: Int32Array.from(actions), rewards: Float64Array.from(rewards), terminated };
  if (probs.length) trajectory.behaviourProbs = Float64Array.from(probs);
  return { trajectory, resetInfo };
}

export interface GlucoseValidationOptions {
  patients?: string[];
  epsilons?: number[];
  replications?: number;
  target?: string;
  estimate?: EstimateOptions;
  seed?: number;
}

/** Glucose: logs of an ε-mixture of `target` on each patient for one day; truth = the target on the same patients and seeds. */
export function validateGlucose(options: GlucoseValidationOptions = {}): ValidationRow[] {
  registerAll();
  registerAllPolicies();
  const patients = options.patients ?? Array.from({ length: 10 }, (_, k) => `adult#${String(k + 1).padStart(3, '0')}`);
  const targetName = options.target ?? 'glucose/pid';
  const seed = options.seed ?? 2026;
  const R = options.replications ?? 3;
  const rows: ValidationRow[] = [];
  const envs = patients.map((patient) => make('glucose/t1d-v1', { patient }));
  const nA = ((envs[0] as Env).actionSpace as Discrete).n;
  // truth: the target itself on the same patients and episode seeds
  const truthReturns = envs.map((env, p) => {
    const { trajectory } = runEpisode(env, makePolicy(targetName, env), deriveSeed(seed, 'patient', p), Rng.fromSeed(seed).fork(`truth/${p}`));
    return trajectory.rewards.reduce((a, b) => a + b, 0);
  });
  const trueValue = truthReturns.reduce((a, b) => a + b, 0) / truthReturns.length;
  for (const epsilon of options.epsilons ?? [0.1, 0.3]) {
    const known: ReturnType<typeof collect>[] = [];
    const estimated: ReturnType<typeof collect>[] = [];
    for (let r = 0; r < R; r++) {
      const trajectories: Trajectory[] = [];
      const resetInfos: Info[] = [];
      envs.forEach((env, p) => {
        const behaviour = new EpsilonMixture(makePolicy(targetName, env), epsilon, nA);
        const out = runEpisode(env, behaviour, deriveSeed(seed, 'patient', p), Rng.fromSeed(seed).fork(`behaviour/${epsilon}/${r}/${p}`));
        trajectories.push(out.trajectory);
        resetInfos.push(out.resetInfo);
      });
      const data: OpeData = { trajectories, nActions: nA, gamma: 1 };
      // π_e along the logs: the target re-asked at every logged observation (its PID state follows the logged glucose)
      const env0 = envs[0] as Env;
      const piE = probsFromPolicy(data, makePolicy(targetName, env0), env0, { resetInfos });
      const opts = { ...options.estimate, seed: deriveSeed(seed, 'bootstrap', r) };
      known.push(collect('target', data, piE, trajectories.map((tr) => tr.behaviourProbs as Float64Array), opts));
      const pib = estimateBehaviour(data, { model: 'logistic' });
      estimated.push(collect('target', data, piE, takenProbs(data, pib.probs), opts));
    }
    const truth = Array.from({ length: R }, () => trueValue);
    rows.push(...summarise('glucose/t1d-v1', epsilon, 'known', truth, known, patients.length));
    rows.push(...summarise('glucose/t1d-v1', epsilon, 'estimated', truth, estimated, patients.length));
  }
  for (const env of envs) env.close?.();
  return rows;
}

/** Markdown table of validation rows. */
export function validationTable(rows: ValidationRow[]): string {
  const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const lines = [
    '| env | ε | π_b | estimator | true V | mean estimate | bias | RMSE | 95 % CI coverage | mean ESS | undefined |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.env} | ${r.epsilon} | ${r.behaviour} | ${r.estimator} | ${f(r.trueValue)} | ${f(r.meanEstimate)} | ${f(r.bias)} | ${f(r.rmse)} | ${f(r.coverage, 2)} | ${f(r.meanEss, 1)} / ${r.n} | ${r.undefinedRuns} / ${r.replications} |`,
    );
  }
  return lines.join('\n');
}
