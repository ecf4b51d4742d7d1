import { describe, expect, it } from 'vitest';
import { fitGlucoseTwin } from '../../twinning/glucose/fit.js';
import { NATURAL_PARAMETERS, naturalValues } from '../../twinning/glucose/parameters.js';
import { syntheticPerson } from '../../twinning/glucose/synthetic.js';

/**
 * Identifiability of the personal glucose twin on data made by the twin's own model: synthetic people
 * with known parameters drawn from the prior (twinning/glucose/synthetic.ts), 7 days each, Breton–
 * Kovatchev CGM noise (not the AR(1) error the fit assumes) and 20 % carbohydrate-counting errors.
 * The 90 % credible intervals of the five physiological parameters should contain the truth in
 * 80–97 % of (person, parameter) pairs. Sensor-error parameters have no "true" value here (the
 * synthetic noise is not AR(1)) and are not scored.
 */
const PEOPLE = Number(process.env.TWIN_PEOPLE ?? 20);
const PHYSIOLOGY = NATURAL_PARAMETERS.slice(0, 5).map((p) => p.name);

describe('personal glucose twin: credible-interval coverage on synthetic people', () => {
  it(
    `90 % intervals contain the truth in 80–97 % of (person, parameter) pairs over ${PEOPLE} people × 7 days`,
    async () => {
      let hits = 0;
      let pairs = 0;
      const perParameter = new Map<string, number>();
      for (let index = 0; index < PEOPLE; index++) {
        const person = syntheticPerson({ seed: 2024, index, days: 7 });
        const twin = await fitGlucoseTwin(person.dataset, { method: 'mcmc', seed: index, codeVersion: 'long-test', workers: 2 });
        const truth = naturalValues(person.thetaTrue);
        const row: string[] = [];
        for (const name of PHYSIOLOGY) {
          const s = twin.posterior.summary.find((r) => r.name === name);
          if (s === undefined) throw new Error(`no summary for ${name}`);
          const hit = truth[name] >= s.q05 && truth[name] <= s.q95;
          hits += hit ? 1 : 0;
          pairs++;
          perParameter.set(name, (perParameter.get(name) ?? 0) + (hit ? 1 : 0));
          row.push(`${name} ${truth[name].toPrecision(3)} in [${s.q05.toPrecision(3)}, ${s.q95.toPrecision(3)}]${hit ? '' : ' ✗'}`);
        }
        const d = twin.posterior.diagnostics;
        console.log(
          `person ${index}: ${row.join('; ')}; R-hat ≤ ${Math.max(...(d?.rhat ?? [Number.NaN])).toFixed(3)}, ESS ≥ ${Math.min(...(d?.ess ?? [Number.NaN])).toFixed(0)}`,
        );
      }
      console.log(`coverage ${hits}/${pairs} = ${(hits / pairs).toFixed(3)}; per parameter ${JSON.stringify(Object.fromEntries(perParameter))}`);
      expect(hits / pairs).toBeGreaterThanOrEqual(0.8);
      expect(hits / pairs).toBeLessThanOrEqual(0.97);
    },
    4 * 3600_000,
  );
});
