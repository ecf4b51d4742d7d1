import type { Env } from '../engine/env.js';
import { SepsisEnv } from '../environments/sepsis/env.js';
import { SepsisAgentsEnv } from '../environments/sepsis/oberst-agents.js';
import { PAPER } from '../environments/sepsis/solve.js';
import type { BenchResult } from './types.js';
import { median, runAsMain } from './util.js';

/**
 * sepsis/oberst-agents-v0 (the sepsis twin as agents on engine/simulation.ts) against sepsis/oberst-v1
 * (the hand-written loop): env steps per second on one core, default options, episodes of at most the
 * paper's 20 steps (ended earlier by death or discharge), a seeded reset per episode, the same seeds and
 * actions for both, measured in short alternating rounds so machine load hits both alike (medians
 * reported). Target: ≥ 0.85 of v1. A third line runs the agent env with a glucose draw every 4 steps.
 * Each round also reads the process CPU time (process.cpuUsage), whose ratio is less disturbed when
 * other jobs share the cores; both medians are reported. A sepsis step is a handful of uniform draws,
 * so this measures the Simulation's fixed cost per step (phases, collector row) and per reset (a new
 * Simulation) at its most visible.
 *
 * Run directly: `npx tsx bench/sepsis-agents.ts` (or `npm run bench -- sepsis-agents`).
 */
const ACTIONS = [5, 7, 4, 0, 1, 6, 2];

/** Env steps per second of wall-clock time and of process CPU time over about `ms` ms. */
function rates(env: Env, ms: number, seed0: number): { wall: number; cpu: number } {
  let seed = seed0;
  let work = 0;
  const cpu0 = process.cpuUsage(); // clock-ok
  const start = performance.now(); // clock-ok
  let elapsed = 0;
  do {
    for (let k = 0; k < 64; k++) {
      env.reset({ seed: seed++ });
      for (let t = 0; t < PAPER.horizon; t++) {
        work++;
        const r = env.step(ACTIONS[(t + seed) % ACTIONS.length] as number);
        if (r.terminated || r.truncated) break;
      }
    }
    elapsed = performance.now() - start; // clock-ok
  } while (elapsed < ms);
  const used = process.cpuUsage(cpu0); // clock-ok
  return { wall: (work / elapsed) * 1000, cpu: (work / (used.user + used.system)) * 1e6 };
}

export async function run(): Promise<BenchResult[]> {
  const loop = new SepsisEnv({});
  const agents = new SepsisAgentsEnv({});
  const sparse = new SepsisAgentsEnv({ lab: { glucoseEverySteps: 4 } });
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
    const x = rates(loop, 200, 10000 * r);
    const y = rates(agents, 200, 10000 * r);
    sparseRates.push(rates(sparse, 100, 10000 * r).wall);
    loopRates.push(x.wall);
    agentRates.push(y.wall);
    ratios.push(y.wall / x.wall);
    cpuRatios.push(y.cpu / x.cpu);
  }
  return [
    { name: 'sepsis/oberst-v1 (hand-written loop) steps/s', value: Math.round(median(loopRates)), unit: 'steps/s', note: 'seeded reset per episode, ≤ 20 steps' },
    { name: 'sepsis/oberst-agents-v0 (Simulation agents) steps/s', value: Math.round(median(agentRates)), unit: 'steps/s', note: 'same options, seeds and actions' },
    { name: 'sepsis/oberst-agents-v0, glucose every 4 steps, steps/s', value: Math.round(median(sparseRates)), unit: 'steps/s', note: 'lab cadence in use' },
    // As percentages: the `npm run bench` table rounds values to integers.
    { name: 'agents / loop throughput (wall clock)', value: Math.round(median(ratios) * 1000) / 10, unit: '% of v1', note: `median of ${rounds} alternating rounds; target ≥ 85 %` },
    { name: 'agents / loop throughput (process CPU time)', value: Math.round(median(cpuRatios) * 1000) / 10, unit: '% of v1', note: `median of the same ${rounds} rounds` },
  ];
}

runAsMain(import.meta.url, run);
