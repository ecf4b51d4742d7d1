import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { importDataset } from '../../datasets/import.js';
import { datasetToCsv } from '../../datasets/csv.js';
import { listDatasets, saveDataset } from '../../experiments/dataset-store.js';
import { Store } from '../../experiments/store.js';
import { syntheticDataset, tempDir } from './helpers.js';

describe('store tables for personal twins', () => {
  it('datasets and twins exist with the agreed columns; a twin outlives its dataset (dataset_id set to NULL)', () => {
    const tmp = tempDir();
    const store = Store.open(tmp.dir);
    try {
      const d = importDataset(Buffer.from(datasetToCsv(syntheticDataset(2, 1))), { format: 'csv', patientId: 'p2' });
      const { id } = saveDataset(store, d);
      expect(listDatasets(store).map((r) => r.id)).toEqual([id]);
      store.close();
      const db = new Database(`${tmp.dir}/twinlab.db`);
      db.pragma('foreign_keys = ON');
      const columns = (table: string) =>
        (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string; notnull: number; pk: number }[]).map(
          (c) => `${c.name}${c.pk ? ' pk' : ''}${c.notnull ? '' : ' null'}`,
        );
      expect(columns('twins')).toEqual(['id pk null', 'twin', 'dataset_id null', 'created_at', 'dir', 'fingerprint', 'summary']);
      expect(columns('datasets')).toEqual(expect.arrayContaining(['id pk null', 'patient_id', 'fingerprint', 'file_sha256 null', 'provenance null', 'data']));
      db.prepare(
        "INSERT INTO twins (id, twin, dataset_id, created_at, dir, fingerprint, summary) VALUES ('t1', 'glucose', ?, 'now', 'twins/t1', 'f', '{}')",
      ).run(id);
      expect(() =>
        db
          .prepare(
            "INSERT INTO twins (id, twin, dataset_id, created_at, dir, fingerprint, summary) VALUES ('t2', 'glucose', 'ds-missing', 'now', 'twins/t2', 'f', '{}')",
          )
          .run(),
      ).toThrow(/FOREIGN KEY/);
      db.prepare('DELETE FROM datasets WHERE id = ?').run(id);
      expect(db.prepare("SELECT dataset_id FROM twins WHERE id = 't1'").get()).toEqual({ dataset_id: null });
      db.close();
    } finally {
      if (store.isOpen) store.close();
      tmp.cleanup();
    }
  });
});
