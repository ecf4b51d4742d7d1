import { make } from '../../../engine/registry.js';
import { getTwin } from '../../../engine/twin.js';
import '../../../environments/index.js';
import { GOTI } from '../../../environments/pkpd/vancomycin-model.js';
import { evaluatePolicy } from '../../../policies/evaluate.js';
import '../../../policies/index.js';
import { readFileSync } from 'node:fs';
import { loadPolicy } from '../../../policies/load.js';
import type { Policy } from '../../../policies/policy.js';
import { makePolicy } from '../../../policies/registry.js';
import { typicalPk } from '../../../twinning/vancomycin/parameters.js';
import { parseVancoTwinFile } from '../../../twinning/vancomycin/twin-file.js';
import { syntheticVancoPatient } from '../../../twinning/vancomycin/validation.js';
import { bayesianRegimen, twinPrior } from '../../personal-cohort-vancomycin.js';

/**
 * The four arms of trial-vancomycin-personal.yaml on the synthetic patient's TRUE parameters (seed 21,
 * index 4 of make-patient.ts) rather than on the twin's posterior draws: 200 episodes, episode seeds
 * 1000…1199 (assay error and AKI draws), mean of each vancomycin endpoint.
 * `npx tsx experiments/examples/vancomycin-personal/truth.ts`
 */
async function main(): Promise<void> {
  const p = syntheticVancoPatient(21, 4);
  const t = typicalPk(p.cov);
  const options = {
    weight: p.cov.bodyWeightKg,
    crcl: p.cov.crclMlMin,
    etaCl: Math.log(p.truePk.cl / t.cl),
    etaV1: Math.log(p.truePk.v1 / t.v1),
    etaV2: Math.log(p.truePk.v2 / GOTI.v2),
    patientId: 'synthetic-vanco-21-4 (truth)',
  };
  const twin = getTwin('vancomycin');
  const twinFile = new URL('twin.json', import.meta.url).pathname;
  const personal = parseVancoTwinFile(readFileSync(twinFile, 'utf8'), twinFile);
  const regimen = bayesianRegimen(personal).options;
  const dqn = await loadPolicy(new URL('dqn-policy', import.meta.url).pathname, 'pkpd/vancomycin-v1', options);
  const arms: Record<string, (env: ReturnType<typeof make>) => Policy> = {
    'trough-nomogram': (env) => makePolicy('pkpd/vancomycin-trough', env),
    'bayesian-auc': (env) => makePolicy('pkpd/vancomycin-regimen', env, regimen),
    'bayesian-tdm': (env) => makePolicy('pkpd/vancomycin-bayesian', env, { prior: twinPrior(personal), loadingMg: regimen.loadingMg }),
    dqn: (env) => dqn.policy(env),
  };
  const n = 200;
  for (const [name, policy] of Object.entries(arms)) {
    const means: Record<string, number> = {};
    for (let s = 0; s < n; s++) {
      const env = make('pkpd/vancomycin-v1', options);
      const log = evaluatePolicy(env, policy(env), { seed: 1000 + s, episodes: 1, record: true }).episodes[0]?.log;
      if (!log) throw new Error('no episode log');
      for (const e of twin.endpoints) means[e.id] = (means[e.id] ?? 0) + e.compute(log) / n;
    }
    console.log(
      `${name}: ${Object.entries(means)
        .map(([k, v]) => `${k} ${v.toFixed(3)}`)
        .join('; ')}`,
    );
  }
}

void main();
