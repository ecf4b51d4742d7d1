import { describeValue, TwinlabError } from '../../engine/errors.js';
import { DM2007_NORMAL } from './model.js';
import { T2DPatient } from './patient.js';

/**
 * A small open food table and the effect of composition on absorption (README "Foods").
 *
 * Glycaemic index (glucose = 100): Table 1 ("GI of 62 common foods derived from multiple studies by
 * different laboratories") of F. S. Atkinson, K. Foster-Powell, J. C. Brand-Miller, "International
 * tables of glycemic index and glycemic load values: 2008", Diabetes Care 31(12):2281–2283 (2008).
 * Composition per serving (available carbohydrate, fibre, fat, protein, g): rounded values of the
 * corresponding USDA FoodData Central "SR Legacy" entries (cooked/prepared as named), from which
 * available carbohydrate = total carbohydrate by difference − total dietary fibre. Foods without
 * carbohydrate have no GI (`gi: null`); they add energy, fat and protein only.
 */
export interface Food {
  id: string;
  name: string;
  serving: string;
  servingG: number;
  /** Available carbohydrate, g per serving. */
  carbsG: number;
  fibreG: number;
  fatG: number;
  proteinG: number;
  /** Glycaemic index (glucose = 100), Atkinson et al. 2008 Table 1; null for carbohydrate-free foods. */
  gi: number | null;
}

const F = (id: string, name: string, serving: string, servingG: number, carbsG: number, fibreG: number, fatG: number, proteinG: number, gi: number | null): Food =>
  Object.freeze({ id, name, serving, servingG, carbsG, fibreG, fatG, proteinG, gi });

export const FOODS: readonly Food[] = Object.freeze([
  // cereals and grains
  F('white-bread', 'White wheat bread', '2 slices', 60, 28, 1.6, 2.0, 5.3, 75),
  F('wholemeal-bread', 'Wholemeal bread', '2 slices', 64, 24, 4.0, 2.2, 8.0, 74),
  F('white-rice', 'White rice, boiled', '1 cup', 158, 44, 0.6, 0.4, 4.3, 73),
  F('brown-rice', 'Brown rice, boiled', '1 cup', 195, 42, 3.5, 1.8, 5.0, 68),
  F('couscous', 'Couscous, cooked', '1 cup', 157, 34, 2.2, 0.3, 6.0, 65),
  F('spaghetti', 'Spaghetti, white, boiled', '1 cup', 140, 41, 2.5, 1.3, 8.1, 49),
  F('spaghetti-wholemeal', 'Spaghetti, wholemeal, boiled', '1 cup', 140, 31, 6.3, 0.8, 7.5, 48),
  F('corn-tortilla', 'Corn tortilla', '2 tortillas', 52, 20, 3.3, 1.5, 3.0, 46),
  F('barley', 'Pearl barley, boiled', '1 cup', 157, 38, 6.0, 0.7, 3.6, 28),
  F('sweet-corn', 'Sweet corn, boiled', '1 cup', 164, 36, 4.6, 2.1, 5.4, 52),
  // breakfast cereals
  F('cornflakes', 'Cornflakes', '30 g', 30, 25, 0.9, 0.1, 2.0, 81),
  F('instant-oats', 'Instant oat porridge (with water)', '1 bowl', 250, 23, 3.0, 2.5, 5.0, 79),
  F('rolled-oats', 'Porridge, rolled oats (with water)', '1 bowl', 250, 23, 4.0, 2.6, 5.3, 55),
  F('muesli', 'Muesli', '45 g', 45, 28, 3.5, 2.7, 4.5, 57),
  // fruit
  F('apple', 'Apple, raw', '1 medium', 182, 21, 4.4, 0.3, 0.5, 36),
  F('orange', 'Orange, raw', '1 medium', 131, 12, 3.1, 0.2, 1.2, 43),
  F('banana', 'Banana, raw', '1 medium', 118, 24, 3.1, 0.4, 1.3, 51),
  F('mango', 'Mango, raw', '1 cup', 165, 22, 2.6, 0.6, 1.4, 51),
  F('watermelon', 'Watermelon, raw', '2 cups', 300, 21, 1.2, 0.5, 1.8, 76),
  // vegetables and legumes
  F('potato', 'Potato, boiled', '1 medium', 170, 31, 3.0, 0.2, 3.2, 78),
  F('mashed-potato', 'Potato, instant mashed', '1 cup', 210, 30, 2.5, 8.0, 4.0, 87),
  F('sweet-potato', 'Sweet potato, boiled', '150 g', 150, 24, 3.8, 0.2, 2.1, 63),
  F('carrots', 'Carrots, boiled', '1 cup', 156, 8, 4.7, 0.3, 1.2, 39),
  F('chickpeas', 'Chickpeas, boiled', '1 cup', 164, 32, 12.5, 4.2, 14.5, 28),
  F('lentils', 'Lentils, boiled', '1 cup', 198, 24, 15.6, 0.8, 17.9, 32),
  F('kidney-beans', 'Kidney beans, boiled', '1 cup', 177, 29, 11.3, 0.9, 15.3, 24),
  // dairy
  F('milk', 'Milk, full fat', '250 mL', 244, 12, 0, 7.9, 7.9, 39),
  F('fruit-yoghurt', 'Yoghurt, fruit, low fat', '170 g', 170, 26, 0, 2.5, 7.4, 41),
  // carbohydrate-free (no GI)
  F('chicken', 'Chicken breast, roasted', '120 g', 120, 0, 0, 4.3, 37.2, null),
  F('salmon', 'Salmon, baked', '120 g', 120, 0, 0, 14.8, 26.5, null),
  F('eggs', 'Eggs, boiled', '2 eggs', 100, 1, 0, 10.6, 12.6, null),
  F('cheese', 'Cheddar cheese', '30 g', 30, 0.4, 0, 9.9, 7.1, null),
  F('olive-oil', 'Olive oil', '1 tbsp', 14, 0, 0, 14, 0, null),
  F('almonds', 'Almonds', '28 g', 28, 2.6, 3.5, 14.2, 6.0, null),
  F('salad', 'Green salad, no dressing', '1 bowl', 100, 1.5, 1.8, 0.2, 1.3, null),
]);

const FOOD_BY_ID = new Map(FOODS.map((f) => [f.id, f]));

export function getFood(id: string): Food {
  const f = FOOD_BY_ID.get(id);
  if (!f) throw new TwinlabError('NOT_FOUND', `unknown food "${id}"; known: ${FOODS.map((x) => x.id).join(', ')}`);
  return f;
}

/** Energy, kcal: 4 kcal/g available carbohydrate and protein, 9 fat, 2 fibre (FAO 2003, "Food energy — methods of analysis and conversion factors"). */
export function foodEnergyKcal(f: Pick<Food, 'carbsG' | 'fibreG' | 'fatG' | 'proteinG'>): number {
  return 4 * f.carbsG + 4 * f.proteinG + 9 * f.fatG + 2 * f.fibreG;
}

export interface MealItem {
  food: string;
  servings: number;
}

export interface MealComposition {
  carbsG: number;
  fibreG: number;
  fatG: number;
  proteinG: number;
  energyKcal: number;
  /** Carbohydrate-weighted GI of the meal (0 when it has no carbohydrate). */
  gi: number;
  /** Glycaemic load: GI × available carbohydrate / 100. */
  gl: number;
}

/**
 * Totals of a meal; its GI is the carbohydrate-weighted mean of its foods' GIs, the mixed-meal rule of
 * Wolever & Jenkins, Am J Clin Nutr 43:167–172 (1986), endorsed by the FAO/WHO expert consultation
 * "Carbohydrates in human nutrition" (1998).
 */
export function mealComposition(items: readonly MealItem[]): MealComposition {
  let carbsG = 0;
  let fibreG = 0;
  let fatG = 0;
  let proteinG = 0;
  let giCarbs = 0;
  let giWeighted = 0;
  for (const it of items) {
    if (!(it.servings > 0) || !Number.isFinite(it.servings)) throw new TwinlabError('INVALID_ARGUMENT', `meal item ${it.food}: servings must be a finite number > 0, got ${describeValue(it.servings)}`);
    const f = getFood(it.food);
    carbsG += f.carbsG * it.servings;
    fibreG += f.fibreG * it.servings;
    fatG += f.fatG * it.servings;
    proteinG += f.proteinG * it.servings;
    if (f.gi !== null) {
      giCarbs += f.carbsG * it.servings;
      giWeighted += f.carbsG * it.servings * f.gi;
    }
  }
  const gi = giCarbs > 0 ? giWeighted / giCarbs : 0;
  return { carbsG, fibreG, fatG, proteinG, energyKcal: foodEnergyKcal({ carbsG, fibreG, fatG, proteinG }), gi, gl: (gi * carbsG) / 100 };
}

// ---- composition → absorption ------------------------------------------------------------------

/** GI test protocol (ISO 26642:2010): 50 g available carbohydrate, incremental AUC over 2 h. */
export const GI_TEST_CARBS_G = 50;
export const GI_TEST_MINUTES = 120;
/** Intake rate in the calibration (the whole portion within ≈ 3 min, as a drink). */
export const GI_TEST_EAT_RATE = 15;
export const ABSORPTION_RANGE = Object.freeze({ min: 0.02, max: 4 });

/** Incremental AUC (trapezoid above the fasting value, mg/dL·min) of the normal Table 1 subject over 2 h. */
export function iauc2h(absorption: number): number {
  const pt = new T2DPatient(DM2007_NORMAL);
  const g0 = pt.plasmaGlucose;
  pt.eat({ carbsG: GI_TEST_CARBS_G, absorption, eatRateGPerMin: GI_TEST_EAT_RATE });
  let area = 0;
  let prev = 0;
  for (let t = 0; t < GI_TEST_MINUTES; t++) {
    pt.step();
    const cur = Math.max(0, pt.plasmaGlucose - g0);
    area += 0.5 * (prev + cur);
    prev = cur;
  }
  return area;
}

const calibration = new Map<number, number>();
let referenceIauc = 0;

function calibrateInteger(gi: number): number {
  const cached = calibration.get(gi);
  if (cached !== undefined) return cached;
  if (referenceIauc === 0) referenceIauc = iauc2h(1);
  const target = (gi / 100) * referenceIauc;
  let lo: number = ABSORPTION_RANGE.min;
  let hi: number = ABSORPTION_RANGE.max;
  let s: number;
  if (iauc2h(lo) >= target) s = lo;
  else if (iauc2h(hi) <= target) s = hi;
  else {
    // iAUC over 2 h rises with the absorption rate: bisection on log s
    for (let i = 0; i < 40; i++) {
      const mid = Math.sqrt(lo * hi);
      if (iauc2h(mid) < target) lo = mid;
      else hi = mid;
    }
    s = Math.sqrt(lo * hi);
  }
  calibration.set(gi, s);
  return s;
}

/**
 * The absorption multiplier (on kgri, kmax, kmin and kabs) that makes the model reproduce a food's GI
 * by the GI's own definition: in the Table 1 normal subject, 50 g of available carbohydrate of the food
 * gives GI/100 times the 2-h incremental glucose AUC of 50 g glucose (multiplier 1, the Table 1
 * kinetics). Computed by bisection once per integer GI and interpolated linearly; GI ∈ [1, 150].
 */
export function absorptionForGi(gi: number): number {
  if (!(gi >= 1 && gi <= 150)) throw new TwinlabError('INVALID_ARGUMENT', `GI must be in [1, 150], got ${describeValue(gi)}`);
  const lo = Math.floor(gi);
  const hi = Math.ceil(gi);
  const a = calibrateInteger(lo);
  if (hi === lo) return a;
  const b = calibrateInteger(hi);
  return a + (b - a) * (gi - lo);
}

/** Absorption multiplier of a meal: that of its carbohydrate-weighted GI (1 for a meal without carbohydrate). */
export function mealAbsorption(c: MealComposition): number {
  return c.carbsG > 0 && c.gi >= 1 ? absorptionForGi(c.gi) : 1;
}
