import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { bootstrapMeanCI, mcnemar, summarize, wilcoxonSignedRank } from '../../experiments/stats.js';
import { analyzeTrial, type TrialEndpointMeta } from '../../experiments/trial-analysis.js';

const ARMS = ['basal-bolus', 'pid', 'dqn'];
const ENDPOINTS: TrialEndpointMeta[] = [
  { id: 'mean_bg', label: 'Mean glucose', unit: 'mg/dL', kind: 'continuous', better: 'lower' },
  { id: 'tir', label: 'Time in range', unit: '%', kind: 'continuous', better: 'higher' },
  { id: 'hypo', label: 'Any severe hypoglycaemia', unit: '', kind: 'binary', better: 'lower', safety: true },
];
const N = 30;

/** A synthetic paired cohort: patient effect + arm effect + noise; dqn clearly better on TIR. */
function makeValues(seed = 3) {
  const table = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const patient = Rng.fromSeed(seed).fork(`patient/${i}`);
    const base = patient.normal(65, 10);
    for (const [a, arm] of ARMS.entries()) {
      const noise = patient.fork(arm);
      table.set(`${i}/${arm}/tir`, base + [0, 1, 10][a]! + noise.normal(0, 3));
      table.set(`${i}/${arm}/mean_bg`, 160 - base / 2 + noise.normal(0, 5));
      table.set(`${i}/${arm}/hypo`, noise.bernoulli([0.3, 0.25, 0.1][a]!) ? 1 : 0);
    }
  }
  return (i: number, arm: string, e: string): number => table.get(`${i}/${arm}/${e}`) as number;
}

const column = (values: (i: number, arm: string, e: string) => number, arm: string, e: string) => Array.from({ length: N }, (_, i) => values(i, arm, e));

describe('analyzeTrial', () => {
  const values = makeValues();
  const analysis = analyzeTrial({ endpoints: ENDPOINTS, arms: ARMS, patients: N, values, seed: 99, primary: ['tir'], resamples: 2000 });

  it('orders safety endpoints first, then primary, then the rest', () => {
    expect(analysis.endpoints.map((e) => [e.id, e.safety, e.primary])).toEqual([
      ['hypo', true, false],
      ['tir', false, true],
      ['mean_bg', false, false],
    ]);
    expect(analysis.reference).toBe('basal-bolus');
    expect(analysis.endpoints[1]?.comparisons.map((c) => c.arm)).toEqual(['pid', 'dqn']);
  });

  it('summarises each arm and computes paired differences, bootstrap CIs on the named substream and Wilcoxon', () => {
    const tir = analysis.endpoints.find((e) => e.id === 'tir')!;
    for (const arm of ARMS) {
      const s = summarize(column(values, arm, 'tir'));
      expect(tir.arms.find((a) => a.arm === arm)).toMatchObject({ n: N, mean: s.mean, sd: s.sd, median: s.median, missing: 0 });
    }
    const d = column(values, 'dqn', 'tir').map((v, i) => v - column(values, 'basal-bolus', 'tir')[i]!);
    const dqn = tir.comparisons.find((c) => c.arm === 'dqn')!;
    const ci = bootstrapMeanCI(d, Rng.fromSeed(99).fork('bootstrap/tir/dqn'), { resamples: 2000 });
    expect(dqn.nPairs).toBe(N);
    expect(dqn.meanDifference).toBeCloseTo(d.reduce((a, b) => a + b, 0) / N, 12);
    expect(dqn.ci).toMatchObject({ lower: ci.lower, upper: ci.upper, stream: 'bootstrap/tir/dqn', level: 0.95 });
    expect(dqn.test).toMatchObject({ name: 'wilcoxon-signed-rank', pValue: wilcoxonSignedRank(d).pValue, method: 'normal' });
    expect(dqn.effectSizes.cohensDz).toBeGreaterThan(2); // +10 against within-patient noise sd ≈ 4
    expect(dqn.favours).toBe('arm');
    expect(dqn.ci!.lower).toBeGreaterThan(5);
    expect(dqn.ci!.upper).toBeLessThan(15);
  });

  it('uses McNemar and the risk difference for binary endpoints', () => {
    const hypo = analysis.endpoints[0]!;
    const ref = column(values, 'basal-bolus', 'hypo');
    const arm = column(values, 'dqn', 'hypo');
    let b = 0;
    let c = 0;
    for (let i = 0; i < N; i++) {
      if (ref[i] === 1 && arm[i] === 0) b++;
      if (ref[i] === 0 && arm[i] === 1) c++;
    }
    const dqn = hypo.comparisons.find((x) => x.arm === 'dqn')!;
    expect(dqn.test).toMatchObject({ name: 'mcnemar', b, c, pValue: mcnemar(b, c).pValue });
    expect(dqn.effectSizes.riskDifference).toBeCloseTo((c - b) / N, 12);
    expect(hypo.arms.find((a) => a.arm === 'dqn')?.proportion).toBeCloseTo(arm.reduce((s, v) => s + v, 0) / N, 12);
  });

  it('is reproducible and JSON-serialisable', () => {
    const again = analyzeTrial({ endpoints: ENDPOINTS, arms: ARMS, patients: N, values, seed: 99, primary: ['tir'], resamples: 2000 });
    expect(again).toEqual(analysis);
    expect(JSON.parse(JSON.stringify(analysis))).toEqual(analysis);
    const otherSeed = analyzeTrial({ endpoints: ENDPOINTS, arms: ARMS, patients: N, values, seed: 100, primary: ['tir'], resamples: 2000 });
    expect(otherSeed.endpoints[1]?.comparisons[1]?.ci?.lower).not.toBe(analysis.endpoints[1]?.comparisons[1]?.ci?.lower);
  });

  it('averages replicates per patient before resampling patients', () => {
    const R = 3;
    const rep = (i: number, arm: string, e: string, r: number) => values(i, arm, e) + (r - 1) * 2; // replicate offsets −2, 0, +2 average out
    const withReps = analyzeTrial({ endpoints: ENDPOINTS.slice(0, 2), arms: ARMS, patients: N, values: rep, replicates: R, seed: 99, resamples: 2000 });
    const plain = analyzeTrial({ endpoints: ENDPOINTS.slice(0, 2), arms: ARMS, patients: N, values, seed: 99, resamples: 2000 });
    const a = withReps.endpoints.find((e) => e.id === 'tir')!.comparisons[1]!;
    const b = plain.endpoints.find((e) => e.id === 'tir')!.comparisons[1]!;
    expect(a.nPairs).toBe(N);
    expect(a.meanDifference).toBeCloseTo(b.meanDifference!, 10);
    expect(a.ci!.lower).toBeCloseTo(b.ci!.lower, 10);
    expect(withReps.replicates).toBe(R);
    // Binary endpoints with replicates become proportions: Wilcoxon on their differences, not McNemar.
    const bin = analyzeTrial({
      endpoints: [ENDPOINTS[2]!],
      arms: ARMS,
      patients: N,
      values: (i, arm, e, r) => values(i, arm, e) * (r % 2),
      replicates: 2,
      seed: 1,
      resamples: 200,
    });
    expect(bin.endpoints[0]?.comparisons[0]?.test.name).toBe('wilcoxon-signed-rank');
    expect(bin.endpoints[0]?.arms[0]?.proportion).toBeCloseTo(summarize(column(values, 'basal-bolus', 'hypo')).mean / 2, 12);
  });

  it('excludes missing values from summaries and pairs, and honours another reference arm', () => {
    const holed = (i: number, arm: string, e: string) => (i === 4 && arm === 'pid' ? Number.NaN : values(i, arm, e));
    const a = analyzeTrial({ endpoints: ENDPOINTS, arms: ARMS, reference: 'pid', patients: N, values: holed, seed: 99, resamples: 500 });
    const tir = a.endpoints.find((e) => e.id === 'tir')!;
    expect(tir.arms.find((x) => x.arm === 'pid')).toMatchObject({ n: N - 1, missing: 1 });
    expect(tir.comparisons.map((c) => [c.arm, c.reference, c.nPairs])).toEqual([
      ['basal-bolus', 'pid', N - 1],
      ['dqn', 'pid', N - 1],
    ]);
    expect(() => analyzeTrial({ endpoints: ENDPOINTS, arms: ARMS, reference: 'placebo', patients: N, values, seed: 1 })).toThrow(
      /reference arm "placebo" is not one of the arms/,
    );
    expect(() => analyzeTrial({ endpoints: ENDPOINTS, arms: ['a', 'a'], patients: N, values, seed: 1 })).toThrow(/arm names must be unique/);
  });
});
