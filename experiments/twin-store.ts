import { TwinlabError } from '../engine/errors.js';
import type { Store } from './store.js';

/**
 * The `twins` table (store-schema.ts migration 3): one row per fitted personal twin, pointing at its
 * directory (twin.json) and the dataset it was fitted to. The id is derived from twin.json's bytes,
 * so fitting the same data with the same seed and code twice records one twin.
 */
export interface TwinRecord {
  id: string;
  twin: string;
  datasetId: string | null;
  createdAt: string;
  dir: string;
  fingerprint: string;
  summary: Record<string, unknown>;
}

interface TwinRow {
  id: string;
  twin: string;
  dataset_id: string | null;
  created_at: string;
  dir: string;
  fingerprint: string;
  summary: string;
}

function fromRow(r: TwinRow): TwinRecord {
  return {
    id: r.id,
    twin: r.twin,
    datasetId: r.dataset_id,
    createdAt: r.created_at,
    dir: r.dir,
    fingerprint: r.fingerprint,
    summary: JSON.parse(r.summary) as Record<string, unknown>,
  };
}

export function saveTwinRecord(store: Store, record: Omit<TwinRecord, 'createdAt'> & { createdAt?: string }): TwinRecord {
  if (!/^[0-9a-z-]{8,80}$/.test(record.id)) throw new TwinlabError('INVALID_ARGUMENT', `twin id ${record.id} is not a valid id`);
  const createdAt = record.createdAt ?? new Date().toISOString();
  store.transaction(() => {
    store
      .prepare(
        'INSERT INTO twins (id, twin, dataset_id, created_at, dir, fingerprint, summary) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET dir = excluded.dir',
      )
      .run(record.id, record.twin, record.datasetId, createdAt, record.dir, record.fingerprint, JSON.stringify(record.summary));
  });
  return { ...record, createdAt };
}

export function getTwinRecord(store: Store, id: string): TwinRecord | undefined {
  const row = store.prepare('SELECT * FROM twins WHERE id = ?').get(id) as TwinRow | undefined;
  return row === undefined ? undefined : fromRow(row);
}

export function listTwinRecords(store: Store): TwinRecord[] {
  return (store.prepare('SELECT * FROM twins ORDER BY created_at DESC, id').all() as TwinRow[]).map(fromRow);
}
