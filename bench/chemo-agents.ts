import type { Env } from '../engine/env.js';
import { ChemoAgentsEnv } from '../environments/oncology/chemo-agents.js';
import { CHEMO_MAX_STEPS, ChemoEnv } from '../environments/oncology/chemo-env.js';
import type { BenchResult } from './types.js';
import { median, runAsMain } from './util.js';

/**
 * oncology/chemo-agents-v0 (the chemotherapy twin as agents on engine/simulation.ts) against
 * oncology/chemo-v1 (the hand-written loop): env steps per second on one core, default options (episodes of
 * 600 six-hour steps, RK4 h = 0.01 day), same seeds and actions, measured in short alternating rounds so
 * machine load hits both alike (medians reported). Target: ≥ 0.85 of v1. A third line runs the agent env
 * with sparse monitoring (imaging every 42 days, bloods every 7). Each round also reads the process CPU
 * time (process.cpuUsage), whose ratio is less disturbed when other jobs share the cores; both medians
 * are reported.
 *
 * Run directly: `npx tsx bench/chemo-agents.ts` (or `npm run bench -- chemo-agents`).
 */
const ACTIONS = [3, 4, 2, 4, 1];

/** Env steps per second of wall-clock time and of process CPU time over about `ms` ms. */
function rates(env: Env, ms: number, seed0: number): { wall: number; cpu: number } {
  let seed = seed0;
  let work = 0;
  const cpu0 = process.cpuUsage(); // clock-ok
  const start = performance.now(); // clock-ok
  let elapsed = 0;
  do {
    env.reset({ seed: seed++ });
    for (let t = 0; t < CHEMO_MAX_STEPS; t++) {
      work++;
      const r = env.step(ACTIONS[t % ACTIONS.length] as number);
      if (r.terminated || r.truncated) break;
    }
    elapsed = performance.now() - start; // clock-ok
  } while (elapsed < ms);
  const used = process.cpuUsage(cpu0); // clock-ok
  return { wall: (work / elapsed) * 1000, cpu: (work / (used.user + used.system)) * 1e6 };
}

export async function run(): Promise<BenchResult[]> {
  const loop = new ChemoEnv({});
  const agents = new ChemoAgentsEnv({});
  const sparse = new ChemoAgentsEnv({ monitoring: { imagingEveryDays: 42, bloodsEveryDays: 7 } });
  rates(loop, 300, 0); // warm-up (JIT)
  rates(agents, 300, 0);
  rates(sparse, 300, 0);
  // Short alternating rounds; the median of the per-round ratios resists load drifting between rounds.
  const rounds = 16;
  const loopRates: number[] = [];
  const agentRates: number[] = [];
  const sparseRates: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = rates(loop, 200, 100 * r);
    const y = rates(agents, 200, 100 * r);
    sparseRates.push(rates(sparse, 100, 100 * r).wall);
    loopRates.push(x.wall);
    agentRates.push(y.wall);
    ratios.push(y.wall / x.wall);
    cpuRatios.push(y.cpu / x.cpu);
  }
  return [
    { name: 'oncology/chemo-v1 (hand-written loop) steps/s', value: Math.round(median(loopRates)), unit: 'steps/s', note: '6 simulated hours per step, RK4 h = 0.01 day' },
    { name: 'oncology/chemo-agents-v0 (Simulation agents) steps/s', value: Math.round(median(agentRates)), unit: 'steps/s', note: 'same options, seeds and actions' },
    { name: 'oncology/chemo-agents-v0, imaging 42 d / bloods 7 d, steps/s', value: Math.round(median(sparseRates)), unit: 'steps/s', note: 'monitor holding values' },
    // As percentages: the `npm run bench` table rounds values to integers.
    { name: 'agents / loop throughput (wall clock)', value: Math.round(median(ratios) * 1000) / 10, unit: '% of v1', note: `median of ${rounds} alternating rounds; target ≥ 85 %` },
    { name: 'agents / loop throughput (process CPU time)', value: Math.round(median(cpuRatios) * 1000) / 10, unit: '% of v1', note: `median of the same ${rounds} rounds` },
  ];
}

runAsMain(import.meta.url, run);
