import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PiscinaExecutor } from '../experiments/executor.js';
import { runExperiment } from '../experiments/runner.js';
import { Store } from '../experiments/store.js';
import type { BenchResult } from './types.js';

/**
 * Experiment throughput through the real pipeline (runner → Piscina workers → SQLite store):
 *  1. a paired glucose trial, 100 adults × 3 protocol arms × one simulated day on 2 workers, in
 *     simulated patient-days per second (target ≥ 200), episode logs stored;
 *  2. 8 independent small DQN training jobs (CartPole) on 2 workers vs 1 (target ≤ 0.55× the time).
 * Wall-clock reads here are benchmark timing only. Run directly: `npx tsx bench/trials.ts`.
 */
async function timed(spec: unknown, workers: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'twinlab-bench-'));
  const store = Store.open(dir);
  const executor = new PiscinaExecutor({ workers });
  try {
    const t0 = performance.now(); // clock-ok
    const outcome = await runExperiment({ spec, store, executor });
    const seconds = (performance.now() - t0) / 1000; // clock-ok
    if (outcome.status !== 'finished') throw new Error(`bench experiment ${outcome.id} ended ${outcome.status}: ${outcome.error}`);
    return seconds;
  } finally {
    await executor.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const trialSpec = {
  kind: 'trial',
  name: 'bench trial',
  seed: 1,
  cohort: { twin: 'glucose', population: 'adult', size: 100, generated: true },
  arms: [
    { name: 'basal', policy: 'glucose/basal' },
    { name: 'pid', policy: 'glucose/pid' },
    { name: 'basal-bolus', policy: 'glucose/basal-bolus' },
  ],
  duration: { days: 1 },
  endpoints: { primary: ['tir', 'tbr70'] },
  reference: 'basal',
};

const trainSpec = {
  kind: 'train',
  name: 'bench train',
  seed: 1,
  env: 'classic/cartpole-v1',
  seeds: 8,
  evalEpisodes: 0,
  config: { totalSteps: 3000, learningStarts: 200, batchSize: 32, hidden: [64, 64], trainFrequency: 4, evalEvery: 0, evalEpisodes: 2, metricsEvery: 1000 },
};

export async function run(): Promise<BenchResult[]> {
  const trialSeconds = await timed(trialSpec, 2);
  const patientDays = 100 * 3;
  const one = await timed(trainSpec, 1);
  const two = await timed(trainSpec, 2);
  return [
    { name: 'trial throughput (100 adults × 3 arms × 1 day, 2 workers)', value: patientDays / trialSeconds, unit: 'patient-days/s', note: `${trialSeconds.toFixed(2)} s incl. pool start and storing logs; target ≥ 200` },
    { name: '8 DQN jobs, 2 workers vs 1 (time ratio)', value: two / one, unit: '×', note: `${one.toFixed(1)} s on 1 worker, ${two.toFixed(1)} s on 2; target ≤ 0.55` },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then(
    (results) => {
      for (const r of results) process.stdout.write(`${r.name}: ${r.value.toFixed(3)} ${r.unit}${r.note ? ` (${r.note})` : ''}\n`);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
