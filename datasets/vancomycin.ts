import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TwinlabError } from '../engine/errors.js';
import { readCsvTable, splitCells } from './csv.js';
import { LOINC, readBundle } from './fhir.js';
import { Findings, inputError, type SourceRef } from './grid.js';
import { formatIsoTime, parseIsoTime } from './time.js';

/**
 * Vancomycin therapeutic drug monitoring data of one person: infusions and measured serum levels,
 * with the covariates the file carries. Two formats:
 *
 * CSV, header `time,event,amount_mg,duration_h,conc_mg_l` (any order), one row per event:
 *   - `dose`: `amount_mg` (> 0, ≤ 10 000) infused over `duration_h` (0–24 h; 0 = bolus), starting at `time`;
 *   - `level`: `conc_mg_l` (0–200 mg/L) measured at `time`.
 *   Times ISO 8601 with a zone. Line numbers are 1-based with the header as line 1.
 * FHIR R4 Bundle: MedicationAdministration (vancomycin by text/display or RxNorm 11124) with `dosage.dose` in mg (or g) and
 *   `effectivePeriod` start/end (the infusion; `effectiveDateTime` + `dosage.rateQuantity` mg/h also
 *   works); Observation LOINC 20578-1 (trough), 4092-3 (serum/plasma), 4090-7 (peak), 4091-5 (random)
 *   in mg/L or ug/mL; 2160-0 creatinine mg/dL; 29463-7 body weight; Patient gender and birthDate (age
 *   at the first dose).
 *
 * Errors (`TwinlabError('INVALID_ARGUMENT', …, { row | resource, field })`) name the row and field;
 * nothing is returned half-imported.
 */
export const VANCO_CSV_COLUMNS = ['time', 'event', 'amount_mg', 'duration_h', 'conc_mg_l'] as const;

export const VANCO_LIMITS = {
  /** mg per dose; single doses above 4–5 g are not given (Rybak 2020 caps loading doses at 3 g). */
  doseMaxMg: 10_000,
  durationMaxH: 24,
  /** mg/L; levels above ~100 mg/L are rare even in toxicity; 200 leaves a margin, above that a unit error is likely. */
  concMaxMgL: 200,
} as const;

export const VANCO_LOINC = {
  trough: '20578-1',
  serum: '4092-3',
  peak: '4090-7',
  random: '4091-5',
  creatinine: '2160-0',
  bodyWeight: '29463-7',
} as const;

export interface VancoDoseEvent {
  timeMs: number;
  amountMg: number;
  durationH: number;
}

export interface VancoLevelEvent {
  timeMs: number;
  concMgL: number;
}

export interface VancomycinDataset {
  kind: 'vancomycin';
  patientId: string;
  /** Covariates the file carries (FHIR); the CLI fills the rest. */
  covariates: { ageYears?: number; sex?: 'F' | 'M'; bodyWeightKg?: number; scrMgDl?: number };
  /** Sorted by time. */
  doses: VancoDoseEvent[];
  /** Sorted by time. */
  levels: VancoLevelEvent[];
  utcOffsetMin?: number;
  warnings: string[];
  provenance: { format: 'csv' | 'fhir'; fileSha256: string; fileName?: string; records: number };
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

interface Sourced<T> {
  value: T;
  ref: SourceRef;
  field: string;
}

function checkDose(d: Sourced<VancoDoseEvent>, amountField: string, durationField: string): void {
  const { amountMg, durationH } = d.value;
  if (!Number.isFinite(amountMg) || amountMg <= 0)
    throw inputError(d.ref, amountField, `${amountMg} mg is ${amountMg < 0 ? 'negative' : 'not a positive dose'}`);
  if (amountMg > VANCO_LIMITS.doseMaxMg) throw inputError(d.ref, amountField, `${amountMg} mg is above the limit of ${VANCO_LIMITS.doseMaxMg} mg per dose`);
  if (!Number.isFinite(durationH) || durationH < 0 || durationH > VANCO_LIMITS.durationMaxH) {
    throw inputError(d.ref, durationField, `${durationH} h is outside 0–${VANCO_LIMITS.durationMaxH} h`);
  }
}

function checkLevel(l: Sourced<VancoLevelEvent>): void {
  const c = l.value.concMgL;
  if (!Number.isFinite(c) || c < 0 || c > VANCO_LIMITS.concMaxMgL) throw inputError(l.ref, l.field, `${c} mg/L is outside 0–${VANCO_LIMITS.concMaxMgL} mg/L`);
}

/** Shared checks after parsing: order, duplicates, levels before the first dose, overlaps. */
function finish(
  doses: Sourced<VancoDoseEvent>[],
  levels: Sourced<VancoLevelEvent>[],
  findings: Findings,
): { doses: VancoDoseEvent[]; levels: VancoLevelEvent[] } {
  const sortAndDedupe = <T extends { timeMs: number }>(list: Sourced<T>[], what: string, same: (a: T, b: T) => boolean): Sourced<T>[] => {
    const inOrder = list.every((x, i) => i === 0 || (list[i - 1] as Sourced<T>).value.timeMs <= x.value.timeMs);
    if (!inOrder) findings.add('order', `${what}s are not in time order; sorted`);
    const sorted = [...list].sort((a, b) => a.value.timeMs - b.value.timeMs);
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1] as Sourced<T>;
      const b = sorted[i] as Sourced<T>;
      if (a.value.timeMs === b.value.timeMs) {
        throw inputError(
          b.ref,
          'time',
          `a second ${what} at ${formatIsoTime(b.value.timeMs)} (${a.ref.label} has one at the same time${same(a.value, b.value) ? ', a duplicate' : ' with another value'})`,
        );
      }
    }
    return sorted;
  };
  if (doses.length === 0)
    throw new TwinlabError('INVALID_ARGUMENT', 'doses: the data has no dose; a level cannot be interpreted without the doses before it', { field: 'dose' });
  const d = sortAndDedupe(doses, 'dose', (a, b) => a.amountMg === b.amountMg && a.durationH === b.durationH);
  const l = sortAndDedupe(levels, 'level', (a, b) => a.concMgL === b.concMgL);
  const first = (d[0] as Sourced<VancoDoseEvent>).value.timeMs;
  for (const level of l) {
    if (level.value.timeMs <= first) {
      throw inputError(
        level.ref,
        'time',
        `level at ${formatIsoTime(level.value.timeMs)} is not after the first dose (${formatIsoTime(first)}); the doses before it are unknown`,
      );
    }
  }
  for (let i = 1; i < d.length; i++) {
    const prev = (d[i - 1] as Sourced<VancoDoseEvent>).value;
    const cur = d[i] as Sourced<VancoDoseEvent>;
    if (cur.value.timeMs < prev.timeMs + prev.durationH * 3_600_000)
      findings.add('overlap', `${cur.ref.label}: dose starts before the previous infusion ends; both are kept (rates add)`);
  }
  return { doses: d.map((x) => x.value), levels: l.map((x) => x.value) };
}

export function parseVancomycinCsv(
  text: string,
  findings: Findings,
): { doses: VancoDoseEvent[]; levels: VancoLevelEvent[]; records: number; utcOffsetMin?: number } {
  const { lines, header, column, headerRef } = readCsvTable(text);
  for (const name of VANCO_CSV_COLUMNS) {
    if (!column.has(name)) throw inputError(headerRef, name, `missing column; the header must be ${VANCO_CSV_COLUMNS.join(',')}`);
  }
  for (const name of header) {
    if (!(VANCO_CSV_COLUMNS as readonly string[]).includes(name)) findings.add('column', `line 1, ${name || '(empty)'}: unknown column ignored`);
  }
  const doses: Sourced<VancoDoseEvent>[] = [];
  const levels: Sourced<VancoLevelEvent>[] = [];
  let utcOffsetMin: number | undefined;
  let records = 0;
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i] as string;
    if (raw.trim() === '') continue;
    const line = i + 1;
    const ref: SourceRef = { label: `line ${line}`, at: { row: line } };
    const cells = splitCells(raw);
    if (cells.length !== header.length) throw inputError(ref, 'row', `the row has ${cells.length} cells, the header ${header.length}`);
    const cell = (name: string) => cells[column.get(name) as number] as string;
    const num = (name: string): number | undefined => {
      const v = cell(name);
      if (v === '') return undefined;
      if (!NUMBER.test(v)) throw inputError(ref, name, `${JSON.stringify(v)} is not a number`);
      return Number(v);
    };
    const timeCell = cell('time');
    if (timeCell === '') throw inputError(ref, 'time', 'empty');
    const t = parseIsoTime(timeCell);
    if (typeof t === 'string') throw inputError(ref, 'time', `${JSON.stringify(timeCell)} ${t}`);
    utcOffsetMin ??= t.offsetMin;
    const event = cell('event').toLowerCase();
    const amount = num('amount_mg');
    const duration = num('duration_h');
    const conc = num('conc_mg_l');
    if (event === 'dose') {
      if (amount === undefined) throw inputError(ref, 'amount_mg', 'a dose row needs the amount in mg');
      if (duration === undefined) throw inputError(ref, 'duration_h', 'a dose row needs the infusion duration in h (0 for a bolus)');
      if (conc !== undefined) throw inputError(ref, 'conc_mg_l', 'a dose row carries no concentration (put the level on its own row)');
      const d = { value: { timeMs: t.ms, amountMg: amount, durationH: duration }, ref, field: 'amount_mg' };
      checkDose(d, 'amount_mg', 'duration_h');
      doses.push(d);
    } else if (event === 'level') {
      if (conc === undefined) throw inputError(ref, 'conc_mg_l', 'a level row needs the concentration in mg/L');
      if (amount !== undefined || duration !== undefined)
        throw inputError(ref, amount !== undefined ? 'amount_mg' : 'duration_h', 'a level row carries no dose');
      const l = { value: { timeMs: t.ms, concMgL: conc }, ref, field: 'conc_mg_l' };
      checkLevel(l);
      levels.push(l);
    } else {
      throw inputError(ref, 'event', `${JSON.stringify(cell('event'))} is not an event (dose or level)`);
    }
    records++;
  }
  if (records === 0) throw new TwinlabError('INVALID_ARGUMENT', 'line 2, row: the file has a header but no rows', { row: 2, field: 'row' });
  return { ...finish(doses, levels, findings), records, ...(utcOffsetMin === undefined ? {} : { utcOffsetMin }) };
}

type Json = Record<string, unknown>;
function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
/** RxNorm ingredient concept of vancomycin. */
const RXNORM_VANCOMYCIN = '11124';
const SKIPPED_STATUS = new Set(['entered-in-error', 'cancelled', 'not-done']);
const MG_PER = { mg: 1, g: 1000, ug: 0.001 } as Record<string, number>;
const LEVEL_UNITS = new Set(['mg/l', 'ug/ml', 'µg/ml', 'mcg/ml']);

export function parseVancomycinFhir(
  text: string,
  findings: Findings,
): {
  doses: VancoDoseEvent[];
  levels: VancoLevelEvent[];
  records: number;
  utcOffsetMin?: number;
  patientId?: string;
  covariates: VancomycinDataset['covariates'];
} {
  const bundle = readBundle(text);
  const doses: Sourced<VancoDoseEvent>[] = [];
  const levels: Sourced<VancoLevelEvent>[] = [];
  const scr: { timeMs: number; value: number }[] = [];
  let weight: { timeMs: number; kg: number } | undefined;
  let patient: { id?: string; gender?: string; birthDate?: string; where: string } | undefined;
  let utcOffsetMin: number | undefined;
  let records = 0;
  (bundle.entry as unknown[]).forEach((entry, i) => {
    const where = `Bundle.entry[${i}]`;
    const resource = isObject(entry) ? entry.resource : undefined;
    if (!isObject(resource)) {
      findings.add('resource', `${where}: no resource; ignored`);
      return;
    }
    const type = String(resource.resourceType ?? '?');
    const ref: SourceRef = { label: typeof resource.id === 'string' ? `${where} (${type}/${resource.id})` : where, at: { resource: where } };
    const fail = (field: string, message: string) => inputError(ref, field, message);
    if (typeof resource.status === 'string' && SKIPPED_STATUS.has(resource.status)) {
      findings.add('status', `${ref.label}, status: "${resource.status}"; ignored`);
      return;
    }
    const get = (p: string): unknown => p.split('.').reduce<unknown>((v, k) => (isObject(v) ? v[k] : undefined), resource);
    const time = (field: string): { ms: number; offsetMin: number } => {
      const v = get(field);
      if (v === undefined) throw fail(field, 'missing');
      if (typeof v !== 'string') throw fail(field, `${JSON.stringify(v)} is not a date-time string`);
      const t = parseIsoTime(v);
      if (typeof t === 'string') throw fail(field, `${JSON.stringify(v)} ${t}`);
      return t;
    };
    const quantity = (field: string): { value: number; unit: string | undefined } => {
      const q = get(field);
      if (!isObject(q)) throw fail(field, 'missing');
      if (typeof q.value !== 'number' || !Number.isFinite(q.value)) throw fail(`${field}.value`, `${JSON.stringify(q.value ?? null)} is not a number`);
      const unit = typeof q.code === 'string' ? q.code : typeof q.unit === 'string' ? q.unit : undefined;
      return { value: q.value, unit: unit?.trim() };
    };
    if (type === 'Patient') {
      if (patient !== undefined) throw fail('resourceType', `a second Patient (the first is ${patient.where}); a dataset holds one person`);
      patient = { where, ...(typeof resource.id === 'string' ? { id: resource.id } : {}) };
      if (typeof resource.gender === 'string') patient.gender = resource.gender;
      if (typeof resource.birthDate === 'string') {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(resource.birthDate)) throw fail('birthDate', `${JSON.stringify(resource.birthDate)} is not a full date (YYYY-MM-DD)`);
        patient.birthDate = resource.birthDate;
      }
      records++;
      return;
    }
    if (type === 'MedicationAdministration') {
      const concept = resource.medicationCodeableConcept;
      const names = isObject(concept)
        ? [concept.text, ...(Array.isArray(concept.coding) ? concept.coding.map((c) => (isObject(c) ? c.display : undefined)) : [])].filter(
            (s): s is string => typeof s === 'string',
          )
        : [];
      const rxnorm =
        isObject(concept) && Array.isArray(concept.coding) && concept.coding.some((c) => isObject(c) && c.system === RXNORM && c.code === RXNORM_VANCOMYCIN);
      if (!rxnorm && !names.some((s) => /vancomycin/i.test(s))) {
        findings.add('medication', `${ref.label}, medicationCodeableConcept: ${JSON.stringify(names[0] ?? '(no text)')} is not vancomycin; ignored`);
        return;
      }
      const dose = quantity('dosage.dose');
      const factor = MG_PER[(dose.unit ?? 'mg').toLowerCase()];
      if (factor === undefined) throw fail('dosage.dose.code', `unit ${JSON.stringify(dose.unit)} is not a mass (mg, g)`);
      const amountMg = dose.value * factor;
      let start: { ms: number; offsetMin: number };
      let durationH: number;
      if (isObject(resource.effectivePeriod)) {
        start = time('effectivePeriod.start');
        const end = time('effectivePeriod.end');
        durationH = (end.ms - start.ms) / 3_600_000;
      } else {
        start = time('effectiveDateTime');
        if (get('dosage.rateQuantity') === undefined)
          throw fail('effectivePeriod', 'missing: an infusion needs effectivePeriod (start, end) or dosage.rateQuantity in mg/h');
        const rate = quantity('dosage.rateQuantity');
        if (rate.unit !== undefined && rate.unit.toLowerCase() !== 'mg/h')
          throw fail('dosage.rateQuantity.code', `unit ${JSON.stringify(rate.unit)} is not mg/h`);
        if (!(rate.value > 0)) throw fail('dosage.rateQuantity.value', `${rate.value} mg/h is not a positive rate`);
        durationH = amountMg / rate.value;
      }
      utcOffsetMin ??= start.offsetMin;
      const d = { value: { timeMs: start.ms, amountMg, durationH }, ref, field: 'dosage.dose.value' };
      checkDose(d, 'dosage.dose.value', 'effectivePeriod.end');
      doses.push(d);
      records++;
      return;
    }
    if (type === 'Observation') {
      const codings = isObject(resource.code) && Array.isArray(resource.code.coding) ? (resource.code.coding as unknown[]) : undefined;
      if (codings === undefined) throw fail('code.coding', 'missing');
      const loinc = codings.filter((c): c is Json => isObject(c) && c.system === LOINC).map((c) => String(c.code));
      const known = loinc.find((c) => (Object.values(VANCO_LOINC) as string[]).includes(c));
      if (known === undefined) {
        findings.add(
          'code',
          `${ref.label}, code.coding: not a vancomycin level, creatinine or body weight LOINC code (${Object.values(VANCO_LOINC).join(', ')}); ignored`,
        );
        return;
      }
      const t = time(get('effectiveDateTime') !== undefined ? 'effectiveDateTime' : 'effectivePeriod.start');
      const q = quantity('valueQuantity');
      if (known === VANCO_LOINC.creatinine) {
        if (q.unit !== undefined && q.unit.toLowerCase() !== 'mg/dl')
          throw fail('valueQuantity.code', `unit ${JSON.stringify(q.unit)} does not match LOINC 2160-0 (mg/dL)`);
        if (!(q.value >= 0.1 && q.value <= 20)) throw fail('valueQuantity.value', `creatinine ${q.value} mg/dL is outside 0.1–20 mg/dL`);
        scr.push({ timeMs: t.ms, value: q.value });
      } else if (known === VANCO_LOINC.bodyWeight) {
        const f: Record<string, number> = { kg: 1, g: 0.001, '[lb_av]': 0.45359237, lb: 0.45359237 };
        const k = f[q.unit ?? 'kg'];
        if (k === undefined) throw fail('valueQuantity.code', `unit ${JSON.stringify(q.unit)} is not a mass unit (kg, g, [lb_av])`);
        const kg = q.value * k;
        if (!(kg >= 1 && kg <= 400)) throw fail('valueQuantity.value', `body weight ${kg} kg is outside 1–400 kg`);
        if (weight === undefined || t.ms >= weight.timeMs) weight = { timeMs: t.ms, kg };
      } else {
        if (q.unit !== undefined && !LEVEL_UNITS.has(q.unit.toLowerCase()))
          throw fail('valueQuantity.code', `unit ${JSON.stringify(q.unit)} is not mg/L (or ug/mL)`);
        const l = { value: { timeMs: t.ms, concMgL: q.value }, ref, field: 'valueQuantity.value' };
        checkLevel(l);
        levels.push(l);
      }
      records++;
      return;
    }
    findings.add('resource', `${ref.label}: resource type ${type} is not imported; ignored`);
  });
  const { doses: d, levels: l } = finish(doses, levels, findings);
  const covariates: VancomycinDataset['covariates'] = {};
  if (weight !== undefined) covariates.bodyWeightKg = weight.kg;
  if (scr.length > 0) {
    // the latest creatinine at or before the first dose if any (the kidney function the regimen was chosen for), else the first
    const firstDose = (d[0] as VancoDoseEvent).timeMs;
    const sorted = scr.sort((a, b) => a.timeMs - b.timeMs);
    const before = sorted.filter((s) => s.timeMs <= firstDose);
    const chosen = (before.length > 0 ? before[before.length - 1] : sorted[0]) as { value: number };
    covariates.scrMgDl = chosen.value;
    if (sorted.length > 1) {
      const values = sorted.map((s) => s.value);
      findings.add(
        'creatinine',
        `${sorted.length} creatinine values (${Math.min(...values)}–${Math.max(...values)} mg/dL); the twin uses ${chosen.value} mg/dL (constant CrCL)`,
      );
    }
  }
  if (patient?.gender === 'female') covariates.sex = 'F';
  else if (patient?.gender === 'male') covariates.sex = 'M';
  if (patient?.birthDate !== undefined) {
    const [y, m, dd] = patient.birthDate.split('-').map(Number) as [number, number, number];
    const first = new Date((d[0] as VancoDoseEvent).timeMs);
    let age = first.getUTCFullYear() - y;
    if (first.getUTCMonth() + 1 < m || (first.getUTCMonth() + 1 === m && first.getUTCDate() < dd)) age--;
    covariates.ageYears = age;
  }
  return {
    doses: d,
    levels: l,
    records,
    covariates,
    ...(utcOffsetMin === undefined ? {} : { utcOffsetMin }),
    ...(patient?.id === undefined ? {} : { patientId: patient.id }),
  };
}

/** Reads a vancomycin CSV or FHIR R4 Bundle (bytes or a path). */
export function importVancomycin(
  source: Uint8Array | string,
  options: { format?: 'csv' | 'fhir'; patientId?: string; fileName?: string } = {},
): VancomycinDataset {
  let bytes: Uint8Array;
  let fileName = options.fileName;
  if (typeof source === 'string') {
    if (!existsSync(source)) throw new TwinlabError('NOT_FOUND', `data: no file ${source}`, { field: 'data' });
    bytes = readFileSync(source);
    fileName ??= path.basename(source);
  } else bytes = source;
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === '') throw new TwinlabError('INVALID_ARGUMENT', `${fileName ?? 'input'}, file: the file is empty`, { row: 1, field: 'file' });
  const format =
    options.format ??
    (text
      .replace(/^\uFEFF/, '')
      .trimStart()
      .startsWith('{')
      ? 'fhir'
      : 'csv');
  const findings = new Findings();
  const parsed = format === 'csv' ? { ...parseVancomycinCsv(text, findings), covariates: {}, patientId: undefined } : parseVancomycinFhir(text, findings);
  const fileSha256 = createHash('sha256').update(bytes).digest('hex');
  const patientId = options.patientId ?? parsed.patientId ?? `unknown-${fileSha256.slice(0, 8)}`;
  const dataset: VancomycinDataset = {
    kind: 'vancomycin',
    patientId,
    covariates: parsed.covariates,
    doses: parsed.doses,
    levels: parsed.levels,
    warnings: findings.list(),
    provenance: { format, fileSha256, records: parsed.records, ...(fileName === undefined ? {} : { fileName }) },
  };
  if (parsed.utcOffsetMin !== undefined) dataset.utcOffsetMin = parsed.utcOffsetMin;
  return dataset;
}

/** SHA-256 of what a fit can see: patient, file covariates, doses and levels (not provenance or warnings). */
export function vancomycinFingerprint(d: VancomycinDataset): string {
  const c = d.covariates;
  return createHash('sha256')
    .update(
      JSON.stringify({
        kind: d.kind,
        patientId: d.patientId,
        covariates: [c.ageYears ?? null, c.sex ?? null, c.bodyWeightKg ?? null, c.scrMgDl ?? null],
        doses: d.doses.map((x) => [x.timeMs, x.amountMg, x.durationH]),
        levels: d.levels.map((x) => [x.timeMs, x.concMgL]),
      }),
    )
    .digest('hex');
}

/** CSV text of a dataset (the import format); `parseVancomycinCsv` of it gives the same events. */
export function vancomycinToCsv(d: Pick<VancomycinDataset, 'doses' | 'levels' | 'utcOffsetMin'>): string {
  const rows: [number, string][] = [
    ...d.doses.map((x): [number, string] => [x.timeMs, `${formatIsoTime(x.timeMs, d.utcOffsetMin ?? 0)},dose,${x.amountMg},${x.durationH},`]),
    ...d.levels.map((x): [number, string] => [x.timeMs + 0.5, `${formatIsoTime(x.timeMs, d.utcOffsetMin ?? 0)},level,,,${x.concMgL}`]),
  ];
  rows.sort((a, b) => a[0] - b[0]);
  return `${VANCO_CSV_COLUMNS.join(',')}\n${rows.map((r) => r[1]).join('\n')}\n`;
}
