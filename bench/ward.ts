import { WardEnv } from '../environments/hospital/env.js';
import { MIN_PER_DAY, WardSimulation } from '../environments/hospital/ward.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * The ward twin's throughput on one core: simulated ward-days per second for the default 30-bed ward
 * (4.5 arrivals/day, 4 + 3 nurses, pharmacist, lab; 5-min steps, agent-level collection on), and the
 * RL env `hospital/ward-v1` in decision steps (simulated hours) per second.
 *
 * Run directly: `npx tsx bench/ward.ts` (or `npm run bench -- ward`).
 */
export async function run(): Promise<BenchResult[]> {
  const days = 28;
  const once = (seed: number): number => {
    const w = new WardSimulation(seed, { beds: 30 });
    w.runUntil(days * MIN_PER_DAY);
    return w.summary().arrivals;
  };
  once(0); // warm-up (JIT)
  let simDays = 0;
  let start = performance.now(); // clock-ok
  let seed = 1;
  while (performance.now() - start < 2000) { // clock-ok
    once(seed++);
    simDays += days;
  }
  const wardDays = (simDays / (performance.now() - start)) * 1000; // clock-ok

  const env = new WardEnv();
  env.reset({ seed: 0 });
  let steps = 0;
  start = performance.now(); // clock-ok
  while (performance.now() - start < 1500) { // clock-ok
    env.reset({ seed: steps });
    for (let t = 0; t < 168; t++) env.step(t % 4);
    steps += 168;
  }
  const envRate = (steps / (performance.now() - start)) * 1000; // clock-ok
  return [
    { name: 'ward twin, 30 beds: ward-days/s', value: Math.round(wardDays * 10) / 10, unit: 'days/s', note: '5-min steps, 4+3 nurses, one core' },
    { name: 'hospital/ward-v1 env steps/s', value: Math.round(envRate), unit: 'steps/s', note: 'one step = 1 simulated hour' },
  ];
}

runAsMain(import.meta.url, run);
