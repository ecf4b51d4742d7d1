import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type VancomycinDataset, vancomycinToCsv } from '../../../datasets/vancomycin.js';
import { syntheticVancoPatient } from '../../../twinning/vancomycin/validation.js';

/**
 * Writes patient.csv next to this file: the synthetic vancomycin patient of the personal vancomycin
 * example — draw `INDEX` of seed `SEED` of the Goti 2018 population (twinning/vancomycin/validation.ts
 * `syntheticVancoPatient`: covariates and η from environments/pkpd `vancoCohortSpec`; 15 mg/kg rounded
 * to 250 mg q12h, 7 doses; a peak 1 h after the 4th infusion, troughs 0.5 h before the 5th and 7th
 * doses, from the population ODE with Goti's residual error). Times start 2026-03-02 08:00 UTC; levels
 * are rounded to 0.1 mg/L as a lab reports them. Prints the covariates to fit with and the true PK.
 * `npx tsx experiments/examples/vancomycin-personal/make-patient.ts`
 */
export const SEED = 21;
export const INDEX = 4;
const T0 = Date.UTC(2026, 2, 2, 8);
const H = 3_600_000;

const p = syntheticVancoPatient(SEED, INDEX);
const dataset: Pick<VancomycinDataset, 'doses' | 'levels'> = {
  doses: p.doses.map((d) => ({ timeMs: T0 + d.timeH * H, amountMg: d.amountMg, durationH: d.durationH })),
  levels: p.times.map((t, i) => ({ timeMs: Math.round(T0 + t * H), concMgL: Math.round((p.observed[i] as number) * 10) / 10 })),
};
writeFileSync(join(import.meta.dirname, 'patient.csv'), vancomycinToCsv(dataset));
const c = p.cov;
console.log(
  `patient.csv (seed ${SEED}, index ${INDEX}): --age ${c.ageYears.toFixed(0)} --sex ${c.sex} --body-weight ${c.bodyWeightKg.toFixed(1)} --scr ${c.scrMgDl.toFixed(2)}` +
    ` (CrCL ${c.crclMlMin.toFixed(1)} mL/min); dose ${p.doses[0]?.amountMg} mg q12h; true CL ${p.truePk.cl.toFixed(3)} L/h, V1 ${p.truePk.v1.toFixed(1)} L, V2 ${p.truePk.v2.toFixed(1)} L;` +
    ` levels ${p.observed.map((x) => x.toFixed(1)).join(', ')} mg/L (true ${p.trueConc.map((x) => x.toFixed(1)).join(', ')})`,
);
