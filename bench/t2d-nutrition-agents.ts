import type { Env } from '../engine/env.js';
import { T2DNutritionEnv } from '../environments/glucose-t2d/env.js';
import { T2DAgentsEnv } from '../environments/glucose-t2d/t2d-nutrition-agents.js';
import type { BenchResult } from './types.js';
import { median, numberOption, runAsMain } from './util.js';

/**
 * glucose/t2d-nutrition-agents-v0 (the type 2 nutrition twin as agents on engine/simulation.ts) against
 * glucose/t2d-nutrition-v1 (the hand-written loop): env steps (meal decisions) per second on one core,
 * default options (3-day episodes of 9 decisions, a generated person per reset seed, 1-min patient steps
 * with RK4 h = 0.5 min between meals), same seeds and actions, measured in short alternating rounds so
 * machine load hits both alike (medians reported). Target: ≥ 0.85 of v1. A third line runs the agent
 * env with the fingerstick meter instead of the CGM (one post-meal event per meal splits the
 * integration). Each round also reads the process CPU time (process.cpuUsage), whose ratio is less
 * disturbed when other jobs share the cores; both medians are reported.
 *
 * Run directly: `npx tsx bench/t2d-nutrition-agents.ts [--rounds N]` (or `npm run bench -- t2d-nutrition-agents`).
 */
const ACTIONS = [0, 3, 5, 2, 1, 4, 0];

/** Env steps per second of wall-clock time and of process CPU time over about `ms` ms. */
function rates(env: Env, ms: number, seed0: number): { wall: number; cpu: number } {
  let seed = seed0;
  let work = 0;
  const cpu0 = process.cpuUsage(); // clock-ok
  const start = performance.now(); // clock-ok
  let elapsed = 0;
  do {
    env.reset({ seed: seed++ });
    for (let t = 0; ; t++) {
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
  const loop = new T2DNutritionEnv({});
  const agents = new T2DAgentsEnv({});
  const metered = new T2DAgentsEnv({ meter: {} });
  rates(loop, 400, 0); // warm-up (JIT)
  rates(agents, 400, 0);
  rates(metered, 200, 0);
  // Short alternating rounds (the order within a round alternates too); the median of the per-round
  // ratios resists load drifting between rounds.
  const rounds = numberOption('--rounds', 12);
  const loopRates: number[] = [];
  const agentRates: number[] = [];
  const meterRates: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const first = r % 2 === 0;
    const x0 = first ? rates(loop, 300, 100 * r) : null;
    const y = rates(agents, 300, 100 * r);
    const x = x0 ?? rates(loop, 300, 100 * r);
    meterRates.push(rates(metered, 150, 100 * r).wall);
    loopRates.push(x.wall);
    agentRates.push(y.wall);
    ratios.push(y.wall / x.wall);
    cpuRatios.push(y.cpu / x.cpu);
  }
  return [
    { name: 'glucose/t2d-nutrition-v1 (hand-written loop) steps/s', value: Math.round(median(loopRates)), unit: 'steps/s', note: 'one meal decision per step, ≈ 8 simulated hours' },
    { name: 'glucose/t2d-nutrition-agents-v0 (Simulation agents) steps/s', value: Math.round(median(agentRates)), unit: 'steps/s', note: 'same options, seeds and actions' },
    { name: 'glucose/t2d-nutrition-agents-v0, fingerstick meter, steps/s', value: Math.round(median(meterRates)), unit: 'steps/s', note: 'post-meal check event each meal' },
    // As percentages: the `npm run bench` table rounds values to integers.
    { name: 'agents / loop throughput (wall clock)', value: Math.round(median(ratios) * 1000) / 10, unit: '% of v1', note: `median of ${rounds} alternating rounds; target ≥ 85 %` },
    { name: 'agents / loop throughput (process CPU time)', value: Math.round(median(cpuRatios) * 1000) / 10, unit: '% of v1', note: `median of the same ${rounds} rounds` },
  ];
}

runAsMain(import.meta.url, run);
