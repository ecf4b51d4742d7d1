import { pathToFileURL } from 'node:url';
import type { OpeData } from '../evaluation/ope/data.js';
import { fittedQEvaluation } from '../evaluation/ope/fqe.js';
import { sepsisLogs, validateGlucose, validateSepsis, validationTable } from '../evaluation/ope/validation.js';
import type { BenchResult } from './types.js';
import { numberOption } from './util.js';

/**
 * Off-policy evaluation. `npm run bench -- ope`: fitted-Q evaluation (20 iterations, γ = 1) on ≥ 10⁵
 * logged sepsis transitions (ε = 0.3 mixture around `sepsis/optimal-observed`), tabular on the state
 * index and linear (ridge) on the 19-float factored encoding.
 *
 * `npx tsx bench/ope.ts --validate [--replications R] [--episodes N] [--glucose-replications R]` (R = 0 skips)
 * prints the validation table of evaluation/README.md: bias, RMSE and 95 % CI coverage of every
 * estimator against the exact sepsis value (ε = 0.1, 0.3, 0.6) and against the re-simulated glucose value.
 */
function transitionsOf(data: OpeData): number {
  return data.trajectories.reduce((s, tr) => s + tr.actions.length, 0);
}

/** Wall time and this process's CPU time (user + system): on a shared machine the second is the steadier figure. */
function timed<T>(f: () => T): { value: T; ms: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now(); // clock-ok
  const value = f();
  const ms = performance.now() - t0; // clock-ok
  const c = process.cpuUsage(c0);
  return { value, ms, cpuMs: (c.user + c.system) / 1000 };
}

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  // ≈ 12 steps per episode at ε = 0.3: 9,000 episodes give > 10⁵ transitions
  for (const observation of ['index', 'factored'] as const) {
    const logs = sepsisLogs(9000, 0.3, 1, { observation });
    const n = transitionsOf(logs.data);
    const model = observation === 'index' ? 'tabular' : 'linear';
    timed(() => fittedQEvaluation(logs.data, logs.piE, { model, features: 'linear' })); // warm-up (state index, JIT)
    const { value: fqe, ms, cpuMs } = timed(() => fittedQEvaluation(logs.data, logs.piE, { model, features: 'linear' }));
    out.push({
      name: `FQE ${model} (sepsis, ${observation} observation)`,
      value: ms,
      unit: 'ms',
      note: `CPU ${cpuMs.toFixed(0)} ms; ${n} transitions, ${fqe.iterations} iterations, ${fqe.size} ${model === 'tabular' ? 'states' : 'features'}; estimate ${fqe.value.toFixed(3)} vs exact ${logs.trueValue.toFixed(3)}`,
    });
  }
  return out;
}

async function validate(): Promise<void> {
  const replications = numberOption('--replications', 50);
  const n = numberOption('--episodes', 500);
  const glucoseReplications = numberOption('--glucose-replications', 3);
  if (replications > 0) {
    const sepsis = validateSepsis({ replications, n });
    process.stdout.write(`## sepsis/oberst-v1: ${replications} replications of ${n} episodes, B = 200 (FQE 50 refits)\n\n${validationTable(sepsis)}\n\n`);
  }
  if (glucoseReplications > 0) {
    const glucose = validateGlucose({ replications: glucoseReplications, estimate: { bootstrapFqe: 20 } });
    process.stdout.write(`## glucose/t1d-v1: ${glucoseReplications} replications of 10 adults × 1 day, B = 200 (FQE 20 refits)\n\n${validationTable(glucose)}\n`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--validate')) await validate();
  else for (const r of await run()) process.stdout.write(`${r.name}: ${r.value.toFixed(1)} ${r.unit} (${r.note})\n`);
}
