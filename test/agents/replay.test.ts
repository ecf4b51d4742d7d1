import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { PrioritizedReplayBuffer } from '../../agents/prioritized-replay.js';
import { ReplayBuffer, allocateBatch } from '../../agents/replay-buffer.js';

function obsOf(k: number, d: number): Float32Array {
  return Float32Array.from({ length: d }, (_, j) => k * 10 + j);
}

describe('ReplayBuffer', () => {
  it('wraps around as a ring, overwriting the oldest transitions', () => {
    const buf = new ReplayBuffer(5, 3);
    for (let k = 0; k < 7; k++) buf.add(obsOf(k, 3), k % 2, k, obsOf(k + 1, 3), k === 6, 0.99);
    expect(buf.size).toBe(5);
    expect(buf.nextIndex).toBe(2);
    const batch = allocateBatch(5, 3);
    batch.indices.set([0, 1, 2, 3, 4]);
    buf.gather(batch);
    // slots 0, 1 were overwritten by transitions 5, 6
    expect(Array.from(batch.rewards)).toEqual([5, 6, 2, 3, 4]);
    expect(Array.from(batch.observations.subarray(0, 3))).toEqual([50, 51, 52]);
    expect(Array.from(batch.nextObservations.subarray(3, 6))).toEqual([70, 71, 72]);
    expect(Array.from(batch.dones)).toEqual([0, 1, 0, 0, 0]);
    expect(Array.from(batch.actions)).toEqual([1, 0, 0, 1, 0]);
    expect(batch.discounts[0]).toBeCloseTo(0.99, 6);
  });

  it('samples with replacement, only from the filled part, uniformly', () => {
    const buf = new ReplayBuffer(1000, 2);
    for (let k = 0; k < 10; k++) buf.add(obsOf(k, 2), 0, k, obsOf(k, 2), false, 1);
    const rng = Rng.fromSeed(1).fork('replay');
    const batch = allocateBatch(64, 2);
    const counts = new Array(10).fill(0);
    let duplicates = 0;
    let outside = 0;
    let mismatched = 0;
    for (let rep = 0; rep < 500; rep++) {
      buf.sample(rng, batch);
      const seen = new Set<number>();
      for (let i = 0; i < 64; i++) {
        const idx = batch.indices[i] as number;
        if (!(idx >= 0 && idx < 10)) outside++;
        if (batch.rewards[i] !== idx) mismatched++;
        if (seen.has(idx)) duplicates++;
        seen.add(idx);
        counts[idx]++;
      }
    }
    expect(outside).toBe(0);
    expect(mismatched).toBe(0);
    expect(duplicates).toBeGreaterThan(0); // 64 draws from 10 slots must repeat: with replacement
    // chi-square, 9 dof: 99.9 % quantile 27.9
    const expected = (500 * 64) / 10;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(27.9);
  });

  it('the same substream state gives the same minibatches', () => {
    const buf = new ReplayBuffer(100, 2);
    for (let k = 0; k < 100; k++) buf.add(obsOf(k, 2), 0, k, obsOf(k, 2), false, 1);
    const a = allocateBatch(32, 2);
    const b = allocateBatch(32, 2);
    buf.sample(Rng.fromSeed(7).fork('replay'), a);
    buf.sample(Rng.fromSeed(7).fork('replay'), b);
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
    buf.sample(Rng.fromSeed(8).fork('replay'), b);
    expect(Array.from(a.indices)).not.toEqual(Array.from(b.indices));
  });

  it('saves and restores exactly (position, size and columns)', () => {
    const buf = new ReplayBuffer(8, 2);
    for (let k = 0; k < 11; k++) buf.add(obsOf(k, 2), k % 3, k * 0.5, obsOf(k + 1, 2), k % 4 === 0, 0.9 ** (1 + (k % 3)));
    const state = buf.saveState();
    const copy = new ReplayBuffer(8, 2);
    copy.restoreState(state);
    expect(copy.size).toBe(8);
    expect(copy.nextIndex).toBe(buf.nextIndex);
    const x = allocateBatch(16, 2);
    const y = allocateBatch(16, 2);
    buf.sample(Rng.fromSeed(3), x);
    copy.sample(Rng.fromSeed(3), y);
    for (const key of ['observations', 'nextObservations', 'actions', 'rewards', 'discounts', 'dones'] as const) {
      expect(Array.from(y[key])).toEqual(Array.from(x[key]));
    }
    // continuing to add after restore overwrites the same slot
    buf.add(obsOf(99, 2), 1, 99, obsOf(99, 2), false, 1);
    copy.add(obsOf(99, 2), 1, 99, obsOf(99, 2), false, 1);
    expect(copy.saveState().rewards).toEqual(buf.saveState().rewards);
    expect(() => new ReplayBuffer(9, 2).restoreState(state)).toThrow(/capacity 8/);
  });

  it('memory: 1,000,000 transitions of 32-dim observations fit in < 300 MB and ≤ (2·32+4)·4 bytes each', () => {
    const buf = new ReplayBuffer(1_000_000, 32);
    const bytes = buf.bytes();
    expect(bytes).toBeLessThan(300 * 1024 * 1024);
    expect(bytes / 1_000_000).toBeLessThanOrEqual((2 * 32 + 4) * 4);
    expect(bytes).toBe(1_000_000 * ReplayBuffer.bytesPerTransition(32));
    // the columns really are allocated: heap growth of the process matches
    expect(process.memoryUsage().arrayBuffers).toBeGreaterThanOrEqual(bytes);
  });

  it('rejects a bad capacity naming the argument', () => {
    expect(() => new ReplayBuffer(0, 4)).toThrow(/capacity must be an integer ≥ 1, got 0/);
  });
});

describe('PrioritizedReplayBuffer', () => {
  it('inserts at max priority, samples ∝ p^α and computes normalised IS weights', () => {
    const buf = new PrioritizedReplayBuffer(4, 1, 1, 1e-6);
    for (let k = 0; k < 4; k++) buf.add(obsOf(k, 1), 0, k, obsOf(k, 1), false, 1);
    expect(buf.priority(0)).toBeCloseTo(1, 12);
    buf.updatePriorities(Int32Array.from([0, 1, 2, 3]), [1, 2, 3, 4]);
    buf.add(obsOf(5, 1), 0, 5, obsOf(5, 1), false, 1); // overwrites slot 0 at max priority 4 + ε
    expect(buf.priority(0)).toBeCloseTo(4, 5);
    const rng = Rng.fromSeed(11).fork('replay');
    const batch = allocateBatch(32, 1);
    const counts = [0, 0, 0, 0];
    for (let rep = 0; rep < 400; rep++) {
      buf.sampleWeighted(rng, batch, 0.5);
      for (let i = 0; i < 32; i++) counts[batch.indices[i] as number]++;
    }
    const p = [4, 2, 3, 4];
    const total = 13;
    const n = 400 * 32;
    const chi2 = counts.reduce((s, c, i) => s + (c - (n * (p[i] as number)) / total) ** 2 / ((n * (p[i] as number)) / total), 0);
    expect(chi2).toBeLessThan(16.3); // 3 dof, 99.9 %
    // weights: w_i = (N·P(i))^-β / max w, max at the smallest priority (slot 1: p = 2)
    buf.sampleWeighted(rng, batch, 0.5);
    for (let i = 0; i < 32; i++) {
      const idx = batch.indices[i] as number;
      const expected = ((4 * (p[idx] as number)) / total) ** -0.5 / ((4 * 2) / total) ** -0.5;
      expect(batch.weights[i]).toBeCloseTo(expected, 6);
    }
  });

  it('saves and restores priorities', () => {
    const buf = new PrioritizedReplayBuffer(6, 1, 0.6, 1e-3);
    for (let k = 0; k < 5; k++) buf.add(obsOf(k, 1), 0, k, obsOf(k, 1), false, 1);
    buf.updatePriorities(Int32Array.from([0, 3]), [0.5, 7]);
    const copy = new PrioritizedReplayBuffer(6, 1, 0.6, 1e-3);
    copy.restoreState(buf.saveState());
    for (let k = 0; k < 5; k++) expect(copy.priority(k)).toBe(buf.priority(k));
    copy.add(obsOf(9, 1), 0, 9, obsOf(9, 1), false, 1);
    expect(copy.priority(5)).toBeCloseTo((7 + 1e-3) ** 0.6, 12);
  });
});
