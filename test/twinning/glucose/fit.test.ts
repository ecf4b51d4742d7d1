import { describe, expect, it } from 'vitest';
import { selectFitWindow } from '../../../twinning/glucose/data-rules.js';
import { fitGlucoseTwin } from '../../../twinning/glucose/fit.js';
import { prepareFitData } from '../../../twinning/glucose/likelihood.js';
import { fitMap } from '../../../twinning/glucose/map.js';
import { NATURAL_PARAMETERS, naturalValues } from '../../../twinning/glucose/parameters.js';
import { syntheticPerson } from '../../../twinning/glucose/synthetic.js';
import { twinFileText } from '../../../twinning/glucose/twin-file.js';
import { sha256Hex } from '../../../engine/hash.js';

const PHYSIOLOGY = NATURAL_PARAMETERS.slice(0, 5).map((p) => p.name);

describe('identification of a personal glucose twin', () => {
  it('MAP recovers every physiological parameter within 10 % from noise-free data with exact carb counts (3 people × 3 days)', () => {
    for (const index of [0, 1, 2]) {
      const person = syntheticPerson({ seed: 21, index, days: 3, noise: false, carbCountSd: 0 });
      const w = selectFitWindow(person.dataset);
      const map = fitMap(prepareFitData(person.dataset, w.from, w.to, w.include, person.ctx), { seed: 1 });
      const truth = naturalValues(person.thetaTrue);
      const fitted = naturalValues(map.theta);
      for (const name of PHYSIOLOGY) {
        expect(Math.abs(fitted[name] / truth[name] - 1), `person ${index} ${name}: fitted ${fitted[name]} vs ${truth[name]}`).toBeLessThan(0.1);
      }
    }
  }, 120_000);

  it('the same (data, seed) gives the same twin.json bytes; MCMC on 1 and 2 workers gives the same posterior', async () => {
    const person = syntheticPerson({ seed: 5, index: 0, days: 2 });
    const opts = { method: 'mcmc' as const, seed: 9, codeVersion: 'test', walkers: 20, steps: 24, burn: 8, draws: 50, particles: 16 };
    const a = await fitGlucoseTwin(person.dataset, { ...opts, workers: 1 });
    const b = await fitGlucoseTwin(person.dataset, { ...opts, workers: 2 });
    const c = await fitGlucoseTwin(person.dataset, { ...opts, workers: 1 });
    expect(b.posterior.draws).toEqual(a.posterior.draws);
    expect(sha256Hex(twinFileText(c))).toBe(sha256Hex(twinFileText(a)));
    expect(sha256Hex(twinFileText(b))).toBe(sha256Hex(twinFileText(a)));
    expect(a.posterior.draws).toHaveLength(50);
    expect(a.posterior.diagnostics?.ok).toBe(false); // 24 steps cannot pass the diagnostics, and the file says so
    expect(a.posterior.diagnostics?.warnings.length).toBeGreaterThan(0);
  }, 180_000);

  it('refuses a missing body weight naming the field', async () => {
    const person = syntheticPerson({ seed: 5, index: 0, days: 1 });
    const { bodyWeightKg: _, ...noWeight } = person.dataset;
    await expect(fitGlucoseTwin(noWeight, { method: 'map', seed: 0, codeVersion: 'test' })).rejects.toThrow(/--body-weight is required/);
  });
});
