import { Rng } from '../../engine/random.js';
import { type BehaviourEstimate, estimateBehaviour, type BehaviourOptions } from './behaviour.js';
import { type OpeData, type PolicyProbs, constantProbs, discountedReturn, greedyProbs, uniformProbs, validateData } from './data.js';
import {
  allIndices,
  bootstrap,
  buildIsTable,
  doublyRobust,
  effectiveSampleSize,
  importanceSampling,
  type Interval,
  perDecisionWis,
  weightedImportanceSampling,
} from './estimators.js';
import { type FqeOptions, fittedQEvaluation } from './fqe.js';

export const ESTIMATORS = ['IS', 'WIS', 'PDWIS', 'DR', 'WDR', 'FQE'] as const;
export type EstimatorName = (typeof ESTIMATORS)[number];

export interface Estimate {
  estimator: EstimatorName;
  value: number;
  /** 95 % percentile bootstrap interval over trajectories. */
  ci: Interval;
}

export interface PolicyEstimates {
  name: string;
  estimates: Estimate[];
  /** Kish ESS of the trajectory weights, and as a fraction of n. */
  ess: number;
  essFraction: number;
  /** FQE model and the share of π's mass at logged states on seen (s, a) pairs. */
  fqe: { model: string; coverage: number; size: number };
}

export interface EstimateOptions {
  fqe?: FqeOptions;
  /** Bootstrap resamples for IS, WIS, PDWIS, DR, WDR (the Q model of DR fixed; default 200). */
  bootstrap?: number;
  /** Bootstrap resamples for FQE, each a refit (default 50). */
  bootstrapFqe?: number;
  seed?: number;
  /** Skip the FQE bootstrap (its CI is then NaN) — for large validation sweeps. */
  fqeCi?: boolean;
}

/**
 * Every estimator for one target policy: IS, WIS, PDWIS (behaviour probabilities `piBTaken` of the
 * logged actions), DR and WDR with the FQE model of the same target, FQE itself, each with a seeded
 * percentile bootstrap CI (substreams `ope/<name>/<estimator>`), and Kish's ESS.
 */
export function estimatePolicy(name: string, data: OpeData, piE: PolicyProbs, piBTaken: Float64Array[], options: EstimateOptions = {}): PolicyEstimates {
  const B = options.bootstrap ?? 200;
  const Bf = options.bootstrapFqe ?? 50;
  const root = Rng.fromSeed(options.seed ?? 0).fork(`ope/${name}`);
  const fqe = fittedQEvaluation(data, piE, options.fqe);
  const table = buildIsTable(data, piE, piBTaken, fqe.qAlong);
  const all = allIndices(table.n);
  const stats: [EstimatorName, (idx: Int32Array) => number][] = [
    ['IS', (idx) => importanceSampling(table, idx)],
    ['WIS', (idx) => weightedImportanceSampling(table, idx)],
    ['PDWIS', (idx) => perDecisionWis(table, idx)],
    ['DR', (idx) => doublyRobust(table, idx, false)],
    ['WDR', (idx) => doublyRobust(table, idx, true)],
  ];
  const estimates: Estimate[] = stats.map(([est, f]) => {
    const ci = bootstrap(table.n, f, root.fork(est), B);
    return { estimator: est, value: f(all), ci: { lo: ci.lo, hi: ci.hi } };
  });
  let fqeCi: Interval = { lo: Number.NaN, hi: Number.NaN };
  if (options.fqeCi !== false) {
    const ci = bootstrap(table.n, (idx) => fittedQEvaluation(data, piE, { ...options.fqe, model: fqe.model }, idx).value, root.fork('FQE'), Bf);
    fqeCi = { lo: ci.lo, hi: ci.hi };
  }
  estimates.push({ estimator: 'FQE', value: fqe.value, ci: fqeCi });
  const ess = effectiveSampleSize(table);
  return { name, estimates, ess, essFraction: ess / table.n, fqe: { model: fqe.model, coverage: fqe.coverage, size: fqe.size } };
}

export interface OpeReport {
  n: number;
  transitions: number;
  horizon: number;
  gamma: number;
  nActions: number;
  bootstrap: { B: number; BFqe: number; seed: number; level: number };
  behaviour: {
    /** "logged": π_b read from the logs; "estimated": fitted (see `model` and `calibration`). */
    source: 'logged' | 'estimated';
    model?: string;
    calibration?: BehaviourEstimate['calibration'];
    /** Mean observed return of the logs (the behaviour policy's on-policy value) with its bootstrap CI. */
    observedValue: number;
    observedCi: Interval;
  };
  target: PolicyEstimates;
  /** Luo et al. (ICML 2024) baselines: random, zero treatment (action 0), behaviour, behaviour cloning. */
  baselines: PolicyEstimates[];
  warnings: string[];
}

export interface OpeOptions extends EstimateOptions {
  behaviour?: BehaviourOptions;
  targetName?: string;
  /** Label of action 0 (the zero-treatment baseline), e.g. "no treatment". */
  zeroActionLabel?: string;
}

/** ESS below this fraction of n makes the IS-family rows untrustworthy (warned). */
export const LOW_ESS_FRACTION = 0.05;

/**
 * The full OPE report of `twinlab ope`: the target's estimates and the baselines that Luo et al.
 * ("Position: Reinforcement learning in dynamic treatment regimes needs critical reexamination",
 * ICML 2024) ask every evaluation to report next to a learned policy — a uniformly random policy, the
 * zero-treatment policy, the behaviour (clinician) policy and its supervised imitation (behaviour
 * cloning: the greedy action of π̂_b) — all estimated from the same logs with the same estimators.
 * Behaviour probabilities come from the logs when every step has one, otherwise they are estimated.
 */
export function evaluateOffPolicy(data: OpeData, piE: PolicyProbs, options: OpeOptions = {}): OpeReport {
  validateData(data);
  const seed = options.seed ?? 0;
  const warnings: string[] = [];
  const logged = data.trajectories.every((tr) => tr.behaviourProbs !== undefined);
  const estimated = estimateBehaviour(data, options.behaviour);
  const piBTaken = logged ? data.trajectories.map((tr) => tr.behaviourProbs as Float64Array) : data.trajectories.map((tr, i) => Float64Array.from(tr.actions, (a, t) => (estimated.probs[i] as Float64Array)[t * data.nActions + a] as number));
  if (!logged) warnings.push(`behaviour probabilities are not in the logs: estimated by ${estimated.kind === 'counts' ? 'counts per observed state' : 'multinomial logistic regression'} (calibration ECE ${estimated.calibration.ece.toFixed(3)})`);
  let steps = 0;
  let sure = 0;
  for (const p of piBTaken) {
    for (const q of p) if (q > 0.99) sure++;
    steps += p.length;
  }
  if (sure > 0.9 * steps) {
    warnings.push(
      `the behaviour policy looks deterministic (π_b(a_t|s_t) > 0.99 at ${((100 * sure) / steps).toFixed(0)} % of logged steps): the importance weights of any other policy are 0 or explode, so IS, WIS, PDWIS and DR say nothing about it; only FQE (a model extrapolation) is informative — log a stochastic behaviour policy`,
    );
  }
  const returns = data.trajectories.map((tr) => discountedReturn(tr, data.gamma));
  const mean = (idx: Int32Array) => {
    let s = 0;
    for (const i of idx) s += returns[i] as number;
    return s / idx.length;
  };
  const n = data.trajectories.length;
  const observedCi = bootstrap(n, mean, Rng.fromSeed(seed).fork('ope/observed'), options.bootstrap ?? 200);
  const target = estimatePolicy(options.targetName ?? 'target', data, piE, piBTaken, options);
  // π_b(·|s) over all actions: the logs keep only the logged action's probability, so the fitted model serves.
  const behaviourProbs: PolicyProbs = estimated.probs;
  const baselines = [
    estimatePolicy('random', data, uniformProbs(data), piBTaken, options),
    estimatePolicy(`zero-treatment (action 0${options.zeroActionLabel ? `: ${options.zeroActionLabel}` : ''})`, data, constantProbs(data, 0), piBTaken, options),
    estimatePolicy('behaviour', data, behaviourProbs, piBTaken, options),
    estimatePolicy('behaviour-cloning', data, greedyProbs(estimated.probs, data.nActions), piBTaken, options),
  ];
  for (const p of [target, ...baselines]) {
    if (p.essFraction < LOW_ESS_FRACTION) warnings.push(`${p.name}: ESS ${p.ess.toFixed(1)} of ${n} trajectories (< ${LOW_ESS_FRACTION * 100} %): IS, WIS, PDWIS and the DR correction rest on a handful of trajectories; trust FQE (model-based) only as far as its model`);
    if (p.fqe.coverage < 0.95) warnings.push(`${p.name}: only ${(p.fqe.coverage * 100).toFixed(1)} % of its action mass at logged states was ever logged; FQE extrapolates there (tabular: as 0)`);
  }
  let transitions = 0;
  let horizon = 0;
  for (const tr of data.trajectories) {
    transitions += tr.actions.length;
    horizon = Math.max(horizon, tr.actions.length);
  }
  return {
    n,
    transitions,
    horizon,
    gamma: data.gamma,
    nActions: data.nActions,
    bootstrap: { B: options.bootstrap ?? 200, BFqe: options.bootstrapFqe ?? 50, seed, level: 0.95 },
    behaviour: {
      source: logged ? 'logged' : 'estimated',
      model: estimated.kind,
      calibration: estimated.calibration,
      observedValue: mean(allIndices(n)),
      observedCi: { lo: observedCi.lo, hi: observedCi.hi },
    },
    target,
    baselines,
    warnings,
  };
}
