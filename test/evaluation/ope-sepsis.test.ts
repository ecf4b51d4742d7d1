import { describe, expect, it } from 'vitest';
import { allIndices, buildIsTable, doublyRobust, effectiveSampleSize } from '../../evaluation/ope/estimators.js';
import { fittedQEvaluation } from '../../evaluation/ope/fqe.js';
import { sepsisLogs, sepsisTrueValue } from '../../evaluation/ope/validation.js';

/**
 * FQE against the exact value on the sepsis simulator (environments/sepsis: `evaluateExact` on the
 * 1440-state tensor). Target `sepsis/optimal-observed`, behaviour its ε = 0.1 mixture (near the target).
 * Tolerance 0.04 on a value of 0.303: the sampling SD of the estimate at 3,000 episodes is ≈ 0.01, and
 * the observation hides diabetes, so the observed process is not exactly Markov and tabular FQE keeps a
 * small bias (≈ +0.015 at 10⁵ transitions, bench/ope.ts).
 */
describe('OPE on sepsis against the exact value', () => {
  it('the exact value of optimal-observed is the README figure (0.303, γ = 1, 20 steps)', () => {
    expect(sepsisTrueValue().value).toBeCloseTo(0.303, 3);
  });

  it('tabular FQE converges to the true value with a near-behaviour target (|FQE − V| < 0.04, 3,000 episodes, 3 seeds); DR and WDR too', () => {
    const { value } = sepsisTrueValue();
    for (const seed of [1, 2, 3]) {
      const logs = sepsisLogs(3000, 0.1, seed);
      const fqe = fittedQEvaluation(logs.data, logs.piE, { model: 'auto' });
      expect(fqe.model).toBe('tabular');
      expect(Math.abs(fqe.value - value)).toBeLessThan(0.04);
      const table = buildIsTable(logs.data, logs.piE, logs.data.trajectories.map((tr) => tr.behaviourProbs as Float64Array), fqe.qAlong);
      expect(Math.abs(doublyRobust(table, allIndices(table.n), false) - value)).toBeLessThan(0.05);
      expect(Math.abs(doublyRobust(table, allIndices(table.n), true) - value)).toBeLessThan(0.05);
      expect(effectiveSampleSize(table)).toBeGreaterThan(300);
    }
  });

  it('the ESS collapses as the behaviour moves away from the target (ε = 0.1 → 0.6)', () => {
    const ess = [0.1, 0.6].map((eps) => {
      const logs = sepsisLogs(500, eps, 9);
      return effectiveSampleSize(buildIsTable(logs.data, logs.piE, logs.data.trajectories.map((tr) => tr.behaviourProbs as Float64Array)));
    });
    expect(ess[0]).toBeGreaterThan(50);
    expect(ess[1]).toBeLessThan(25);
  });
});
