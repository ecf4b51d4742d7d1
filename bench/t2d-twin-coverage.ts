import { selectFitWindow } from '../twinning/glucose/data-rules.js';
import { laplaceFactor } from '../twinning/glucose/fit.js';
import { fitCgmMap } from '../twinning/glucose/map.js';
import { cgmErrorParamsForTheta } from '../twinning/glucose/parameters.js';
import { makeT2DLogPosterior, predictT2DWindow, prepareT2DFitData } from '../twinning/glucose-t2d/likelihood.js';
import { T2D_PHYSIOLOGY_DIM, T2D_TWIN_DIM, T2D_TWIN_PARAMETERS } from '../twinning/glucose-t2d/parameters.js';
import { syntheticT2DPerson } from '../twinning/glucose-t2d/synthetic.js';
import type { BenchResult } from './types.js';
import { numberOption } from './util.js';

/**
 * Calibration of the personal type 2 twin's uncertainty, fast (the type 1 twin's bench/twin-coverage.ts
 * on twinning/glucose-t2d): on `--people N` synthetic T2D people (default 12; 7 days, Breton–Kovatchev
 * CGM noise) with exact and with 20 % carb-counting errors, the share of (person, physiological
 * parameter) pairs whose truth lies in the 90 % interval of the Laplace approximation at the MAP, and
 * the RMS of the standardised errors z = (truth − MAP)/sd per parameter (1 when calibrated) — a proxy
 * for the MCMC intervals.
 *
 * Run: `npm run bench -- t2d-twin-coverage` (`--people N`).
 */
export async function run(): Promise<BenchResult[]> {
  const people = numberOption('--people', 12);
  const out: BenchResult[] = [];
  for (const carbCountSd of [0, 0.2]) {
    let hits = 0;
    const sumZ2 = new Float64Array(T2D_PHYSIOLOGY_DIM);
    for (let index = 0; index < people; index++) {
      const person = syntheticT2DPerson({ seed: 2025, index, days: 7, carbCountSd });
      const w = selectFitWindow(person.dataset);
      const data = prepareT2DFitData(person.dataset, w.from, w.to, w.include, person.ctx);
      const logPosterior = makeT2DLogPosterior(data);
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
          logPosterior,
        },
        { seed: index },
      );
      const factor = laplaceFactor(
        logPosterior,
        map.theta,
        data.priors.map((p) => p.sd),
      );
      for (let i = 0; i < T2D_PHYSIOLOGY_DIM; i++) {
        let variance = 0;
        for (let j = 0; j < T2D_TWIN_DIM; j++) variance += (factor[i * T2D_TWIN_DIM + j] as number) ** 2;
        const z = ((person.thetaTrue[i] as number) - (map.theta[i] as number)) / Math.sqrt(variance);
        sumZ2[i] = (sumZ2[i] as number) + z * z;
        if (Math.abs(z) <= 1.6449) hits++;
      }
    }
    out.push({
      name: `T2D twin: 90 % Laplace intervals containing the truth, ${carbCountSd > 0 ? '20 % carb-count errors' : 'exact carb counts'} (likelihood σ_c 0.2)`,
      value: (100 * hits) / (people * T2D_PHYSIOLOGY_DIM),
      unit: '%',
      note: `${hits}/${people * T2D_PHYSIOLOGY_DIM} pairs; RMS z ${Array.from(sumZ2, (s, i) => `${T2D_TWIN_PARAMETERS[i]} ${Math.sqrt(s / people).toFixed(2)}`).join(', ')}`,
    });
  }
  return out;
}
