import { describe, expect, it } from 'vitest';
import { mixtureQuantile, normalCdf } from '../../engine/distributions.js';

/**
 * One quantile of a normal mixture (engine/distributions.ts) replaced two copies: server/twin-common.ts
 * (CGM twins' bands: ±6 SD bracket, to 0.01 mg/dL) and twinning/vancomycin/replay.ts (±8 SD, to 1e-9
 * relative or a given width, floored at 0 mg/L). The numbers below were printed by those two copies on
 * these inputs before they were deleted; with the same options the merged function gives them bit for bit.
 */
const mu = new Float64Array([112.5, 140.25, 98.0, 180.75, 131.0]);
const sd = new Float64Array([12.0, 18.5, 9.25, 25.0, 15.5]);
const levels = [3.2, 12.8, 21.5, 0.4];
const levelSds = [1.1, 3.4, 5.0, 0.6];
const GLUCOSE = { spread: 6, tolerance: 0.01, relativeTolerance: 0, maxIterations: Number.POSITIVE_INFINITY };

describe('mixtureQuantile', () => {
  it('gives the values of the two previous copies', () => {
    expect([0.025, 0.5, 0.975].map((q) => mixtureQuantile(mu, sd, q, GLUCOSE))).toEqual([86.45752716064453, 126.39008331298828, 209.52156829833984]);
    expect([0.025, 0.5, 0.975].map((q) => mixtureQuantile(levels, levelSds, q, { floor: 0 }))).toEqual([0, 5.532547229435295, 27.90788390301168]);
    expect([0.025, 0.5, 0.975].map((q) => mixtureQuantile(levels, levelSds, q, { floor: 0, tolerance: 0.01 }))).toEqual([0, 5.5283203125, 27.9111328125]);
  });

  it('is the quantile: one component gives μ + σ·z, and the mixture CDF at the result is p', () => {
    // z(0.975) = 1.959963984540054
    expect(mixtureQuantile([10], [2], 0.975)).toBeCloseTo(10 + 2 * 1.959963984540054, 7);
    expect(mixtureQuantile([10], [2], 0.5)).toBeCloseTo(10, 7);
    for (const p of [0.025, 0.25, 0.5, 0.9]) {
      const x = mixtureQuantile(mu, sd, p);
      const cdf = Array.from(mu).reduce((s, m, i) => s + normalCdf((x - m) / (sd[i] as number)), 0) / mu.length;
      expect(cdf).toBeCloseTo(p, 8);
    }
    // the floor: without it the lower quantile of the levels is negative
    expect(mixtureQuantile(levels, levelSds, 0.025)).toBeLessThan(0);
  });
});
