import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Executor, PiscinaExecutor } from '../experiments/executor.js';
import { expandJobs } from '../experiments/jobs.js';
import { DEFAULT_QUEUE_BATCH, RedisExecutor } from '../experiments/redis-executor.js';
import { runExperiment } from '../experiments/runner.js';
import { validateSpec } from '../experiments/spec.js';
import { Store } from '../experiments/store.js';
import { startWorkers, TestRedis, type WorkerProcess } from '../test/experiments/executor-redis-helpers.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * The Redis executor against the Piscina pool on the same cores (`npx tsx bench/redis.ts`, needs
 * redis-server; it starts its own on a free loopback port):
 *
 * - patient-days/s of a glucose trial (basal-bolus vs PID, 1 day) on 1 and 2 worker threads
 *   (Piscina) and 1 and 2 `twinlab worker` processes of one thread each (Redis);
 * - per-job queue overhead: wall time per job of a trial of near-empty cartpole jobs over Redis with one
 *   worker minus the same on one Piscina thread, with queue jobs of 2 (one patient's arms) and of 64 (the
 *   default `batchSize`) side by side;
 * - coordinator memory: RSS growth (an extrapolation to 10^6 patients is linear in the jobs held) while expanding a 2-arm trial of N cartpole patients into jobs (what
 *   the runner holds for a run today; glucose jobs also carry the patient's parameters, so weigh more).
 *
 * `--patients N` sets the glucose cohort (default 8). Worker start-up is excluded from the timings.
 */
const PATIENTS = Number(process.argv[process.argv.indexOf('--patients') + 1]) || 8;

function glucoseTrial(patients: number) {
  return {
    kind: 'trial',
    name: 'bench redis',
    seed: 3,
    cohort: { twin: 'glucose', population: 'adult', size: patients },
    arms: [
      { name: 'basal-bolus', policy: 'glucose/basal-bolus' },
      { name: 'pid', policy: 'glucose/pid' },
    ],
    duration: { days: 1 },
    endpoints: { primary: ['tir'], secondary: ['tbr70'] },
  };
}

const tinyTrial = {
  kind: 'trial',
  name: 'bench overhead',
  seed: 3,
  cohort: { env: 'classic/cartpole-v1', size: 100 },
  arms: [
    { name: 'a', policy: 'random' },
    { name: 'b', policy: 'random' },
  ],
  endpoints: { primary: ['return'] },
};

async function timed(executor: Executor, spec: unknown): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'twinlab-bench-redis-'));
  const store = Store.open(dir);
  try {
    const start = performance.now();
    const outcome = await runExperiment({ spec, store, executor });
    if (outcome.status !== 'finished') throw new Error(`bench run ${outcome.status}: ${outcome.error}`);
    return (performance.now() - start) / 1000;
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  process.env.TWINLAB_CODE_VERSION ??= 'bench';
  const results: BenchResult[] = [];
  const days = PATIENTS * 2;
  for (const threads of [1, 2]) {
    const executor = new PiscinaExecutor({ workers: threads });
    try {
      await timed(executor, { ...glucoseTrial(2), name: 'warm-up' });
      const s = await timed(executor, glucoseTrial(PATIENTS));
      results.push({ name: `glucose trial, Piscina ${threads} thread${threads > 1 ? 's' : ''}`, value: days / s, unit: 'patient-days/s', note: `${days} days` });
    } finally {
      await executor.close();
    }
  }
  const redis = await TestRedis.start();
  const workers: WorkerProcess[] = [];
  try {
    let piscinaTiny = 0;
    const pool = new PiscinaExecutor({ workers: 1 });
    try {
      await timed(pool, { ...tinyTrial, name: 'warm-up' });
      piscinaTiny = await timed(pool, tinyTrial);
    } finally {
      await pool.close();
    }
    for (const n of [1, 2]) {
      workers.push(...(await startWorkers(redis.url, n - workers.length)));
      const executor = new RedisExecutor({ url: redis.url });
      try {
        await timed(executor, { ...glucoseTrial(2), name: 'warm-up' });
        const s = await timed(executor, glucoseTrial(PATIENTS));
        results.push({ name: `glucose trial, Redis ${n} worker process${n > 1 ? 'es' : ''}`, value: days / s, unit: 'patient-days/s', note: `${days} days` });
        if (n === 1) {
          // Side by side: queue jobs of one patient's 2 arms (before queueBatches) and of 64 jobs (the default).
          for (const batchSize of [2, DEFAULT_QUEUE_BATCH]) {
            const batched = new RedisExecutor({ url: redis.url, batchSize });
            try {
              await timed(batched, { ...tinyTrial, name: 'warm-up' });
              const s1 = await timed(batched, tinyTrial);
              results.push({
                name: `queue overhead per job, queue jobs of ${batchSize} (Redis 1 worker − Piscina 1 thread)`,
                value: ((s1 - piscinaTiny) * 1000) / 200,
                unit: 'ms/job',
                note: '200 near-empty cartpole jobs',
              });
            } finally {
              await batched.close();
            }
          }
        }
      } finally {
        await executor.close();
      }
    }
  } finally {
    await Promise.all(workers.map((w) => w.kill('SIGTERM')));
    await redis.stop();
  }
  // 50,000 patients × 2 arms is the spec limit (SPEC_LIMITS: 100,000 jobs per experiment).
  for (const n of [10_000, 50_000]) {
    const spec = validateSpec({ ...tinyTrial, cohort: { env: 'classic/cartpole-v1', size: n } });
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const jobs = expandJobs('bench', spec);
    peak = Math.max(peak, process.memoryUsage().rss);
    results.push({ name: `coordinator RSS growth, ${n} patients × 2 arms expanded`, value: (peak - before) / 2 ** 20, unit: 'MiB', note: `${jobs.length} jobs held` });
  }
  return results;
}

runAsMain(import.meta.url, run);
