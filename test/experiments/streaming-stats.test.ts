import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { bootstrapMeanCI, cohensDz } from '../../experiments/stats.js';
import { PoissonBootstrap, poissonOne, StreamingPairedEndpoint, Welford } from '../../experiments/streaming-stats.js';

function sample(n: number, seed: number): number[] {
  const rng = Rng.fromSeed(seed);
  return Array.from({ length: n }, () => rng.normal(3, 2) + (rng.next() < 0.1 ? rng.uniform(5, 15) : 0));
}

function shuffled<T>(values: T[], seed: number): T[] {
  const rng = Rng.fromSeed(seed);
  const out = [...values];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.integer(0, i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('streaming statistics', () => {
  it('Welford: mean and sample variance of a two-pass computation; merging equals pushing everything', () => {
    const xs = sample(10_000, 1).map((x) => x + 1e6); // a large offset breaks the naive Σx² formula, not Welford
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
    const w = new Welford();
    for (const x of xs) w.push(x);
    expect(w.n).toBe(xs.length);
    expect(Math.abs(w.mean - mean) / mean).toBeLessThan(1e-12);
    expect(Math.abs(w.variance - variance) / variance).toBeLessThan(1e-9);
    const a = new Welford();
    const b = new Welford();
    xs.forEach((x, i) => (i % 3 === 0 ? a : b).push(x));
    a.merge(b);
    expect(a.n).toBe(w.n);
    expect(Math.abs(a.mean - w.mean) / w.mean).toBeLessThan(1e-12);
    expect(Math.abs(a.variance - w.variance) / w.variance).toBeLessThan(1e-9);
    expect([a.min, a.max]).toEqual([w.min, w.max]);
  });

  it('Poisson(1) draws have mean 1 and variance 1', () => {
    const rng = Rng.fromSeed(5);
    const w = new Welford();
    for (let i = 0; i < 200_000; i++) w.push(poissonOne(rng));
    expect(w.mean).toBeCloseTo(1, 2);
    expect(w.variance).toBeCloseTo(1, 1);
  });

  it('Poisson bootstrap: the same interval whatever the arrival order; close to the multinomial percentile bootstrap', () => {
    const xs = sample(1_500, 2);
    const inOrder = new PoissonBootstrap(11, 1_000);
    xs.forEach((x, i) => inOrder.push(i, x));
    const reordered = new PoissonBootstrap(11, 1_000);
    for (const i of shuffled(xs.map((_, i) => i), 3)) reordered.push(i, xs[i] as number);
    const a = inOrder.ci();
    const b = reordered.ci();
    // Same weights per unit; only the order of floating-point additions differs.
    expect(Math.abs(a.lower - b.lower)).toBeLessThan(1e-9);
    expect(Math.abs(a.upper - b.upper)).toBeLessThan(1e-9);
    const reference = bootstrapMeanCI(xs, Rng.fromSeed(4), { resamples: 4_000 });
    const se = new Welford();
    for (const x of xs) se.push(x);
    const standardError = se.sd / Math.sqrt(xs.length);
    expect(Math.abs(a.lower - reference.lower)).toBeLessThan(0.2 * standardError);
    expect(Math.abs(a.upper - reference.upper)).toBeLessThan(0.2 * standardError);
    // and a different seed gives a different (but equally valid) interval
    const other = new PoissonBootstrap(12, 1_000);
    xs.forEach((x, i) => other.push(i, x));
    expect(other.ci().lower).not.toBe(a.lower);
  });

  it('paired endpoint: mean difference, d_z and missing patients as the batch computation', () => {
    const arm = sample(500, 6);
    const ref = sample(500, 7);
    arm[10] = Number.NaN;
    const s = new StreamingPairedEndpoint(3, 500);
    for (const i of shuffled(arm.map((_, i) => i), 8)) s.push(i, arm[i] as number, ref[i] as number);
    const d = arm.map((a, i) => a - (ref[i] as number)).filter(Number.isFinite);
    const summary = s.summary();
    expect(summary.n).toBe(499);
    expect(summary.missing).toBe(1);
    expect(summary.meanDifference).toBeCloseTo(d.reduce((a, b) => a + b, 0) / d.length, 10);
    expect(summary.cohensDz).toBeCloseTo(cohensDz(d), 10);
    expect(summary.ci.lower).toBeLessThan(summary.meanDifference);
    expect(summary.ci.upper).toBeGreaterThan(summary.meanDifference);
  });
});
