import { describe, expect, it } from 'vitest';
import { importVancomycin, vancomycinFingerprint, vancomycinToCsv } from '../../datasets/vancomycin.js';
import { TwinlabError } from '../../engine/errors.js';
import { cockcroftGault } from '../../environments/pkpd/vancomycin-model.js';
import { makeCovariates } from '../../twinning/vancomycin/parameters.js';

const HEADER = 'time,event,amount_mg,duration_h,conc_mg_l';
const GOOD = [
  HEADER,
  '2026-01-01T08:00:00+01:00,dose,1500,1.5,',
  '2026-01-01T20:00:00+01:00,dose,1000,1,',
  '2026-01-02T07:30:00+01:00,level,,,12.4',
  '2026-01-02T08:00:00+01:00,dose,1000,1,',
  '2026-01-02T10:00:00+01:00,level,,,31',
].join('\n');

const csv = (text: string) => importVancomycin(new TextEncoder().encode(text), { format: 'csv', fileName: 'v.csv' });

function thrown(fn: () => unknown): TwinlabError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TwinlabError);
    return error as TwinlabError;
  }
  throw new Error('expected an error');
}

describe('vancomycin CSV import', () => {
  it('reads doses and levels in UTC, sorted, with hours and amounts', () => {
    const d = csv(GOOD);
    expect(d.kind).toBe('vancomycin');
    expect(d.doses).toEqual([
      { timeMs: Date.UTC(2026, 0, 1, 7), amountMg: 1500, durationH: 1.5 },
      { timeMs: Date.UTC(2026, 0, 1, 19), amountMg: 1000, durationH: 1 },
      { timeMs: Date.UTC(2026, 0, 2, 7), amountMg: 1000, durationH: 1 },
    ]);
    expect(d.levels).toEqual([
      { timeMs: Date.UTC(2026, 0, 2, 6, 30), concMgL: 12.4 },
      { timeMs: Date.UTC(2026, 0, 2, 9), concMgL: 31 },
    ]);
    expect(d.utcOffsetMin).toBe(60);
    expect(d.warnings).toEqual([]);
  });

  it('round-trips through vancomycinToCsv, and sorts out-of-order rows with a warning', () => {
    const d = csv(GOOD);
    const again = csv(vancomycinToCsv(d));
    expect(again.doses).toEqual(d.doses);
    expect(again.levels).toEqual(d.levels);
    expect(vancomycinFingerprint({ ...again, patientId: d.patientId })).toBe(vancomycinFingerprint(d));
    const lines = GOOD.split('\n');
    const shuffled = csv([lines[0], lines[4], lines[1], lines[3], lines[2], lines[5]].join('\n'));
    expect(shuffled.doses).toEqual(d.doses);
    expect(shuffled.levels).toEqual(d.levels);
    expect(shuffled.warnings.join(' ')).toMatch(/not in time order; sorted/);
  });

  // Each malformed input must be refused naming the row (1-based, header = 1) and the field.
  const bad: Array<[string, string, number | undefined, string, RegExp]> = [
    ['negative dose', '2026-01-01T08:00:00Z,dose,-500,1,', 2, 'amount_mg', /negative/],
    ['zero dose', '2026-01-01T08:00:00Z,dose,0,1,', 2, 'amount_mg', /not a positive dose/],
    ['huge dose', '2026-01-01T08:00:00Z,dose,25000,1,', 2, 'amount_mg', /above the limit/],
    ['duration above 24 h', '2026-01-01T08:00:00Z,dose,1000,30,', 2, 'duration_h', /outside 0–24 h/],
    ['negative duration', '2026-01-01T08:00:00Z,dose,1000,-1,', 2, 'duration_h', /outside 0–24 h/],
    ['dose without duration', '2026-01-01T08:00:00Z,dose,1000,,', 2, 'duration_h', /needs the infusion duration/],
    ['unknown event', '2026-01-01T08:00:00Z,bolus,1000,1,', 2, 'event', /not an event/],
    ['time without zone', '2026-01-01T08:00:00,dose,1000,1,', 2, 'time', /no time zone/],
    ['not a number', '2026-01-01T08:00:00Z,dose,1g,1,', 2, 'amount_mg', /not a number/],
    ['level above 200 mg/L', '2026-01-01T08:00:00Z,dose,1000,1,\n2026-01-01T10:00:00Z,level,,,250', 3, 'conc_mg_l', /outside 0–200/],
    ['negative level', '2026-01-01T08:00:00Z,dose,1000,1,\n2026-01-01T10:00:00Z,level,,,-2', 3, 'conc_mg_l', /outside 0–200/],
    ['level before any dose', '2026-01-01T06:00:00Z,level,,,5\n2026-01-01T08:00:00Z,dose,1000,1,', 2, 'time', /not after the first dose/],
    ['duplicate dose times', '2026-01-01T08:00:00Z,dose,1000,1,\n2026-01-01T09:00:00+01:00,dose,1000,1,', 3, 'time', /a second dose .* duplicate/],
    [
      'two levels at one time, different values',
      '2026-01-01T08:00:00Z,dose,1000,1,\n2026-01-01T12:00:00Z,level,,,10\n2026-01-01T12:00:00Z,level,,,11',
      4,
      'time',
      /a second level .* another value/,
    ],
    ['level row with a dose', '2026-01-01T08:00:00Z,dose,1000,1,\n2026-01-01T12:00:00Z,level,500,,10', 3, 'amount_mg', /carries no dose/],
    ['dose row with a level', '2026-01-01T08:00:00Z,dose,1000,1,12', 2, 'conc_mg_l', /carries no concentration/],
    ['missing cell', '2026-01-01T08:00:00Z,dose,1000,1', 2, 'row', /4 cells, the header 5/],
  ];
  it.each(bad)('refuses %s, naming row and field', (_name, rows, row, field, message) => {
    const e = thrown(() => csv(`${HEADER}\n${rows}`));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.details).toMatchObject({ row, field });
    expect(e.message).toMatch(new RegExp(`^line ${row}, ${field}: `));
    expect(e.message).toMatch(message);
  });

  it('refuses a missing column, an empty file and a file with no dose', () => {
    expect(thrown(() => csv('time,event,amount_mg,duration_h\n2026-01-01T08:00:00Z,dose,1000,1')).details).toMatchObject({ row: 1, field: 'conc_mg_l' });
    expect(thrown(() => csv('   \n')).message).toMatch(/empty/);
    expect(thrown(() => csv(`${HEADER}\n`)).message).toMatch(/no rows/);
  });
});

const bundle = (entries: unknown[]) =>
  new TextEncoder().encode(JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: entries.map((resource) => ({ resource })) }));
const loinc = (code: string) => ({ coding: [{ system: 'http://loinc.org', code }] });
const vanco = { text: 'Vancomycin 1 g IV' };

describe('vancomycin FHIR R4 import', () => {
  const entries = [
    { resourceType: 'Patient', id: 'p7', gender: 'female', birthDate: '1961-06-15' },
    {
      resourceType: 'Observation',
      status: 'final',
      code: loinc('29463-7'),
      effectiveDateTime: '2026-01-01T07:00:00Z',
      valueQuantity: { value: 72, code: 'kg' },
    },
    {
      resourceType: 'Observation',
      status: 'final',
      code: loinc('2160-0'),
      effectiveDateTime: '2026-01-01T06:00:00Z',
      valueQuantity: { value: 0.9, code: 'mg/dL' },
    },
    {
      resourceType: 'Observation',
      status: 'final',
      code: loinc('2160-0'),
      effectiveDateTime: '2026-01-03T06:00:00Z',
      valueQuantity: { value: 1.4, code: 'mg/dL' },
    },
    {
      resourceType: 'MedicationAdministration',
      status: 'completed',
      medicationCodeableConcept: vanco,
      effectivePeriod: { start: '2026-01-01T08:00:00Z', end: '2026-01-01T09:30:00Z' },
      dosage: { dose: { value: 1.5, code: 'g' } },
    },
    {
      resourceType: 'MedicationAdministration',
      status: 'completed',
      medicationCodeableConcept: vanco,
      effectiveDateTime: '2026-01-01T20:00:00Z',
      dosage: { dose: { value: 1000, code: 'mg' }, rateQuantity: { value: 1000, code: 'mg/h' } },
    },
    {
      resourceType: 'Observation',
      status: 'final',
      code: loinc('20578-1'),
      effectiveDateTime: '2026-01-02T07:30:00Z',
      valueQuantity: { value: 12.4, code: 'mg/L' },
    },
    {
      resourceType: 'Observation',
      status: 'final',
      code: loinc('4092-3'),
      effectiveDateTime: '2026-01-02T10:00:00Z',
      valueQuantity: { value: 31, code: 'ug/mL' },
    },
    {
      resourceType: 'MedicationAdministration',
      status: 'completed',
      medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '11124' }] },
      effectivePeriod: { start: '2026-01-02T20:00:00Z', end: '2026-01-02T21:00:00Z' },
      dosage: { dose: { value: 1000, code: 'mg' } },
    },
    {
      resourceType: 'MedicationAdministration',
      status: 'completed',
      medicationCodeableConcept: { text: 'insulin' },
      effectiveDateTime: '2026-01-01T08:00:00Z',
      dosage: { dose: { value: 4, code: 'U' } },
    },
  ];

  it('reads doses, levels and covariates (weight, creatinine, sex, age at the first dose)', () => {
    const d = importVancomycin(bundle(entries));
    expect(d.patientId).toBe('p7');
    expect(d.doses).toEqual([
      { timeMs: Date.UTC(2026, 0, 1, 8), amountMg: 1500, durationH: 1.5 },
      { timeMs: Date.UTC(2026, 0, 1, 20), amountMg: 1000, durationH: 1 },
      { timeMs: Date.UTC(2026, 0, 2, 20), amountMg: 1000, durationH: 1 }, // by its RxNorm code alone
    ]);
    expect(d.levels.map((l) => l.concMgL)).toEqual([12.4, 31]);
    expect(d.covariates).toEqual({ bodyWeightKg: 72, scrMgDl: 0.9, sex: 'F', ageYears: 64 });
    expect(d.warnings.join(' ')).toMatch(/not vancomycin; ignored/);
    expect(d.warnings.join(' ')).toMatch(/2 creatinine values/);
    // Cockcroft–Gault of the population model (Goti rules) is what the twin uses
    const cov = makeCovariates({ ...d.covariates });
    expect(cov.crclMlMin).toBe(cockcroftGault(64, 72, true, 0.9));
  });

  const badFhir: Array<[string, number, Record<string, unknown>, string, RegExp]> = [
    ['a dose in units', 4, { dosage: { dose: { value: 1000, code: 'U' } } }, 'dosage.dose.code', /not a mass/],
    ['a negative dose', 4, { dosage: { dose: { value: -1, code: 'g' } } }, 'dosage.dose.value', /negative/],
    ['an infusion over 30 h', 4, { effectivePeriod: { start: '2026-01-01T08:00:00Z', end: '2026-01-02T14:00:00Z' } }, 'effectivePeriod.end', /outside 0–24 h/],
    ['a level in mmol/L', 6, { valueQuantity: { value: 12, code: 'mmol/L' } }, 'valueQuantity.code', /not mg\/L/],
    ['a creatinine in umol/L', 2, { valueQuantity: { value: 80, code: 'umol/L' } }, 'valueQuantity.code', /does not match LOINC 2160-0/],
    ['a time without zone', 6, { effectiveDateTime: '2026-01-02T07:30:00' }, 'effectiveDateTime', /no time zone/],
  ];
  it.each(badFhir)('refuses %s, naming Bundle.entry[i] and the field', (_name, index, patch, field, message) => {
    const changed = entries.map((e, i) => (i === index ? { ...e, ...patch } : e));
    const e = thrown(() => importVancomycin(bundle(changed)));
    expect(e.details).toMatchObject({ resource: `Bundle.entry[${index}]`, field });
    expect(e.message).toMatch(message);
  });
});
