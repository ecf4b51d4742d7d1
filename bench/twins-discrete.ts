import type { Env } from '../engine/env.js';
import { Rng } from '../engine/random.js';
import { make } from '../engine/registry.js';
import { registerOpc } from '../environments/oncology/opc-twin.js';
import { registerSepsis } from '../environments/sepsis/index.js';
import { valueIteration } from '../environments/sepsis/mdp.js';
import { buildFullModel } from '../environments/sepsis/tensor.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * Discrete twins: env steps/s through the Env API (random actions, autoreset), and the sepsis
 * enumeration of the exact 1440-state tensor + value iteration (γ = 0.99). Run: `npx tsx bench/twins-discrete.ts`.
 */
function stepsPerSecond(env: Env, steps: number): number {
  const rng = Rng.fromSeed(1).fork('bench');
  const n = (env.actionSpace as unknown as { n: number }).n;
  env.reset({ seed: 1 });
  const t0 = performance.now(); // clock-ok
  for (let k = 0; k < steps; k++) {
    const r = env.step(Math.floor(rng.next() * n));
    if (r.terminated || r.truncated) env.reset();
  }
  return steps / ((performance.now() - t0) / 1000); // clock-ok
}

export async function run(): Promise<BenchResult[]> {
  registerSepsis();
  registerOpc();
  const out: BenchResult[] = [];
  out.push({ name: 'sepsis/oberst-v1 env steps', value: stepsPerSecond(make('sepsis/oberst-v1'), 300_000), unit: 'steps/s', note: 'factored observation, TimeLimit 20, random actions' });
  out.push({ name: 'oncology/opc-sequencing-v1 env steps', value: stepsPerSecond(make('oncology/opc-sequencing-v1'), 300_000), unit: 'steps/s', note: 'random actions, 3-step episodes' });
  let t0 = performance.now(); // clock-ok
  const full = buildFullModel({ glucoseDefect: true });
  out.push({ name: 'sepsis tensor enumeration (1440 × 8 rows)', value: performance.now() - t0, unit: 'ms', note: `${full.next.length} non-zeros` }); // clock-ok
  t0 = performance.now(); // clock-ok
  const vi = valueIteration(full, { gamma: 0.99 });
  out.push({ name: 'sepsis value iteration (full MDP, γ = 0.99)', value: performance.now() - t0, unit: 'ms', note: `${vi.iterations} sweeps, residual ${vi.residual.toExponential(1)}` }); // clock-ok
  return out;
}

runAsMain(import.meta.url, run);
