import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { Box } from '../../engine/spaces.js';
import { ObservationNormalizer } from '../../agents/normalization.js';
import { compileObservationTransform } from '../../policies/observation-transform.js';

describe('ObservationNormalizer', () => {
  it('bounds: finite bounds map to [−1, 1], unbounded components pass through', () => {
    const space = new Box([0, -2, -3.4028234663852886e38], [10, 2, 3.4028234663852886e38]);
    const norm = new ObservationNormalizer('bounds', space);
    const out = norm.apply(Float32Array.of(0, 2, 7, 10, -2, -7, 5, 0, 1), 3, new Float32Array(9));
    expect(Array.from(out)).toEqual([-1, 1, 7, 1, -1, -7, 0, 0, 1]);
  });

  it('running: Welford statistics over the warm-up, then frozen (later observations change nothing)', () => {
    const space = new Box(-Infinity, Infinity, [2]);
    const norm = new ObservationNormalizer('running', space);
    const rng = Rng.fromSeed(4);
    const data = new Float32Array(2 * 5000);
    for (let i = 0; i < 5000; i++) {
      data[2 * i] = rng.normal(3, 2);
      data[2 * i + 1] = rng.normal(-1, 0.5);
    }
    norm.observe(data, 5000);
    norm.freeze();
    norm.observe(Float32Array.of(1e6, 1e6), 1);
    const out = norm.apply(data, 5000, new Float32Array(data.length));
    let m0 = 0;
    let m1 = 0;
    let s0 = 0;
    for (let i = 0; i < 5000; i++) {
      m0 += out[2 * i]! / 5000;
      m1 += out[2 * i + 1]! / 5000;
    }
    for (let i = 0; i < 5000; i++) s0 += (out[2 * i]! - m0) ** 2 / 5000;
    expect(Math.abs(m0)).toBeLessThan(1e-4);
    expect(Math.abs(m1)).toBeLessThan(1e-4);
    expect(s0).toBeCloseTo(1, 3);
    expect(Array.from(norm.apply(Float32Array.of(1e6, -1e6), 1, new Float32Array(2)))).toEqual([10, -10]); // clipped at ±10
  });

  it('the spec saved with a policy reproduces the transform (policies/observation-transform.ts)', () => {
    const space = new Box([0, -5], [4, 5]);
    const norm = new ObservationNormalizer('bounds', space);
    const transform = compileObservationTransform(norm.toSpec(), 2);
    const obs = Float32Array.of(1, 2.5);
    const a = norm.apply(obs, 1, new Float32Array(2));
    const b = new Float32Array(2);
    transform?.(obs, 0, b);
    expect(Array.from(b)).toEqual(Array.from(a));
  });
});
