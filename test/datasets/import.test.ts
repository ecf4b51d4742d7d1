import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetFingerprint } from '../../datasets/codec.js';
import { datasetToCsv } from '../../datasets/csv.js';
import { datasetToFhirBundle } from '../../datasets/fhir.js';
import { MGDL_PER_MMOLL } from '../../datasets/grid.js';
import { importDataset } from '../../datasets/import.js';
import { datasetToNightscout } from '../../datasets/nightscout.js';
import type { GlucoseDataset } from '../../datasets/types.js';
import { TwinlabError } from '../../engine/errors.js';
import { countDatasets, importDatasetIntoStore, loadDataset, saveDataset } from '../../experiments/dataset-store.js';
import { Store } from '../../experiments/store.js';
import { csvOf, syntheticDataset, tempDir } from './helpers.js';

const HEADER = 'time,cgm_mg_dl,basal_u_per_h,bolus_u,carbs_g';

function expectSameData(got: GlucoseDataset, want: GlucoseDataset): void {
  expect(got.startMs).toBe(want.startMs);
  expect(got.stepMin).toBe(5);
  expect(got.cgm.length).toBe(want.cgm.length);
  // Object.is per element: NaN where NaN, and bit-exact numbers
  for (const name of ['cgm', 'basalUPerH', 'bolusU', 'carbsG'] as const) {
    const mismatch = Array.from(want[name]).findIndex((v, k) => !Object.is(v, got[name][k]));
    expect(mismatch, `${name}[${mismatch}]: ${got[name][mismatch]} vs ${want[name][mismatch]}`).toBe(-1);
  }
}

const d = syntheticDataset(3);
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

describe('round trips: dataset → file → import gives identical arrays', () => {
  it('CSV (format inferred from the .csv name), with the clock offset kept', () => {
    const file = join(tmp.dir, 'p7.csv');
    writeFileSync(file, datasetToCsv(d));
    const got = importDataset(file, { patientId: d.patientId, bodyWeightKg: 72.5 });
    expectSameData(got, d);
    expect(got.utcOffsetMin).toBe(60);
    expect(got.provenance).toMatchObject({ format: 'csv', fileName: 'p7.csv', deidentified: false, records: d.cgm.length });
    expect(got.provenance?.fileSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(datasetFingerprint(got)).toBe(datasetFingerprint(d));
    expect(datasetToCsv(got)).toBe(datasetToCsv(d));
  });

  it('FHIR R4 Bundle (patient and body weight from the Bundle, format inferred from content)', () => {
    const bundle = datasetToFhirBundle(d);
    const got = importDataset(Buffer.from(JSON.stringify(bundle)));
    expectSameData(got, d);
    expect(got.patientId).toBe('patient-007');
    expect(got.bodyWeightKg).toBe(72.5);
    expect(got.utcOffsetMin).toBe(60);
    expect(got.provenance?.format).toBe('fhir');
    expect(got.warnings.filter((w) => !w.startsWith('cgm: no reading'))).toEqual([]);
    const codes = new Set(bundle.entry?.flatMap((e) => (e.resource?.resourceType === 'Observation' ? (e.resource.code.coding ?? []).map((c) => c.code) : [])));
    expect([...codes].sort()).toEqual(['29463-7', '9059-7', '99504-3']);
  });

  it('Nightscout: a directory with entries.json + treatments.json, and entries.json with a treatments file', () => {
    const { entries, treatments } = datasetToNightscout(d);
    expect(entries[0]?.date).toBeGreaterThan(entries[1]?.date as number); // newest first, as the API returns them
    const dir = join(tmp.dir, 'ns');
    mkdirSync(dir);
    writeFileSync(join(dir, 'entries.json'), JSON.stringify(entries));
    writeFileSync(join(dir, 'treatments.json'), JSON.stringify(treatments));
    const got = importDataset(dir, { patientId: d.patientId });
    expectSameData(got, d);
    expect(got.provenance?.format).toBe('nightscout');
    expect(got.utcOffsetMin).toBe(60); // from the entries' dateString
    expect(got.provenance?.sources).toHaveLength(2);
    expect(got.warnings.some((w) => w.includes('--basal'))).toBe(true);
    const two = importDataset(join(dir, 'entries.json'), { treatments: join(dir, 'treatments.json'), patientId: d.patientId, basalUPerH: 0.8 });
    expectSameData(two, d);
    expect(two.warnings.some((w) => w.includes('--basal'))).toBe(false);
  });

  it('store: saved in one row, loaded back identical; the same data again writes nothing', () => {
    const store = Store.open(join(tmp.dir, 'store-rt'));
    try {
      const imported = importDataset(Buffer.from(datasetToCsv(d)), { format: 'csv', patientId: d.patientId, bodyWeightKg: 72.5, fileName: 'x.csv' });
      const first = saveDataset(store, imported);
      expect(first.created).toBe(true);
      expect(first.id).toMatch(/^ds-[0-9a-f]{16}$/);
      const loaded = loadDataset(store, first.id);
      expectSameData(loaded, d);
      expect(loaded).toMatchObject({
        patientId: d.patientId,
        bodyWeightKg: 72.5,
        utcOffsetMin: 60,
        provenance: imported.provenance,
        warnings: imported.warnings,
      });
      const again = saveDataset(store, importDataset(Buffer.from(datasetToCsv(d)), { format: 'csv', patientId: d.patientId, bodyWeightKg: 72.5 }));
      expect(again).toMatchObject({ id: first.id, created: false });
      expect(countDatasets(store)).toBe(1);
      expect(() => loadDataset(store, 'ds-nope')).toThrow(/no dataset "ds-nope"/);
    } finally {
      store.close();
    }
  });
});

describe('units', () => {
  it('an mmol/L file gives the mg/dL file’s dataset within rounding (×18.0182)', () => {
    const mg = datasetToCsv(d);
    const mmol = mg
      .split('\n')
      .map((line, i) => {
        if (i === 0) return line.replace('cgm_mg_dl', 'cgm_mmol_l');
        const cells = line.split(',');
        if (cells.length > 1 && cells[1] !== '') cells[1] = (Number(cells[1]) / MGDL_PER_MMOLL).toFixed(2);
        return cells.join(',');
      })
      .join('\n');
    const a = importDataset(Buffer.from(mg), { format: 'csv', patientId: 'p' });
    const b = importDataset(Buffer.from(mmol), { format: 'csv', patientId: 'p' });
    expect(b.cgm.length).toBe(a.cgm.length);
    let worst = 0;
    for (let k = 0; k < a.cgm.length; k++) {
      expect(Number.isNaN(b.cgm[k] as number)).toBe(Number.isNaN(a.cgm[k] as number));
      if (!Number.isNaN(a.cgm[k] as number)) worst = Math.max(worst, Math.abs((a.cgm[k] as number) - (b.cgm[k] as number)));
    }
    expect(worst).toBeLessThanOrEqual(0.005 * MGDL_PER_MMOLL + 1e-9); // half a unit of the 2nd decimal
    expect(worst).toBeGreaterThan(0);
    expect(Array.from(b.basalUPerH)).toEqual(Array.from(a.basalUPerH));
    expect(importDataset(csvOf(['time,cgm_mmol_l,basal_u_per_h,bolus_u,carbs_g', '2024-03-01T08:00:00Z,5.5,1,,']), { patientId: 'p' }).cgm[0]).toBeCloseTo(
      5.5 * 18.0182,
      10,
    );
  });
});

describe('irregular timestamps go onto the 5-minute grid by the documented rule', () => {
  const t = (hhmmss: string) => `2024-03-01T${hhmmss}Z`;
  const got = importDataset(
    csvOf([
      HEADER,
      `${t('08:01:00')},100,1,,`, // nearest slot start 08:00
      `${t('08:03:30')},110,,,`, // 3.5 min after 08:00 → slot 08:05
      `${t('08:06:00')},111,,,`, // also slot 08:05, 1 min from its start (nearer than 08:03:30's 1.5) → kept
      `${t('08:07:30')},120,,,`, // exactly 2.5 min → the later slot, 08:10
      `${t('08:02:30')},,2,,`, // basal 2 U/h from 08:02:30: slot 08:00 gets (0·1 + 1·1.5 + 2·2.5)/5 = 1.3 (no rate known before 08:01)
      `${t('08:04:59')},,,1.5,10`, // contained in slot 08:00
      `${t('08:00:10')},,,0.5,`, // also in 08:00: summed
      `${t('08:21:00')},130,,,`, // slot 08:20 (nearest); 08:15 has no reading
    ]),
    { patientId: 'p' },
  );
  it('grid starts at the earliest slot a record lands in, aligned to 5 min UTC', () => {
    expect(got.startMs).toBe(Date.UTC(2024, 2, 1, 8, 0));
    expect(got.cgm.length).toBe(5);
  });
  it('CGM: nearest slot start; two in a slot keep the nearer one and warn naming both lines', () => {
    expect(Array.from(got.cgm)).toEqual([100, 111, 120, Number.NaN, 130]);
    expect(got.warnings.find((w) => w.includes('line 3') && w.includes('line 4'))).toMatch(/kept line 4/);
  });
  it('boluses and carbs: the slot that contains them, summed; basal: time-weighted step function carried forward', () => {
    expect(Array.from(got.bolusU)).toEqual([2, 0, 0, 0, 0]);
    expect(Array.from(got.carbsG)).toEqual([10, 0, 0, 0, 0]);
    expect(Array.from(got.basalUPerH)).toEqual([1.3, 2, 2, 2, 2]);
    expect(got.warnings).toContain('basal: no rate is known from 2024-03-01 08:00Z to 2024-03-01 08:05Z (5 min); 0 U/h assumed');
  });
  it('rows out of order are sorted and warned about, naming the lines', () => {
    expect(got.warnings.some((w) => /line 6, time: earlier than line 5/.test(w))).toBe(true);
  });
});

describe('warnings name the row or resource', () => {
  it('CGM gaps (with their span), mixed offsets, identical duplicate rows, unknown columns', () => {
    const got = importDataset(Buffer.from(datasetToCsv(d)), { format: 'csv', patientId: 'p' });
    expect(got.warnings.some((w) => /cgm: no reading for 45 min, from 2024-03-02 06:00Z to 2024-03-02 06:45Z/.test(w))).toBe(true);
    const mixed = importDataset(
      csvOf([
        `${HEADER},note`,
        '2024-03-01T08:00:00+01:00,100,1,,,a',
        '2024-03-01T08:05:00+01:00,101,,,,',
        '2024-03-01T07:10:00Z,102,,,,',
        '2024-03-01T07:10:00Z,102,,,,',
      ]),
      { patientId: 'p' },
    );
    expect(Array.from(mixed.cgm)).toEqual([100, 101, 102]);
    expect(mixed.warnings).toEqual(
      expect.arrayContaining([
        'line 1, note: unknown column ignored',
        expect.stringMatching(/^line 4, time: offset Z differs from \+01:00 \(line 2\)/),
        expect.stringMatching(/^line 5, time: repeats line 4/),
      ]),
    );
  });

  it('FHIR: unknown resources, unknown LOINC codes and non-insulin medications are skipped with a warning naming Bundle.entry[i]', () => {
    const bundle = datasetToFhirBundle(syntheticDataset(4, 1));
    bundle.entry?.push(
      { resource: { resourceType: 'Device', id: 'cgm-1' } },
      {
        resource: {
          resourceType: 'Observation',
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
          effectiveDateTime: '2024-03-01T08:00:00Z',
          valueQuantity: { value: 70 },
        },
      },
      {
        resource: {
          resourceType: 'MedicationAdministration',
          status: 'completed',
          medicationCodeableConcept: { text: 'metformin' },
          subject: { reference: 'Patient/patient-007' },
          effectiveDateTime: '2024-03-01T08:00:00Z',
          dosage: { dose: { value: 500, unit: 'mg' } },
        },
      },
    );
    const n = bundle.entry?.length as number;
    const got = importDataset(Buffer.from(JSON.stringify(bundle)));
    expect(got.warnings).toEqual(
      expect.arrayContaining([
        `Bundle.entry[${n - 3}] (Device/cgm-1): resource type Device is not imported; ignored`,
        expect.stringMatching(new RegExp(`^Bundle.entry\\[${n - 2}\\], code.coding: http://loinc.org\\|8867-4 is not a known LOINC code`)),
        expect.stringMatching(new RegExp(`^Bundle.entry\\[${n - 1}\\], medicationCodeableConcept: "metformin" is not insulin`)),
      ]),
    );
    expectSameData(got, syntheticDataset(4, 1));
  });
});

interface BadCase {
  name: string;
  input: () => Uint8Array | string;
  options?: Parameters<typeof importDataset>[1];
  at: { row: number } | { resource: string };
  field: string;
  message?: RegExp;
}

const bundleWith = (...resources: unknown[]) =>
  Buffer.from(JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) }));
const cgmObs = (value: unknown, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '99504-3' }] },
  effectiveDateTime: '2024-03-01T08:00:00Z',
  valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  ...extra,
});
const ns = (entries: unknown[], treatments?: unknown[]) => {
  const dir = join(
    tmp.dir,
    `ns-bad-${Math.abs(
      JSON.stringify([entries, treatments])
        .split('')
        .reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7),
    )}`,
  );
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'entries.json'), JSON.stringify(entries));
  if (treatments) writeFileSync(join(dir, 'treatments.json'), JSON.stringify(treatments));
  return dir;
};
const sgv = (value: unknown, minute = 0) => ({ type: 'sgv', sgv: value, date: Date.UTC(2024, 2, 1, 8, minute), dateString: '2024-03-01T08:00:00.000Z' });

const BAD: BadCase[] = [
  { name: 'empty file', input: () => Buffer.from(''), options: { format: 'csv' }, at: { row: 1 }, field: 'file', message: /empty/ },
  { name: 'header only', input: () => csvOf([HEADER]), at: { row: 2 }, field: 'time', message: /no data rows/ },
  {
    name: 'missing column',
    input: () => csvOf(['time,cgm_mg_dl,basal_u_per_h,carbs_g', '2024-03-01T08:00:00Z,100,1,']),
    at: { row: 1 },
    field: 'bolus_u',
    message: /missing column/,
  },
  {
    name: 'time without zone',
    input: () => csvOf([HEADER, '2024-03-01T08:00:00Z,100,1,,', '2024-03-01T08:05:00,101,,,']),
    at: { row: 3 },
    field: 'time',
    message: /no time zone/,
  },
  {
    name: 'non-numeric cell',
    input: () => csvOf([HEADER, '2024-03-01T08:00:00Z,100,1,,', '2024-03-01T08:05:00Z,1O1,,,']),
    at: { row: 3 },
    field: 'cgm_mg_dl',
    message: /"1O1" is not a number/,
  },
  { name: 'missing cell', input: () => csvOf([HEADER, '2024-03-01T08:00:00Z,100,1']), at: { row: 2 }, field: 'bolus_u', message: /missing cell/ },
  {
    name: 'CGM above 600 mg/dL',
    input: () => csvOf([HEADER, '2024-03-01T08:00:00Z,100,1,,', '2024-03-01T08:05:00Z,650,,,']),
    at: { row: 3 },
    field: 'cgm_mg_dl',
    message: /650 mg\/dL is outside/,
  },
  {
    name: 'mg/dL column holding mmol/L',
    input: () => csvOf([HEADER, '2024-03-01T08:00:00Z,5.4,1,,', '2024-03-01T08:05:00Z,6.1,,,']),
    at: { row: 3 },
    field: 'cgm_mg_dl',
    message: /look like mmol\/L/,
  },
  {
    name: 'mmol/L column holding mg/dL',
    input: () => csvOf(['time,cgm_mmol_l,basal_u_per_h,bolus_u,carbs_g', '2024-03-01T08:00:00Z,5.4,1,,', '2024-03-01T08:05:00Z,120,,,']),
    at: { row: 3 },
    field: 'cgm_mmol_l',
    message: /look like mg\/dL/,
  },
  { name: 'negative bolus', input: () => csvOf([HEADER, '2024-03-01T08:00:00Z,100,1,-2,']), at: { row: 2 }, field: 'bolus_u', message: /negative/ },
  {
    name: 'basal above 30 U/h',
    input: () => csvOf([HEADER, '2024-03-01T08:00:00Z,100,35,,']),
    at: { row: 2 },
    field: 'basal_u_per_h',
    message: /above the limit of 30/,
  },
  {
    name: 'bolus above 50 U',
    input: () => csvOf([HEADER, '2024-03-01T08:00:00Z,100,1,60,']),
    at: { row: 2 },
    field: 'bolus_u',
    message: /above the limit of 50/,
  },
  {
    name: 'carbs above 500 g in one slot',
    input: () => csvOf([HEADER, '2024-03-01T08:00:00Z,100,1,,300', '2024-03-01T08:02:00Z,,,,250']),
    at: { row: 3 },
    field: 'carbs_g',
    message: /add up to 550 g \(with line 2\)/,
  },
  {
    name: 'duplicate time, different values',
    input: () => csvOf([HEADER, '2024-03-01T08:00:00Z,100,1,,', '2024-03-01T08:00:00Z,104,1,,']),
    at: { row: 3 },
    field: 'cgm_mg_dl',
    message: /same time as line 2/,
  },
  {
    name: 'span of decades (a bad timestamp)',
    input: () => csvOf([HEADER, '2024-03-01T08:00:00Z,100,1,,', '1970-01-01T00:00:00Z,100,,,']),
    at: { row: 2 },
    field: 'time',
    message: /more than 400/,
  },
  {
    name: 'FHIR: not a Bundle',
    input: () => Buffer.from(JSON.stringify({ resourceType: 'Patient', id: 'x' })),
    options: { format: 'fhir' },
    at: { resource: 'Bundle' },
    field: 'resourceType',
  },
  { name: 'FHIR: not JSON', input: () => Buffer.from('{ "resourceType": "Bundle", '), options: { format: 'fhir' }, at: { resource: 'Bundle' }, field: 'json' },
  {
    name: 'FHIR: non-numeric CGM value',
    input: () => bundleWith({ resourceType: 'Patient', id: 'p' }, cgmObs('abc')),
    at: { resource: 'Bundle.entry[1]' },
    field: 'valueQuantity.value',
    message: /"abc" is not a number/,
  },
  {
    name: 'FHIR: unit contradicts the LOINC code',
    input: () => bundleWith(cgmObs(100, { valueQuantity: { value: 5.5, code: 'mmol/L' } })),
    at: { resource: 'Bundle.entry[0]' },
    field: 'valueQuantity.code',
  },
  {
    name: 'FHIR: CGM reading without a time',
    input: () => bundleWith(cgmObs(100, { effectiveDateTime: undefined })),
    at: { resource: 'Bundle.entry[0]' },
    field: 'effectiveDateTime',
    message: /missing/,
  },
  {
    name: 'FHIR: time without zone',
    input: () => bundleWith(cgmObs(100, { effectiveDateTime: '2024-03-01T08:00:00' })),
    at: { resource: 'Bundle.entry[0]' },
    field: 'effectiveDateTime',
    message: /no time zone/,
  },
  {
    name: 'FHIR: bolus in mg',
    input: () =>
      bundleWith(cgmObs(100), {
        resourceType: 'MedicationAdministration',
        status: 'completed',
        medicationCodeableConcept: { text: 'insulin lispro' },
        effectiveDateTime: '2024-03-01T08:00:00Z',
        dosage: { dose: { value: 4, code: 'mg' } },
      }),
    at: { resource: 'Bundle.entry[1]' },
    field: 'dosage.dose.code',
  },
  {
    name: 'FHIR: two patients',
    input: () => bundleWith({ resourceType: 'Patient', id: 'a' }, cgmObs(100), { resourceType: 'Patient', id: 'b' }),
    at: { resource: 'Bundle.entry[2]' },
    field: 'resourceType',
    message: /one person/,
  },
  {
    name: 'Nightscout: non-numeric sgv',
    input: () => ns([sgv(120, 5), sgv('HIGH')]),
    at: { resource: 'entries.json[1]' },
    field: 'sgv',
    message: /"HIGH" is not a number/,
  },
  {
    name: 'Nightscout: temp basal without duration',
    input: () => ns([sgv(120)], [{ eventType: 'Temp Basal', created_at: '2024-03-01T08:00:00Z', absolute: 1 }]),
    at: { resource: 'treatments.json[0]' },
    field: 'duration',
  },
  {
    name: 'Nightscout: sgv in mmol/L',
    input: () => ns([sgv(6.2), sgv(7.1, 5)]),
    at: { resource: 'entries.json[1]' },
    field: 'sgv',
    message: /look like mmol\/L/,
  },
];

describe('malformed inputs: rejected naming the row or resource and the field, nothing stored', () => {
  let store: Store;
  beforeAll(() => {
    store = Store.open(join(tmp.dir, 'store-bad'));
    importDatasetIntoStore(store, Buffer.from(datasetToCsv(syntheticDataset(9, 1))), { format: 'csv', patientId: 'ok' });
  });
  afterAll(() => store.close());

  it(`has at least 15 cases (${BAD.length})`, () => {
    expect(BAD.length).toBeGreaterThanOrEqual(15);
  });

  it.each(BAD)('$name', (c) => {
    const before = countDatasets(store);
    let error: unknown;
    try {
      importDatasetIntoStore(store, c.input(), { patientId: 'p', ...c.options });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TwinlabError);
    const e = error as TwinlabError;
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.details).toMatchObject({ ...c.at, field: c.field });
    const where = 'row' in c.at ? `line ${c.at.row}` : c.at.resource;
    if (c.field !== 'file') expect(e.message).toContain(where);
    expect(e.message).toContain(c.field);
    if (c.message) expect(e.message).toMatch(c.message);
    expect(countDatasets(store)).toBe(before);
  });
});

describe('--deidentify', () => {
  it('replaces the patient id, shifts every date by one whole number of days, keeps neither, keeps the arrays', () => {
    const dir = tempDir();
    const store = Store.open(dir.dir);
    try {
      const file = join(tmp.dir, 'alice-smith.csv');
      writeFileSync(file, datasetToCsv(d));
      const a = importDatasetIntoStore(store, file, { patientId: 'alice-smith', deidentify: true }).dataset;
      const b = importDataset(file, { patientId: 'alice-smith', deidentify: true });
      for (const x of [a, b]) {
        expect(x.patientId).toMatch(/^anon-[0-9a-f]{12}$/);
        const shift = x.startMs - d.startMs;
        expect(Number.isInteger(shift / 86_400_000)).toBe(true);
        expect(shift).toBeLessThan(0);
        expect(x.provenance).toMatchObject({ deidentified: true });
        expect(x.provenance?.fileName).toBeUndefined();
        expect(x.utcOffsetMin).toBe(60); // time of day preserved, local and UTC
        expectSameData({ ...x, startMs: d.startMs }, d);
      }
      expect(a.patientId).not.toBe(b.patientId);
      expect(a.warnings.some((w) => w.includes('no reading for 45 min'))).toBe(true);
      store.checkpoint();
      const db = new Database(store.path, { readonly: true });
      const text = JSON.stringify(db.prepare('SELECT id, patient_id, provenance, summary, warnings, start_ms FROM datasets').all());
      db.close();
      expect(text).not.toContain('alice');
      expect(text).not.toContain('2024-03-0');
      expect(text).not.toContain(String(d.startMs));
    } finally {
      store.close();
      dir.cleanup();
    }
  });
});
