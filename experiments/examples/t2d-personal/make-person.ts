import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { datasetToCsv } from '../../../datasets/csv.js';
import { syntheticT2DPerson } from '../../../twinning/glucose-t2d/synthetic.js';

/**
 * Writes person.csv next to this file: the synthetic person with type 2 diabetes
 * (twinning/glucose-t2d/synthetic.ts) of the personal T2D trial example — seed 12, index 0, 7 days of
 * CGM and logged meals, no insulin. `npx tsx experiments/examples/t2d-personal/make-person.ts` prints
 * the body weight to fit with.
 */
const person = syntheticT2DPerson({ seed: 12, index: 0, days: 7 });
writeFileSync(join(import.meta.dirname, 'person.csv'), datasetToCsv(person.dataset));
console.log(
  `person.csv: ${person.dataset.cgm.length} slots, body weight ${person.ctx.bodyWeightKg} kg, θ ${Array.from(person.thetaTrue, (v) => v.toFixed(3)).join(' ')}`,
);
