import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import {
  bootstrapMeanCI,
  cohensDz,
  erfc,
  mcnemar,
  midRanks,
  normalCdf,
  pairedRiskDifference,
  quantileSorted,
  rankBiserial,
  summarize,
  wilcoxonSignedRank,
} from '../../experiments/stats.js';

/** Brute-force two-sided signed-rank p: enumerate all 2^n sign assignments of the given ranks. */
function bruteForceP(ranks: number[], wPlus: number): number {
  const n = ranks.length;
  let le = 0;
  let ge = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let w = 0;
    for (let i = 0; i < n; i++) if (mask & (1 << i)) w += ranks[i] as number;
    if (w <= wPlus + 1e-9) le++;
    if (w >= wPlus - 1e-9) ge++;
  }
  return Math.min(1, (2 * Math.min(le, ge)) / 2 ** n);
}

describe('normal distribution helpers', () => {
  it('match tabulated erfc and Φ values', () => {
    // Abramowitz & Stegun Table 7.1 / standard normal tables.
    expect(erfc(0)).toBe(1);
    expect(erfc(0.5)).toBeCloseTo(0.4795001221869535, 14);
    expect(erfc(1)).toBeCloseTo(0.15729920705028513, 14);
    expect(erfc(2)).toBeCloseTo(0.004677734981047266, 15);
    expect(erfc(3) / 2.209049699858544e-5).toBeCloseTo(1, 12);
    expect(erfc(6) / 2.151973671249892e-17).toBeCloseTo(1, 10);
    expect(erfc(-1)).toBeCloseTo(2 - 0.15729920705028513, 14);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 12);
    expect(normalCdf(-1.6448536269514722)).toBeCloseTo(0.05, 12);
    // Continuity across the series / continued-fraction switch at 2.5.
    // erfc'(x) = −(2/√π)e^{−x²}, so the jump over 2·10⁻⁷ must equal the derivative times the step.
    const slope = (-2 / Math.sqrt(Math.PI)) * Math.exp(-6.25);
    expect((erfc(2.5000001) - erfc(2.4999999)) / (2e-7 * slope)).toBeCloseTo(1, 5); // rounding in 1 − erf limits this
  });
});

describe('summarize and quantiles', () => {
  it('computes mean, sample sd, type-7 median/quartiles, IQR, min, max', () => {
    const s = summarize([7, 1, 3, 5, 9, 11]);
    expect(s.n).toBe(6);
    expect(s.mean).toBe(6);
    expect(s.sd).toBeCloseTo(Math.sqrt(14), 12); // Σ(x−6)² = 70, /5 = 14
    expect(s.median).toBe(6);
    // R: quantile(c(1,3,5,7,9,11), c(.25,.75)) = 3.5, 8.5
    expect(s.q1).toBe(3.5);
    expect(s.q3).toBe(8.5);
    expect(s.iqr).toBe(5);
    expect([s.min, s.max]).toEqual([1, 11]);
    expect(quantileSorted([10, 20], 0.1)).toBe(11);
    expect(summarize([]).n).toBe(0);
    expect(Number.isNaN(summarize([4]).sd)).toBe(true);
    expect(() => summarize([1, Number.NaN])).toThrow(/values\[1\] must be a finite number/);
  });

  it('assigns mid-ranks to ties', () => {
    const { ranks, ties } = midRanks([10, 20, 20, 5, 20]);
    expect(Array.from(ranks)).toEqual([2, 4, 4, 1, 4]);
    expect(ties).toEqual([3]);
  });
});

describe('wilcoxonSignedRank', () => {
  it("reproduces Darwin's Zea mays example (Fisher 1935): W+ = 96, W− = 24, exact two-sided p = 0.04126", () => {
    // Height differences crossed − self-fertilised (eighths of an inch), Fisher, The Design of Experiments §17;
    // the exact p = 2·676/32768 = 0.041259765625 is R's wilcox.test / scipy.stats.wilcoxon output.
    const d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75];
    const w = wilcoxonSignedRank(d);
    expect(w.statistic).toBe(96);
    expect(w.wMinus).toBe(24);
    expect(w.n).toBe(15);
    expect(w.method).toBe('exact');
    expect(w.pValue).toBe((2 * 676) / 32768);
    expect(w.pValue).toBe(
      bruteForceP(
        Array.from({ length: 15 }, (_, i) => i + 1),
        96,
      ),
    );
    expect(w.rankBiserial).toBeCloseTo((96 - 24) / 120, 15);
    // Normal approximation by hand: E = 15·16/4 = 60, Var = 15·16·31/24 = 310, z = (96 − 60 − ½)/√310.
    const zHand = 35.5 / Math.sqrt(310);
    expect(w.z).toBeCloseTo(zHand, 12);
    const approx = wilcoxonSignedRank(d, { exactMaxN: 0 });
    expect(approx.method).toBe('normal');
    expect(approx.pValue).toBeCloseTo(2 * (1 - normalCdf(zHand)), 12);
    expect(approx.pValue).toBeCloseTo(0.04377, 4); // scipy wilcoxon(method='approx', correction=True)
  });

  it("reproduces R's wilcox.test paired example (Hollander & Wolfe depression data): V = 40, p = 0.0390625", () => {
    const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    const w = wilcoxonSignedRank(x.map((v, i) => v - (y[i] as number)));
    expect(w.statistic).toBe(40);
    expect(w.pValue).toBe(2 * (10 / 512)); // one-sided 0.01953 in R's help page
  });

  it('handles ties exactly (mid-ranks) and matches brute-force enumeration', () => {
    const d = [1, -1, 2, 2, -2, 3, 3, 3, 4, -5, 6, 6];
    const w = wilcoxonSignedRank(d);
    const abs = d.map(Math.abs);
    const ranks = Array.from(midRanks(abs).ranks);
    const wPlus = ranks.reduce((a, r, i) => a + ((d[i] as number) > 0 ? r : 0), 0);
    expect(w.statistic).toBe(wPlus);
    expect(w.pValue).toBeCloseTo(bruteForceP(ranks, wPlus), 14);
  });

  it('uses the tie-corrected normal approximation beyond 25 pairs', () => {
    // 30 differences with tie groups; variance by the textbook formula n(n+1)(2n+1)/24 − Σ(t³−t)/48.
    const d: number[] = [];
    for (let i = 0; i < 30; i++) d.push((i % 3 === 0 ? -1 : 1) * (1 + Math.floor(i / 3))); // ten tie groups of 3
    const w = wilcoxonSignedRank(d);
    expect(w.method).toBe('normal');
    const n = 30;
    const { ties } = midRanks(d.map(Math.abs));
    const variance = (n * (n + 1) * (2 * n + 1)) / 24 - ties.reduce((a, t) => a + (t ** 3 - t), 0) / 48;
    const mean = (n * (n + 1)) / 4;
    const dev = w.statistic - mean;
    const z = (dev - 0.5 * Math.sign(dev)) / Math.sqrt(variance);
    expect(ties).toEqual(Array(10).fill(3));
    expect(w.statistic).toBe((2 / 3) * 465);
    expect(w.z).toBeCloseTo(z, 12);
    expect(w.pValue).toBeCloseTo(2 * (1 - normalCdf(Math.abs(z))), 12);
  });

  it('drops zeros (Wilcoxon) or ranks then discards them (Pratt); all-zero gives p = 1', () => {
    const d = [0, 0, 1, 2, 3, -4, 5];
    const wilcox = wilcoxonSignedRank(d);
    expect(wilcox).toMatchObject({ n: 5, zeros: 2, statistic: 11, wMinus: 4 });
    const pratt = wilcoxonSignedRank(d, { zeroMethod: 'pratt' });
    // Pratt ranks |d| including the zeros (ranks 1.5, 1.5) so the non-zero ranks are 3..7.
    expect(pratt).toMatchObject({ n: 5, zeros: 2, statistic: 3 + 4 + 5 + 7, wMinus: 6 });
    expect(wilcoxonSignedRank([0, 0, 0])).toMatchObject({ n: 0, pValue: 1 });
    expect(rankBiserial([1, 2, 3])).toBe(1);
  });
});

describe('mcnemar', () => {
  it('exact binomial p for few discordant pairs', () => {
    // b = 1, c = 9: p = 2·(C(10,0) + C(10,1))/2¹⁰ = 22/1024.
    expect(mcnemar(1, 9)).toMatchObject({ method: 'exact', pValue: 22 / 1024 });
    expect(mcnemar(5, 5).pValue).toBe(1);
    expect(mcnemar(0, 0).pValue).toBe(1);
  });

  it("chi-square with continuity correction otherwise (Agresti's presidential approval example)", () => {
    // Agresti (2007), An Introduction to Categorical Data Analysis, Table 8.1: b = 150, c = 86.
    const m = mcnemar(150, 86);
    expect(m.method).toBe('chi-square');
    expect(m.statistic).toBeCloseTo(63 ** 2 / 236, 12); // (|150 − 86| − 1)²/236 = 16.82
    expect(m.pValue).toBeCloseTo(4.11e-5, 7);
    expect(() => mcnemar(-1, 2)).toThrow(/mcnemar b must be a count/);
  });
});

describe('effect sizes', () => {
  it('paired d_z, risk difference with discordant counts', () => {
    expect(cohensDz([1, 2, 3, 4, 5])).toBeCloseTo(3 / Math.sqrt(2.5), 12);
    expect(Number.isNaN(cohensDz([2, 2, 2]))).toBe(true);
    const rd = pairedRiskDifference([1, 1, 0, 0, 1, 0], [0, 1, 1, 1, 1, 0]);
    expect(rd).toMatchObject({ b: 1, c: 2, n: 6, pReference: 0.5, pArm: 4 / 6 });
    expect(rd.riskDifference).toBeCloseTo((2 - 1) / 6, 15);
    expect(() => pairedRiskDifference([0, 2], [0, 1])).toThrow(/must be 0 or 1/);
  });
});

describe('bootstrapMeanCI', () => {
  it('is reproducible at a fixed seed and substream-sensitive', () => {
    const x = Array.from({ length: 40 }, (_, i) => Math.sin(i) * 10);
    const a = bootstrapMeanCI(x, Rng.fromSeed(5).fork('bootstrap/tir/dqn'), { resamples: 2000 });
    const b = bootstrapMeanCI(x, Rng.fromSeed(5).fork('bootstrap/tir/dqn'), { resamples: 2000 });
    const c = bootstrapMeanCI(x, Rng.fromSeed(5).fork('bootstrap/tir/pid'), { resamples: 2000 });
    expect(a).toEqual(b);
    expect(c.lower).not.toBe(a.lower);
  });

  it('contains the mean and agrees with the normal-theory interval for large n', () => {
    const rng = Rng.fromSeed(11);
    const n = 400;
    const x = Array.from({ length: n }, () => rng.normal(3, 2));
    const s = summarize(x);
    const ci = bootstrapMeanCI(x, Rng.fromSeed(1).fork('b'), { resamples: 4000 });
    expect(ci.estimate).toBeCloseTo(s.mean, 12);
    expect(ci.lower).toBeLessThan(s.mean);
    expect(ci.upper).toBeGreaterThan(s.mean);
    const half = (1.959963984540054 * s.sd) / Math.sqrt(n);
    // The percentile bootstrap is ≈ the plug-in (n rather than n−1) normal interval; within 8 % of its half-width.
    expect(ci.lower).toBeCloseTo(s.mean - half, 1);
    expect(ci.upper).toBeCloseTo(s.mean + half, 1);
    expect((ci.upper - ci.lower) / (2 * half)).toBeGreaterThan(0.92);
    expect((ci.upper - ci.lower) / (2 * half)).toBeLessThan(1.08);
    // Narrower at lower confidence, and shrinking like 1/√n.
    const ci80 = bootstrapMeanCI(x, Rng.fromSeed(1).fork('b'), { resamples: 4000, level: 0.8 });
    expect(ci80.upper - ci80.lower).toBeLessThan(ci.upper - ci.lower);
    const small = bootstrapMeanCI(x.slice(0, 100), Rng.fromSeed(1).fork('b'), { resamples: 4000 });
    expect((small.upper - small.lower) / (ci.upper - ci.lower)).toBeGreaterThan(1.6);
    expect((small.upper - small.lower) / (ci.upper - ci.lower)).toBeLessThan(2.4);
  });

  it('validates its arguments', () => {
    expect(() => bootstrapMeanCI([], Rng.fromSeed(1))).toThrow(/at least one value/);
    expect(() => bootstrapMeanCI([1], Rng.fromSeed(1), { level: 1 })).toThrow(/level must be in \(0, 1\)/);
    expect(bootstrapMeanCI([4], Rng.fromSeed(1), { resamples: 10 })).toMatchObject({ estimate: 4, lower: 4, upper: 4 });
  });
});
