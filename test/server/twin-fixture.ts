import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GlucoseDataset } from '../../datasets/types.js';
import { saveDataset } from '../../experiments/dataset-store.js';
import type { Store } from '../../experiments/store.js';
import { saveTwinRecord } from '../../experiments/twin-store.js';
import { fitGlucoseTwin } from '../../twinning/glucose/fit.js';
import { syntheticPerson } from '../../twinning/glucose/synthetic.js';
import { type GlucoseTwinFile, twinFileText } from '../../twinning/glucose/twin-file.js';

/** A tiny personal glucose twin (MAP, two synthetic days) for server and browser tests. */
export interface TinyTwin {
  dataset: GlucoseDataset;
  twin: GlucoseTwinFile;
}

export async function fitTinyTwin(seed = 7): Promise<TinyTwin> {
  const person = syntheticPerson({ seed, index: 0, days: 2 });
  const twin = await fitGlucoseTwin(person.dataset, { method: 'map', seed: 1, codeVersion: 'test' });
  return { dataset: person.dataset, twin };
}

/**
 * Records the twin in `store` under `id` (its twin.json in `<dataDir>/twins/<id>`), with its dataset
 * stored and linked unless `withDataset` is false. Several ids may hold the same twin: each gets its
 * own live session.
 */
export function installTwin(store: Store, fixture: TinyTwin, id: string, withDataset = true): void {
  const datasetId = withDataset ? saveDataset(store, fixture.dataset, { now: '2026-01-01T00:00:00Z' }).id : null;
  const dir = join(store.dataDir, 'twins', id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'twin.json'), twinFileText(fixture.twin));
  saveTwinRecord(store, {
    id,
    twin: 'glucose',
    datasetId,
    dir,
    fingerprint: fixture.twin.data.fingerprint,
    summary: { method: fixture.twin.method, patient: fixture.twin.patient.id, rmse: fixture.twin.fit.rmse, ok: null },
  });
}

/** Rows on the 5-min grid after `lastIso`, one per CGM value (null = missing), at `basal` U/h. */
export function rowsAfter(lastIso: string, cgm: (number | null)[], basal: number, extra: Record<number, { bolus_u?: number; carbs_g?: number }> = {}) {
  const t0 = Date.parse(lastIso);
  return cgm.map((v, i) => ({
    time: new Date(t0 + (i + 1) * 300_000).toISOString(),
    ...(v === null ? {} : { cgm_mg_dl: v }),
    basal_u_per_h: basal,
    ...extra[i],
  }));
}
