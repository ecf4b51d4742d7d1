import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { SumTree } from '../../agents/sum-tree.js';

describe('SumTree', () => {
  it('keeps the root equal to the sum of leaves and tracks the minimum after random updates', () => {
    const rng = Rng.fromSeed(5);
    const tree = new SumTree(37); // not a power of two
    const leaves = new Float64Array(37);
    const set = new Set<number>();
    for (let k = 0; k < 2000; k++) {
      const i = rng.integer(0, 37);
      const p = rng.next() < 0.05 ? 0 : rng.uniform(0, 10);
      tree.set(i, p);
      leaves[i] = p;
      set.add(i);
      if (k % 97 === 0) {
        const sum = leaves.reduce((a, b) => a + b, 0);
        expect(tree.total).toBeCloseTo(sum, 9);
        const touched = [...set].map((j) => leaves[j] as number);
        expect(tree.min).toBe(Math.min(...touched));
      }
    }
  });

  it('min ignores never-set leaves', () => {
    const tree = new SumTree(10);
    expect(tree.min).toBe(Number.POSITIVE_INFINITY);
    tree.set(3, 2.5);
    tree.set(7, 4);
    expect(tree.min).toBe(2.5);
    tree.set(3, 9);
    expect(tree.min).toBe(4);
  });

  it('find() inverts the prefix sum', () => {
    const tree = new SumTree(5);
    [1, 0, 2, 3, 4].forEach((p, i) => tree.set(i, p));
    expect(tree.find(0)).toBe(0);
    expect(tree.find(0.999)).toBe(0);
    expect(tree.find(1)).toBe(2); // leaf 1 has zero mass
    expect(tree.find(2.999)).toBe(2);
    expect(tree.find(3)).toBe(3);
    expect(tree.find(9.5)).toBe(4);
    expect(tree.find(10)).toBe(4); // total (rounding) → last positive leaf
    expect(tree.find(1e9)).toBe(4);
  });

  it('sampling frequencies are proportional to priority (chi-square at a fixed seed)', () => {
    const p = [0.5, 3, 1, 0, 2.5, 7, 1.25, 4.75];
    const tree = new SumTree(p.length);
    p.forEach((v, i) => tree.set(i, v));
    const rng = Rng.fromSeed(2024).fork('replay');
    const n = 100_000;
    const counts = new Array(p.length).fill(0);
    for (let k = 0; k < n; k++) counts[tree.find(rng.next() * tree.total)]++;
    expect(counts[3]).toBe(0);
    const total = p.reduce((a, b) => a + b, 0);
    let chi2 = 0;
    for (let i = 0; i < p.length; i++) {
      if (p[i] === 0) continue;
      const e = (n * (p[i] as number)) / total;
      chi2 += (counts[i] - e) ** 2 / e;
    }
    expect(chi2).toBeLessThan(22.5); // 6 dof, 99.9 %
  });

  it('load() rebuilds the same tree as incremental sets', () => {
    const a = new SumTree(9);
    const values = Float64Array.from([3, 1, 4, 1, 5, 9, 2, 6, 5]);
    values.forEach((v, i) => a.set(i, v));
    const b = new SumTree(9);
    b.load(a.leafValues());
    expect(b.total).toBe(a.total);
    expect(b.min).toBe(a.min);
    for (const m of [0, 2.5, 10, 20.2, 35.9]) expect(b.find(m)).toBe(a.find(m));
  });

  it('rejects negative or non-finite priorities naming the value', () => {
    const tree = new SumTree(4);
    expect(() => tree.set(0, -1)).toThrow(/priority must be finite and ≥ 0, got -1/);
    expect(() => tree.set(4, 1)).toThrow(/index 4 outside/);
  });
});
