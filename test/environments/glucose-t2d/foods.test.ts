import { describe, expect, it } from 'vitest';
import { absorptionForGi, FOODS, foodEnergyKcal, getFood, iauc2h, mealAbsorption, mealComposition } from '../../../environments/glucose-t2d/foods.js';
import { DM2007_NORMAL, DM2007_T2D, type DM2007Params } from '../../../environments/glucose-t2d/model.js';
import { T2DPatient } from '../../../environments/glucose-t2d/patient.js';

function peakAfter(p: DM2007Params, carbsG: number, absorption: number): { value: number; at: number } {
  const pt = new T2DPatient(p);
  pt.eat({ carbsG, absorption });
  let value = 0;
  let at = 0;
  for (let t = 1; t <= 480; t++) {
    pt.step();
    if (pt.plasmaGlucose > value) {
      value = pt.plasmaGlucose;
      at = t;
    }
  }
  return { value, at };
}

describe('foods: table (Atkinson et al. 2008 GI; USDA SR Legacy composition) and absorption', () => {
  it('the table is well formed: unique ids, GI only for foods with carbohydrate, published GIs of reference foods', () => {
    expect(new Set(FOODS.map((f) => f.id)).size).toBe(FOODS.length);
    expect(FOODS.length).toBeGreaterThanOrEqual(20);
    for (const f of FOODS) {
      for (const v of [f.carbsG, f.fibreG, f.fatG, f.proteinG]) expect(v).toBeGreaterThanOrEqual(0);
      if (f.carbsG >= 5) expect(f.gi).not.toBeNull();
      // macronutrients cannot weigh more than the serving
      expect(f.carbsG + f.fibreG + f.fatG + f.proteinG).toBeLessThanOrEqual(f.servingG);
    }
    // Atkinson, Foster-Powell & Brand-Miller 2008, Table 1 (glucose = 100)
    expect(getFood('white-bread').gi).toBe(75);
    expect(getFood('rolled-oats').gi).toBe(55);
    expect(getFood('lentils').gi).toBe(32);
    expect(foodEnergyKcal({ carbsG: 10, proteinG: 10, fatG: 10, fibreG: 10 })).toBe(190);
    expect(() => getFood('kale-chips')).toThrow(/unknown food "kale-chips"/);
  });

  it('a meal\'s GI is the carbohydrate-weighted mean of its foods (Wolever & Jenkins 1986); GL = GI·carbs/100', () => {
    const c = mealComposition([
      { food: 'white-rice', servings: 1 },
      { food: 'lentils', servings: 1 },
      { food: 'chicken', servings: 1 },
    ]);
    expect(c.carbsG).toBeCloseTo(68, 10);
    expect(c.gi).toBeCloseTo((44 * 73 + 24 * 32) / 68, 10);
    expect(c.gl).toBeCloseTo((c.gi * 68) / 100, 10);
    expect(c.energyKcal).toBeCloseTo(4 * 68 + 4 * (4.3 + 17.9 + 37.2) + 9 * (0.4 + 0.8 + 4.3) + 2 * (0.6 + 15.6), 10);
    expect(mealAbsorption(mealComposition([{ food: 'chicken', servings: 1 }]))).toBe(1);
    expect(() => mealComposition([{ food: 'apple', servings: 0 }])).toThrow(/servings must be/);
  });

  it('the absorption multiplier reproduces the GI by its definition (2-h iAUC ratio to glucose in the normal subject)', () => {
    const ref = iauc2h(1);
    for (const gi of [28, 55, 75]) {
      const s = absorptionForGi(gi);
      expect(iauc2h(s) / ref).toBeCloseTo(gi / 100, 3);
    }
    expect(absorptionForGi(100)).toBeCloseTo(1, 9);
    expect(absorptionForGi(40)).toBeLessThan(absorptionForGi(70));
    expect(() => absorptionForGi(0)).toThrow(/GI must be in/);
  });

  it('a high-GI meal peaks earlier and higher than a low-GI meal of equal carbohydrate, in normal and T2D subjects', () => {
    const high = mealComposition([{ food: 'white-rice', servings: 60 / 44 }]);
    const low = mealComposition([{ food: 'lentils', servings: 60 / 24 }]);
    expect(high.carbsG).toBeCloseTo(low.carbsG, 10);
    for (const p of [DM2007_NORMAL, DM2007_T2D]) {
      const h = peakAfter(p, 60, mealAbsorption(high));
      const l = peakAfter(p, 60, mealAbsorption(low));
      expect(h.value).toBeGreaterThan(l.value + 15);
      expect(h.at).toBeLessThan(l.at - 20);
    }
  });
});
