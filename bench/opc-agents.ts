import type { Env } from '../engine/env.js';
import { OpcAgentsEnv } from '../environments/oncology/opc-agents.js';
import { OpcSequencingEnv } from '../environments/oncology/opc-env.js';
import type { BenchResult } from './types.js';
import { median, runAsMain } from './util.js';

/**
 * oncology/opc-sequencing-agents-v0 (the SYNTHETIC OPC twin as agents on engine/simulation.ts) against
 * oncology/opc-sequencing-v1 (the hand-written env): env steps per second on one core, default options,
 * a seeded reset per episode (3 steps, so the per-episode cost — a new Simulation, the substreams, the
 * patient draw — weighs as much as the steps), same seeds and actions, in short alternating rounds so
 * machine load hits both alike (medians reported). Target: ≥ 0.85 of v1. A third line runs the agent env
 * with imperfect imaging (one more stream and draw per episode). Each round also reads the process CPU
 * time (process.cpuUsage); both medians are reported.
 *
 * Run directly: `npx tsx bench/opc-agents.ts` (or `npm run bench -- opc-agents`).
 */

/** Env steps per second of wall-clock time and of process CPU time over about `ms` ms. */
function rates(env: Env, ms: number, seed0: number): { wall: number; cpu: number } {
  let seed = seed0;
  let work = 0;
  const cpu0 = process.cpuUsage(); // clock-ok
  const start = performance.now(); // clock-ok
  let elapsed = 0;
  do {
    for (let e = 0; e < 50; e++) {
      const s = seed++;
      env.reset({ seed: s });
      for (let t = 0; ; t++) {
        work++;
        const r = env.step((s >> t) & 1);
        if (r.terminated || r.truncated) break;
      }
    }
    elapsed = performance.now() - start; // clock-ok
  } while (elapsed < ms);
  const used = process.cpuUsage(cpu0); // clock-ok
  return { wall: (work / elapsed) * 1000, cpu: (work / (used.user + used.system)) * 1e6 };
}

export async function run(): Promise<BenchResult[]> {
  const loop = new OpcSequencingEnv({});
  const agents = new OpcAgentsEnv({});
  const imaging = new OpcAgentsEnv({ imaging: { sensitivity: 0.8, specificity: 0.9 } });
  rates(loop, 300, 0); // warm-up (JIT)
  rates(agents, 300, 0);
  rates(imaging, 300, 0);
  // Short alternating rounds; the median of the per-round ratios resists load drifting between rounds.
  const rounds = 16;
  const loopRates: number[] = [];
  const agentRates: number[] = [];
  const imagingRates: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = rates(loop, 200, 100_000 * r);
    const y = rates(agents, 200, 100_000 * r);
    imagingRates.push(rates(imaging, 100, 100_000 * r).wall);
    loopRates.push(x.wall);
    agentRates.push(y.wall);
    ratios.push(y.wall / x.wall);
    cpuRatios.push(y.cpu / x.cpu);
  }
  return [
    { name: 'oncology/opc-sequencing-v1 (hand-written env) steps/s', value: Math.round(median(loopRates)), unit: 'steps/s', note: '3 decisions per episode, seeded reset each' },
    { name: 'oncology/opc-sequencing-agents-v0 (Simulation agents) steps/s', value: Math.round(median(agentRates)), unit: 'steps/s', note: 'same options, seeds and actions' },
    { name: 'oncology/opc-sequencing-agents-v0, imaging 0.8/0.9, steps/s', value: Math.round(median(imagingRates)), unit: 'steps/s', note: 'imaging stream and draw' },
    // As percentages: the `npm run bench` table rounds values to integers.
    { name: 'agents / loop throughput (wall clock)', value: Math.round(median(ratios) * 1000) / 10, unit: '% of v1', note: `median of ${rounds} alternating rounds; target ≥ 85 %` },
    { name: 'agents / loop throughput (process CPU time)', value: Math.round(median(cpuRatios) * 1000) / 10, unit: '% of v1', note: `median of the same ${rounds} rounds` },
  ];
}

runAsMain(import.meta.url, run);
