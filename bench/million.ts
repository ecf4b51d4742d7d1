import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RedisExecutor } from '../experiments/redis-executor.js';
import { runExperiment } from '../experiments/runner.js';
import { Store } from '../experiments/store.js';
import { startWorkers, TestRedis, type WorkerProcess } from '../test/experiments/executor-redis-helpers.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * A streaming trial of N patients × 2 arms (`npx tsx bench/million.ts --patients N [--twin glucose|sepsis]
 * [--workers W] [--block B] [--keep-every K]`; needs redis-server, started on a free loopback port):
 * the coordinator (this process: runner + SQLite store + streaming analysis) hands blocks of B patients
 * to W `twinlab worker` processes over Redis, so its resident memory is the coordinator's alone. Prints
 * the coordinator's peak RSS (sampled every 100 ms, and its growth over the RSS before the run), wall
 * time, patients/s, the coordinator's CPU time per patient (its saturation rate is the inverse), and the
 * store's size on disk and what it holds.
 *
 * Twins: `glucose` — adult#001 repeated (MILLION_POPULATION=adult: generated adults), basal-bolus vs PID, one day; `sepsis` — the
 * Oberst–Sontag MDP, physician vs optimal policy, up to 20 steps (a cheaper twin); `cartpole` — not a twin,
 * CartPole with two random arms (unpaired), the cheapest cohort, for 10⁶ patients on two cores. Worker start-up is excluded from the timings.
 */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

export function millionSpec(twin: string, patients: number, block: number, keepEvery: number): Record<string, unknown> {
  const common = { kind: 'trial', seed: 15, streaming: { blockSize: block }, keepEpisodes: { every: keepEvery } };
  if (twin === 'cartpole') {
    // Not a twin: the cheapest env with a cohort (patient-i, no parameters), for the 10⁶ memory figure.
    return {
      ...common,
      name: `million cartpole ${patients}`,
      cohort: { env: 'classic/cartpole-v1', size: patients },
      arms: [
        { name: 'a', policy: 'random' },
        { name: 'b', policy: 'random' },
      ],
      paired: false,
      endpoints: { primary: ['return'], secondary: ['length'] },
    };
  }
  if (twin === 'sepsis') {
    return {
      ...common,
      name: `million sepsis ${patients}`,
      cohort: { twin: 'sepsis', population: 'icu', size: patients },
      arms: [
        { name: 'physician', policy: 'sepsis/physician' },
        { name: 'optimal', policy: 'sepsis/optimal' },
      ],
      endpoints: { primary: ['mortality'], secondary: ['discharge', 'treatment-days'] },
    };
  }
  return {
    ...common,
    name: `million glucose ${patients}`,
    // One reference adult repeated (members differ by their seeds: meals, sensor noise). Generated adults
    // (population 'adult', generated: true) are the cohort, but cost ≈ 6–7 ms each to generate since their therapy is titrated (66e6df9; a
    // candidate whose meal test diverged used to abort its block: seed 15, index 7482; now it is rejected).
    cohort: { twin: 'glucose', population: process.env.MILLION_POPULATION ?? 'adult#001', size: patients, ...(process.env.MILLION_POPULATION ? { generated: true } : {}) },
    arms: [
      { name: 'basal-bolus', policy: 'glucose/basal-bolus' },
      { name: 'pid', policy: 'glucose/pid' },
    ],
    duration: { days: 1 },
    endpoints: { primary: ['tir'], secondary: ['tbr70'] },
  };
}

export async function run(): Promise<BenchResult[]> {
  process.env.TWINLAB_CODE_VERSION ??= 'bench-million';
  const patients = Number(arg('patients', '10000'));
  const twin = arg('twin', 'glucose');
  const workersN = Number(arg('workers', '2'));
  const block = Number(arg('block', '250'));
  const keepEvery = Number(arg('keep-every', '1000'));
  const redis = await TestRedis.start();
  const workers: WorkerProcess[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'twinlab-bench-million-'));
  const results: BenchResult[] = [];
  try {
    workers.push(...(await startWorkers(redis.url, workersN)));
    const executor = new RedisExecutor({ url: redis.url });
    const store = Store.open(dir);
    try {
      global.gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 100);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const outcome = await runExperiment({ spec: millionSpec(twin, patients, block, keepEvery), store, executor });
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
      if (outcome.status !== 'finished') throw new Error(`bench run ${outcome.status}: ${outcome.error}`);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      const label = `${twin}, ${patients.toLocaleString('en-US')} patients × 2 arms, ${workersN} worker processes, blocks of ${block}`;
      results.push({ name: `${label}: coordinator peak RSS`, value: peak / 2 ** 20, unit: 'MiB', note: `+${((peak - before) / 2 ** 20).toFixed(0)} MiB over the RSS before the run` });
      results.push({ name: `${label}: wall time`, value: seconds, unit: 's', note: `${(patients / seconds).toFixed(0)} patients/s, ${((2 * patients) / seconds).toFixed(0)} patient-episodes/s` });
      results.push({ name: `${label}: coordinator CPU per patient`, value: (cpuSeconds / patients) * 1e6, unit: 'µs', note: `${cpuSeconds.toFixed(1)} s CPU; saturates near ${(patients / cpuSeconds).toFixed(0)} patients/s` });
      store.checkpoint();
      const size = (name: string): number => {
        try {
          return statSync(path.join(dir, name)).size;
        } catch {
          return 0;
        }
      };
      const bytes = size('twinlab.db') + size('twinlab.db-wal');
      const count = (sql: string): number => (store.prepare(sql).get(outcome.id) as { n: number }).n;
      const episodes = count('SELECT COUNT(*) AS n FROM episodes e JOIN jobs j ON e.job_id = j.id WHERE j.experiment_id = ?');
      const events = count('SELECT COUNT(*) AS n FROM events WHERE experiment_id = ?');
      results.push({
        name: `${label}: store size`,
        value: bytes / 2 ** 20,
        unit: 'MiB',
        note: `${outcome.jobs.length} block rows (per-patient endpoint values), ${episodes} episode logs (every ${keepEvery}th patient), ${events} events`,
      });
    } finally {
      store.close();
      await executor.close();
    }
  } finally {
    await Promise.all(workers.map((w) => w.kill('SIGTERM')));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

runAsMain(import.meta.url, run);
