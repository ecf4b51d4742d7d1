import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TwinlabEvent } from '../engine/events.js';
import { Store } from '../experiments/store.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * Results-store write and read rates (SQLite, WAL, synchronous = NORMAL, on the local disk):
 * `train.metrics` events appended in batches of 1,000 (one transaction per batch); each event is one
 * events row plus five metrics rows. Also the time of a downsampled series query over 1M points.
 *
 * Run directly: `npx tsx bench/store.ts`.
 */

const BATCH = 1000;
const BATCHES = 200; // 200k events → 1M metric rows

function batch(offset: number): TwinlabEvent[] {
  return Array.from({ length: BATCH }, (_, k) => ({
    type: 'train.metrics' as const,
    step: offset + k,
    data: { loss: 1 / (offset + k + 1), meanQ: k * 0.01, epsilon: 0.05, stepsPerSecond: 2500, gradientSteps: offset + k },
  }));
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'twinlab-bench-store-'));
  const store = Store.open(dir);
  try {
    store.createExperiment({
      id: 'bench',
      kind: 'train',
      name: 'bench',
      spec: {},
      seed: 0,
      codeVersion: 'bench',
      jobs: [{ id: 'bench-0', index: 0, kind: 'train', config: {}, seed: 0 }],
    });
    const batches = Array.from({ length: BATCHES }, (_, b) => batch(b * BATCH)); // built before timing
    store.appendEvents('bench', 'bench-0', batch(-BATCH)); // warm-up (statement preparation, JIT)
    const start = performance.now(); // clock-ok (benchmark)
    for (const events of batches) store.appendEvents('bench', 'bench-0', events);
    const seconds = (performance.now() - start) / 1000; // clock-ok
    const events = BATCHES * BATCH;
    const queryStart = performance.now(); // clock-ok
    const series = store.metricSeries('bench-0', 'train.loss', { maxPoints: 1000 });
    const queryMs = performance.now() - queryStart; // clock-ok
    const tailStart = performance.now(); // clock-ok
    const tail = store.eventsAfter('bench', store.lastSeq('bench') - 1000, 1000);
    const tailMs = performance.now() - tailStart; // clock-ok
    return [
      {
        name: 'store.metrics.write',
        value: (events * 5) / seconds,
        unit: 'rows/s',
        note: `${BATCH}-event batches, 5 metric rows + 1 event row per event, WAL + synchronous=NORMAL`,
      },
      { name: 'store.events.write', value: events / seconds, unit: 'events/s', note: 'train.metrics events incl. their metric rows' },
      {
        name: 'store.metrics.series-downsampled',
        value: queryMs,
        unit: 'ms',
        note: `${series.totalPoints} points → ${series.steps.length} buckets (mean + min/max)`,
      },
      { name: 'store.events.tail-1000', value: tailMs, unit: 'ms', note: `eventsAfter, ${tail.length} events parsed` },
    ];
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runAsMain(import.meta.url, run);
