import { PerformanceObserver } from 'node:perf_hooks';
import { make } from '../engine/registry.js';
import { VectorEnv } from '../engine/vector.js';
import type { BenchResult } from './types.js';
import '../environments/index.js';
import { runAsMain } from './util.js';

/**
 * CartPole-v1 stepping throughput through the Env API (with the TimeLimit wrapper of `make`) and
 * through VectorEnv(16), one core. Actions come from a fixed xorshift sequence so the policy costs
 * nothing. Allocation in the hot path is detected by counting garbage collections during the run:
 * an allocation-free loop triggers none.
 *
 * Run directly: `npx tsx bench/cartpole.ts`.
 */
function countGcs(fn: () => void): number {
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  fn();
  observer.disconnect();
  return gcs;
}

function stepsPerSecond(steps: number, seconds: number): number {
  return Math.round(steps / seconds);
}

export async function run(): Promise<BenchResult[]> {
  const env = make('classic/cartpole-v1');
  let x = 0x9e3779b9;
  const loop = (steps: number) => {
    env.reset({ seed: 0 });
    for (let i = 0; i < steps; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const r = env.step(x & 1);
      if (r.terminated || r.truncated) env.reset();
    }
  };
  loop(200_000); // warm up the JIT
  const steps = 3_000_000;
  let seconds = 0;
  const gcs = countGcs(() => {
    const t0 = process.hrtime.bigint();
    loop(steps);
    seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  });
  // The GC observer reports asynchronously; give it a tick.
  await new Promise((resolve) => setTimeout(resolve, 50));

  const vec = VectorEnv.fromFactory(() => make('classic/cartpole-v1'), 16);
  const actions = new Int32Array(16);
  vec.reset({ seed: 0 });
  const vecLoop = (iterations: number) => {
    for (let i = 0; i < iterations; i++) {
      for (let k = 0; k < 16; k++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        actions[k] = x & 1;
      }
      vec.step(actions);
    }
  };
  vecLoop(10_000);
  const iterations = 150_000;
  const t1 = process.hrtime.bigint();
  vecLoop(iterations);
  const vecSeconds = Number(process.hrtime.bigint() - t1) / 1e9;

  return [
    { name: 'cartpole.env-api', value: stepsPerSecond(steps, seconds), unit: 'steps/s', note: `one core, make() with TimeLimit; ${gcs} GCs in ${steps.toLocaleString('en-US')} steps` },
    { name: 'cartpole.vector-env-16', value: stepsPerSecond(iterations * 16, vecSeconds), unit: 'env steps/s', note: 'VectorEnv(16), same-step autoreset' },
  ];
}

runAsMain(import.meta.url, run);
