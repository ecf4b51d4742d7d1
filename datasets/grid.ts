import { TwinlabError } from '../engine/errors.js';
import { shortTime } from './time.js';
import { GLUCOSE_STEP_MIN } from './types.js';

/**
 * The one rule that puts timestamped records of any format onto the 5-minute grid of a
 * `GlucoseDataset`, and the checks every format shares (physiological ranges, duplicates, gaps).
 *
 * Grid rule (datasets/README.md, "Grid"):
 * - slots are aligned to multiples of 5 min since the epoch (UTC); the dataset runs from the first to
 *   the last slot any record lands in;
 * - a CGM reading goes to the slot whose start is nearest (|Δ| ≤ 2.5 min; exactly 2.5 min goes to
 *   the later slot); two readings in one slot: the one nearer the slot start is kept (the earlier on
 *   a tie) and a warning names both; two readings at the same instant with different values are an
 *   error, with the same value a warning (the repeat is dropped);
 * - boluses and carbohydrates go to the slot that contains them, summed;
 * - basal is a step function: a rate holds from its start until its end or the next rate, whichever
 *   comes first; a slot's rate is the time-weighted mean over the slot (so the units delivered are
 *   kept), which is exactly the rate when one rate covers the whole slot.
 */

export const STEP_MS = GLUCOSE_STEP_MIN * 60_000;

/** Physiological and practical limits; a value outside is an error naming the row and field. */
export const LIMITS = {
  /** mg/dL. Sensors report 40–400 mg/dL (Dexcom G6/G7, FreeStyle Libre); 20–600 leaves room for any device. */
  cgmMin: 20,
  cgmMax: 600,
  /** U/h; pump maxima are 30–35 U/h (Medtronic 780G, Tandem t:slim X2, Omnipod 5: 30 U/h). */
  basalMax: 30,
  /** U per 5-min slot; the largest single pump bolus is 25–30 U (Tandem 25 U, Omnipod 30 U), pens 60–80 U. */
  bolusMax: 50,
  /** g per 5-min slot. */
  carbsMax: 500,
  /** A longer span is almost surely a wrong timestamp (e.g. an epoch of 0). */
  maxDays: 400,
  /** CGM gaps at least this long are reported. */
  gapWarnMin: 30,
  /** mg/dL values all below this look like mmol/L. */
  mgdlLooksLikeMmol: 30,
  /** mmol/L values above this look like mg/dL. */
  mmolLooksLikeMgdl: 40,
} as const;

/**
 * mg/dL per mmol/L of glucose. 1/0.0555 (the SI conversion factor of Young DS, Ann Intern Med
 * 1987;106:114–129) ≈ 18.018; glucose's molar mass, 180.156 g/mol, gives 18.0156 — the 0.01 %
 * difference is far below CGM resolution (1 mg/dL).
 */
export const MGDL_PER_MMOLL = 18.0182;

/** Where a value came from: a label for messages and the details of the error. */
export interface SourceRef {
  /** `line 12`, `Bundle.entry[3] (Observation/abc)`, `entries.json[5]` */
  label: string;
  at: { row: number } | { resource: string };
}

export interface CgmRecord {
  timeMs: number;
  mgdl: number;
  ref: SourceRef;
  field: string;
  /** The value as written with its unit, when that is not mg/dL. */
  shown?: string;
}

export interface AmountRecord {
  timeMs: number;
  amount: number;
  ref: SourceRef;
  field: string;
}

export interface BasalRecord {
  startMs: number;
  /** Exclusive; undefined = until the next rate. */
  endMs?: number;
  rate: number;
  ref: SourceRef;
  field: string;
}

/** Everything a format parser extracts, in source units already converted to the dataset's. */
export interface Records {
  cgm: CgmRecord[];
  bolus: AmountRecord[];
  carbs: AmountRecord[];
  basal: BasalRecord[];
  /** Times that lie inside the dataset even when they carry no value (CSV rows). */
  marks: { timeMs: number; ref: SourceRef }[];
  /** Rate where no basal record applies (Nightscout scheduled basal); undefined = unknown: 0 assumed and warned. */
  basalDefault?: number;
}

export function emptyRecords(): Records {
  return { cgm: [], bolus: [], carbs: [], basal: [], marks: [] };
}

export function inputError(ref: SourceRef, field: string, message: string, extra: Record<string, unknown> = {}): TwinlabError {
  return new TwinlabError('INVALID_ARGUMENT', `${ref.label}, ${field}: ${message}`, { ...ref.at, field, ...extra });
}

/** Non-fatal findings, at most `perKind` of each kind spelled out (then a count). */
export class Findings {
  private readonly kinds = new Map<string, { shown: string[]; more: number }>();
  constructor(private readonly perKind = 5) {}

  add(kind: string, message: string): void {
    let entry = this.kinds.get(kind);
    if (entry === undefined) {
      entry = { shown: [], more: 0 };
      this.kinds.set(kind, entry);
    }
    if (entry.shown.length < this.perKind) entry.shown.push(message);
    else entry.more++;
  }

  list(): string[] {
    const out: string[] = [];
    for (const [kind, { shown, more }] of this.kinds) {
      out.push(...shown);
      if (more > 0) out.push(`… and ${more} more ${kind} warning${more === 1 ? '' : 's'}`);
    }
    return out;
  }
}

/**
 * Unit sanity check of a CGM column before conversion: mg/dL values that are all below 30 are
 * mmol/L; an mmol/L value above 40 is mg/dL. Names the row of the largest value.
 */
export function checkCgmUnits(values: { value: number; ref: SourceRef }[], unit: 'mg/dL' | 'mmol/L', field: string, otherField: string): void {
  if (values.length === 0) return;
  let max = values[0] as { value: number; ref: SourceRef };
  for (const v of values) if (v.value > max.value) max = v;
  if (unit === 'mg/dL' && max.value < LIMITS.mgdlLooksLikeMmol) {
    throw inputError(
      max.ref,
      field,
      `every CGM value is below ${LIMITS.mgdlLooksLikeMmol} (largest ${max.value}): these look like mmol/L, not mg/dL; use ${otherField}`,
    );
  }
  if (unit === 'mmol/L' && max.value > LIMITS.mmolLooksLikeMgdl) {
    throw inputError(max.ref, field, `${max.value} mmol/L is above ${LIMITS.mmolLooksLikeMgdl}: these look like mg/dL, not mmol/L; use ${otherField}`);
  }
}

export interface Grid {
  startMs: number;
  cgm: Float64Array;
  basalUPerH: Float64Array;
  bolusU: Float64Array;
  carbsG: Float64Array;
}

function checkValues(records: Records): void {
  for (const r of records.cgm) {
    if (!Number.isFinite(r.mgdl) || r.mgdl < LIMITS.cgmMin || r.mgdl > LIMITS.cgmMax) {
      const shown = r.shown === undefined ? `${r.mgdl} mg/dL` : `${r.shown} (${Number(r.mgdl.toFixed(1))} mg/dL)`;
      throw inputError(r.ref, r.field, `${shown} is outside the physiological range ${LIMITS.cgmMin}–${LIMITS.cgmMax} mg/dL`);
    }
  }
  const amounts = (list: AmountRecord[], unit: string, max: number) => {
    for (const r of list) {
      if (!Number.isFinite(r.amount) || r.amount < 0) throw inputError(r.ref, r.field, `${r.amount} ${unit} is negative`);
      if (r.amount > max) throw inputError(r.ref, r.field, `${r.amount} ${unit} is above the limit of ${max} ${unit}`);
    }
  };
  amounts(records.bolus, 'U', LIMITS.bolusMax);
  amounts(records.carbs, 'g', LIMITS.carbsMax);
  for (const r of records.basal) {
    if (!Number.isFinite(r.rate) || r.rate < 0) throw inputError(r.ref, r.field, `basal rate ${r.rate} U/h is negative`);
    if (r.rate > LIMITS.basalMax) throw inputError(r.ref, r.field, `basal rate ${r.rate} U/h is above the limit of ${LIMITS.basalMax} U/h`);
    // endMs === startMs is a cancellation (Nightscout "Temp Basal" of duration 0): it ends the running rate
    if (r.endMs !== undefined && !(r.endMs >= r.startMs)) throw inputError(r.ref, r.field, 'the basal period ends before it starts');
  }
}

/** Puts the records on the grid (see the rule at the top of this file); throws on the first bad value. */
export function buildGrid(records: Records, findings: Findings, options: { shownShiftMs?: number } = {}): Grid {
  // Warnings are stored with the dataset: under de-identification they show shifted times (errors, never stored, show the file's).
  const shown = (ms: number) => shortTime(ms + (options.shownShiftMs ?? 0));
  checkValues(records);

  // ---- span -----------------------------------------------------------------------------------
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let firstRef: SourceRef | undefined;
  let lastRef: SourceRef | undefined;
  const see = (slot: number, ref: SourceRef) => {
    if (slot < first) [first, firstRef] = [slot, ref];
    if (slot > last) [last, lastRef] = [slot, ref];
  };
  for (const r of records.cgm) see(Math.round(r.timeMs / STEP_MS), r.ref);
  for (const r of records.bolus) see(Math.floor(r.timeMs / STEP_MS), r.ref);
  for (const r of records.carbs) see(Math.floor(r.timeMs / STEP_MS), r.ref);
  for (const r of records.marks) see(Math.floor(r.timeMs / STEP_MS), r.ref);
  for (const r of records.basal) {
    see(Math.floor(r.startMs / STEP_MS), r.ref);
    if (r.endMs !== undefined && r.endMs > r.startMs) see(Math.ceil(r.endMs / STEP_MS) - 1, r.ref);
  }
  if (firstRef === undefined || lastRef === undefined) {
    throw new TwinlabError('INVALID_ARGUMENT', 'the file holds no CGM readings, insulin or carbohydrate records', { field: 'records' });
  }
  const n = last - first + 1;
  const maxSlots = (LIMITS.maxDays * 24 * 60) / GLUCOSE_STEP_MIN;
  if (n > maxSlots) {
    throw inputError(
      lastRef,
      'time',
      `the data span ${Math.round((n * GLUCOSE_STEP_MIN) / 1440)} days (from ${firstRef.label} to ${lastRef.label}), more than ${LIMITS.maxDays}; check the timestamps`,
      {
        otherRow: 'row' in firstRef.at ? firstRef.at.row : firstRef.at.resource,
      },
    );
  }
  const startMs = first * STEP_MS;
  const slotStart = (k: number) => startMs + k * STEP_MS;

  // ---- CGM: nearest slot start ----------------------------------------------------------------
  const cgm = new Float64Array(n).fill(Number.NaN);
  const chosen: (CgmRecord | undefined)[] = new Array(n);
  const sortedCgm = records.cgm.map((r, i) => ({ r, i })).sort((a, b) => a.r.timeMs - b.r.timeMs || a.i - b.i);
  let previous: CgmRecord | undefined;
  for (const { r } of sortedCgm) {
    if (previous !== undefined && previous.timeMs === r.timeMs) {
      if (previous.mgdl !== r.mgdl) {
        throw inputError(
          r.ref,
          r.field,
          `a second CGM reading at ${shortTime(r.timeMs)} (${r.shown ?? `${r.mgdl} mg/dL`}) differs from ${previous.ref.label} (${previous.shown ?? `${previous.mgdl} mg/dL`})`,
          {
            otherRow: 'row' in previous.ref.at ? previous.ref.at.row : previous.ref.at.resource,
          },
        );
      }
      findings.add('duplicate', `${r.ref.label}, ${r.field}: repeats the reading of ${previous.ref.label} (same time and value); dropped`);
      continue;
    }
    previous = r;
    const k = Math.round(r.timeMs / STEP_MS) - first;
    const held = chosen[k];
    if (held === undefined) {
      chosen[k] = r;
      continue;
    }
    const s = slotStart(k);
    const keep = Math.abs(r.timeMs - s) < Math.abs(held.timeMs - s) ? r : held;
    const drop = keep === r ? held : r;
    chosen[k] = keep;
    findings.add(
      'cgm-slot',
      `${drop.ref.label}, ${drop.field}: a second CGM reading in the slot at ${shown(s)} (with ${keep.ref.label}); kept ${keep.ref.label}, nearer the slot start`,
    );
  }
  for (let k = 0; k < n; k++) {
    const r = chosen[k];
    if (r !== undefined) cgm[k] = r.mgdl;
  }

  // ---- boluses and carbohydrates: containing slot, summed -----------------------------------------
  const amounts = (list: AmountRecord[], unit: string, max: number, kind: string): Float64Array => {
    const out = new Float64Array(n);
    const lastRefs: (AmountRecord | undefined)[] = new Array(n);
    const seen = new Map<string, AmountRecord>();
    for (const r of list) {
      if (r.amount === 0) continue;
      const key = `${r.timeMs}/${r.amount}`;
      const twin = seen.get(key);
      if (twin !== undefined) {
        findings.add('duplicate', `${r.ref.label}, ${r.field}: repeats ${twin.ref.label} (${r.amount} ${unit} at the same time); dropped`);
        continue;
      }
      seen.set(key, r);
      const k = Math.floor(r.timeMs / STEP_MS) - first;
      out[k] = (out[k] as number) + r.amount;
      if (lastRefs[k] !== undefined && (out[k] as number) > max) {
        throw inputError(
          r.ref,
          r.field,
          `the ${kind} in the slot at ${shortTime(slotStart(k))} add up to ${Number((out[k] as number).toFixed(3))} ${unit} (with ${lastRefs[k]?.ref.label}), above the limit of ${max} ${unit} per ${GLUCOSE_STEP_MIN} min`,
        );
      }
      lastRefs[k] = r;
    }
    return out;
  };
  const bolusU = amounts(records.bolus, 'U', LIMITS.bolusMax, 'boluses');
  const carbsG = amounts(records.carbs, 'g', LIMITS.carbsMax, 'carbohydrates');

  // ---- basal: step function, time-weighted per slot --------------------------------------------
  const spanEnd = slotStart(n);
  const sortedBasal = records.basal.map((r, i) => ({ r, i })).sort((a, b) => a.r.startMs - b.r.startMs || a.i - b.i);
  const pieces: { a: number; b: number; rate: number }[] = [];
  for (let j = 0; j < sortedBasal.length; j++) {
    const { r } = sortedBasal[j] as { r: BasalRecord };
    const next = sortedBasal[j + 1]?.r;
    if (next !== undefined && next.startMs === r.startMs) {
      const cancel = (x: BasalRecord) => x.endMs === x.startMs;
      if (next.rate !== r.rate && !cancel(r) && !cancel(next)) {
        throw inputError(
          next.ref,
          next.field,
          `a second basal rate starting at ${shortTime(r.startMs)} (${next.rate} U/h) differs from ${r.ref.label} (${r.rate} U/h)`,
          {
            otherRow: 'row' in r.ref.at ? r.ref.at.row : r.ref.at.resource,
          },
        );
      }
      if (r.endMs === next.endMs) findings.add('duplicate', `${next.ref.label}, ${next.field}: repeats the basal rate of ${r.ref.label}; dropped`);
      if (cancel(next) && !cancel(r)) sortedBasal[j + 1] = sortedBasal[j] as { r: BasalRecord; i: number };
      continue; // one record per start: the later one, or the one that is not a cancellation
    }
    const b = Math.min(r.endMs ?? spanEnd, next?.startMs ?? spanEnd, spanEnd);
    if (b > r.startMs) pieces.push({ a: Math.max(r.startMs, startMs), b, rate: r.rate });
  }
  const sum = new Float64Array(n);
  const covered = new Float64Array(n);
  const lo = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const hi = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
  for (const { a, b, rate } of pieces) {
    for (let k = Math.floor((a - startMs) / STEP_MS); k < n && slotStart(k) < b; k++) {
      const overlap = Math.min(b, slotStart(k + 1)) - Math.max(a, slotStart(k));
      if (overlap <= 0) continue;
      sum[k] = (sum[k] as number) + rate * overlap;
      covered[k] = (covered[k] as number) + overlap;
      if (rate < (lo[k] as number)) lo[k] = rate;
      if (rate > (hi[k] as number)) hi[k] = rate;
    }
  }
  const basalUPerH = new Float64Array(n);
  const fallback = records.basalDefault;
  let unknownFrom = -1;
  const unknownRuns: [number, number][] = [];
  for (let k = 0; k <= n; k++) {
    const uncovered = k < n ? STEP_MS - (covered[k] as number) : 0;
    if (k < n) {
      let total = sum[k] as number;
      let min = lo[k] as number;
      let max = hi[k] as number;
      if (uncovered > 0) {
        const rate = fallback ?? 0;
        total += rate * uncovered;
        min = Math.min(min, rate);
        max = Math.max(max, rate);
      }
      basalUPerH[k] = min === max ? min : total / STEP_MS;
    }
    const unknown = k < n && uncovered > 0 && fallback === undefined;
    if (unknown && unknownFrom < 0) unknownFrom = k;
    if (!unknown && unknownFrom >= 0) {
      unknownRuns.push([unknownFrom, k]);
      unknownFrom = -1;
    }
  }
  for (const [a, b] of unknownRuns) {
    findings.add('basal', `basal: no rate is known from ${shown(slotStart(a))} to ${shown(slotStart(b))} (${(b - a) * GLUCOSE_STEP_MIN} min); 0 U/h assumed`);
  }

  // ---- CGM gaps --------------------------------------------------------------------------------
  const gapSlots = LIMITS.gapWarnMin / GLUCOSE_STEP_MIN;
  let runStart = -1;
  for (let k = 0; k <= n; k++) {
    const missing = k < n && Number.isNaN(cgm[k] as number);
    if (missing && runStart < 0) runStart = k;
    if (!missing && runStart >= 0) {
      if (k - runStart >= gapSlots) {
        findings.add('gap', `cgm: no reading for ${(k - runStart) * GLUCOSE_STEP_MIN} min, from ${shown(slotStart(runStart))} to ${shown(slotStart(k))}`);
      }
      runStart = -1;
    }
  }

  return { startMs, cgm, basalUPerH, bolusU, carbsG };
}

/** Percentage of slots without a CGM reading. */
export function missingCgmPercent(cgm: Float64Array): number {
  if (cgm.length === 0) return 0;
  let missing = 0;
  for (const v of cgm) if (Number.isNaN(v)) missing++;
  return (100 * missing) / cgm.length;
}
