import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { Box, Discrete, MultiDiscrete } from '../../engine/spaces.js';

describe('spaces', () => {
  it('Discrete contains exactly the integers in [start, start + n) and samples all of them', () => {
    const space = new Discrete(3, 1);
    expect([1, 2, 3].every((a) => space.contains(a))).toBe(true);
    expect([0, 4, 1.5, Number.NaN, '1', null].some((a) => space.contains(a))).toBe(false);
    const rng = Rng.fromSeed(1);
    const seen = new Set(Array.from({ length: 200 }, () => space.sample(rng)));
    expect([...seen].sort()).toEqual([1, 2, 3]);
    expect(space.toString()).toBe('Discrete(3, start=1)');
    expect(() => new Discrete(0)).toThrow(/n ≥ 1/);
  });

  it('Box checks shape, type and bounds; samples stay inside (bounded and unbounded components)', () => {
    const box = new Box([0, -1, -Infinity], [1, 1, Infinity]);
    expect(box.contains(Float32Array.of(0.5, 0, 1e6))).toBe(true);
    expect(box.contains(Float32Array.of(1.5, 0, 0))).toBe(false);
    expect(box.contains(Float32Array.of(0.5, 0))).toBe(false);
    expect(box.contains([0.5, 0, 0])).toBe(false);
    expect(box.contains(Float32Array.of(Number.NaN, 0, 0))).toBe(false);
    expect(box.bounded).toBe(false);
    const rng = Rng.fromSeed(3);
    for (let i = 0; i < 500; i++) expect(box.contains(box.sample(rng))).toBe(true);
    expect(() => new Box([1], [0])).toThrow(/exceeds/);
    expect(new Box(0, 1, [2, 3]).size).toBe(6);
  });

  it('MultiDiscrete contains Int32Arrays within nvec', () => {
    const space = new MultiDiscrete([2, 3]);
    expect(space.contains(Int32Array.of(1, 2))).toBe(true);
    expect(space.contains(Int32Array.of(2, 0))).toBe(false);
    expect(space.contains(Int32Array.of(0))).toBe(false);
    const rng = Rng.fromSeed(4);
    for (let i = 0; i < 100; i++) expect(space.contains(space.sample(rng))).toBe(true);
  });
});
