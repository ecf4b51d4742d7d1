import { make } from '../engine/registry.js';
import { VectorEnv } from '../engine/vector.js';
import { GlucoseEnv } from '../environments/glucose/env.js';
import '../environments/index.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * glucose/t1d-v1 throughput on one core: env steps per second (each step = 5 simulated minutes, RK4
 * at the patient's default step, CGM noise on, random meals), single env and through VectorEnv(16).
 * Actions cycle through the discrete levels 1×, 1.5×, 0.5× basal so episodes rarely terminate.
 *
 * Run directly: `npx tsx bench/glucose-env.ts`.
 */
const ACTIONS = [2, 3, 1];

function time(body: () => number, ms = 1500): number {
  body(); // warm-up (JIT)
  const start = performance.now(); // clock-ok
  let work = 0;
  let elapsed = 0;
  do {
    work += body();
    elapsed = performance.now() - start; // clock-ok
  } while (elapsed < ms);
  return (work / elapsed) * 1000;
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const [label, options] of [
    ['glucose/t1d-v1 steps/s (CGM noise on, one core)', {}],
    ['glucose/t1d-v1 steps/s (noise off, rk4Step 1 min)', { sensorNoise: false, rk4Step: 1 }],
  ] as const) {
    const env = new GlucoseEnv(options);
    let seed = 0;
    const rate = time(() => {
      env.reset({ seed: seed++ });
      let n = 0;
      for (let t = 0; t < 288; t++) {
        n++;
        if (env.step(ACTIONS[t % 3] as number).terminated) break;
      }
      return n;
    });
    results.push({ name: label, value: Math.round(rate), unit: 'steps/s', note: '5 simulated minutes per step' });
  }
  const vec = VectorEnv.fromFactory(() => make('glucose/t1d-v1'), 16);
  vec.reset({ seed: 1 });
  const actions = new Int32Array(16);
  let t = 0;
  const vrate = time(() => {
    for (let k = 0; k < 20; k++) {
      actions.fill(ACTIONS[t++ % 3] as number);
      vec.step(actions);
    }
    return 20 * 16;
  });
  results.push({ name: 'glucose/t1d-v1 VectorEnv(16) env-steps/s', value: Math.round(vrate), unit: 'steps/s', note: 'same-step autoreset, one core' });
  return results;
}

runAsMain(import.meta.url, run);
