import { selectFitWindow } from '../twinning/glucose/data-rules.js';
import { laplaceFactor } from '../twinning/glucose/fit.js';
import { CARB_COUNT_SD, makeLogPosterior, prepareFitData } from '../twinning/glucose/likelihood.js';
import { fitMap } from '../twinning/glucose/map.js';
import { GLUCOSE_TWIN_DIM, GLUCOSE_TWIN_PARAMETERS, PHYSIOLOGY_DIM } from '../twinning/glucose/parameters.js';
import { syntheticPerson } from '../twinning/glucose/synthetic.js';
import type { BenchResult } from './types.js';
import { numberOption } from './util.js';

/**
 * Calibration of the personal glucose twin's uncertainty, fast: on `--people N` synthetic people
 * (default 20; 7 days, Breton–Kovatchev CGM noise) with and without 20 % carb-counting errors (and,
 * on the data with errors, with and without the likelihood's carb-counting error term), the
 * share of (person, physiological parameter) pairs whose truth lies in the 90 % interval of the
 * Laplace approximation at the MAP (N(MAP, (−∇²log p)⁻¹), twinning/glucose/fit.ts `laplaceFactor`),
 * and the RMS of the standardised errors z = (truth − MAP)/sd per parameter (1 when calibrated).
 * It is a proxy for the MCMC intervals of `npm run test:long -- twin-identifiability` (which takes
 * ≈ 2 min per person on an idle 2-core machine): on a near-Gaussian posterior the two agree.
 *
 * Run: `npm run bench -- twin-coverage` (`--people N`).
 */
export async function run(): Promise<BenchResult[]> {
  const people = numberOption('--people', 20);
  const out: BenchResult[] = [];
  const cases = [
    { carbCountSd: 0, modelSd: CARB_COUNT_SD },
    { carbCountSd: 0.2, modelSd: CARB_COUNT_SD },
    { carbCountSd: 0.2, modelSd: 0 },
  ];
  for (const { carbCountSd, modelSd } of cases) {
    let hits = 0;
    const sumZ2 = new Float64Array(PHYSIOLOGY_DIM);
    for (let index = 0; index < people; index++) {
      const person = syntheticPerson({ seed: 2024, index, days: 7, carbCountSd });
      const window = selectFitWindow(person.dataset);
      const data = prepareFitData(person.dataset, window.from, window.to, window.include, person.ctx, modelSd);
      const map = fitMap(data, { seed: index });
      const factor = laplaceFactor(
        makeLogPosterior(data),
        map.theta,
        data.priors.map((p) => p.sd),
      );
      for (let i = 0; i < PHYSIOLOGY_DIM; i++) {
        let variance = 0;
        for (let j = 0; j < GLUCOSE_TWIN_DIM; j++) variance += (factor[i * GLUCOSE_TWIN_DIM + j] as number) ** 2;
        const z = ((person.thetaTrue[i] as number) - (map.theta[i] as number)) / Math.sqrt(variance);
        sumZ2[i] = (sumZ2[i] as number) + z * z;
        if (Math.abs(z) <= 1.6449) hits++;
      }
    }
    const label = `${carbCountSd > 0 ? '20 % carb-count errors' : 'exact carb counts'}, ${modelSd > 0 ? `likelihood σ_c ${modelSd}` : 'no carb-count error in the likelihood'}`;
    out.push({
      name: `90 % Laplace intervals containing the truth, ${label}`,
      value: (100 * hits) / (people * PHYSIOLOGY_DIM),
      unit: '%',
      note: `${hits}/${people * PHYSIOLOGY_DIM} pairs; RMS z ${Array.from(sumZ2, (s, i) => `${GLUCOSE_TWIN_PARAMETERS[i]} ${Math.sqrt(s / people).toFixed(2)}`).join(', ')}`,
    });
  }
  return out;
}
