import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type * as ExecutorModule from '../experiments/executor.js';
import type * as RunnerModule from '../experiments/runner.js';
import type * as StoreModule from '../experiments/store.js';
import { compiledIsFresh, ROOT } from '../scripts/freshness.mjs';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * Experiment throughput through the real pipeline (runner → Piscina workers → SQLite store):
 *  1. a paired glucose trial, 100 adults × 3 protocol arms × one simulated day on 2 workers, in
 *     simulated patient-days per second (target ≥ 200), episode logs stored; also the CPU time per
 *     patient-day summed over all threads, which — unlike the rate — does not depend on what else
 *     the machine is running;
 *  2. 8 independent DQN training jobs on 2 workers vs 1 with the same PiscinaExecutor (target ≤ 0.55×
 *     the time), with the CPU time of each run, for two kinds of job:
 *     a. the RL Baselines3 Zoo CartPole set (preset `zoo-cartpole`: 50,000 env steps, 256×256, ≈ 19 s
 *        per job alone) — the issue's reference job; ≈ 4 minutes in all;
 *     b. small jobs (CartPole, 100,000 env steps, 64×64, train every 4 steps: ≈ 1.6 s per job alone), on
 *        a fresh pool and on a started one. Their fixed costs weigh more: starting a worker costs
 *        ≈ 0.85 CPU-s (module loading ≈ 0.5, of which tfjs ≈ 0.34; V8 background compilation ≈ 0.2)
 *        and each job ≈ 0.1 s on the main thread (storing ≈ 3,000 events) plus ≈ 0.1 s of V8
 *        background threads (JIT). With one worker all of that runs on the idle second core; with
 *        two it shares the cores with the training.
 *     `--train-steps N` sets the small jobs' length, `--no-zoo` skips (a); `--quick` (or TWINLAB_BENCH_QUICK=1) runs only
 *     3,000-step small jobs;
 *  3. a control: the same ratio for a fixed pure-CPU loop on 1 vs 2 bare worker threads, run right
 *     before and after each DQN run (1 thread around the 1-worker runs, 2 around the 2-worker runs) so
 *     it sees the machine those jobs had. On a machine shared with other work it shows how much of a
 *     second core was actually available — the DQN ratio cannot beat it.
 *
 * Runs the compiled build (dist/, `npm run build`) when it is up to date with the sources — worker
 * threads start ≈ 5× faster from JS than through tsx — else the TypeScript sources; each figure says
 * which. TWINLAB_FROM_SOURCE=1 forces the sources. Wall-clock reads here are benchmark timing only.
 * Run directly: `npx tsx bench/trials.ts`.
 */
const root = ROOT;

interface Pipeline {
  build: 'dist' | 'tsx';
  PiscinaExecutor: typeof ExecutorModule.PiscinaExecutor;
  runExperiment: typeof RunnerModule.runExperiment;
  Store: typeof StoreModule.Store;
}

async function loadPipeline(): Promise<Pipeline> {
  const dist = compiledIsFresh();
  const base = dist ? join(root, 'dist', 'experiments') : join(root, 'experiments');
  const ext = dist ? 'js' : 'ts';
  const load = async <T>(name: string): Promise<T> => (await import(pathToFileURL(join(base, `${name}.${ext}`)).href)) as T;
  const [executor, runner, store] = await Promise.all([
    load<typeof ExecutorModule>('executor'),
    load<typeof RunnerModule>('runner'),
    load<typeof StoreModule>('store'),
  ]);
  return { build: dist ? 'dist' : 'tsx', PiscinaExecutor: executor.PiscinaExecutor, runExperiment: runner.runExperiment, Store: store.Store };
}

/**
 * Times one experiment on a fresh pool of `workers`. With `warmUp`, a small experiment runs first on
 * the same pool, as in a long-lived server whose shared pool is already started.
 */
async function timed(p: Pipeline, spec: unknown, workers: number, warmUp?: unknown): Promise<{ seconds: number; cpuSeconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'twinlab-bench-'));
  const store = p.Store.open(dir);
  const executor = new p.PiscinaExecutor({ workers });
  try {
    if (warmUp) await p.runExperiment({ spec: warmUp, store, executor });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now(); // clock-ok
    const outcome = await p.runExperiment({ spec, store, executor });
    const seconds = (performance.now() - t0) / 1000; // clock-ok
    const cpu = process.cpuUsage(cpu0);
    if (outcome.status !== 'finished') throw new Error(`bench experiment ${outcome.id} ended ${outcome.status}: ${outcome.error}`);
    return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
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

/** Eight seeds of the RL Baselines3 Zoo DQN CartPole-v1 set (agents/dqn-config.ts `zoo-cartpole`). */
const zooSpec = { kind: 'train', name: 'bench zoo', seed: 1, env: 'classic/cartpole-v1', seeds: 8, evalEpisodes: 0, preset: 'zoo-cartpole' };

function trainSpec(steps: number, seeds = 8) {
  return {
    kind: 'train',
    name: 'bench train',
    seed: 1,
    env: 'classic/cartpole-v1',
    seeds,
    evalEpisodes: 0,
    config: { totalSteps: steps, learningStarts: 200, batchSize: 32, hidden: [64, 64], trainFrequency: 4, evalEvery: 0, evalEpisodes: 2, metricsEvery: 1000 },
  };
}

const spin = `const { parentPort, workerData } = require('node:worker_threads');
let x = 1; for (let i = 0; i < workerData; i++) x = (x * 48271) % 2147483647; parentPort.postMessage(x);`;

/** Seconds for `total` iterations of a pure-CPU loop split over `threads` bare worker threads. */
async function spinSeconds(threads: number, total: number): Promise<number> {
  const t0 = performance.now(); // clock-ok
  await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(spin, { eval: true, workerData: Math.round(total / threads) });
          w.once('message', () => void w.terminate().then(() => resolve(), reject));
          w.once('error', reject);
        }),
    ),
  );
  return (performance.now() - t0) / 1000; // clock-ok
}

const load = (): string => `1-min load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores`;

export async function run(options: { quick?: boolean } = {}): Promise<BenchResult[]> {
  const quick = options.quick ?? (process.argv.includes('--quick') || process.env.TWINLAB_BENCH_QUICK === '1');
  const p = await loadPipeline();
  const trialLoad = load();
  const trial = await timed(p, trialSpec, 2);
  const warmTrial = await timed(p, trialSpec, 2, { ...trialSpec, name: 'warm-up', cohort: { ...trialSpec.cohort, size: 2 } });
  const patientDays = 100 * 3;
  const stepsArg = process.argv.indexOf('--train-steps');
  const steps = quick ? 3000 : stepsArg > 0 ? Number(process.argv[stepsArg + 1]) : 100_000;
  // The control runs interleaved with the DQN runs it calibrates: the 1-thread loop right before and
  // after each 1-worker run, the 2-thread loop right before and after each 2-worker run, so each
  // control ratio sees the machine the jobs had (not a quieter or busier moment afterwards).
  const spinIterations = quick ? 2e7 : 1e8;
  const controls: { one: number[]; two: number[] } = { one: [], two: [] };
  const withControl = async <T>(threads: 1 | 2, job: () => Promise<T>): Promise<T> => {
    const before = await spinSeconds(threads, spinIterations);
    const result = await job();
    const after = await spinSeconds(threads, spinIterations);
    (threads === 1 ? controls.one : controls.two).push((before + after) / 2);
    return result;
  };
  const one = await withControl(1, () => timed(p, trainSpec(steps), 1));
  const two = await withControl(2, () => timed(p, trainSpec(steps), 2));
  // On a started pool: a 300-step job per worker first, so every worker has loaded its modules and
  // compiled the training loop, as in the server's long-lived pool.
  const warmOne = await withControl(1, () => timed(p, trainSpec(steps), 1, trainSpec(300, 1)));
  const warmTwo = await withControl(2, () => timed(p, trainSpec(steps), 2, trainSpec(300, 2)));
  const trainLoad = load();
  const zoo =
    quick || process.argv.includes('--no-zoo')
      ? null
      : { one: await withControl(1, () => timed(p, zooSpec, 1)), two: await withControl(2, () => timed(p, zooSpec, 2)), load: load() };
  const controlRatios = controls.two.map((t, i) => t / (controls.one[i] as number));
  const spinOne = controls.one.reduce((a, b) => a + b, 0) / controls.one.length;
  const spinTwo = controls.two.reduce((a, b) => a + b, 0) / controls.two.length;
  return [
    {
      name: 'trial throughput on a started pool (as the server keeps; 100 adults × 3 arms × 1 day, 2 workers)',
      value: patientDays / warmTrial.seconds,
      unit: 'patient-days/s',
      note: `${warmTrial.seconds.toFixed(2)} s after a 2-patient warm-up on the same pool; ${p.build} build; ${trialLoad}; target ≥ 200`,
    },
    {
      name: 'trial throughput (100 adults × 3 arms × 1 day, 2 workers)',
      value: patientDays / trial.seconds,
      unit: 'patient-days/s',
      note: `${trial.seconds.toFixed(2)} s incl. starting the pool (as a fresh CLI run does) and storing logs; ${p.build} build; ${trialLoad}; target ≥ 200`,
    },
    {
      name: 'trial CPU time per patient-day (all threads)',
      value: (1000 * trial.cpuSeconds) / patientDays,
      unit: 'ms',
      note: `${trial.cpuSeconds.toFixed(2)} CPU-s for ${patientDays} patient-days; 2 idle cores give ≈ ${((2 * patientDays) / trial.cpuSeconds).toFixed(0)} patient-days/s minus start-up`,
    },
    ...(zoo
      ? [
          {
            name: '8 DQN jobs, RL-Zoo CartPole set (50k steps, 256×256), 2 workers vs 1 (time ratio)',
            value: zoo.two.seconds / zoo.one.seconds,
            unit: '×',
            note: `${zoo.one.seconds.toFixed(1)} s (${zoo.one.cpuSeconds.toFixed(1)} CPU-s) on 1 worker, ${zoo.two.seconds.toFixed(1)} s (${zoo.two.cpuSeconds.toFixed(1)} CPU-s) on 2; ${p.build} build; ${zoo.load}; target ≤ 0.55`,
          },
        ]
      : []),
    {
      name: `8 small DQN jobs × ${steps} CartPole steps (64×64), 2 workers vs 1 (time ratio)`,
      value: two.seconds / one.seconds,
      unit: '×',
      note: `${one.seconds.toFixed(1)} s (${one.cpuSeconds.toFixed(1)} CPU-s) on 1 worker, ${two.seconds.toFixed(1)} s (${two.cpuSeconds.toFixed(1)} CPU-s) on 2; ${p.build} build; ${trainLoad}; target ≤ 0.55`,
    },
    {
      name: `8 small DQN jobs × ${steps} CartPole steps (64×64) on a started pool, 2 workers vs 1 (time ratio)`,
      value: warmTwo.seconds / warmOne.seconds,
      unit: '×',
      note: `${warmOne.seconds.toFixed(1)} s (${warmOne.cpuSeconds.toFixed(1)} CPU-s) on 1 worker, ${warmTwo.seconds.toFixed(1)} s (${warmTwo.cpuSeconds.toFixed(1)} CPU-s) on 2, after a 300-step job per worker; ${p.build} build; target ≤ 0.55`,
    },
    {
      name: 'control: pure-CPU loop, 2 bare threads vs 1 (time ratio), interleaved with the DQN runs',
      value: spinTwo / spinOne,
      unit: '×',
      note: `mean ${spinOne.toFixed(2)} s on 1 thread, ${spinTwo.toFixed(2)} s on 2; per comparison (small fresh, small started${zoo ? ', zoo' : ''}): ${controlRatios.map((r) => r.toFixed(2)).join(', ')}; 0.5 when two idle cores are available`,
    },
  ];
}

runAsMain(import.meta.url, run);
