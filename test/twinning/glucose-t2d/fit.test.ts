import { describe, expect, it } from 'vitest';
import type { GlucoseDataset } from '../../../datasets/types.js';
import { sha256Hex } from '../../../engine/hash.js';
import { fitT2DTwin } from '../../../twinning/glucose-t2d/fit.js';
import { makeT2DLogPosterior, predictT2DWindow, prepareT2DFitData } from '../../../twinning/glucose-t2d/likelihood.js';
import { T2D_NATURAL_PARAMETERS, T2D_PHYSIOLOGY_DIM, t2dNaturalValues } from '../../../twinning/glucose-t2d/parameters.js';
import { syntheticT2DPerson } from '../../../twinning/glucose-t2d/synthetic.js';
import { parseT2DTwinFile, t2dTwinFileText } from '../../../twinning/glucose-t2d/twin-file.js';
import { selectFitWindow } from '../../../twinning/glucose/data-rules.js';
import { fitCgmMap } from '../../../twinning/glucose/map.js';
import { cgmErrorParamsForTheta } from '../../../twinning/glucose/parameters.js';

const PHYSIOLOGY = T2D_NATURAL_PARAMETERS.slice(0, T2D_PHYSIOLOGY_DIM).map((p) => p.name);

describe('identification of a personal type 2 diabetes twin', () => {
  it('MAP recovers SI, β, Gb, kabs and f within 10 % from noise-free data with exact carb counts (3 people × 3 days)', () => {
    for (const index of [0, 1, 2]) {
      const person = syntheticT2DPerson({ seed: 21, index, days: 3, noise: false, carbCountSd: 0 });
      const w = selectFitWindow(person.dataset);
      const data = prepareT2DFitData(person.dataset, w.from, w.to, w.include, person.ctx);
      const map = fitCgmMap(
        {
          n: data.n,
          cgm: data.cgm,
          include: data.include,
          meals: data.meals,
          priors: data.priors,
          physiologyDim: T2D_PHYSIOLOGY_DIM,
          predict: (t, o) => predictT2DWindow(t, data, o),
          errorParams: cgmErrorParamsForTheta,
          logPosterior: makeT2DLogPosterior(data),
        },
        { seed: 1 },
      );
      const truth = t2dNaturalValues(person.thetaTrue);
      const fitted = t2dNaturalValues(map.theta);
      for (const name of PHYSIOLOGY) {
        expect(Math.abs(fitted[name] / truth[name] - 1), `person ${index} ${name}: fitted ${fitted[name]} vs ${truth[name]}`).toBeLessThan(0.1);
      }
    }
  }, 120_000);

  it('the same (data, seed) gives the same twin.json bytes; MCMC on 1 and 2 workers gives the same posterior', async () => {
    const person = syntheticT2DPerson({ seed: 5, index: 0, days: 2 });
    const opts = { method: 'mcmc' as const, seed: 9, codeVersion: 'test', walkers: 18, steps: 16, burn: 6, draws: 40, particles: 16 };
    const a = await fitT2DTwin(person.dataset, { ...opts, workers: 1 });
    const b = await fitT2DTwin(person.dataset, { ...opts, workers: 2 });
    const c = await fitT2DTwin(person.dataset, { ...opts, workers: 1 });
    expect(b.posterior.draws).toEqual(a.posterior.draws);
    expect(sha256Hex(t2dTwinFileText(c))).toBe(sha256Hex(t2dTwinFileText(a)));
    expect(sha256Hex(t2dTwinFileText(b))).toBe(sha256Hex(t2dTwinFileText(a)));
    expect(a.posterior.draws).toHaveLength(40);
    expect(a.twin).toBe('glucose-t2d');
    expect(a.context).toEqual({ bodyWeightKg: person.ctx.bodyWeightKg, mealGi: 55 });
    expect(a.posterior.diagnostics?.ok).toBe(false); // 16 steps cannot pass, and the file says so
    // the file round-trips through its schema
    expect(parseT2DTwinFile(t2dTwinFileText(a), 'twin.json')).toEqual(a);
  }, 180_000);

  it('refuses insulin in the data, a missing body weight and a bad meal GI, naming the field', async () => {
    const person = syntheticT2DPerson({ seed: 5, index: 0, days: 1 });
    const withBolus: GlucoseDataset = { ...person.dataset, bolusU: person.dataset.bolusU.slice() };
    withBolus.bolusU[100] = 4;
    await expect(fitT2DTwin(withBolus, { method: 'map', seed: 0, codeVersion: 'test' })).rejects.toThrow(
      /^bolus_u: the type 2 twin is for people not treated with insulin, but the data has 4 at 2026-01-05T08:20:00Z/,
    );
    const withBasal: GlucoseDataset = { ...person.dataset, basalUPerH: person.dataset.basalUPerH.slice().fill(0.8) };
    await expect(fitT2DTwin(withBasal, { method: 'map', seed: 0, codeVersion: 'test' })).rejects.toMatchObject({ details: { field: 'basal_u_per_h' } });
    const { bodyWeightKg: _, ...noWeight } = person.dataset;
    await expect(fitT2DTwin(noWeight, { method: 'map', seed: 0, codeVersion: 'test' })).rejects.toThrow(/--body-weight is required/);
    await expect(fitT2DTwin(person.dataset, { method: 'map', seed: 0, codeVersion: 'test', mealGi: 0 })).rejects.toThrow(
      /^mealGi: must be a glycaemic index in \[1, 150\], got 0/,
    );
    await expect(fitT2DTwin(person.dataset, { method: 'map', seed: 0, codeVersion: 'test', carbCountSd: 2 })).rejects.toMatchObject({
      details: { field: 'carbCountSd' },
    });
  });
});
