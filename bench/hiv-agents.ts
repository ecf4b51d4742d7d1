import type { Env } from '../engine/env.js';
import { HivEnv } from '../environments/hiv/env.js';
import { HivAgentsEnv } from '../environments/hiv/sti-agents.js';
import type { BenchResult } from './types.js';
import { median, runAsMain } from './util.js';

/**
 * hiv/sti-agents-v0 (the HIV twin as agents on engine/simulation.ts) against hiv/sti-v1 (the hand-written
 * loop): env steps (5-day intervals) per second on one core, default options, 200-step episodes (1000 days)
 * with a cycling regimen, the same actions for both, measured in short alternating rounds so machine load
 * hits both alike (medians reported). Target: ≥ 0.85 of v1. A third line runs the agent env with a lab draw
 * every 6 intervals (30 days). Each round also reads the process CPU time (process.cpuUsage); both medians
 * are reported. The Dormand–Prince integration of the stiff-ish model dominates a step.
 *
 * Run directly: `npx tsx bench/hiv-agents.ts` (or `npm run bench -- hiv-agents`).
 */
const ACTIONS = [3, 3, 1, 0, 2, 0, 0, 3];

/** Env steps per second of wall-clock time and of process CPU time over about `ms` ms. */
function rates(env: Env, ms: number, seed0: number): { wall: number; cpu: number } {
  let seed = seed0;
  let work = 0;
  const cpu0 = process.cpuUsage(); // clock-ok
  const start = performance.now(); // clock-ok
  let elapsed = 0;
  do {
    env.reset({ seed: seed++ });
    for (let t = 0; t < 200; t++) {
      work++;
      env.step(ACTIONS[(t >> 2) % ACTIONS.length] as number);
    }
    elapsed = performance.now() - start; // clock-ok
  } while (elapsed < ms);
  const used = process.cpuUsage(cpu0); // clock-ok
  return { wall: (work / elapsed) * 1000, cpu: (work / (used.user + used.system)) * 1e6 };
}

export async function run(): Promise<BenchResult[]> {
  const loop = new HivEnv({});
  const agents = new HivAgentsEnv({});
  const monthly = new HivAgentsEnv({ lab: { everySteps: 6 } });
  rates(loop, 300, 0); // warm-up (JIT)
  rates(agents, 300, 0);
  rates(monthly, 300, 0);
  // Short alternating rounds; the median of the per-round ratios resists load drifting between rounds.
  const rounds = 12;
  const loopRates: number[] = [];
  const agentRates: number[] = [];
  const monthlyRates: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = rates(loop, 250, r);
    const y = rates(agents, 250, r);
    monthlyRates.push(rates(monthly, 100, r).wall);
    loopRates.push(x.wall);
    agentRates.push(y.wall);
    ratios.push(y.wall / x.wall);
    cpuRatios.push(y.cpu / x.cpu);
  }
  return [
    { name: 'hiv/sti-v1 (hand-written loop) steps/s', value: Math.round(median(loopRates)), unit: 'steps/s', note: '5 simulated days per step, Dormand–Prince 5(4)' },
    { name: 'hiv/sti-agents-v0 (Simulation agents) steps/s', value: Math.round(median(agentRates)), unit: 'steps/s', note: 'same options and actions' },
    { name: 'hiv/sti-agents-v0, lab every 6 intervals, steps/s', value: Math.round(median(monthlyRates)), unit: 'steps/s', note: 'lab cadence in use' },
    // As percentages: the `npm run bench` table rounds values to integers.
    { name: 'agents / loop throughput (wall clock)', value: Math.round(median(ratios) * 1000) / 10, unit: '% of v1', note: `median of ${rounds} alternating rounds; target ≥ 85 %` },
    { name: 'agents / loop throughput (process CPU time)', value: Math.round(median(cpuRatios) * 1000) / 10, unit: '% of v1', note: `median of the same ${rounds} rounds` },
  ];
}

runAsMain(import.meta.url, run);
