import { TwinlabError } from '../../engine/errors.js';
import { type MealComposition, type MealItem, mealComposition } from './foods.js';

/**
 * The menu of `glucose/t2d-nutrition-v1`: three meal slots a day, six composed meals per slot, and
 * the daily constraints a day's choice must meet (README "Env").
 */
export interface MenuMeal {
  id: string;
  items: readonly MealItem[];
  composition: MealComposition;
}

export interface MealSlot {
  id: 'breakfast' | 'lunch' | 'dinner';
  /** Clock minute of the meal (before jitter). */
  minute: number;
  meals: readonly MenuMeal[];
}

const M = (id: string, items: MealItem[]): MenuMeal => Object.freeze({ id, items: Object.freeze(items), composition: Object.freeze(mealComposition(items)) });
const I = (food: string, servings = 1): MealItem => ({ food, servings });

export const MENU: readonly MealSlot[] = Object.freeze([
  {
    id: 'breakfast',
    minute: 7 * 60,
    meals: Object.freeze([
      M('cornflakes-milk-banana', [I('cornflakes', 1.5), I('milk'), I('banana')]),
      M('toast-eggs', [I('white-bread'), I('eggs'), I('orange')]),
      M('instant-oats-yoghurt', [I('instant-oats'), I('fruit-yoghurt'), I('almonds', 0.5)]),
      M('rolled-oats-apple', [I('rolled-oats'), I('apple'), I('milk', 0.5), I('almonds')]),
      M('muesli-yoghurt', [I('muesli'), I('fruit-yoghurt'), I('cheese')]),
      M('wholemeal-cheese', [I('wholemeal-bread'), I('cheese', 1.5), I('mango')]),
    ]),
  },
  {
    id: 'lunch',
    minute: 12 * 60 + 30,
    meals: Object.freeze([
      M('rice-chicken', [I('white-rice', 1.5), I('chicken'), I('carrots')]),
      M('potato-salmon', [I('potato', 1.5), I('salmon'), I('salad')]),
      M('couscous-chickpeas', [I('couscous'), I('chickpeas', 0.5), I('salad'), I('olive-oil')]),
      M('pasta-cheese', [I('spaghetti', 1.5), I('cheese'), I('salad'), I('olive-oil', 0.5)]),
      M('lentil-salad', [I('lentils'), I('wholemeal-bread', 0.5), I('salad'), I('olive-oil'), I('cheese')]),
      M('bean-tortilla', [I('corn-tortilla', 1.5), I('kidney-beans', 0.7), I('cheese'), I('salad')]),
    ]),
  },
  {
    id: 'dinner',
    minute: 19 * 60,
    meals: Object.freeze([
      M('mash-chicken', [I('mashed-potato'), I('chicken'), I('carrots'), I('watermelon')]),
      M('rice-salmon', [I('white-rice'), I('salmon'), I('salad'), I('banana')]),
      M('brown-rice-beans', [I('brown-rice'), I('kidney-beans', 0.5), I('chicken', 0.5), I('olive-oil', 0.5)]),
      M('pasta-salmon', [I('spaghetti-wholemeal', 1.5), I('salmon'), I('salad'), I('olive-oil', 0.5)]),
      M('barley-chicken', [I('barley'), I('chicken'), I('carrots'), I('olive-oil')]),
      M('sweet-potato-eggs', [I('sweet-potato', 1.5), I('eggs'), I('sweet-corn', 0.5), I('salad'), I('olive-oil', 0.5)]),
    ]),
  },
]);

export const MEALS_PER_SLOT = 6;
for (const slot of MENU) if (slot.meals.length !== MEALS_PER_SLOT) throw new TwinlabError('INTERNAL', `menu slot ${slot.id} must have ${MEALS_PER_SLOT} meals`);

/**
 * Daily constraints (README "Env"; sources there): energy within ±`energyTolerance` of the target;
 * available carbohydrate ≥ 130 g (the adult RDA); fibre ≥ 14 g per 1000 kcal (adequate intake);
 * protein ≥ 0.8 g/kg body weight (RDA); fat ≤ 35 % of energy (upper end of the acceptable range).
 */
export interface DayConstraints {
  energyKcal: number;
  energyTolerance: number;
  minCarbsG: number;
  minFibrePer1000Kcal: number;
  minProteinG: number;
  maxFatEnergyFraction: number;
}

export function dayConstraints(energyKcal: number, bodyWeightKg: number, energyTolerance = 0.15): DayConstraints {
  return { energyKcal, energyTolerance, minCarbsG: 130, minFibrePer1000Kcal: 14, minProteinG: 0.8 * bodyWeightKg, maxFatEnergyFraction: 0.35 };
}

export interface DayTotals {
  energyKcal: number;
  carbsG: number;
  fibreG: number;
  proteinG: number;
  fatG: number;
}

export const EMPTY_DAY: Readonly<DayTotals> = Object.freeze({ energyKcal: 0, carbsG: 0, fibreG: 0, proteinG: 0, fatG: 0 });

export function addMeal(t: DayTotals, c: MealComposition): DayTotals {
  return { energyKcal: t.energyKcal + c.energyKcal, carbsG: t.carbsG + c.carbsG, fibreG: t.fibreG + c.fibreG, proteinG: t.proteinG + c.proteinG, fatG: t.fatG + c.fatG };
}

/** Whether a complete day's totals meet the constraints. */
export function dayMeets(t: DayTotals, k: DayConstraints): boolean {
  return (
    Math.abs(t.energyKcal - k.energyKcal) <= k.energyTolerance * k.energyKcal &&
    t.carbsG >= k.minCarbsG &&
    t.fibreG >= (k.minFibrePer1000Kcal * t.energyKcal) / 1000 &&
    t.proteinG >= k.minProteinG &&
    9 * t.fatG <= k.maxFatEnergyFraction * t.energyKcal
  );
}

/**
 * Feasible choices at `slot` given the day so far: meal m is feasible when some choice for the
 * remaining slots completes a day that meets the constraints (exhaustive: at most 6² completions).
 * Writes 1/0 per meal into `out` and returns the number feasible.
 */
export function feasibleMeals(slot: number, sofar: DayTotals, k: DayConstraints, out: Uint8Array): number {
  let count = 0;
  const completes = (s: number, t: DayTotals): boolean => {
    if (s === MENU.length) return dayMeets(t, k);
    for (const meal of (MENU[s] as MealSlot).meals) if (completes(s + 1, addMeal(t, meal.composition))) return true;
    return false;
  };
  const meals = (MENU[slot] as MealSlot).meals;
  for (let m = 0; m < meals.length; m++) {
    const ok = completes(slot + 1, addMeal(sofar, (meals[m] as MenuMeal).composition));
    out[m] = ok ? 1 : 0;
    if (ok) count++;
  }
  return count;
}
