import type { Env } from '../engine/env.js';
import { GlucoseAgentsEnv } from '../environments/glucose/agents.js';
import { GlucoseEnv } from '../environments/glucose/env.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * glucose/t1d-agents-v0 (the twin as agents on engine/simulation.ts) against glucose/t1d-v1 (the
 * hand-written loop): env steps per second on one core, same options, seeds and actions, measured in
 * short alternating rounds so machine load hits both alike (medians reported). Target: the agent composition within 15 %.
 *
 * Run directly: `npx tsx bench/glucose-agents.ts` (or `npm run bench -- glucose-agents`).
 */
const ACTIONS = [2, 3, 1];

function rate(env: Env, ms: number, seed0: number): number {
  let seed = seed0;
  let work = 0;
  const start = performance.now(); // clock-ok
  let elapsed = 0;
  do {
    env.reset({ seed: seed++ });
    for (let t = 0; t < 288; t++) {
      work++;
      if (env.step(ACTIONS[t % 3] as number).terminated) break;
    }
    elapsed = performance.now() - start; // clock-ok
  } while (elapsed < ms);
  return (work / elapsed) * 1000;
}

export async function run(): Promise<BenchResult[]> {
  const loop = new GlucoseEnv({});
  const agents = new GlucoseAgentsEnv({});
  rate(loop, 300, 0); // warm-up (JIT)
  rate(agents, 300, 0);
  // Short alternating rounds; the median of the per-round ratios resists load drifting between rounds.
  const rounds = 10;
  const loopRates: number[] = [];
  const agentRates: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = rate(loop, 250, 100 * r);
    const y = rate(agents, 250, 100 * r);
    loopRates.push(x);
    agentRates.push(y);
    ratios.push(y / x);
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((p, q) => p - q);
    return ((s[(s.length - 1) >> 1] as number) + (s[s.length >> 1] as number)) / 2;
  };
  const a = median(loopRates);
  const b = median(agentRates);
  const ratio = median(ratios);
  return [
    { name: 'glucose/t1d-v1 (hand-written loop) steps/s', value: Math.round(a), unit: 'steps/s', note: '5 simulated minutes per step, CGM noise on' },
    { name: 'glucose/t1d-agents-v0 (Simulation agents) steps/s', value: Math.round(b), unit: 'steps/s', note: 'same options, seeds and actions' },
    { name: 'agents / loop throughput ratio', value: Math.round(ratio * 1000) / 1000, unit: '×', note: `median of ${rounds} alternating rounds; target ≥ 0.85` },
  ];
}

runAsMain(import.meta.url, run);
