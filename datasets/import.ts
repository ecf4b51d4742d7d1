import { createHash, randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describeValue, TwinlabError } from '../engine/errors.js';
import { type ParsedSource, parseCsv } from './csv.js';
import { parseFhirBundle } from './fhir.js';
import { buildGrid, Findings } from './grid.js';
import { parseNightscout } from './nightscout.js';
import { DATASET_FORMATS, type DatasetFormat, type DatasetProvenance, GLUCOSE_STEP_MIN, type GlucoseDataset, isDatasetFormat } from './types.js';

/**
 * `importDataset(bytes | path, options)`: one file (or a Nightscout export directory) → a validated
 * `GlucoseDataset`. Everything is checked before anything is returned; the first problem throws
 * `TwinlabError('INVALID_ARGUMENT', …, { row | resource, field })`, non-fatal findings are in
 * `dataset.warnings`. Storing is the caller's (experiments/dataset-store.ts), in one transaction.
 */
export interface ImportOptions {
  /** csv | fhir | nightscout; inferred from the extension and content when absent. */
  format?: DatasetFormat;
  /** Overrides the id in the source (FHIR Patient.id); required in effect for CSV and Nightscout. */
  patientId?: string;
  bodyWeightKg?: number;
  /** Nightscout: the scheduled basal rate (U/h) outside temporary basals. */
  basalUPerH?: number;
  /** Nightscout: treatments.json, as bytes or a path, when the source is entries.json. */
  treatments?: Uint8Array | string;
  /** Random patient id and a random whole-day date shift; neither is kept anywhere. */
  deidentify?: boolean;
  /** Name recorded in the provenance when the source is bytes. */
  fileName?: string;
  /** ISO UTC import time for the provenance (default: now). */
  importedAt?: string;
}

const MAX_DEID_SHIFT_DAYS = 3653;
const MIN_DEID_SHIFT_DAYS = 365;

function optionError(field: string, message: string): TwinlabError {
  return new TwinlabError('INVALID_ARGUMENT', `${field}: ${message}`, { field });
}

function checkOptions(o: ImportOptions): void {
  if (o.format !== undefined && !isDatasetFormat(o.format))
    throw optionError('format', `${describeValue(o.format)} is not one of ${Object.keys(DATASET_FORMATS).join(', ')}`);
  if (o.patientId !== undefined && (typeof o.patientId !== 'string' || o.patientId.trim() === '' || o.patientId.length > 128)) {
    throw optionError('patientId', `${describeValue(o.patientId)} must be a non-empty string of at most 128 characters`);
  }
  if (o.bodyWeightKg !== undefined && !(typeof o.bodyWeightKg === 'number' && o.bodyWeightKg >= 1 && o.bodyWeightKg <= 400)) {
    throw optionError('bodyWeightKg', `${describeValue(o.bodyWeightKg)} must be a number of kg in 1–400`);
  }
  if (o.basalUPerH !== undefined && !(typeof o.basalUPerH === 'number' && o.basalUPerH >= 0 && o.basalUPerH <= 30)) {
    throw optionError('basalUPerH', `${describeValue(o.basalUPerH)} must be a rate in 0–30 U/h`);
  }
}

function readPath(file: string, field: string): Uint8Array {
  if (!existsSync(file)) throw new TwinlabError('NOT_FOUND', `${field}: no file ${file}`, { field });
  return readFileSync(file);
}

/** The format of a file from its name and first bytes. */
export function detectFormat(bytes: Uint8Array, fileName?: string): DatasetFormat {
  const ext = fileName === undefined ? '' : path.extname(fileName).toLowerCase();
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt') return 'csv';
  const text = new TextDecoder()
    .decode(bytes.subarray(0, 4096))
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (text.startsWith('[')) return 'nightscout';
  if (text.startsWith('{')) {
    if (/"resourceType"\s*:\s*"Bundle"/.test(text) || /"resourceType"/.test(text)) return 'fhir';
    throw optionError(
      'format',
      `cannot tell the format of ${fileName ?? 'the input'} (a JSON object that is not a FHIR Bundle); give it (csv, fhir, nightscout)`,
    );
  }
  if (ext === '.json') throw optionError('format', `cannot tell the format of ${fileName}; give it (csv, fhir, nightscout)`);
  return 'csv';
}

function sha256(...parts: Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
}

export function importDataset(source: Uint8Array | string, options: ImportOptions = {}): GlucoseDataset {
  checkOptions(options);
  let bytes: Uint8Array;
  let treatments: Uint8Array | undefined;
  let fileName = options.fileName;
  let treatmentsName: string | undefined;
  let format = options.format;
  if (typeof source === 'string') {
    if (existsSync(source) && statSync(source).isDirectory()) {
      if (format !== undefined && format !== 'nightscout')
        throw optionError('format', `${source} is a directory; only a Nightscout export (entries.json + treatments.json) is read from a directory`);
      format = 'nightscout';
      bytes = readPath(path.join(source, 'entries.json'), 'entries.json');
      const t = path.join(source, 'treatments.json');
      if (existsSync(t)) treatments = readFileSync(t);
      fileName ??= `${path.basename(source)}/entries.json`;
      treatmentsName = `${path.basename(source)}/treatments.json`;
    } else {
      bytes = readPath(source, 'file');
      fileName ??= path.basename(source);
    }
  } else {
    bytes = source;
  }
  if (options.treatments !== undefined) {
    if (typeof options.treatments === 'string') {
      treatments = readPath(options.treatments, 'treatments');
      treatmentsName = path.basename(options.treatments);
    } else {
      treatments = options.treatments;
      treatmentsName = 'treatments.json';
    }
  }
  if (bytes.length === 0 || new TextDecoder().decode(bytes.subarray(0, 1024)).trim() === '') {
    throw new TwinlabError('INVALID_ARGUMENT', `${fileName ?? 'input'}, file: the file is empty`, { row: 1, field: 'file' });
  }
  format ??= detectFormat(bytes, fileName);
  if (treatments !== undefined && format !== 'nightscout') throw optionError('treatments', `treatments are a Nightscout file; the input is ${format}`);

  const deidentify = options.deidentify === true;
  const findings = new Findings();
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  let parsed: ParsedSource;
  if (format === 'csv') parsed = parseCsv(text, findings);
  else if (format === 'fhir') parsed = parseFhirBundle(text, findings, { showIds: !deidentify });
  else
    parsed = parseNightscout(text, treatments === undefined ? undefined : new TextDecoder().decode(treatments), findings, { basalUPerH: options.basalUPerH });

  // clock-ok: de-identification is the one place twinlab draws non-seeded randomness — an id and a
  // date shift that must not be reproducible from anything stored. Whole days keep the time of day
  // (meals and dawn phenomena are read by time of day); the shift and the original id are never kept.
  const shiftMs = deidentify ? -randomInt(MIN_DEID_SHIFT_DAYS, MAX_DEID_SHIFT_DAYS + 1) * 86_400_000 : 0;
  const grid = buildGrid(parsed.records, findings, { shownShiftMs: shiftMs });

  const fileSha256 = treatments === undefined ? sha256(bytes) : sha256(bytes, treatments);
  let patientId = options.patientId?.trim() ?? parsed.patientId;
  if (deidentify) {
    patientId = `anon-${randomBytes(6).toString('hex')}`; // clock-ok: see above
  } else if (patientId === undefined) {
    patientId = `unknown-${fileSha256.slice(0, 8)}`;
    findings.add('patient', `patient: the ${format} file names no patient; using ${patientId} (give one with --patient-id)`);
  }
  const provenance: DatasetProvenance = {
    format,
    fileSha256,
    // the one wall-clock read of an import: bookkeeping, never used in computation
    importedAt: options.importedAt ?? new Date().toISOString(),
    deidentified: deidentify,
    records: parsed.count,
  };
  if (!deidentify && fileName !== undefined) provenance.fileName = fileName;
  if (treatments !== undefined) {
    provenance.sources = [
      { ...(deidentify ? {} : { name: fileName }), sha256: sha256(bytes) },
      { ...(deidentify ? {} : { name: treatmentsName }), sha256: sha256(treatments) },
    ];
  }
  const dataset: GlucoseDataset = {
    kind: 'glucose',
    patientId,
    startMs: grid.startMs + shiftMs,
    stepMin: GLUCOSE_STEP_MIN,
    cgm: grid.cgm,
    basalUPerH: grid.basalUPerH,
    bolusU: grid.bolusU,
    carbsG: grid.carbsG,
    warnings: findings.list(),
    provenance,
  };
  const weight = options.bodyWeightKg ?? parsed.bodyWeightKg;
  if (weight !== undefined) dataset.bodyWeightKg = weight;
  if (parsed.utcOffsetMin !== undefined) dataset.utcOffsetMin = parsed.utcOffsetMin;
  return dataset;
}
