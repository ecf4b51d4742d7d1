import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { datasetToCsv } from '../../../datasets/csv.js';
import { syntheticPerson } from '../../../twinning/glucose/synthetic.js';

/**
 * Writes person.csv next to this file: the synthetic person (twinning/glucose/synthetic.ts) of the
 * personal-cohort examples — seed 11, index 0, 4 days of CGM, basal, meal boluses and logged carbs.
 * `npx tsx experiments/examples/personal-twin/make-person.ts` prints the body weight to fit with.
 */
const person = syntheticPerson({ seed: 11, index: 0, days: 4 });
const dir = import.meta.dirname;
writeFileSync(join(dir, 'person.csv'), datasetToCsv(person.dataset));
console.log(`person.csv: ${person.dataset.cgm.length} slots, body weight ${person.dataset.bodyWeightKg} kg, basal ${person.ctx.basalUPerH} U/h`);
