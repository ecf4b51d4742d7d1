import { describeValue, TwinlabError } from '../../engine/errors.js';
import type { SlotInputs } from './simulate.js';

/**
 * What-if therapy changes for replays, written `key=value` and comma-separated, e.g.
 * `carb-ratio=0.8,basal=1.1`:
 *
 * | key        | value               | effect on the recorded inputs after the replay origin |
 * |------------|---------------------|--------------------------------------------------------|
 * | basal      | factor > 0          | every basal rate × factor |
 * | bolus      | factor ≥ 0          | every bolus × factor |
 * | carb-ratio | factor > 0          | the carb ratio × factor: meal boluses ÷ factor (a lower ratio means more insulin per gram) |
 * | carbs      | factor ≥ 0          | every meal's carbohydrate × factor |
 * | meal-shift | minutes (±, ×5)     | meals (carbohydrate only) moved by that many minutes; boluses stay |
 * | drop-meals | true                | no meals and no meal boluses |
 *
 * A meal bolus is a bolus logged within 15 min (3 slots) of a logged meal.
 */
export interface Therapy {
  basal: number;
  bolus: number;
  carbRatio: number;
  carbs: number;
  mealShiftMin: number;
  dropMeals: boolean;
}

export const NO_CHANGE: Therapy = { basal: 1, bolus: 1, carbRatio: 1, carbs: 1, mealShiftMin: 0, dropMeals: false };
const MEAL_BOLUS_SLOTS = 3;

export function parseTherapy(text: string | undefined): Therapy {
  const t = { ...NO_CHANGE };
  if (text === undefined || text.trim() === '') return t;
  for (const part of text.split(',')) {
    const [key, raw] = part.split('=').map((s) => s.trim());
    const value = Number(raw);
    const bad = (what: string) => new TwinlabError('INVALID_ARGUMENT', `--therapy ${key}: ${what}, got ${describeValue(raw)}`, { field: `therapy.${key}` });
    switch (key) {
      case 'basal':
      case 'carb-ratio':
        if (!(Number.isFinite(value) && value > 0 && value <= 10)) throw bad('must be a factor in (0, 10]');
        if (key === 'basal') t.basal = value;
        else t.carbRatio = value;
        break;
      case 'bolus':
      case 'carbs':
        if (!(Number.isFinite(value) && value >= 0 && value <= 10)) throw bad('must be a factor in [0, 10]');
        if (key === 'bolus') t.bolus = value;
        else t.carbs = value;
        break;
      case 'meal-shift':
        if (!(Number.isInteger(value) && value % 5 === 0 && Math.abs(value) <= 240)) throw bad('must be a whole number of 5-min slots within ±240 min');
        t.mealShiftMin = value;
        break;
      case 'drop-meals':
        if (raw !== 'true') throw bad("must be 'true'");
        t.dropMeals = true;
        break;
      default:
        throw new TwinlabError(
          'INVALID_ARGUMENT',
          `--therapy: unknown key ${describeValue(key)}; known: basal, bolus, carb-ratio, carbs, meal-shift, drop-meals`,
          {
            field: 'therapy',
          },
        );
    }
  }
  return t;
}

/** The inputs of slots [from, to) with the therapy applied (new arrays, indexed from 0 = slot from). */
export function applyTherapy(
  inputs: SlotInputs,
  from: number,
  to: number,
  t: Therapy,
): { basalUPerH: Float64Array; bolusU: Float64Array; carbsG: Float64Array } {
  const n = to - from;
  const basal = new Float64Array(n);
  const bolus = new Float64Array(n);
  const carbs = new Float64Array(n);
  const shift = t.mealShiftMin / 5;
  for (let k = 0; k < n; k++) {
    const src = from + k;
    basal[k] = (inputs.basalUPerH[src] as number) * t.basal;
    let mealBolus = false;
    for (let j = Math.max(0, src - MEAL_BOLUS_SLOTS); j <= Math.min(inputs.carbsG.length - 1, src + MEAL_BOLUS_SLOTS); j++) {
      if ((inputs.carbsG[j] as number) > 0) mealBolus = true;
    }
    const b = (inputs.bolusU[src] as number) * t.bolus;
    bolus[k] = mealBolus ? (t.dropMeals ? 0 : b / t.carbRatio) : b;
    const c = inputs.carbsG[src] as number;
    if (c > 0 && !t.dropMeals) {
      const at = k + shift;
      if (at >= 0 && at < n) carbs[at] = (carbs[at] as number) + c * t.carbs;
    }
  }
  return { basalUPerH: basal, bolusU: bolus, carbsG: carbs };
}
