import type { Bundle, BundleEntry, MedicationAdministration, Observation, Patient, Quantity, Resource } from '@medplum/fhirtypes';
import { TwinlabError } from '../engine/errors.js';
import type { ParsedSource } from './csv.js';
import { checkCgmUnits, emptyRecords, type Findings, inputError, MGDL_PER_MMOLL, type SourceRef } from './grid.js';
import { formatIsoTime, parseIsoTime } from './time.js';
import { datasetLength, type GlucoseDataset, slotTimeMs } from './types.js';

/**
 * FHIR R4 Bundles (JSON). CGM readings are Observations per the HL7 CGM implementation guide
 * (hl7.org/fhir/uv/cgm: LOINC 99504-3 "Glucose [Mass/volume] in Interstitial fluid", mg/dL, and
 * 105272-9 "Glucose [Moles/volume] in Interstitial fluid", mmol/L); insulin is
 * MedicationAdministration — a basal rate as `dosage.rateQuantity` (U/h) over `effectivePeriod`, a
 * bolus as `dosage.dose` (U) at `effectiveDateTime`; carbohydrate intake is an Observation with LOINC
 * 9059-7 (g) and body weight one with LOINC 29463-7 (kg). Other resources and codes are warned about
 * and skipped. Messages name `Bundle.entry[i]` and the field.
 */
export const LOINC = 'http://loinc.org';
export const UCUM = 'http://unitsofmeasure.org';
export const LOINC_CODES = {
  cgmMgdl: '99504-3',
  cgmMmol: '105272-9',
  carbs: '9059-7',
  bodyWeight: '29463-7',
} as const;

const DOSE_UNITS = new Set(['[iu]', 'iu', 'u']);
const RATE_UNITS = new Set(['[iu]/h', 'iu/h', 'u/h', '[iu]/hr', 'u/hr']);
const SKIPPED_STATUS = new Set(['entered-in-error', 'cancelled', 'not-done']);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses a FHIR R4 Bundle's JSON text and checks its envelope: a JSON object of resourceType
 * "Bundle" with a non-empty `entry` array. Errors name `Bundle` and the field.
 */
export function readBundle(text: string): Record<string, unknown> & { entry: unknown[] } {
  let bundle: unknown;
  try {
    bundle = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new TwinlabError('INVALID_ARGUMENT', `Bundle, json: not valid JSON (${(error as Error).message})`, { resource: 'Bundle', field: 'json' });
  }
  const bundleRef: SourceRef = { label: 'Bundle', at: { resource: 'Bundle' } };
  if (!isObject(bundle)) throw inputError(bundleRef, 'resourceType', 'the file is not a FHIR resource (a JSON object)');
  if (bundle.resourceType !== 'Bundle') throw inputError(bundleRef, 'resourceType', `expected "Bundle", got ${JSON.stringify(bundle.resourceType ?? null)}`);
  if (!Array.isArray(bundle.entry)) throw inputError(bundleRef, 'entry', 'missing or not an array');
  if (bundle.entry.length === 0) throw inputError(bundleRef, 'entry', 'the Bundle has no entries');
  return bundle as Record<string, unknown> & { entry: unknown[] };
}

export function parseFhirBundle(text: string, findings: Findings, options: { showIds?: boolean } = {}): ParsedSource {
  const bundle = readBundle(text);

  const records = emptyRecords();
  const cgmValues: { value: number; ref: SourceRef; unit: 'mg/dL' | 'mmol/L' }[] = [];
  let patientId: string | undefined;
  let patientRef: string | undefined;
  let patientEntry: string | undefined;
  let subject: { reference: string; where: string } | undefined;
  let weight: { timeMs: number; kg: number } | undefined;
  let utcOffsetMin: number | undefined;
  let used = 0;

  const entries = bundle.entry as unknown[];
  for (let i = 0; i < entries.length; i++) {
    const where = `Bundle.entry[${i}]`;
    const entry = entries[i];
    const resource = isObject(entry) ? entry.resource : undefined;
    if (!isObject(resource)) {
      findings.add('resource', `${where}: no resource; ignored`);
      continue;
    }
    const type = typeof resource.resourceType === 'string' ? resource.resourceType : '?';
    const id = typeof resource.id === 'string' ? resource.id : undefined;
    const ref: SourceRef = { label: options.showIds !== false && id !== undefined ? `${where} (${type}/${id})` : where, at: { resource: where } };
    const fail = (field: string, message: string) => inputError(ref, field, message);

    const status = typeof resource.status === 'string' ? resource.status : undefined;
    if (status !== undefined && SKIPPED_STATUS.has(status) && (type === 'Observation' || type === 'MedicationAdministration')) {
      findings.add('status', `${ref.label}, status: "${status}"; ignored`);
      continue;
    }

    const checkSubject = () => {
      const reference = isObject(resource.subject) && typeof resource.subject.reference === 'string' ? resource.subject.reference : undefined;
      if (reference === undefined) return;
      if (patientRef !== undefined && reference !== patientRef && !(isObject(entry) && entry.fullUrl === reference)) {
        throw fail(
          'subject.reference',
          `refers to ${JSON.stringify(reference)}, but the Bundle's Patient is ${patientRef} (${patientEntry}); a dataset holds one person`,
        );
      }
      if (subject !== undefined && reference !== subject.reference) {
        throw fail(
          'subject.reference',
          `refers to ${JSON.stringify(reference)}, but ${subject.where} refers to ${JSON.stringify(subject.reference)}; a dataset holds one person`,
        );
      }
      subject ??= { reference, where };
    };
    const time = (r: Json, fields: string[]): { ms: number; offsetMin: number } => {
      for (const field of fields) {
        const path = field.split('.');
        let value: unknown = r;
        for (const p of path) value = isObject(value) ? value[p] : undefined;
        if (value === undefined) continue;
        if (typeof value !== 'string') throw fail(field, `${JSON.stringify(value)} is not a date-time string`);
        const t = parseIsoTime(value);
        if (typeof t === 'string') throw fail(field, `${JSON.stringify(value)} ${t}`);
        return t;
      }
      throw fail(fields[0] as string, 'missing');
    };
    const quantity = (value: unknown, field: string): Quantity & { value: number } => {
      if (!isObject(value)) throw fail(field, 'missing');
      if (typeof value.value !== 'number' || !Number.isFinite(value.value))
        throw fail(`${field}.value`, `${JSON.stringify(value.value ?? null)} is not a number`);
      return value as unknown as Quantity & { value: number };
    };
    const unitOf = (q: Quantity) => (q.code ?? q.unit)?.trim();

    if (type === 'Patient') {
      const patient = resource as unknown as Patient;
      if (patientEntry !== undefined) throw fail('resourceType', `a second Patient (the first is ${patientEntry}); a dataset holds one person`);
      patientEntry = where;
      if (patient.id !== undefined) {
        patientId = patient.id;
        patientRef = `Patient/${patient.id}`;
        if (subject !== undefined && subject.reference !== patientRef && !(isObject(entry) && entry.fullUrl === subject.reference)) {
          throw fail('id', `${subject.where} refers to ${JSON.stringify(subject.reference)}, not this Patient; a dataset holds one person`);
        }
      }
      used++;
      continue;
    }

    if (type === 'Observation') {
      const obs = resource as unknown as Observation;
      const codings = isObject(resource.code) && Array.isArray(resource.code.coding) ? (resource.code.coding as Json[]) : undefined;
      if (codings === undefined) throw fail('code.coding', 'missing');
      const loinc = codings.filter((c) => isObject(c) && c.system === LOINC).map((c) => String(c.code));
      const known = loinc.find((c) => (Object.values(LOINC_CODES) as string[]).includes(c));
      if (known === undefined) {
        const shown = codings.map((c) => (isObject(c) ? `${c.system ?? '?'}|${c.code ?? '?'}` : '?')).join(', ');
        findings.add('code', `${ref.label}, code.coding: ${shown || '(none)'} is not a known LOINC code (${Object.values(LOINC_CODES).join(', ')}); ignored`);
        continue;
      }
      checkSubject();
      const t = time(resource, ['effectiveDateTime', 'effectiveInstant', 'effectivePeriod.start']);
      const q = quantity(obs.valueQuantity, 'valueQuantity');
      const unit = unitOf(q);
      const expect = (units: string[]) => {
        if (unit !== undefined && !units.includes(unit))
          throw fail('valueQuantity.code', `unit ${JSON.stringify(unit)} does not match LOINC ${known} (expected ${units.join(' or ')})`);
      };
      if (known === LOINC_CODES.cgmMgdl || known === LOINC_CODES.cgmMmol) {
        const mgdl = known === LOINC_CODES.cgmMgdl;
        expect([mgdl ? 'mg/dL' : 'mmol/L']);
        cgmValues.push({ value: q.value, ref, unit: mgdl ? 'mg/dL' : 'mmol/L' });
        records.cgm.push(
          mgdl
            ? { timeMs: t.ms, mgdl: q.value, ref, field: 'valueQuantity.value' }
            : { timeMs: t.ms, mgdl: q.value * MGDL_PER_MMOLL, ref, field: 'valueQuantity.value', shown: `${q.value} mmol/L` },
        );
        utcOffsetMin ??= t.offsetMin;
      } else if (known === LOINC_CODES.carbs) {
        expect(['g']);
        records.carbs.push({ timeMs: t.ms, amount: q.value, ref, field: 'valueQuantity.value' });
      } else {
        const factor: Record<string, number> = { kg: 1, g: 0.001, '[lb_av]': 0.45359237, lb: 0.45359237 };
        if (unit !== undefined && factor[unit] === undefined)
          throw fail('valueQuantity.code', `unit ${JSON.stringify(unit)} is not a mass unit (kg, g, [lb_av])`);
        const kg = q.value * (factor[unit ?? 'kg'] as number);
        if (!(kg >= 1 && kg <= 400)) throw fail('valueQuantity.value', `body weight ${Number(kg.toFixed(2))} kg is outside 1–400 kg`);
        if (weight === undefined || t.ms >= weight.timeMs) weight = { timeMs: t.ms, kg };
      }
      used++;
      continue;
    }

    if (type === 'MedicationAdministration') {
      const admin = resource as unknown as MedicationAdministration;
      const concept = admin.medicationCodeableConcept;
      if (concept !== undefined) {
        const names = [concept.text, ...(concept.coding ?? []).map((c) => c.display)].filter((s): s is string => typeof s === 'string');
        if (!names.some((s) => /insulin/i.test(s))) {
          findings.add('medication', `${ref.label}, medicationCodeableConcept: ${JSON.stringify(names[0] ?? '(no text)')} is not insulin; ignored`);
          continue;
        }
      }
      checkSubject();
      const dosage = isObject(resource.dosage) ? resource.dosage : undefined;
      if (dosage === undefined) throw fail('dosage', 'missing (expected dosage.dose in U or dosage.rateQuantity in U/h)');
      if (dosage.rateQuantity !== undefined) {
        const q = quantity(dosage.rateQuantity, 'dosage.rateQuantity');
        const unit = unitOf(q);
        if (unit !== undefined && !RATE_UNITS.has(unit.toLowerCase())) throw fail('dosage.rateQuantity.code', `unit ${JSON.stringify(unit)} is not U/h`);
        if (!isObject(resource.effectivePeriod)) throw fail('effectivePeriod', 'missing (a basal rate needs effectivePeriod.start)');
        const start = time(resource, ['effectivePeriod.start']);
        const end = isObject(resource.effectivePeriod) && resource.effectivePeriod.end !== undefined ? time(resource, ['effectivePeriod.end']) : undefined;
        records.basal.push({ startMs: start.ms, endMs: end?.ms, rate: q.value, ref, field: 'dosage.rateQuantity.value' });
      } else if (dosage.dose !== undefined) {
        const q = quantity(dosage.dose, 'dosage.dose');
        const unit = unitOf(q);
        if (unit !== undefined && !DOSE_UNITS.has(unit.toLowerCase()))
          throw fail('dosage.dose.code', `unit ${JSON.stringify(unit)} is not insulin units (U, [iU])`);
        if (resource.effectiveDateTime === undefined && isObject(resource.effectivePeriod)) {
          throw fail('effectiveDateTime', 'a bolus (dosage.dose) needs effectiveDateTime; an extended bolus over effectivePeriod is not supported');
        }
        const t = time(resource, ['effectiveDateTime']);
        records.bolus.push({ timeMs: t.ms, amount: q.value, ref, field: 'dosage.dose.value' });
      } else {
        throw fail('dosage', 'has neither dose (U) nor rateQuantity (U/h)');
      }
      used++;
      continue;
    }

    findings.add('resource', `${ref.label}: resource type ${type} is not imported; ignored`);
  }

  for (const unit of ['mg/dL', 'mmol/L'] as const) {
    const values = cgmValues.filter((v) => v.unit === unit);
    checkCgmUnits(values, unit, 'valueQuantity.value', unit === 'mg/dL' ? `LOINC ${LOINC_CODES.cgmMmol}` : `LOINC ${LOINC_CODES.cgmMgdl}`);
  }
  if (patientId === undefined && subject !== undefined) patientId = subject.reference.replace(/^Patient\//, '');
  return { records, count: used, utcOffsetMin, patientId, bodyWeightKg: weight?.kg };
}

/** The dataset as a FHIR R4 collection Bundle; `parseFhirBundle` of it gives the same arrays. */
export function datasetToFhirBundle(dataset: GlucoseDataset): Bundle {
  const offset = dataset.utcOffsetMin ?? 0;
  const subject = { reference: `Patient/${dataset.patientId}` };
  const at = (k: number) => formatIsoTime(slotTimeMs(dataset, k), offset);
  const entry: BundleEntry[] = [];
  const add = (resource: Resource) => entry.push({ resource });
  const loinc = (code: string, display: string) => ({ coding: [{ system: LOINC, code, display }] });
  const insulin = { text: 'insulin' };
  add({ resourceType: 'Patient', id: dataset.patientId });
  if (dataset.bodyWeightKg !== undefined) {
    add({
      resourceType: 'Observation',
      status: 'final',
      code: loinc(LOINC_CODES.bodyWeight, 'Body weight'),
      subject,
      effectiveDateTime: at(0),
      valueQuantity: { value: dataset.bodyWeightKg, unit: 'kg', system: UCUM, code: 'kg' },
    });
  }
  const n = datasetLength(dataset);
  for (let k = 0; k < n; k++) {
    const cgm = dataset.cgm[k] as number;
    if (!Number.isNaN(cgm)) {
      add({
        resourceType: 'Observation',
        status: 'final',
        code: loinc(LOINC_CODES.cgmMgdl, 'Glucose [Mass/volume] in Interstitial fluid'),
        subject,
        effectiveDateTime: at(k),
        valueQuantity: { value: cgm, unit: 'mg/dL', system: UCUM, code: 'mg/dL' },
      });
    }
  }
  // Basal: one administration per run of equal rates (zero included, so the span survives the round trip).
  for (let k = 0; k < n; ) {
    const rate = dataset.basalUPerH[k] as number;
    let j = k + 1;
    while (j < n && Object.is(dataset.basalUPerH[j], rate)) j++;
    add({
      resourceType: 'MedicationAdministration',
      status: 'completed',
      medicationCodeableConcept: insulin,
      subject,
      effectivePeriod: { start: at(k), end: formatIsoTime(slotTimeMs(dataset, j), offset) },
      dosage: { rateQuantity: { value: rate, unit: 'U/h', system: UCUM, code: '[iU]/h' } },
    });
    k = j;
  }
  for (let k = 0; k < n; k++) {
    const bolus = dataset.bolusU[k] as number;
    if (bolus > 0) {
      add({
        resourceType: 'MedicationAdministration',
        status: 'completed',
        medicationCodeableConcept: insulin,
        subject,
        effectiveDateTime: at(k),
        dosage: { dose: { value: bolus, unit: 'U', system: UCUM, code: '[iU]' } },
      });
    }
    const carbs = dataset.carbsG[k] as number;
    if (carbs > 0) {
      add({
        resourceType: 'Observation',
        status: 'final',
        code: loinc(LOINC_CODES.carbs, 'Carbohydrate intake Estimated'),
        subject,
        effectiveDateTime: at(k),
        valueQuantity: { value: carbs, unit: 'g', system: UCUM, code: 'g' },
      });
    }
  }
  return { resourceType: 'Bundle', type: 'collection', entry };
}
