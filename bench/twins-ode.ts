import type { Env } from '../engine/env.js';
import { make } from '../engine/registry.js';
import { Rng } from '../engine/random.js';
import '../environments/index.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * Env throughput of the ODE twins through the Env API on one core (reset + step with random actions,
 * including the TimeLimit wrapper): oncology/chemo-v1 (RK4, 25 substeps per 6-h step), hiv/sti-v1
 * (Dormand–Prince over each 5-day step), pkpd/vancomycin-v1 (RK4, 240 substeps per 12-h step).
 *
 * Run directly: `npx tsx bench/twins-ode.ts`.
 */
const TWINS = [
  { id: 'oncology/chemo-v1', options: {} },
  { id: 'oncology/chemo-v1', options: { toxicity: 'cumulative', observeNormal: true }, tag: '.cumulative' },
  { id: 'hiv/sti-v1', options: {} },
  { id: 'pkpd/vancomycin-v1', options: {} },
] as const;

let sink = 0;

function stepsPerSecond(env: Env, ms: number): number {
  const rng = Rng.fromSeed(1).fork('bench/actions');
  const actions = Array.from({ length: 4096 }, () => env.actionSpace.sample(rng));
  let episode = 0;
  const run = (budgetMs: number): number => {
    let steps = 0;
    const start = performance.now(); // clock-ok
    let elapsed = 0;
    env.reset({ seed: episode++ });
    do {
      for (let k = 0; k < 64; k++) {
        const r = env.step(actions[steps % actions.length] as number);
        sink += r.reward;
        steps++;
        if (r.terminated || r.truncated) env.reset({ seed: episode++ });
      }
      elapsed = performance.now() - start; // clock-ok
    } while (elapsed < budgetMs);
    return (steps / elapsed) * 1000;
  };
  run(Math.min(200, ms)); // warm-up (JIT)
  const rates = [run(ms), run(ms), run(ms)].sort((a, b) => a - b);
  return rates[1] as number;
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const twin of TWINS) {
    const env = make(twin.id, { ...twin.options });
    const name = `env.${twin.id.replace('/', '.')}${'tag' in twin ? twin.tag : ''}`;
    results.push({ name, value: stepsPerSecond(env, 400), unit: 'steps/s', note: `Env API, random actions, one core${'tag' in twin ? `, ${JSON.stringify(twin.options)}` : ''}` });
  }
  if (sink === Number.POSITIVE_INFINITY) results.push({ name: 'sink', value: sink, unit: '' });
  return results;
}

runAsMain(import.meta.url, run);
