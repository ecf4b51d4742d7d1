import { TwinlabError } from '../engine/errors.js';
import type { ParsedSource } from './csv.js';
import { checkCgmUnits, emptyRecords, type Findings, inputError, type SourceRef } from './grid.js';
import { formatIsoTime, parseIsoTime } from './time.js';
import { datasetLength, GLUCOSE_STEP_MIN, type GlucoseDataset, slotTimeMs } from './types.js';

/**
 * Nightscout exports: `entries.json` (CGM: `type` "sgv", `sgv` mg/dL, `date` epoch ms, `dateString`)
 * and `treatments.json` (`eventType`, `created_at`, `insulin` U, `carbs` g; "Temp Basal" with
 * `absolute` or `rate` U/h — or `percent` of the scheduled rate — for `duration` minutes). The
 * scheduled basal profile is not in either file: give it as `basalUPerH`; without it, time outside a
 * temporary basal has an unknown rate (0 assumed, warned). Messages name `entries.json[i]` /
 * `treatments.json[i]` and the field.
 */
export interface NightscoutEntry {
  type: 'sgv';
  sgv: number;
  date: number;
  dateString: string;
  device?: string;
}

export interface NightscoutTreatment {
  eventType: string;
  created_at: string;
  insulin?: number;
  carbs?: number;
  absolute?: number;
  rate?: number;
  percent?: number;
  duration?: number;
}

const BOLUS_EVENTS = new Set(['Meal Bolus', 'Snack Bolus', 'Correction Bolus', 'Bolus', 'Combo Bolus', 'Carb Correction', 'Bolus Wizard']);
const NO_DOSE_EVENTS = new Set([
  'BG Check',
  'Note',
  'Announcement',
  'Question',
  'Exercise',
  'Site Change',
  'Sensor Start',
  'Sensor Change',
  'Sensor Stop',
  'Pump Battery Change',
  'Insulin Change',
  'Temporary Target',
  'Profile Switch',
  'OpenAPS Offline',
  'Suspend Pump',
  'Resume Pump',
]);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseArray(text: string, file: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new TwinlabError('INVALID_ARGUMENT', `${file}, json: not valid JSON (${(error as Error).message})`, { resource: file, field: 'json' });
  }
  if (!Array.isArray(value)) throw new TwinlabError('INVALID_ARGUMENT', `${file}, json: expected a JSON array of records`, { resource: file, field: 'json' });
  return value;
}

export interface NightscoutOptions {
  /** Scheduled basal rate (U/h) where no temporary basal runs. */
  basalUPerH?: number;
}

export function parseNightscout(entriesText: string, treatmentsText: string | undefined, findings: Findings, options: NightscoutOptions = {}): ParsedSource {
  const records = emptyRecords();
  records.basalDefault = options.basalUPerH;
  const entries = parseArray(entriesText, 'entries.json');
  if (entries.length === 0)
    throw new TwinlabError('INVALID_ARGUMENT', 'entries.json, json: the file holds no entries', { resource: 'entries.json', field: 'json' });
  const cgmValues: { value: number; ref: SourceRef }[] = [];
  let earliest: { ms: number; offsetMin: number } | undefined;
  let count = 0;

  for (let i = 0; i < entries.length; i++) {
    const where = `entries.json[${i}]`;
    const ref: SourceRef = { label: where, at: { resource: where } };
    const e = entries[i];
    if (!isObject(e)) throw inputError(ref, 'entry', 'not a JSON object');
    count++;
    if (e.type !== undefined && e.type !== 'sgv') {
      findings.add('entry-type', `${where}, type: ${JSON.stringify(e.type)} is not a CGM reading (sgv); ignored`);
      continue;
    }
    if (e.sgv === undefined || e.sgv === null) throw inputError(ref, 'sgv', 'missing');
    if (typeof e.sgv !== 'number' || !Number.isFinite(e.sgv)) throw inputError(ref, 'sgv', `${JSON.stringify(e.sgv)} is not a number`);
    let ms: number;
    let offsetMin: number | undefined;
    if (typeof e.dateString === 'string') {
      const t = parseIsoTime(e.dateString);
      if (typeof t !== 'string') offsetMin = t.offsetMin;
      else if (e.date === undefined) throw inputError(ref, 'dateString', `${JSON.stringify(e.dateString)} ${t}`);
    }
    if (e.date !== undefined) {
      if (typeof e.date !== 'number' || !Number.isFinite(e.date)) throw inputError(ref, 'date', `${JSON.stringify(e.date)} is not epoch milliseconds`);
      ms = e.date;
    } else if (typeof e.dateString === 'string') {
      ms = (parseIsoTime(e.dateString) as { ms: number }).ms;
    } else {
      throw inputError(ref, 'date', 'missing (and no dateString)');
    }
    if (offsetMin === undefined && typeof e.utcOffset === 'number') offsetMin = e.utcOffset;
    if (offsetMin !== undefined && (earliest === undefined || ms < earliest.ms)) earliest = { ms, offsetMin };
    cgmValues.push({ value: e.sgv, ref });
    records.cgm.push({ timeMs: ms, mgdl: e.sgv, ref, field: 'sgv' });
  }
  checkCgmUnits(cgmValues, 'mg/dL', 'sgv', 'mg/dL values (Nightscout stores sgv in mg/dL)');

  const treatments = treatmentsText === undefined ? [] : parseArray(treatmentsText, 'treatments.json');
  if (treatmentsText === undefined) findings.add('treatments', 'treatments.json: not given; the dataset has no insulin or carbohydrates');
  let tempBasals = 0;
  for (let i = 0; i < treatments.length; i++) {
    const where = `treatments.json[${i}]`;
    const ref: SourceRef = { label: where, at: { resource: where } };
    const t = treatments[i];
    if (!isObject(t)) throw inputError(ref, 'treatment', 'not a JSON object');
    count++;
    const eventType = typeof t.eventType === 'string' ? t.eventType : undefined;
    if (eventType === undefined) throw inputError(ref, 'eventType', 'missing');
    const time = (): number => {
      for (const field of ['created_at', 'timestamp']) {
        const v = t[field];
        if (v === undefined || v === null) continue;
        if (typeof v === 'number' && Number.isFinite(v)) return v;
        if (typeof v !== 'string') throw inputError(ref, field, `${JSON.stringify(v)} is not a date-time`);
        const p = parseIsoTime(v);
        if (typeof p === 'string') throw inputError(ref, field, `${JSON.stringify(v)} ${p}`);
        return p.ms;
      }
      for (const field of ['mills', 'date']) if (typeof t[field] === 'number' && Number.isFinite(t[field])) return t[field] as number;
      throw inputError(ref, 'created_at', 'missing');
    };
    const num = (field: string): number | undefined => {
      const v = t[field];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw inputError(ref, field, `${JSON.stringify(v)} is not a number`);
      return v;
    };
    if (eventType === 'Temp Basal') {
      const ms = time();
      const duration = num('duration');
      if (duration === undefined) throw inputError(ref, 'duration', 'missing (minutes)');
      if (duration < 0) throw inputError(ref, 'duration', `${duration} min is negative`);
      let rate = num('absolute') ?? num('rate');
      if (rate === undefined) {
        const percent = num('percent');
        if (percent === undefined) throw inputError(ref, 'absolute', 'missing (a Temp Basal needs absolute or rate in U/h, or percent)');
        if (options.basalUPerH === undefined) throw inputError(ref, 'percent', 'a percent temp basal needs the scheduled basal rate (--basal U_PER_H)');
        rate = options.basalUPerH * (1 + percent / 100);
      }
      // duration 0 cancels the running temp basal: the scheduled rate resumes
      records.basal.push({ startMs: ms, endMs: ms + Math.round(duration * 60_000), rate, ref, field: 'absolute' });
      tempBasals++;
      continue;
    }
    const insulin = num('insulin');
    const carbs = num('carbs');
    if (!BOLUS_EVENTS.has(eventType)) {
      if (insulin === undefined && carbs === undefined) {
        if (!NO_DOSE_EVENTS.has(eventType)) findings.add('event-type', `${where}, eventType: ${JSON.stringify(eventType)} is not imported; ignored`);
        continue;
      }
      findings.add(
        'event-type',
        `${where}, eventType: ${JSON.stringify(eventType)} is not a known bolus or carbohydrate event; its insulin/carbs are imported`,
      );
    }
    if (eventType === 'Combo Bolus' && (num('relative') ?? 0) > 0) {
      findings.add('combo', `${where}, relative: the extended part of a Combo Bolus is not imported (only insulin given now)`);
    }
    if (insulin === undefined && carbs === undefined) continue;
    const ms = time();
    if (insulin !== undefined) records.bolus.push({ timeMs: ms, amount: insulin, ref, field: 'insulin' });
    if (carbs !== undefined) records.carbs.push({ timeMs: ms, amount: carbs, ref, field: 'carbs' });
  }
  if (options.basalUPerH === undefined && treatmentsText !== undefined) {
    findings.add(
      'treatments',
      `basal: Nightscout treatments hold only temporary basal rates (${tempBasals} here); give the scheduled rate (--basal U_PER_H) — 0 U/h is assumed outside them`,
    );
  }
  return { records, count, utcOffsetMin: earliest?.offsetMin };
}

/**
 * The dataset as Nightscout `entries` (newest first, as the Nightscout API returns them) and
 * `treatments`; every basal run becomes a "Temp Basal", so the arrays survive without a profile.
 */
export function datasetToNightscout(dataset: GlucoseDataset): { entries: NightscoutEntry[]; treatments: NightscoutTreatment[] } {
  const offset = dataset.utcOffsetMin ?? 0;
  const n = datasetLength(dataset);
  const entries: NightscoutEntry[] = [];
  for (let k = n - 1; k >= 0; k--) {
    const sgv = dataset.cgm[k] as number;
    if (Number.isNaN(sgv)) continue;
    const date = slotTimeMs(dataset, k);
    entries.push({ type: 'sgv', sgv, date, dateString: formatIsoTime(date, offset), device: 'twinlab' });
  }
  const treatments: NightscoutTreatment[] = [];
  for (let k = 0; k < n; ) {
    const rate = dataset.basalUPerH[k] as number;
    let j = k + 1;
    while (j < n && Object.is(dataset.basalUPerH[j], rate)) j++;
    treatments.push({ eventType: 'Temp Basal', created_at: formatIsoTime(slotTimeMs(dataset, k)), absolute: rate, rate, duration: (j - k) * GLUCOSE_STEP_MIN });
    k = j;
  }
  for (let k = 0; k < n; k++) {
    const insulin = dataset.bolusU[k] as number;
    const carbs = dataset.carbsG[k] as number;
    if (!(insulin > 0) && !(carbs > 0)) continue;
    const created_at = formatIsoTime(slotTimeMs(dataset, k));
    if (insulin > 0 && carbs > 0) treatments.push({ eventType: 'Meal Bolus', created_at, insulin, carbs });
    else if (insulin > 0) treatments.push({ eventType: 'Correction Bolus', created_at, insulin });
    else treatments.push({ eventType: 'Carb Correction', created_at, carbs });
  }
  return { entries, treatments };
}
