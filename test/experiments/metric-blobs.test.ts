import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TwinlabEvent } from '../../engine/events.js';
import { Store } from '../../experiments/store.js';

/**
 * metric_blobs (migration 6): a finished job's whole metric series is encoded once when it finishes,
 * and metricPoints then reads the blob — the same points, in the same (step, seq) order, as the rows.
 * Points added later drop the blob; a finished job without one (finished before migration 6) gets it
 * on its first whole read.
 */
let dir: string;
let store: Store;
const JOB = 'exp-1/job-0';

const metrics = (from: number, n: number, scale = 1): TwinlabEvent[] =>
  Array.from({ length: n }, (_, j) => {
    const i = from + j;
    // out-of-order steps and repeated steps: the order is (step, seq), not arrival
    return { type: 'train.metrics', step: 10 * Math.floor(i / 2) + (i % 7 === 3 ? -5 : 0), data: { loss: scale * Math.sin(i) + i / 1e4, epsilon: 1 / (1 + i) } } as TwinlabEvent;
  });

const blobs = () => {
  const db = new Database(store.path, { readonly: true });
  try {
    return db.prepare('SELECT COUNT(*) AS n FROM metric_blobs').get() as { n: number };
  } finally {
    db.close();
  }
};

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'twinlab-blobs-'));
  store = Store.open(dir);
  store.createExperiment({ id: 'exp-1', kind: 'train', name: 'blobs', spec: {}, seed: 1, codeVersion: 'test', jobs: [{ id: JOB, index: 0, kind: 'train', seed: 1, config: {} }] });
  store.markJobRunning(JOB);
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('metric blobs of finished jobs', () => {
  it('a finished job\'s series come from their blobs, point for point the rows\' series', () => {
    store.appendEvents('exp-1', JOB, metrics(0, 3000));
    store.appendEvents('exp-1', JOB, metrics(3000, 2000, 2));
    const live = store.metricPoints(JOB, 'train.loss');
    expect(live.steps).toHaveLength(5000);
    expect(blobs().n).toBe(0); // a running job has none
    store.markJobFinished(JOB, {});
    expect(blobs().n).toBe(2); // train.loss and train.epsilon
    const finished = store.metricPoints(JOB, 'train.loss');
    expect(Array.from(finished.steps)).toEqual(Array.from(live.steps));
    expect(Array.from(finished.values)).toEqual(Array.from(live.values));
    expect(finished.throughSeq).toBe(live.throughSeq);
    // the order is (step, seq): steps never decrease
    for (let i = 1; i < finished.steps.length; i++) expect(finished.steps[i] as number).toBeGreaterThanOrEqual(finished.steps[i - 1] as number);
    expect(Array.from(store.metricPoints(JOB, 'train.epsilon').values)).toEqual(Array.from(store.metricSeries(JOB, 'train.epsilon', { maxPoints: 10_000 }).values));
  });

  it('points added after the finish drop the blob; the next read has them', () => {
    store.appendEvents('exp-1', JOB, metrics(0, 100));
    store.markJobFinished(JOB, {});
    expect(blobs().n).toBe(2);
    store.appendEvents('exp-1', JOB, metrics(100, 10));
    expect(blobs().n).toBe(0);
    const after = store.metricPoints(JOB, 'train.loss');
    expect(after.steps).toHaveLength(110);
    expect(blobs().n).toBe(1); // re-encoded on that whole read
    expect(Array.from(store.metricPoints(JOB, 'train.loss').values)).toEqual(Array.from(after.values));
  });

  it('a finished job without a blob (finished before migration 6) is read from its rows and gets one', () => {
    store.appendEvents('exp-1', JOB, metrics(0, 500));
    store.markJobFinished(JOB, {});
    const expected = store.metricPoints(JOB, 'train.loss');
    const db = new Database(store.path);
    db.prepare('DELETE FROM metric_blobs').run();
    db.close();
    expect(blobs().n).toBe(0);
    const read = store.metricPoints(JOB, 'train.loss');
    expect(Array.from(read.values)).toEqual(Array.from(expected.values));
    expect(blobs().n).toBe(1);
  });
});
