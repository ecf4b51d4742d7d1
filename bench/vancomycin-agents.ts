import type { Env } from '../engine/env.js';
import { VancoAgentsEnv } from '../environments/pkpd/vancomycin-agents.js';
import { VancomycinEnv } from '../environments/pkpd/vancomycin-env.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * pkpd/vancomycin-agents-v0 (the vancomycin twin as agents on engine/simulation.ts) against
 * pkpd/vancomycin-v1 (the hand-written loop): env steps per second on one core, default options
 * (7-day episodes of 14 twelve-hour steps, assay error and AKI on), same seeds and actions, measured in
 * short alternating rounds so machine load hits both alike (medians reported). Target: ≥ 0.85 of v1.
 * A third line runs the agent env with a 6-h lab turnaround (the lab's result queue in use). Each round
 * also reads the process CPU time (process.cpuUsage), whose ratio is less disturbed when other jobs share
 * the cores than the wall-clock one; both medians are reported.
 *
 * Run directly: `npx tsx bench/vancomycin-agents.ts` (or `npm run bench -- vancomycin-agents`).
 */
const ACTIONS = [3, 5, 4, 0, 8];

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

const rate = (env: Env, ms: number, seed0: number): number => rates(env, ms, seed0).wall;

const median = (xs: number[]): number => {
  const s = [...xs].sort((p, q) => p - q);
  return ((s[(s.length - 1) >> 1] as number) + (s[s.length >> 1] as number)) / 2;
};

export async function run(): Promise<BenchResult[]> {
  const loop = new VancomycinEnv({});
  const agents = new VancoAgentsEnv({});
  const delayed = new VancoAgentsEnv({ lab: { turnaroundHours: 6 } });
  rate(loop, 300, 0); // warm-up (JIT)
  rate(agents, 300, 0);
  rate(delayed, 300, 0);
  // Short alternating rounds; the median of the per-round ratios resists load drifting between rounds.
  const rounds = 16;
  const loopRates: number[] = [];
  const agentRates: number[] = [];
  const delayedRates: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = rates(loop, 200, 100 * r);
    const y = rates(agents, 200, 100 * r);
    delayedRates.push(rate(delayed, 100, 100 * r));
    loopRates.push(x.wall);
    agentRates.push(y.wall);
    ratios.push(y.wall / x.wall);
    cpuRatios.push(y.cpu / x.cpu);
  }
  const ratio = median(ratios);
  return [
    { name: 'pkpd/vancomycin-v1 (hand-written loop) steps/s', value: Math.round(median(loopRates)), unit: 'steps/s', note: '12 simulated hours per step, RK4 h = 0.05 h' },
    { name: 'pkpd/vancomycin-agents-v0 (Simulation agents) steps/s', value: Math.round(median(agentRates)), unit: 'steps/s', note: 'same options, seeds and actions' },
    { name: 'pkpd/vancomycin-agents-v0, lab turnaround 6 h, steps/s', value: Math.round(median(delayedRates)), unit: 'steps/s', note: 'result queue in use' },
    // As percentages: the `npm run bench` table rounds values to integers.
    { name: 'agents / loop throughput (wall clock)', value: Math.round(ratio * 1000) / 10, unit: '% of v1', note: `median of ${rounds} alternating rounds; target ≥ 85 %` },
    { name: 'agents / loop throughput (process CPU time)', value: Math.round(median(cpuRatios) * 1000) / 10, unit: '% of v1', note: `median of the same ${rounds} rounds` },
  ];
}

runAsMain(import.meta.url, run);
