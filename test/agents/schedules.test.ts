import { describe, expect, it } from 'vitest';
import { LinearSchedule } from '../../agents/schedules.js';

describe('LinearSchedule (SB3 get_linear_fn semantics)', () => {
  it('zoo CartPole ε: 1.0 → 0.04 over the first 16 % of 50 000 steps, then constant', () => {
    const eps = new LinearSchedule(1, 0.04, 0.16, 50_000);
    expect(eps.value(0)).toBe(1);
    expect(eps.value(4_000)).toBeCloseTo(1 - 0.96 / 2, 12);
    expect(eps.value(7_999)).toBeGreaterThan(0.04);
    expect(eps.value(8_000)).toBe(0.04);
    expect(eps.value(49_999)).toBe(0.04);
    expect(eps.value(1e9)).toBe(0.04);
  });

  it('is monotone and linear in between', () => {
    const beta = new LinearSchedule(0.4, 1, 1, 1000);
    let prev = beta.value(0);
    for (let t = 1; t <= 1000; t++) {
      const v = beta.value(t);
      expect(v).toBeGreaterThanOrEqual(prev);
      prev = v;
    }
    expect(beta.value(250)).toBeCloseTo(0.55, 12);
    expect(beta.value(1000)).toBe(1);
  });

  it('fraction 0 is the final value from the start; bad fractions are rejected', () => {
    expect(new LinearSchedule(1, 0.1, 0, 100).value(0)).toBe(0.1);
    expect(() => new LinearSchedule(1, 0, 1.5, 100)).toThrow(/fraction must lie in \[0, 1\], got 1.5/);
  });
});
