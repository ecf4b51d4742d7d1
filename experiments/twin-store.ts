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

/** One row posted to a live twin (store-schema.ts migration 4); `cgm` NaN when missing. */
export interface TwinObservation {
  timeMs: number;
  cgm: number;
  basalUPerH: number;
  bolusU: number;
  carbsG: number;
}

interface ObservationRow {
  time_ms: number;
  cgm: number | null;
  basal: number;
  bolus: number;
  carbs: number;
}

/** Append rows (already validated: on the grid, in order, after the last stored one) in one transaction. */
export function appendTwinObservations(store: Store, twinId: string, rows: readonly TwinObservation[], receivedAt = new Date().toISOString()): void {
  store.transaction(() => {
    const insert = store.prepare('INSERT INTO twin_observations (twin_id, time_ms, cgm, basal, bolus, carbs, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (const r of rows) insert.run(twinId, r.timeMs, Number.isFinite(r.cgm) ? r.cgm : null, r.basalUPerH, r.bolusU, r.carbsG, receivedAt);
  });
}

/** Every row appended to a twin, in time order. */
export function listTwinObservations(store: Store, twinId: string): TwinObservation[] {
  const rows = store.prepare('SELECT time_ms, cgm, basal, bolus, carbs FROM twin_observations WHERE twin_id = ? ORDER BY time_ms').all(twinId) as ObservationRow[];
  return rows.map((r) => ({ timeMs: r.time_ms, cgm: r.cgm ?? Number.NaN, basalUPerH: r.basal, bolusU: r.bolus, carbsG: r.carbs }));
}

export function countTwinObservations(store: Store, twinId: string): number {
  return (store.prepare('SELECT COUNT(*) AS n FROM twin_observations WHERE twin_id = ?').get(twinId) as { n: number }).n;
}

/** One dose or level row posted to a live vancomycin twin (store-schema.ts migration 5). */
export type TwinEvent = { timeMs: number; event: 'dose'; amountMg: number; durationH: number } | { timeMs: number; event: 'level'; concMgL: number };

interface EventRow {
  time_ms: number;
  event: 'dose' | 'level';
  amount: number | null;
  duration: number | null;
  value: number | null;
}

/** Append validated event rows (in order, after the twin's last event) in one transaction. */
export function appendTwinEvents(store: Store, twinId: string, rows: readonly TwinEvent[], receivedAt = new Date().toISOString()): void {
  store.transaction(() => {
    const insert = store.prepare('INSERT INTO twin_events (twin_id, time_ms, event, amount, duration, value, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (const r of rows) {
      if (r.event === 'dose') insert.run(twinId, r.timeMs, 'dose', r.amountMg, r.durationH, null, receivedAt);
      else insert.run(twinId, r.timeMs, 'level', null, null, r.concMgL, receivedAt);
    }
  });
}

/** Every event row appended to a twin, in time order (a dose before a level at the same time). */
export function listTwinEvents(store: Store, twinId: string): TwinEvent[] {
  const rows = store.prepare('SELECT time_ms, event, amount, duration, value FROM twin_events WHERE twin_id = ? ORDER BY time_ms, event').all(twinId) as EventRow[];
  return rows.map((r) =>
    r.event === 'dose'
      ? { timeMs: r.time_ms, event: 'dose' as const, amountMg: r.amount as number, durationH: r.duration as number }
      : { timeMs: r.time_ms, event: 'level' as const, concMgL: r.value as number },
  );
}
