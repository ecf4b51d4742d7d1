import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TwinlabError } from '../../engine/errors.js';

/**
 * Parameters of the UVA/Padova S2008 type-1 virtual patients as distributed by simglucose
 * (jxx123/simglucose v0.2.11, MIT; numbers from the S2008 academic simulator — Dalla Man et al. 2007,
 * IEEE TBME 54(10):1740–9; Kovatchev et al. 2009, JDST 3(1):44–55). The CSVs in ./data/ are
 * byte-for-byte copies; their README gives every column's meaning, unit and provenance.
 */

/** Every numeric column of vpatient_params.csv the twin keeps, by its CSV name (units: data/README.md). */
export const PATIENT_COLUMNS = [
  'BW',
  'EGPb',
  'Gb',
  'Ib',
  'kabs',
  'kmax',
  'kmin',
  'b',
  'd',
  'Vg',
  'Vi',
  'Ipb',
  'Vmx',
  'Km0',
  'k2',
  'k1',
  'p2u',
  'm1',
  'm5',
  'CL',
  'HEb',
  'm2',
  'm4',
  'm30',
  'Ilb',
  'ki',
  'kp2',
  'kp3',
  'f',
  'Gpb',
  'ke1',
  'ke2',
  'Fsnc',
  'Gtb',
  'Vm0',
  'Rdb',
  'PCRb',
  'kd',
  'ksc',
  'ka1',
  'ka2',
  'dosekempt',
  'u2ss',
  'isc1ss',
  'isc2ss',
  'kp1',
] as const;

export type PatientColumn = (typeof PATIENT_COLUMNS)[number];

export type PatientParams = { name: string; x0: Float64Array } & { [K in PatientColumn]: number };

export interface Therapy {
  /** Carbohydrate ratio: grams of CHO covered by 1 U (Quest.csv CR). */
  carbRatio: number;
  /** Correction factor: BG drop per 1 U, mg/dL/U (Quest.csv CF). */
  correctionFactor: number;
  /** Years. */
  age: number;
  /** Total daily insulin, U/day. */
  tdi: number;
}

export const AGE_GROUPS = { adolescent: 'adolescent', adult: 'adult', child: 'child' } as const;
export type AgeGroup = (typeof AGE_GROUPS)[keyof typeof AGE_GROUPS];

export function isAgeGroup(value: unknown): value is AgeGroup {
  return typeof value === 'string' && Object.hasOwn(AGE_GROUPS, value);
}

export interface SensorParams {
  name: string;
  /** Autocorrelation of the latent noise on its 15-min grid. */
  PACF: number;
  /** Johnson SU parameters: ε = xi + lambda·sinh((e − gamma)/delta). */
  gamma: number;
  lambda: number;
  delta: number;
  xi: number;
  /** Minutes between readings. */
  sampleTime: number;
  /** Clip range of the reading, mg/dL. */
  min: number;
  max: number;
}

export interface PumpParams {
  name: string;
  /** Clip range of the bolus rate, U/min as simglucose applies it (the values read like U). */
  minBolus: number;
  maxBolus: number;
  /** Quantisation step; simglucose applies it in pmol/min (×6000), i.e. effectively 8.3e-6 U/min. */
  incBolus: number;
  minBasal: number;
  maxBasal: number;
  incBasal: number;
  sampleTime: number;
}

/**
 * ./data/ next to this module; when running compiled from dist/environments/glucose/ (where tsc
 * copies no CSVs), the source folder environments/glucose/data/. `moduleUrl` is for tests.
 */
export function dataDir(moduleUrl: string = import.meta.url): string {
  const candidates = [new URL('./data/', moduleUrl), new URL('../../../environments/glucose/data/', moduleUrl)];
  for (const url of candidates) {
    const path = fileURLToPath(url);
    if (existsSync(`${path}vpatient_params.csv`)) return path;
  }
  throw new TwinlabError('NOT_FOUND', `glucose parameter data not found; looked in ${candidates.map((u) => fileURLToPath(u)).join(' and ')}`);
}

interface Table {
  header: string[];
  rows: string[][];
}

/** Plain comma-separated values (no quoting in these files); headers whitespace-normalised (`x0_ 1` → `x0_1`). */
function readCsv(file: string): Table {
  const text = readFileSync(`${dataDir()}${file}`, 'utf8');
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  const header = (lines[0] ?? '').split(',').map((h) => h.replace(/\s+/g, ''));
  const rows = lines.slice(1).map((l) => l.split(','));
  return { header, rows };
}

function column(table: Table, name: string, file: string): number {
  const i = table.header.indexOf(name);
  if (i < 0) throw new TwinlabError('INTERNAL', `${file}: column '${name}' is missing`);
  return i;
}

function num(row: string[], i: number, what: string): number {
  const v = Number(row[i]);
  if (row[i] === undefined || row[i]?.trim() === '' || !Number.isFinite(v)) {
    throw new TwinlabError('INTERNAL', `${what}: '${row[i]}' is not a number`);
  }
  return v;
}

let patientCache: Map<string, PatientParams> | undefined;
let therapyCache: Map<string, Therapy> | undefined;

function patients(): Map<string, PatientParams> {
  if (patientCache !== undefined) return patientCache;
  const file = 'vpatient_params.csv';
  const t = readCsv(file);
  const nameCol = column(t, 'Name', file);
  const cols = PATIENT_COLUMNS.map((c) => column(t, c, file));
  const x0Cols = Array.from({ length: 13 }, (_, k) => column(t, `x0_${k + 1}`, file));
  const map = new Map<string, PatientParams>();
  for (const row of t.rows) {
    const name = row[nameCol] as string;
    const p = { name, x0: new Float64Array(x0Cols.map((c) => num(row, c, `${file} ${name} x0`))) } as PatientParams;
    PATIENT_COLUMNS.forEach((c, k) => {
      p[c] = num(row, cols[k] as number, `${file} ${name} ${c}`);
    });
    map.set(name, p);
  }
  patientCache = map;
  return map;
}

function therapies(): Map<string, Therapy> {
  if (therapyCache !== undefined) return therapyCache;
  const file = 'Quest.csv';
  const t = readCsv(file);
  const [n, cr, cf, age, tdi] = ['Name', 'CR', 'CF', 'Age', 'TDI'].map((c) => column(t, c, file)) as [number, number, number, number, number];
  const map = new Map<string, Therapy>();
  for (const row of t.rows) {
    const name = row[n] as string;
    map.set(name, {
      carbRatio: num(row, cr, `${file} ${name} CR`),
      correctionFactor: num(row, cf, `${file} ${name} CF`),
      age: num(row, age, `${file} ${name} Age`),
      tdi: num(row, tdi, `${file} ${name} TDI`),
    });
  }
  therapyCache = map;
  return map;
}

/** The 30 names of the distributed patients (optionally one age group), in CSV order. */
export function patientNames(group?: AgeGroup): string[] {
  if (group !== undefined && !isAgeGroup(group)) {
    throw new TwinlabError('INVALID_ARGUMENT', `age group must be one of ${Object.keys(AGE_GROUPS).join(', ')}, got '${group}'`);
  }
  const names = [...patients().keys()];
  return group === undefined ? names : names.filter((n) => n.startsWith(`${group}#`));
}

function copyParams(p: PatientParams): PatientParams {
  return { ...p, x0: Float64Array.from(p.x0) };
}

/** The error for a name that is neither a distributed nor a generated patient. */
export function unknownPatient(name: string): TwinlabError {
  return new TwinlabError(
    'NOT_FOUND',
    `unknown glucose patient '${name}'; expected one of ${patientNames().join(', ')} or a generated name like 'adult~s42#007' (group~s<seed>#<index>)`,
    { name },
  );
}

/** Parameters of one of the 30 distributed patients (a fresh copy the caller may modify); generated names: patients.ts. */
export function distributedPatient(name: string): PatientParams | undefined {
  const p = patients().get(name);
  return p === undefined ? undefined : copyParams(p);
}

/** Therapy settings (Quest.csv) of one of the 30 distributed patients (a copy). */
export function distributedTherapy(name: string): Therapy | undefined {
  const t = therapies().get(name);
  return t === undefined ? undefined : { ...t };
}

/** Basal insulin that holds the patient at its steady state, U/min: u2ss [pmol/kg/min] · BW / 6000 [pmol/U]. */
export function basalRate(p: PatientParams): number {
  return (p.u2ss * p.BW) / 6000;
}

function loadSensors(): Readonly<Record<string, SensorParams>> {
  const file = 'sensor_params.csv';
  const t = readCsv(file);
  const c = (n: string) => column(t, n, file);
  const out: Record<string, SensorParams> = {};
  for (const row of t.rows) {
    const name = row[c('Name')] as string;
    const f = (n: string) => num(row, c(n), `${file} ${name} ${n}`);
    out[name] = Object.freeze({
      name,
      PACF: f('PACF'),
      gamma: f('gamma'),
      lambda: f('lambda'),
      delta: f('delta'),
      xi: f('xi'),
      sampleTime: f('sample_time'),
      min: f('min'),
      max: f('max'),
    });
  }
  return Object.freeze(out);
}

function loadPumps(): Readonly<Record<string, PumpParams>> {
  const file = 'pump_params.csv';
  const t = readCsv(file);
  const c = (n: string) => column(t, n, file);
  const out: Record<string, PumpParams> = {};
  for (const row of t.rows) {
    const name = row[c('Name')] as string;
    const f = (n: string) => num(row, c(n), `${file} ${name} ${n}`);
    out[name] = Object.freeze({
      name,
      minBolus: f('min_bolus'),
      maxBolus: f('max_bolus'),
      incBolus: f('inc_bolus'),
      minBasal: f('min_basal'),
      maxBasal: f('max_basal'),
      incBasal: f('inc_basal'),
      sampleTime: f('sample_time'),
    });
  }
  return Object.freeze(out);
}

/** CGM models of sensor_params.csv by name (Dexcom, GuardianRT, Navigator). */
export const SENSORS: Readonly<Record<string, SensorParams>> = loadSensors();
/** Insulin pumps of pump_params.csv by name (Cozmo, Insulet). */
export const PUMPS: Readonly<Record<string, PumpParams>> = loadPumps();
