import { describe, expect, it } from 'vitest';
import { deriveSeed, Rng } from '../../engine/random.js';

const draws = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.next());

describe('Rng', () => {
  it('gives identical sequences for identical seeds and different ones for different seeds', () => {
    expect(draws(Rng.fromSeed(42), 100)).toEqual(draws(Rng.fromSeed(42), 100));
    expect(draws(Rng.fromSeed(42), 100)).not.toEqual(draws(Rng.fromSeed(43), 100));
    expect(draws(Rng.fromSeed('42'), 5)).toEqual(draws(Rng.fromSeed(42), 5));
  });

  it('derives substreams from (seed, name) only: independent of creation order and of parent draws', () => {
    const a = Rng.fromSeed(7);
    const meals1 = a.fork('meals');
    const sensor1 = a.fork('sensor');
    const b = Rng.fromSeed(7);
    draws(b, 1000); // consuming the parent must not shift its children
    const sensor2 = b.fork('sensor');
    const meals2 = b.fork('meals');
    expect(draws(meals1, 50)).toEqual(draws(meals2, 50));
    expect(draws(sensor1, 50)).toEqual(draws(sensor2, 50));
    expect(draws(Rng.fromSeed(7).fork('meals'), 50)).not.toEqual(draws(Rng.fromSeed(7).fork('sensor'), 50));
    expect(draws(Rng.fromSeed(7).fork('patient').fork('3'), 5)).toEqual(draws(Rng.fromSeed(7).fork('patient').fork('3'), 5));
  });

  it('Rng.substream(seed, name) is the stream Rng.fromSeed(seed).fork(name), and rejects what they reject', () => {
    for (const seed of [0, 7, 2 ** 32 + 5, 'patient-3']) {
      const a = Rng.substream(seed, 'dynamics');
      const b = Rng.fromSeed(seed).fork('dynamics');
      expect(a.saveState()).toEqual(b.saveState());
      expect(Array.from({ length: 5 }, () => a.next())).toEqual(Array.from({ length: 5 }, () => b.next()));
    }
    expect(() => Rng.substream(Number.NaN, 'x')).toThrow(/seed must be a finite number/);
    expect(() => Rng.substream(1, '')).toThrow(/substream name must not be empty/);
  });

  it('restores a saved state so that the restored stream continues identically', () => {
    const rng = Rng.fromSeed(99).fork('replay');
    draws(rng, 37);
    rng.normal();
    const saved = JSON.parse(JSON.stringify(rng.saveState()));
    const continued = [...draws(rng, 20), rng.normal(), rng.integer(0, 1000)];
    const restored = Rng.restore(saved);
    expect([...draws(restored, 20), restored.normal(), restored.integer(0, 1000)]).toEqual(continued);
    // forks of a restored stream equal forks of the original
    expect(draws(restored.fork('x'), 5)).toEqual(draws(Rng.fromSeed(99).fork('replay').fork('x'), 5));
  });

  it('normal() has mean 0 and variance 1 within tolerance at n = 100,000 (seed 1)', () => {
    const rng = Rng.fromSeed(1);
    const n = 100_000;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.normal();
      sum += x;
      sumSq += x * x;
    }
    const mean = sum / n;
    const variance = sumSq / n - mean * mean;
    // standard errors: mean 1/sqrt(n) ≈ 0.0032, variance sqrt(2/n) ≈ 0.0045; allow 4 SE
    expect(Math.abs(mean)).toBeLessThan(0.013);
    expect(Math.abs(variance - 1)).toBeLessThan(0.018);
    const scaled = Rng.fromSeed(2);
    let s = 0;
    for (let i = 0; i < 20_000; i++) s += scaled.normal(10, 2);
    expect(Math.abs(s / 20_000 - 10)).toBeLessThan(0.06);
  });

  it('uniform, integer, choice and shuffle cover their ranges uniformly', () => {
    const rng = Rng.fromSeed(5);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[rng.integer(0, 6)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400); // ≈ 4 SD
    for (let i = 0; i < 1000; i++) {
      const u = rng.uniform(-2, 3);
      expect(u).toBeGreaterThanOrEqual(-2);
      expect(u).toBeLessThan(3);
    }
    const items = ['a', 'b', 'c'] as const;
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(rng.choice(items));
    expect(seen.size).toBe(3);
    const arr = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = rng.shuffle([...arr]);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(arr);
    expect(shuffled).not.toEqual(arr);
    // first position of a shuffle of 4 is uniform
    const first = new Array(4).fill(0);
    for (let i = 0; i < 20_000; i++) first[rng.shuffle([0, 1, 2, 3])[0] as number]++;
    for (const c of first) expect(Math.abs(c - 5000)).toBeLessThan(300);
  });

  it('categorical() draws index k with probability p_k (chi-square, n = 100,000, seed 7) from one uniform each', () => {
    const probs = [0.1, 0.25, 0.05, 0.6];
    const rng = Rng.fromSeed(7);
    const n = 100_000;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) (counts[rng.categorical(probs)] as number)++;
    const chi2 = counts.reduce((s, c, k) => s + (c - n * (probs[k] as number)) ** 2 / (n * (probs[k] as number)), 0);
    expect(chi2).toBeLessThan(16.27); // χ²(3) upper 0.1 % point
    // Inverse CDF of the stream's next uniform: the same state gives the same index, one draw per call.
    const a = Rng.fromSeed(3);
    const b = Rng.fromSeed(3);
    for (let i = 0; i < 1000; i++) {
      const u = b.next();
      expect(a.categorical(probs)).toBe(u < 0.1 ? 0 : u < 0.35 ? 1 : u < 0.4 ? 2 : 3);
    }
  });

  it('rejects bad arguments with clear messages', () => {
    expect(() => Rng.fromSeed(Number.NaN)).toThrow(/seed must be a finite number/);
    expect(() => Rng.fromSeed(1).integer(3, 3)).toThrow(/lo < hi/);
    expect(() => Rng.fromSeed(1).choice([])).toThrow(/empty/);
    expect(() => Rng.fromSeed(1).fork('')).toThrow(/must not be empty/);
  });

  it('deriveSeed depends only on the seed and the path', () => {
    expect(deriveSeed(1, 'job', 3)).toBe(deriveSeed(1, 'job', 3));
    expect(deriveSeed(1, 'job', 3)).not.toBe(deriveSeed(1, 'job', 4));
    expect(deriveSeed(1, 'job', 3)).not.toBe(deriveSeed(2, 'job', 3));
    expect(Number.isInteger(deriveSeed(1, 'x'))).toBe(true);
  });
});
