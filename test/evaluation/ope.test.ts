import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { estimateBehaviour, fitLogistic, reliability } from '../../evaluation/ope/behaviour.js';
import { type OpeData, type PolicyProbs, type Trajectory, probsFromFunction, takenProbs } from '../../evaluation/ope/data.js';
import {
  allIndices,
  bootstrap,
  buildIsTable,
  doublyRobust,
  effectiveSampleSize,
  importanceSampling,
  perDecisionWis,
  weightedImportanceSampling,
} from '../../evaluation/ope/estimators.js';
import { fittedQEvaluation } from '../../evaluation/ope/fqe.js';
import { evaluateOffPolicy } from '../../evaluation/ope/report.js';

/**
 * A 2-state, 2-action MDP with horizon 3 whose target value is known in closed form (backward
 * induction), and a variant with deterministic transitions. Observation = [state].
 */
interface SmallMdp {
  /** P[s][a] = probability of moving to state 1. */
  P: number[][];
  /** Mean reward R[s][a]; rewards are R ± 0.5 with equal probability when `noisy`. */
  R: number[][];
  noisy: boolean;
  s0: number[]; // initial law [p(0), p(1)]
}
const H = 3;
const STOCHASTIC: SmallMdp = { P: [[0.2, 0.7], [0.6, 0.9]], R: [[1, 0], [0.5, 2]], noisy: true, s0: [0.6, 0.4] };
const DETERMINISTIC: SmallMdp = { P: [[0, 1], [1, 0]], R: [[1, 0], [0.5, 2]], noisy: false, s0: [1, 0] };
const PI_B = [[0.7, 0.3], [0.4, 0.6]];
const PI_E = [[0.2, 0.8], [0.9, 0.1]];

/** Q^{(k)}[s][a] with k steps to go under π, k = 0 … H. */
function exactQ(m: SmallMdp, pi: number[][]): number[][][] {
  const Q = [[[0, 0], [0, 0]]];
  for (let k = 1; k <= H; k++) {
    const prev = Q[k - 1] as number[][];
    const V = [0, 1].map((s) => (pi[s] as number[])[0]! * prev[s]![0]! + (pi[s] as number[])[1]! * prev[s]![1]!);
    Q.push([0, 1].map((s) => [0, 1].map((a) => m.R[s]![a]! + (1 - m.P[s]![a]!) * V[0]! + m.P[s]![a]! * V[1]!)));
  }
  return Q;
}

function trueValue(m: SmallMdp, pi: number[][]): number {
  const Q = exactQ(m, pi)[H] as number[][];
  return [0, 1].reduce((v, s) => v + m.s0[s]! * (pi[s]![0]! * Q[s]![0]! + pi[s]![1]! * Q[s]![1]!), 0);
}

function generate(m: SmallMdp, n: number, rng: Rng): OpeData {
  const trajectories: Trajectory[] = [];
  for (let i = 0; i < n; i++) {
    let s = rng.next() < m.s0[1]! ? 1 : 0;
    const observations = [Float32Array.of(s)];
    const actions = new Int32Array(H);
    const rewards = new Float64Array(H);
    const behaviourProbs = new Float64Array(H);
    for (let t = 0; t < H; t++) {
      const a = rng.next() < PI_B[s]![1]! ? 1 : 0;
      actions[t] = a;
      behaviourProbs[t] = PI_B[s]![a]!;
      rewards[t] = m.R[s]![a]! + (m.noisy ? (rng.next() < 0.5 ? -0.5 : 0.5) : 0);
      s = rng.next() < m.P[s]![a]! ? 1 : 0;
      observations.push(Float32Array.of(s));
    }
    trajectories.push({ observations, actions, rewards, terminated: false, behaviourProbs });
  }
  return { trajectories, nActions: 2, gamma: 1 };
}

const policyOf = (pi: number[][]) => (o: Float32Array) => Float64Array.from(pi[o[0] as number] as number[]);

function table(data: OpeData, qAlong?: Float64Array[]) {
  const piE = probsFromFunction(data, policyOf(PI_E));
  const piB = data.trajectories.map((tr) => tr.behaviourProbs as Float64Array);
  return buildIsTable(data, piE, piB, qAlong);
}

function exactQAlong(m: SmallMdp, data: OpeData): Float64Array[] {
  const Q = exactQ(m, PI_E);
  return data.trajectories.map((tr) => {
    const out = new Float64Array(tr.observations.length * 2);
    tr.observations.forEach((o, t) => {
      const q = (Q[H - t] as number[][])[o[0] as number] as number[];
      out[t * 2] = q[0] as number;
      out[t * 2 + 1] = q[1] as number;
    });
    return out;
  });
}

describe('OPE estimators on a 2-state, 2-action, horizon-3 MDP with a closed-form value', () => {
  const V = trueValue(STOCHASTIC, PI_E);

  it('the closed form is what direct simulation of π_e gives (a check of the test itself)', () => {
    const rng = Rng.fromSeed(3);
    let total = 0;
    const n = 40_000;
    for (let i = 0; i < n; i++) {
      let s = rng.next() < 0.4 ? 1 : 0;
      for (let t = 0; t < H; t++) {
        const a = rng.next() < PI_E[s]![1]! ? 1 : 0;
        total += STOCHASTIC.R[s]![a]! + (rng.next() < 0.5 ? -0.5 : 0.5);
        s = rng.next() < STOCHASTIC.P[s]![a]! ? 1 : 0;
      }
    }
    expect(Math.abs(total / n - V)).toBeLessThan(0.03);
  });

  it('IS is unbiased: the mean over 400 seeded datasets of 50 trajectories is within 4 standard errors of V', () => {
    const values: number[] = [];
    for (let r = 0; r < 400; r++) {
      const t = table(generate(STOCHASTIC, 50, Rng.fromSeed(100 + r)));
      values.push(importanceSampling(t, allIndices(t.n)));
    }
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
    const se = sd / Math.sqrt(values.length);
    expect(Math.abs(mean - V)).toBeLessThan(4 * se);
    // the tolerance is informative: the standard error is small against V
    expect(se).toBeLessThan(0.05 * V);
  });

  it('WIS and PDWIS are consistent: |estimate − V| < 0.03 on 20,000 trajectories', () => {
    const t = table(generate(STOCHASTIC, 20_000, Rng.fromSeed(7)));
    expect(Math.abs(weightedImportanceSampling(t, allIndices(t.n)) - V)).toBeLessThan(0.03);
    expect(Math.abs(perDecisionWis(t, allIndices(t.n)) - V)).toBeLessThan(0.03);
    // the target's value is far from the behaviour's, so this is not the observed mean in disguise
    expect(V).not.toBeCloseTo(trueValue(STOCHASTIC, PI_B), 1);
  });

  it('DR and WDR are exact with the exact Q when transitions and rewards are deterministic', () => {
    const Vd = trueValue(DETERMINISTIC, PI_E);
    for (let r = 0; r < 5; r++) {
      const data = generate(DETERMINISTIC, 30, Rng.fromSeed(200 + r));
      const t = table(data, exactQAlong(DETERMINISTIC, data));
      expect(doublyRobust(t, allIndices(t.n), false)).toBeCloseTo(Vd, 12);
      expect(doublyRobust(t, allIndices(t.n), true)).toBeCloseTo(Vd, 12);
      // IS on the same data is not exact
      expect(Math.abs(importanceSampling(t, allIndices(t.n)) - Vd)).toBeGreaterThan(1e-3);
    }
  });

  it('DR with the exact Q is unbiased and has a smaller spread than IS on the stochastic MDP', () => {
    const dr: number[] = [];
    const is: number[] = [];
    for (let r = 0; r < 200; r++) {
      const data = generate(STOCHASTIC, 50, Rng.fromSeed(300 + r));
      const t = table(data, exactQAlong(STOCHASTIC, data));
      dr.push(doublyRobust(t, allIndices(t.n), false));
      is.push(importanceSampling(t, allIndices(t.n)));
    }
    const stats = (xs: number[]) => {
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      return { m, sd: Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) };
    };
    const d = stats(dr);
    const i = stats(is);
    expect(Math.abs(d.m - V)).toBeLessThan(4 * (d.sd / Math.sqrt(dr.length)));
    expect(d.sd).toBeLessThan(0.6 * i.sd);
  });

  it('tabular FQE converges to V (|FQE − V| < 0.03 on 20,000 trajectories) and its Q to the exact Q', () => {
    const data = generate(STOCHASTIC, 20_000, Rng.fromSeed(11));
    const piE = probsFromFunction(data, policyOf(PI_E));
    const fqe = fittedQEvaluation(data, piE, { model: 'tabular' });
    expect(fqe.model).toBe('tabular');
    expect(Math.abs(fqe.value - V)).toBeLessThan(0.03);
    const exact = exactQAlong(STOCHASTIC, data);
    for (let t = 0; t <= H; t++) expect(Math.abs((fqe.qAlong[0] as Float64Array)[t * 2]! - (exact[0] as Float64Array)[t * 2]!)).toBeLessThan(0.05);
  });

  it('linear FQE on one-hot-free [state] features equals tabular FQE here (a state is one of two values)', () => {
    const data = generate(STOCHASTIC, 2000, Rng.fromSeed(12));
    const piE = probsFromFunction(data, policyOf(PI_E));
    const tab = fittedQEvaluation(data, piE, { model: 'tabular' });
    const lin = fittedQEvaluation(data, piE, { model: 'linear', features: 'linear', ridge: 1e-12, shrink: 0 });
    expect(lin.value).toBeCloseTo(tab.value, 6);
  });
});

describe('effective sample size, bootstrap and behaviour estimation', () => {
  it('Kish ESS is n for equal weights and 1 when one trajectory carries all the weight', () => {
    const data = generate(STOCHASTIC, 20, Rng.fromSeed(1));
    const same = buildIsTable(data, probsFromFunction(data, policyOf(PI_B)), data.trajectories.map((tr) => tr.behaviourProbs as Float64Array));
    expect(effectiveSampleSize(same)).toBeCloseTo(20, 10);
    const one: PolicyProbs = data.trajectories.map((tr, i) => {
      const out = new Float64Array(tr.observations.length * 2);
      tr.observations.forEach((_, t) => {
        // agrees with the logged action only on trajectory 0
        out[t * 2 + (i === 0 ? (tr.actions[t] ?? 0) : 1 - (tr.actions[t] ?? 0))] = 1;
      });
      return out;
    });
    expect(effectiveSampleSize(buildIsTable(data, one, data.trajectories.map((tr) => tr.behaviourProbs as Float64Array)))).toBeCloseTo(1, 10);
  });

  it('Kish ESS does not overflow with enormous weights (two equal weights of 1e200 give 2)', () => {
    const w = Float64Array.of(1e200, 1e200);
    const table = { n: 2, H: 1, gamma: 1, w, r: new Float64Array(2), G: new Float64Array(2), wEnd: w };
    expect(effectiveSampleSize(table)).toBeCloseTo(2, 12);
  });

  it('linear FQE borrows the pooled model for a rarely logged action instead of extrapolating', () => {
    // continuous x ~ U(0, 1), reward x, horizon 3; action 1 logged on 3 steps only
    const rng = Rng.fromSeed(8);
    const trajectories: Trajectory[] = Array.from({ length: 200 }, (_, i) => {
      const xs = Array.from({ length: 4 }, () => rng.next());
      const actions = Int32Array.from({ length: 3 }, (_, t) => (i === 0 && t < 3 ? 1 : 0));
      return { observations: xs.map((x) => Float32Array.of(x)), actions, rewards: Float64Array.from(xs.slice(0, 3)), terminated: false };
    });
    const data: OpeData = { trajectories, nActions: 2, gamma: 1 };
    const alwaysRare = probsFromFunction(data, () => Float64Array.of(0, 1));
    const fqe = fittedQEvaluation(data, alwaysRare, { model: 'linear' });
    // the reward does not depend on the action: the value is ≈ 3 × E[x] = 1.5
    expect(Math.abs(fqe.value - 1.5)).toBeLessThan(0.2);
  });

  it('the percentile bootstrap is seeded and brackets the mean', () => {
    const xs = Array.from({ length: 200 }, (_, i) => Math.sin(i));
    const mean = (idx: Int32Array) => {
      let s = 0;
      for (const i of idx) s += xs[i] as number;
      return s / idx.length;
    };
    const a = bootstrap(200, mean, Rng.fromSeed(5), 300);
    const b = bootstrap(200, mean, Rng.fromSeed(5), 300);
    expect(a).toEqual(b);
    const m = mean(allIndices(200));
    expect(a.lo).toBeLessThan(m);
    expect(a.hi).toBeGreaterThan(m);
    expect(a.valid).toBe(300);
  });

  it('counts recover π_b and are calibrated (cross-fitted ECE < 0.02)', () => {
    const data = generate(STOCHASTIC, 5000, Rng.fromSeed(21));
    const est = estimateBehaviour(data);
    expect(est.kind).toBe('counts');
    const tr = data.trajectories[0] as Trajectory;
    const s = (tr.observations[0] as Float32Array)[0] as number;
    expect(Math.abs((est.probs[0] as Float64Array)[1]! - PI_B[s]![1]!)).toBeLessThan(0.02);
    expect(est.calibration.ece).toBeLessThan(0.02);
    const taken = takenProbs(data, est.probs);
    expect(taken.every((p) => p.every((x) => x > 0))).toBe(true);
  });

  it('multinomial logistic regression recovers a softmax behaviour on a continuous observation', () => {
    // π_b(a|x) ∝ exp(θ_a x), θ = (0, 1.5, −1) over 3 actions, x ~ N(0, 1)
    const rng = Rng.fromSeed(31);
    const theta = [0, 1.5, -1];
    const trajectories: Trajectory[] = [];
    const soft = (x: number) => {
      const e = theta.map((t) => Math.exp(t * x));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    };
    for (let i = 0; i < 400; i++) {
      const xs = Array.from({ length: 11 }, () => rng.normal());
      const actions = Int32Array.from(xs.slice(0, 10), (x) => rng.categorical(soft(x)));
      trajectories.push({ observations: xs.map((x) => Float32Array.of(x)), actions, rewards: new Float64Array(10), terminated: false });
    }
    const f = fitLogistic(trajectories, 3);
    for (const x of [-1.5, 0, 1.2]) {
      const p = f(Float32Array.of(x));
      soft(x).forEach((q, a) => expect(Math.abs((p[a] as number) - q)).toBeLessThan(0.05));
    }
    const est = estimateBehaviour({ trajectories, nActions: 3, gamma: 1 });
    expect(est.kind).toBe('logistic');
    expect(est.calibration.ece).toBeLessThan(0.03);
  });

  it('reliability bins compare predicted probability with observed frequency', () => {
    const c = reliability([0.05, 0.05, 0.95, 0.95], [false, false, true, false]);
    expect(c.bins).toEqual([
      { lo: 0, hi: 0.1, n: 2, meanPredicted: 0.05, observedFrequency: 0 },
      { lo: 0.9, hi: 1, n: 2, meanPredicted: 0.95, observedFrequency: 0.5 },
    ]);
    expect(c.ece).toBeCloseTo(0.5 * 0.05 + 0.5 * 0.45, 12);
  });

  it('the report carries every estimator with a CI, the ESS, and the four baselines; estimated π_b is said so', () => {
    const data = generate(STOCHASTIC, 300, Rng.fromSeed(41));
    const piE = probsFromFunction(data, policyOf(PI_E));
    const withoutProbs: OpeData = { ...data, trajectories: data.trajectories.map(({ behaviourProbs: _, ...rest }) => rest) };
    const report = evaluateOffPolicy(withoutProbs, piE, { bootstrap: 50, bootstrapFqe: 10, seed: 1 });
    expect(report.target.estimates.map((e) => e.estimator)).toEqual(['IS', 'WIS', 'PDWIS', 'DR', 'WDR', 'FQE']);
    for (const e of report.target.estimates) {
      expect(Number.isFinite(e.value)).toBe(true);
      expect(e.ci.lo).toBeLessThanOrEqual(e.ci.hi);
    }
    expect(report.baselines.map((b) => b.name)).toEqual(['random', 'zero-treatment (action 0)', 'behaviour', 'behaviour-cloning']);
    expect(report.behaviour.source).toBe('estimated');
    expect(report.warnings.join('\n')).toContain('not in the logs');
    // the behaviour baseline's weights are all ≈ 1: its IS estimate is the observed mean
    const beh = report.baselines[2]?.estimates.find((e) => e.estimator === 'IS')?.value as number;
    expect(beh).toBeCloseTo(report.behaviour.observedValue, 10);
    expect(report.baselines[2]?.essFraction).toBeCloseTo(1, 10);
  });
});
