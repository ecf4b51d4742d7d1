import { TwinlabError } from '../../engine/errors.js';
import { type GlucoseDataset, slotTimeMs } from '../../datasets/types.js';

/**
 * The data rules of identification, after ReplayBG's documented requirements (Cappon et al. 2023;
 * its data_requirements notes): the model's initial conditions are not estimated, so the window must
 * start at steady state — at least 4 h after the last meal or bolus (slots before the file's start
 * are taken as empty, as ReplayBG assumes); at least 6 h of usable CGM; a day-long stretch with more
 * than 10 % of its readings missing is not used for the likelihood (its inputs still drive the
 * model, so the days after it stay correct).
 */
export const STEADY_STATE_HOURS = 4;
export const MIN_USABLE_HOURS = 6;
export const MAX_MISSING_FRACTION = 0.1;
const SLOTS_PER_HOUR = 12;
const SLOTS_PER_DAY = 288;

export interface FitWindow {
  /** First slot of the window (inclusive) and end (exclusive), dataset indices. */
  from: number;
  to: number;
  /** Per window slot: 1 if its CGM reading is used by the likelihood. */
  include: Uint8Array;
  /** What was dropped and why, one line each. */
  messages: string[];
  usableReadings: number;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Apply the rules to `d` up to `untilMs` (exclusive; default the whole dataset). */
export function selectFitWindow(d: GlucoseDataset, untilMs?: number): FitWindow {
  const messages: string[] = [];
  let to = d.cgm.length;
  if (untilMs !== undefined) {
    to = Math.min(to, Math.max(0, Math.ceil((untilMs - d.startMs) / (d.stepMin * 60_000))));
    if (to <= 0) throw new TwinlabError('INVALID_ARGUMENT', `--until ${iso(untilMs)} is before the data start (${iso(d.startMs)})`, { field: 'until' });
  }
  const from = steadyStateStart(d, to);
  if (from < 0) {
    throw new TwinlabError(
      'INVALID_ARGUMENT',
      `no steady-state start: the data has no CGM reading ≥ ${STEADY_STATE_HOURS} h after a meal or bolus (identification starts at steady state)`,
      { field: 'data' },
    );
  }
  if (from > 0) {
    messages.push(
      `window starts at ${iso(slotTimeMs(d, from))}: the ${((from * d.stepMin) / 60).toFixed(1)} h before it were dropped (the fit must start at steady state, ≥ ${STEADY_STATE_HOURS} h after the last meal or bolus)`,
    );
  }
  const n = to - from;
  const include = new Uint8Array(n);
  let usable = 0;
  for (let day = 0; day * SLOTS_PER_DAY < n; day++) {
    const a = day * SLOTS_PER_DAY;
    const b = Math.min(n, a + SLOTS_PER_DAY);
    let missing = 0;
    for (let k = a; k < b; k++) if (!Number.isFinite(d.cgm[from + k] as number)) missing++;
    const fraction = missing / (b - a);
    if (fraction > MAX_MISSING_FRACTION) {
      messages.push(
        `${iso(slotTimeMs(d, from + a))} to ${iso(slotTimeMs(d, from + b))}: ${(100 * fraction).toFixed(1)} % of CGM readings missing (> ${100 * MAX_MISSING_FRACTION} %), not used in the fit (its insulin and meals still drive the model)`,
      );
      continue;
    }
    for (let k = a; k < b; k++) {
      if (Number.isFinite(d.cgm[from + k] as number)) {
        include[k] = 1;
        usable++;
      }
    }
  }
  if (usable < MIN_USABLE_HOURS * SLOTS_PER_HOUR) {
    throw new TwinlabError(
      'INVALID_ARGUMENT',
      `only ${((usable * d.stepMin) / 60).toFixed(1)} h of usable CGM after the data rules (need ≥ ${MIN_USABLE_HOURS} h)${messages.length ? `; ${messages.join('; ')}` : ''}`,
      { field: 'data' },
    );
  }
  return { from, to, include, messages, usableReadings: usable };
}

/**
 * First slot before `to` with a CGM reading and no bolus or meal in it or in the 4 h before it
 * (slots before the data's start count as empty), or −1. Filters start there too.
 */
export function steadyStateStart(d: GlucoseDataset, to: number): number {
  const quiet = STEADY_STATE_HOURS * SLOTS_PER_HOUR;
  let lastEvent = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < to; k++) {
    const event = (d.bolusU[k] as number) > 0 || (d.carbsG[k] as number) > 0;
    if (!event && k - lastEvent > quiet && Number.isFinite(d.cgm[k] as number)) return k;
    if (event) lastEvent = k;
  }
  return -1;
}
