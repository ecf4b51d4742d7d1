import { decodeDatasetArrays, type DatasetSummary, datasetFingerprint, encodeDatasetArrays, summarizeDataset } from '../datasets/codec.js';
import { type ImportOptions, importDataset } from '../datasets/import.js';
import { type DatasetProvenance, GLUCOSE_STEP_MIN, type GlucoseDataset } from '../datasets/types.js';
import { TwinlabError } from '../engine/errors.js';
import type { Store } from './store.js';

/**
 * Patient datasets in the results store (`datasets` table, migration 3). A dataset is written in one
 * statement after every check has passed, so a bad file leaves no row. The id derives from the
 * fingerprint of the data: importing the same data twice returns the first import's id and writes
 * nothing.
 */
export interface DatasetRecord {
  id: string;
  patientId: string;
  createdAt: string;
  fingerprint: string;
  summary: DatasetSummary;
  provenance?: DatasetProvenance;
  warnings: string[];
}

interface Row {
  id: string;
  kind: string;
  patient_id: string;
  start_ms: number;
  step_min: number;
  length: number;
  body_weight_kg: number | null;
  utc_offset_min: number | null;
  fingerprint: string;
  provenance: string | null;
  summary: string;
  warnings: string;
  created_at: string;
  data?: Buffer;
}

const COLUMNS = 'id, kind, patient_id, start_ms, step_min, length, body_weight_kg, utc_offset_min, fingerprint, provenance, summary, warnings, created_at';

function toRecord(row: Row): DatasetRecord {
  const record: DatasetRecord = {
    id: row.id,
    patientId: row.patient_id,
    createdAt: row.created_at,
    fingerprint: row.fingerprint,
    summary: JSON.parse(row.summary) as DatasetSummary,
    warnings: JSON.parse(row.warnings) as string[],
  };
  if (row.provenance !== null) record.provenance = JSON.parse(row.provenance) as DatasetProvenance;
  return record;
}

/** `ds-` + the first 16 hex digits of the fingerprint. */
export function datasetId(fingerprint: string): string {
  return `ds-${fingerprint.slice(0, 16)}`;
}

function checkDataset(d: GlucoseDataset): void {
  const n = d.cgm.length;
  const bad = (field: string, message: string) => new TwinlabError('INVALID_ARGUMENT', `dataset ${field}: ${message}`, { field });
  if (d.kind !== 'glucose') throw bad('kind', `must be "glucose", got ${JSON.stringify(d.kind)}`);
  if (typeof d.patientId !== 'string' || d.patientId.length === 0) throw bad('patientId', 'must be a non-empty string');
  if (d.stepMin !== GLUCOSE_STEP_MIN) throw bad('stepMin', `must be ${GLUCOSE_STEP_MIN}`);
  if (!Number.isSafeInteger(d.startMs) || d.startMs % (GLUCOSE_STEP_MIN * 60_000) !== 0) throw bad('startMs', 'must be epoch ms on the 5-minute grid');
  if (n === 0) throw bad('cgm', 'has no slots');
  for (const name of ['basalUPerH', 'bolusU', 'carbsG'] as const) if (d[name].length !== n) throw bad(name, `has ${d[name].length} slots, cgm ${n}`);
}

/**
 * Stores the dataset (one INSERT) and returns its record; `created` is false when the same data
 * (same fingerprint) was already stored, and nothing is written.
 */
export function saveDataset(store: Store, dataset: GlucoseDataset, options: { now?: string } = {}): DatasetRecord & { created: boolean } {
  checkDataset(dataset);
  const fingerprint = datasetFingerprint(dataset);
  return store.transaction(() => {
    const existing = store.prepare(`SELECT ${COLUMNS} FROM datasets WHERE fingerprint = ?`).get(fingerprint) as Row | undefined;
    if (existing !== undefined) return { ...toRecord(existing), created: false };
    const summary = summarizeDataset(dataset);
    const id = datasetId(fingerprint);
    const row: Row = {
      id,
      kind: dataset.kind,
      patient_id: dataset.patientId,
      start_ms: dataset.startMs,
      step_min: dataset.stepMin,
      length: dataset.cgm.length,
      body_weight_kg: dataset.bodyWeightKg ?? null,
      utc_offset_min: dataset.utcOffsetMin ?? null,
      fingerprint,
      provenance: dataset.provenance === undefined ? null : JSON.stringify(dataset.provenance),
      summary: JSON.stringify(summary),
      warnings: JSON.stringify(dataset.warnings),
      // bookkeeping only
      created_at: options.now ?? dataset.provenance?.importedAt ?? new Date().toISOString(),
      data: encodeDatasetArrays(dataset),
    };
    store
      .prepare(
        `INSERT INTO datasets (${COLUMNS}, format, file_sha256, data) VALUES (@id, @kind, @patient_id, @start_ms, @step_min, @length, @body_weight_kg, @utc_offset_min, @fingerprint, @provenance, @summary, @warnings, @created_at, @format, @file_sha256, @data)`,
      )
      .run({ ...row, format: dataset.provenance?.format ?? null, file_sha256: dataset.provenance?.fileSha256 ?? null });
    return { ...toRecord(row), created: true };
  });
}

/** The stored dataset, arrays and all; NOT_FOUND for an unknown id. */
export function loadDataset(store: Store, id: string): GlucoseDataset {
  const row = store.prepare(`SELECT ${COLUMNS}, data FROM datasets WHERE id = ?`).get(id) as Row | undefined;
  if (row === undefined) throw new TwinlabError('NOT_FOUND', `no dataset "${id}" in ${store.path}`, { field: 'id' });
  const arrays = decodeDatasetArrays(row.data as Buffer, row.length);
  const dataset: GlucoseDataset = {
    kind: 'glucose',
    patientId: row.patient_id,
    startMs: row.start_ms,
    stepMin: GLUCOSE_STEP_MIN,
    ...arrays,
    warnings: JSON.parse(row.warnings) as string[],
  };
  if (row.body_weight_kg !== null) dataset.bodyWeightKg = row.body_weight_kg;
  if (row.utc_offset_min !== null) dataset.utcOffsetMin = row.utc_offset_min;
  if (row.provenance !== null) dataset.provenance = JSON.parse(row.provenance) as DatasetProvenance;
  return dataset;
}

export function getDatasetRecord(store: Store, id: string): DatasetRecord | undefined {
  const row = store.prepare(`SELECT ${COLUMNS} FROM datasets WHERE id = ?`).get(id) as Row | undefined;
  return row === undefined ? undefined : toRecord(row);
}

/** Every stored dataset, newest first (without arrays). */
export function listDatasets(store: Store): DatasetRecord[] {
  return (store.prepare(`SELECT ${COLUMNS} FROM datasets ORDER BY created_at DESC, id`).all() as Row[]).map(toRecord);
}

export function countDatasets(store: Store): number {
  return (store.prepare('SELECT COUNT(*) AS n FROM datasets').get() as { n: number }).n;
}

/**
 * `importDataset` then `saveDataset`: what `twinlab data import` and `POST /api/datasets` do. Every
 * check runs before the single write, so a rejected file leaves the store unchanged.
 */
export function importDatasetIntoStore(
  store: Store,
  source: Uint8Array | string,
  options: ImportOptions = {},
): { record: DatasetRecord & { created: boolean }; dataset: GlucoseDataset } {
  const dataset = importDataset(source, options);
  return { record: saveDataset(store, dataset), dataset };
}
