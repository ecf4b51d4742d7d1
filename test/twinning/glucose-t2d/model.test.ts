import { describe, expect, it } from 'vitest';
import { absorptionForGi } from '../../../environments/glucose-t2d/foods.js';
import { T2DPatient } from '../../../environments/glucose-t2d/patient.js';
import { T2DFastModel, t2dStomachInputs } from '../../../twinning/glucose-t2d/fast-model.js';
import { loggedMealAbsorption, t2dGlucoseExcessDecay, t2dMealInflux } from '../../../twinning/glucose-t2d/likelihood.js';
import { DEFAULT_MEAL_GI, t2dPersonForTheta, t2dTwinPriors, t2dTypicalPerson } from '../../../twinning/glucose-t2d/parameters.js';

const ctx = { bodyWeightKg: 92, mealGi: DEFAULT_MEAL_GI };

/** Two days, three meals a day of different GI (absorption multipliers), one overlapping snack. */
function mealDays(n: number): { carbs: Float64Array; abs: Float64Array } {
  const carbs = new Float64Array(n);
  const abs = new Float64Array(n).fill(1);
  const meals: Array<[number, number, number]> = [
    [84, 45, 30],
    [150, 75, 78],
    [160, 20, 55],
    [228, 90, 45],
  ];
  for (let d = 0; d * 288 < n; d++) {
    for (const [k, c, gi] of meals) {
      if (d * 288 + k >= n) continue;
      carbs[d * 288 + k] = c;
      abs[d * 288 + k] = absorptionForGi(gi);
    }
  }
  return { carbs, abs };
}

describe('the type 2 twin’s fast model', () => {
  it('follows the T2D twin’s own T2DPatient (RK4 0.5 min) within 0.02 mg/dL over two meal days, for typical and extreme θ', () => {
    const n = 2 * 288;
    const { carbs, abs } = mealDays(n);
    const { outflow, rate } = t2dStomachInputs(carbs, abs, n);
    const priors = t2dTwinPriors();
    for (const z of [0, 2, -2]) {
      const theta = priors.map((p, i) => p.mean + (i < 5 ? z * p.sd * (i % 2 === 0 ? 1 : -1) : 0));
      const person = t2dPersonForTheta(theta, ctx);
      expect(person, `θ at z = ${z}`).toBeDefined();
      if (person === undefined) continue;
      const fast = new T2DFastModel(person);
      const state = fast.initialState(person.basal.Gb);
      const ref = new T2DPatient(person.params, { basal: person.basal });
      let maxDiff = 0;
      for (let k = 0; k < n; k++) {
        maxDiff = Math.max(maxDiff, Math.abs(fast.gsub(state) - ref.interstitialGlucose));
        if ((carbs[k] as number) > 0) ref.eat({ carbsG: carbs[k] as number, absorption: abs[k] as number });
        ref.advance(5);
        expect(fast.stepSlot(state, outflow, rate, 5 * k)).toBe(true);
      }
      expect(maxDiff, `z = ${z}`).toBeLessThan(0.02);
    }
  });

  it('the stomach passes every gram on (mass balance) and the typical person’s meal appearance integrates to f × carbohydrate', () => {
    const n = 3 * 288; // ≥ 29 h after the last meal: slow T2D gastric emptying (kmin·s ≈ 0.004/min at low GI) has long tails
    const { carbs } = mealDays(2 * 288);
    const c = new Float64Array(n);
    c.set(carbs);
    const { outflow, rate } = t2dStomachInputs(c, loggedMealAbsorption(c, DEFAULT_MEAL_GI), n);
    const total = c.reduce((s, v) => s + v, 0);
    expect(outflow.reduce((s, v) => s + v, 0) / 1000).toBeCloseTo(total, 3);
    const typical = t2dTypicalPerson(ctx);
    const influx = t2dMealInflux(typical, outflow, rate, n);
    const p = typical.params;
    // influx is mg/dL of plasma glucose: × Vg × BW / 1000 = g of glucose appearing
    expect((influx.reduce((s, v) => s + v, 0) * p.Vg * p.BW) / 1000).toBeCloseTo(p.f * total, 2);
  });

  it('a glucose excess decays with the β-cell answering: τ ≈ 49 min for the Table 1 T2D set, faster with a stronger β-cell', () => {
    const priors = t2dTwinPriors().map((p) => p.mean);
    const tau = (theta: number[]) => -5 / Math.log(t2dGlucoseExcessDecay(t2dPersonForTheta(theta, { bodyWeightKg: 78, mealGi: 55 }) as never));
    const typical = tau(priors);
    expect(typical).toBeGreaterThan(40);
    expect(typical).toBeLessThan(60);
    const strong = [...priors];
    strong[1] = (strong[1] as number) + 1; // β × e
    expect(tau(strong)).toBeLessThan(typical);
  });
});
