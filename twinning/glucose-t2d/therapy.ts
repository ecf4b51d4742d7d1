import { describeValue, TwinlabError } from '../../engine/errors.js';
import { getFood } from '../../environments/glucose-t2d/foods.js';
import { NO_CHANGE, parseTherapy, type Therapy } from '../glucose/therapy.js';

/**
 * What-if changes for a type 2 twin's replay. `--therapy` takes the type 1 grammar's meal keys
 * (twinning/glucose/therapy.ts: `carbs=F`, `meal-shift=±MIN`, `drop-meals=true`) plus `gi=N` (every
 * meal after the origin eaten with glycaemic index N, 1–150: its gastric and intestinal rates follow
 * environments/glucose-t2d/foods.ts absorptionForGi); the insulin keys (basal, bolus, carb-ratio) are
 * refused — this twin has no insulin input. `--swap TIME=FOOD[:SERVINGS]` (repeatable) replaces the
 * meal logged in the slot at TIME with SERVINGS (default 1) servings of a food of the shipped table:
 * its available carbohydrate and its GI (Atkinson et al. 2008). Swaps apply first, then `--therapy`.
 */
export interface T2DWhatIf {
  therapy: Therapy;
  /** GI of every meal after the origin, when set. */
  gi?: number;
  swaps: T2DSwap[];
}

export interface T2DSwap {
  timeMs: number;
  food: string;
  servings: number;
  carbsG: number;
  gi: number;
}

export function parseT2DTherapy(text: string | undefined): Pick<T2DWhatIf, 'therapy' | 'gi'> {
  if (text === undefined || text.trim() === '') return { therapy: { ...NO_CHANGE } };
  let gi: number | undefined;
  const rest: string[] = [];
  for (const part of text.split(',')) {
    const [key, raw] = part.split('=').map((s) => s.trim());
    if (key === 'gi') {
      const v = Number(raw);
      if (!(Number.isFinite(v) && v >= 1 && v <= 150)) {
        throw new TwinlabError('INVALID_ARGUMENT', `--therapy gi: must be a glycaemic index in [1, 150], got ${describeValue(raw)}`, { field: 'therapy.gi' });
      }
      gi = v;
    } else if (key === 'basal' || key === 'bolus' || key === 'carb-ratio') {
      throw new TwinlabError('INVALID_ARGUMENT', `--therapy ${key}: the type 2 twin has no insulin input; keys: carbs, gi, meal-shift, drop-meals`, {
        field: `therapy.${key}`,
      });
    } else if (key === 'carbs' || key === 'meal-shift' || key === 'drop-meals') rest.push(part);
    else {
      throw new TwinlabError('INVALID_ARGUMENT', `--therapy: unknown key ${describeValue(key)}; known: carbs, gi, meal-shift, drop-meals`, {
        field: 'therapy',
      });
    }
  }
  return { therapy: parseTherapy(rest.join(',')), ...(gi === undefined ? {} : { gi }) };
}

/** One `--swap TIME=FOOD[:SERVINGS]`; `parseTime` turns the ISO text into epoch ms or an error message. */
export function parseSwap(text: string, parseTime: (iso: string) => number | string): T2DSwap {
  const eq = text.indexOf('=');
  const bad = (what: string) => new TwinlabError('INVALID_ARGUMENT', `--swap ${describeValue(text)}: ${what}`, { field: 'swap' });
  if (eq <= 0) throw bad('must be TIME=FOOD[:SERVINGS], e.g. 2026-01-10T12:30:00Z=lentils');
  const t = parseTime(text.slice(0, eq).trim());
  if (typeof t === 'string') throw bad(`time ${t}`);
  const [foodId = '', servingsText] = text
    .slice(eq + 1)
    .split(':')
    .map((s) => s.trim());
  let food: ReturnType<typeof getFood>;
  try {
    food = getFood(foodId);
  } catch (error) {
    throw bad((error as Error).message);
  }
  const servings = servingsText === undefined ? 1 : Number(servingsText);
  if (!(Number.isFinite(servings) && servings > 0 && servings <= 10)) throw bad(`servings must be in (0, 10], got ${describeValue(servingsText)}`);
  if (food.gi === null || food.carbsG <= 0) throw bad(`${food.id} has no carbohydrate (no GI): swap a meal for a food with carbohydrate`);
  return { timeMs: t, food: food.id, servings, carbsG: food.carbsG * servings, gi: food.gi };
}

/**
 * Meals of slots [from, to) after the changes: carbohydrate (g) and GI per slot, indexed from 0 =
 * slot `from`. `swapSlots` are the dataset slots of the swaps (each must hold a logged meal).
 */
export function applyT2DWhatIf(
  carbsG: ArrayLike<number>,
  from: number,
  to: number,
  mealGi: number,
  w: T2DWhatIf,
  swapSlots: number[],
): { carbsG: Float64Array; gi: Float64Array } {
  const n = to - from;
  const src = Float64Array.from({ length: n }, (_, k) => carbsG[from + k] as number);
  const srcGi = new Float64Array(n).fill(mealGi);
  w.swaps.forEach((s, i) => {
    const k = (swapSlots[i] as number) - from;
    if (!(k >= 0 && k < n) || !((src[k] as number) > 0)) {
      throw new TwinlabError('INVALID_ARGUMENT', `--swap ${new Date(s.timeMs).toISOString()}: no meal is logged in that 5-min slot after --from`, {
        field: 'swap',
      });
    }
    src[k] = s.carbsG;
    srcGi[k] = s.gi;
  });
  const t = w.therapy;
  const shift = t.mealShiftMin / 5;
  const carbs = new Float64Array(n);
  const gi = new Float64Array(n).fill(mealGi);
  for (let k = 0; k < n; k++) {
    const c = src[k] as number;
    if (!(c > 0) || t.dropMeals) continue;
    const at = k + shift;
    if (at < 0 || at >= n) continue;
    carbs[at] = (carbs[at] as number) + c * t.carbs;
    gi[at] = w.gi ?? (srcGi[k] as number);
  }
  return { carbsG: carbs, gi };
}
