import { type Command, InvalidArgumentError } from 'commander';
import { make } from '../../engine/registry.js';
import { registerSepsis } from '../../environments/sepsis/index.js';
import { deterministicProbs, evaluateExact, liftObserved, liftProjected } from '../../environments/sepsis/exact.js';
import { PAPER, solveSepsis } from '../../environments/sepsis/solve.js';
import { SEPSIS_ENDPOINTS } from '../../environments/sepsis/twin.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import { makePolicy } from '../../policies/registry.js';
import { registerSepsisPolicies } from '../../policies/sepsis/index.js';
import { parseInteger } from '../program.js';

const POLICIES = { optimal: 'sepsis/optimal', physician: 'sepsis/physician', none: 'sepsis/no-treatment', all: 'sepsis/treat-all', 'optimal-observed': 'sepsis/optimal-observed', 'optimal-projected': 'sepsis/optimal-projected' } as const;
type PolicyKey = keyof typeof POLICIES;

interface SepsisSimulateOptions {
  policy: PolicyKey;
  patients: number;
  seed: number;
  csv?: boolean;
  correctedGlucose?: boolean;
}

function parsePolicy(value: string): PolicyKey {
  if (!(value in POLICIES)) throw new InvalidArgumentError(`--policy must be one of ${Object.keys(POLICIES).join(', ')}, got "${value}"`);
  return value as PolicyKey;
}

/** `twinlab simulate sepsis …`: run a baseline policy on N simulated patients and compare with the exact evaluation. */
export function registerSepsisSimulate(simulate: Command): void {
  simulate
    .command('sepsis')
    .description('Oberst & Sontag (2019) sepsis simulator: N patients under a baseline policy, with the exact (enumerated) expectations')
    .option('--policy <name>', `one of ${Object.keys(POLICIES).join(', ')}`, parsePolicy, 'physician')
    .option('--patients <n>', 'number of patients (episodes of ≤ 20 steps)', parseInteger('--patients', { min: 1 }), 1000)
    .option('--seed <n>', 'seed (patient k uses the episode seed derived from (seed, k))', parseInteger('--seed'), 0)
    .option('--corrected-glucose', 'use the corrected glucose rule (glucoseDefect: false) instead of the paper\'s master-branch rule')
    .option('--csv', 'print one row per patient')
    .action((o: SepsisSimulateOptions) => {
      registerSepsis();
      registerSepsisPolicies();
      const glucoseDefect = !o.correctedGlucose;
      const env = make('sepsis/oberst-v1', { glucoseDefect });
      const policy = makePolicy(POLICIES[o.policy], env);
      const result = evaluatePolicy(env, policy, { seed: o.seed, episodes: o.patients, record: { keyframeInterval: 1000 } });
      const ids = ['mortality', 'discharge', 'time-to-discharge', 'treatment-days'];
      const endpoints = ids.map((id) => SEPSIS_ENDPOINTS.find((e) => e.id === id) as (typeof SEPSIS_ENDPOINTS)[number]);
      if (o.csv) {
        const rows = [`patient,seed,diabetic,initial_state,outcome,steps,return,${ids.join(',')}`];
        for (const e of result.episodes) {
          const log = e.log as NonNullable<typeof e.log>;
          const outcome = e.terminated ? (e.return < 0 ? 'death' : 'discharge') : 'ongoing';
          rows.push([e.episode, e.seed, log.resetInfo.diabetic, log.resetInfo.obsIndex, outcome, e.length, e.return, ...endpoints.map((d) => d.compute(log))].join(','));
        }
        process.stdout.write(`${rows.join('\n')}\n`);
        return;
      }
      const sol = solveSepsis(glucoseDefect);
      const probs =
        o.policy === 'optimal'
          ? deterministicProbs((s) => sol.fullVI.policy[s] as number)
          : o.policy === 'physician'
            ? sol.physician
            : o.policy === 'none'
              ? deterministicProbs(() => 0)
              : o.policy === 'all'
                ? deterministicProbs(() => 7)
                : o.policy === 'optimal-observed'
                  ? liftObserved(sol.observedVI.policy)
                  : liftProjected(sol.projectedVI.policy);
      const exact = evaluateExact(sol.full, probs, sol.initial, PAPER.horizon);
      const exactValues = [exact.pDeath, exact.pDischarge, exact.expectedTimeToDischarge, exact.expectedTreatmentDays];
      const lines = [`sepsis/oberst-v1 (glucoseDefect ${glucoseDefect}), policy ${POLICIES[o.policy]}, ${o.patients} patients, seed ${o.seed}`];
      endpoints.forEach((d, k) => {
        const values = result.episodes.map((e) => d.compute(e.log as NonNullable<typeof e.log>));
        const m = values.reduce((a, b) => a + b, 0) / values.length;
        lines.push(`${d.id.padEnd(18)} ${m.toFixed(4)}   exact ${(exactValues[k] as number).toFixed(4)}  (${d.unit})`);
      });
      lines.push(`mean return        ${result.meanReturn.toFixed(4)}   exact ${exact.expectedReturn.toFixed(4)}`);
      lines.push(`hash ${result.hash}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
