import { describeValue, TwinlabError } from '../../engine/errors.js';
import type { Rng } from '../../engine/random.js';

/**
 * Meal scenarios on the simulation clock: minute 0 is midnight of day 0; a meal at minute m puts its
 * whole carbohydrate amount into the patient at that minute (the patient then eats it at ≤ 5 g/min).
 *
 * - `'random'` — simglucose's `RandomScenario` (docs/MODELS.md §0 "Meal scenarios"): each day six slots
 *   (breakfast, snack, lunch, snack, dinner, snack); slot s happens with probability p_s, at a time
 *   drawn from a normal N(μ_s, σ_s) truncated to [lb_s, ub_s] (by rejection) and rounded to the
 *   minute, with max(round(N(m_s, sd_s)), 0) grams. A new day is drawn when the clock first needs it
 *   (at the latest at its midnight, earlier when meals are announced ahead), from the substream
 *   `day/<d>` of the scenario stream — so day d's meals depend only on (seed, d).
 *   Meals of 0 g stay in the list (as in simglucose); they feed and announce nothing.
 * - `'fixed'` — the DTR-Bench fixed day, repeated daily: 07:00 45 g, 12:00 70 g, 15:00 10 g, 18:00 80 g.
 * - `'none'` — no meals.
 * - an explicit list `[{ hour | minute, carbs }]` (clock of day 0), or `{ meals, repeatDaily }`.
 */
export interface MealSlot {
  name: string;
  probability: number;
  /** Time mean, bounds (minutes after midnight) and sd (minutes). */
  timeMean: number;
  timeSd: number;
  timeLow: number;
  timeHigh: number;
  /** Carbohydrate mean and sd, g. */
  carbsMean: number;
  carbsSd: number;
}

/** simglucose RandomScenario (v0.2.11) slot table. */
export const RANDOM_MEAL_SLOTS: readonly MealSlot[] = [
  { name: 'breakfast', probability: 0.95, timeMean: 7 * 60, timeSd: 60, timeLow: 5 * 60, timeHigh: 9 * 60, carbsMean: 45, carbsSd: 10 },
  { name: 'snack 1', probability: 0.3, timeMean: 9.5 * 60, timeSd: 30, timeLow: 9 * 60, timeHigh: 10 * 60, carbsMean: 10, carbsSd: 5 },
  { name: 'lunch', probability: 0.95, timeMean: 12 * 60, timeSd: 60, timeLow: 10 * 60, timeHigh: 14 * 60, carbsMean: 70, carbsSd: 10 },
  { name: 'snack 2', probability: 0.3, timeMean: 15 * 60, timeSd: 30, timeLow: 14 * 60, timeHigh: 16 * 60, carbsMean: 10, carbsSd: 5 },
  { name: 'dinner', probability: 0.95, timeMean: 18 * 60, timeSd: 60, timeLow: 16 * 60, timeHigh: 20 * 60, carbsMean: 80, carbsSd: 10 },
  { name: 'snack 3', probability: 0.3, timeMean: 21.5 * 60, timeSd: 30, timeLow: 20 * 60, timeHigh: 23 * 60, carbsMean: 10, carbsSd: 5 },
];

/** DTR-Bench fixed meal day (GilesLuo/DTRGym simglucose_env.py). */
export const FIXED_DAY: ReadonlyArray<{ hour: number; carbs: number }> = [
  { hour: 7, carbs: 45 },
  { hour: 12, carbs: 70 },
  { hour: 15, carbs: 10 },
  { hour: 18, carbs: 80 },
];

export const MINUTES_PER_DAY = 1440;

export interface MealInput {
  hour?: number;
  minute?: number;
  carbs: number;
}

export type ScenarioSpec = 'random' | 'fixed' | 'none' | MealInput[] | { meals: MealInput[]; repeatDaily?: boolean };

export interface Meal {
  minute: number;
  carbs: number;
  /** Index in RANDOM_MEAL_SLOTS (random days only). */
  slot?: number;
}

/** One random day's meals (minutes after that day's midnight), in slot order (which is time order). */
export function drawRandomDay(rng: Rng, slots: readonly MealSlot[] = RANDOM_MEAL_SLOTS): Meal[] {
  const meals: Meal[] = [];
  for (let k = 0; k < slots.length; k++) {
    const s = slots[k] as MealSlot;
    if (!(rng.next() < s.probability)) continue;
    let t: number;
    do t = rng.normal(s.timeMean, s.timeSd);
    while (t < s.timeLow || t > s.timeHigh);
    meals.push({ minute: Math.round(t), carbs: Math.max(Math.round(rng.normal(s.carbsMean, s.carbsSd)), 0), slot: k });
  }
  return meals;
}

function normaliseMeals(list: MealInput[], where: string): Meal[] {
  if (!Array.isArray(list)) throw new TwinlabError('INVALID_ARGUMENT', `${where} must be a list of { hour | minute, carbs }, got ${describeValue(list)}`);
  const meals = list.map((m, i) => {
    if (m === null || typeof m !== 'object')
      throw new TwinlabError('INVALID_ARGUMENT', `${where}[${i}] must be { hour | minute, carbs }, got ${describeValue(m)}`);
    const minute = m.minute !== undefined ? m.minute : m.hour !== undefined ? m.hour * 60 : Number.NaN;
    if (!(Number.isFinite(minute) && minute >= 0)) {
      throw new TwinlabError('INVALID_ARGUMENT', `${where}[${i}] needs a time ≥ 0 ('hour' or 'minute'), got ${describeValue(m)}`);
    }
    if (!(typeof m.carbs === 'number' && Number.isFinite(m.carbs) && m.carbs >= 0)) {
      throw new TwinlabError('INVALID_ARGUMENT', `${where}[${i}].carbs must be grams ≥ 0, got ${describeValue(m.carbs)}`);
    }
    return { minute: Math.round(minute), carbs: m.carbs };
  });
  return meals.sort((a, b) => a.minute - b.minute);
}

export interface ScenarioState {
  days: number;
  minutes: number[];
  carbs: number[];
  eat: number;
  announce: number;
}

/**
 * The meal schedule of one episode, generated lazily day by day. `carbsAt(minute)` is called for
 * every simulated minute in increasing order; `announce(until, sink)` reports each meal with
 * minute < until once, in time order.
 */
export class MealScenario {
  readonly kind: 'random' | 'list';
  private readonly template: Meal[];
  private readonly repeatDaily: boolean;
  private rng: Rng | null = null;
  private minutes: number[] = [];
  private carbs: number[] = [];
  private days = 0;
  private eat = 0;
  private ann = 0;

  constructor(spec: ScenarioSpec = 'random') {
    if (spec === 'random') {
      this.kind = 'random';
      this.template = [];
      this.repeatDaily = true;
    } else if (spec === 'fixed') {
      this.kind = 'list';
      this.template = normaliseMeals([...FIXED_DAY], 'scenario');
      this.repeatDaily = true;
    } else if (spec === 'none') {
      this.kind = 'list';
      this.template = [];
      this.repeatDaily = false;
    } else if (Array.isArray(spec)) {
      this.kind = 'list';
      this.template = normaliseMeals(spec, 'scenario');
      this.repeatDaily = false;
    } else if (spec !== null && typeof spec === 'object' && Array.isArray(spec.meals)) {
      this.kind = 'list';
      this.template = normaliseMeals(spec.meals, 'scenario.meals');
      this.repeatDaily = spec.repeatDaily ?? false;
      if (this.repeatDaily && this.template.some((m) => m.minute >= MINUTES_PER_DAY)) {
        throw new TwinlabError('INVALID_ARGUMENT', 'scenario.meals with repeatDaily must all lie within one day (minute < 1440)');
      }
    } else {
      throw new TwinlabError(
        'INVALID_ARGUMENT',
        `scenario must be 'random', 'fixed', 'none', a meal list or { meals, repeatDaily }, got ${describeValue(spec)}`,
      );
    }
  }

  /** Start an episode at clock `startMinute`; `rng` is the scenario substream (used by 'random'). */
  reset(rng: Rng, startMinute = 0): void {
    this.rng = rng;
    this.minutes = [];
    this.carbs = [];
    this.days = 0;
    this.eat = 0;
    this.ann = 0;
    if (!this.repeatDaily) {
      for (const m of this.template) {
        this.minutes.push(m.minute);
        this.carbs.push(m.carbs);
      }
      this.days = Number.POSITIVE_INFINITY;
    }
    this.ensure(startMinute);
    while (this.eat < this.minutes.length && (this.minutes[this.eat] as number) < startMinute) this.eat++;
    this.ann = this.eat;
  }

  /** Generate days until every meal with minute ≤ `minute` is known. */
  private ensure(minute: number): void {
    while (this.days * MINUTES_PER_DAY <= minute) {
      const d = this.days;
      const meals = this.kind === 'random' ? drawRandomDay((this.rng as Rng).fork(`day/${d}`)) : this.template;
      for (const m of meals) {
        this.minutes.push(d * MINUTES_PER_DAY + m.minute);
        this.carbs.push(m.carbs);
      }
      this.days = d + 1;
      this.prune();
    }
  }

  private prune(): void {
    const done = Math.min(this.eat, this.ann);
    if (done < 32) return;
    this.minutes.splice(0, done);
    this.carbs.splice(0, done);
    this.eat -= done;
    this.ann -= done;
  }

  /** Grams of the meals at exactly `minute` (meals at earlier minutes not yet taken are skipped). */
  carbsAt(minute: number): number {
    if (this.days * MINUTES_PER_DAY <= minute) this.ensure(minute);
    let g = 0;
    const ms = this.minutes;
    while (this.eat < ms.length && (ms[this.eat] as number) <= minute) {
      if (ms[this.eat] === minute) g += this.carbs[this.eat] as number;
      this.eat++;
    }
    return g;
  }

  /** Report (once) every meal with minute < `untilExclusive`; returns the grams announced. */
  announce(untilExclusive: number, sink?: (minute: number, carbs: number) => void): number {
    if (this.days * MINUTES_PER_DAY <= untilExclusive - 1) this.ensure(untilExclusive - 1);
    let g = 0;
    const ms = this.minutes;
    while (this.ann < ms.length && (ms[this.ann] as number) < untilExclusive) {
      const c = this.carbs[this.ann] as number;
      g += c;
      sink?.(ms[this.ann] as number, c);
      this.ann++;
    }
    return g;
  }

  /** Meals between two clock minutes [from, to), generating days as needed (for the viewer and tests). */
  mealsBetween(from: number, to: number): Meal[] {
    this.ensure(to);
    const out: Meal[] = [];
    for (let i = 0; i < this.minutes.length; i++) {
      const m = this.minutes[i] as number;
      if (m >= from && m < to) out.push({ minute: m, carbs: this.carbs[i] as number });
    }
    return out;
  }

  getState(): ScenarioState {
    return { days: Number.isFinite(this.days) ? this.days : -1, minutes: [...this.minutes], carbs: [...this.carbs], eat: this.eat, announce: this.ann };
  }

  /** Restore a saved schedule; `rng` is the episode's scenario substream (random days still to draw use it). */
  setState(s: ScenarioState, rng: Rng): void {
    if (s === null || typeof s !== 'object' || !Array.isArray(s.minutes) || !Array.isArray(s.carbs)) {
      throw new TwinlabError('INVALID_STATE', `scenario state must carry minutes and carbs lists, got ${describeValue(s)}`);
    }
    this.rng = rng;
    this.days = s.days < 0 ? Number.POSITIVE_INFINITY : s.days;
    this.minutes = [...s.minutes];
    this.carbs = [...s.carbs];
    this.eat = s.eat;
    this.ann = s.announce;
  }
}
