import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { trainDqn } from '../../agents/dqn.js';
import { parseDqnConfig } from '../../agents/dqn-config.js';
import { make } from '../../engine/registry.js';
import '../../environments/index.js';
import { resolvePersonalMembers } from '../../experiments/personal-cohort.js';
import { bayesianRegimen, twinPrior } from '../../experiments/personal-cohort-vancomycin.js';
import { registerAllPolicies } from '../../policies/index.js';
import { makePolicy } from '../../policies/registry.js';
import { parseVancoTwinFile } from '../../twinning/vancomycin/twin-file.js';
import { endpointsPerSeed, fmt, greedyPolicy, mean, pairedDifference } from './helpers.js';

/**
 * Learned vancomycin dosing on one patient's personal twin (issue #18 A5; experiments/README.md,
 * Personal cohorts): the DQN of examples/train-vancomycin-personal.yaml (its config, 300k steps) trained
 * on posterior draws 0–199 of examples/vancomycin-personal/twin.json through the env's patients pool,
 * then, on held-out draws 200–399 (one episode each, paired seeds), against the trough-guided nomogram
 * (Rybak 2009) and the Bayesian regimen `twin dose` recommends (Rybak 2020). Normal-approximation 95 % CIs
 * of the paired differences. What it shows and what it does not (the example trial gave the same picture):
 * with each of 3 training seeds the DQN beats the trough nomogram on day-7 target attainment and on
 * AUC24 > 600, and the Bayesian regimen on days in target and on day-7 attainment (not more often above
 * 600 by more than 10 points); the example's own training run (another seed) did not beat the Bayesian
 * regimen on day-7 attainment — see below. None beats the Bayesian arm that re-estimates from the levels
 * (pkpd/vancomycin-bayesian, it.fails). Training ≈ 30–45 s per seed at load ≈ 8; ≈ 2 min in all.
 */
const examples = join(import.meta.dirname, '../../experiments/examples');
const spec = parseYaml(readFileSync(join(examples, 'train-vancomycin-personal.yaml'), 'utf8')) as { config: Record<string, unknown> };
const CONFIG = parseDqnConfig(spec.config);
const twinFile = join(examples, 'vancomycin-personal/twin.json');
const ids = ['target_attained_final', 'auc24_above_600_final', 'aki', 'target_attained_day2', 'days_in_target'];

const SEEDS = [0, 1, 2];
type Arm = ReturnType<typeof endpointsPerSeed>;

let cached: Promise<{ dqn: Arm[]; trough: Arm; bayesian: Arm; tdm: Arm }> | undefined;
/** The protocols once, and the DQN trained with each of SEEDS (kept weights), on the held-out draws. */
function arms(): Promise<{ dqn: Arm[]; trough: Arm; bayesian: Arm; tdm: Arm }> {
  cached ??= (async () => {
    registerAllPolicies();
    const personal = join(examples, 'vancomycin-personal');
    const pool = resolvePersonalMembers({ twin: 'vancomycin', personal, draws: 200, offset: 0 }).map((m) => m.envOptions);
    const held = resolvePersonalMembers({ twin: 'vancomycin', personal, draws: 200, offset: 200 });
    const seeds = held.map((m) => 7_000_000 + m.index);
    const makeEnv = (k: number) => make('pkpd/vancomycin-v1', held[k]?.envOptions);
    const personalTwin = parseVancoTwinFile(readFileSync(twinFile, 'utf8'), twinFile);
    const regimen = bayesianRegimen(personalTwin).options;
    const trough = endpointsPerSeed('vancomycin', ids, makeEnv, (env) => makePolicy('pkpd/vancomycin-trough', env), seeds);
    const bayesian = endpointsPerSeed('vancomycin', ids, makeEnv, (env) => makePolicy('pkpd/vancomycin-regimen', env, regimen), seeds);
    const tdmOptions = { prior: twinPrior(personalTwin), loadingMg: regimen.loadingMg };
    const tdm = endpointsPerSeed('vancomycin', ids, makeEnv, (env) => makePolicy('pkpd/vancomycin-bayesian', env, tdmOptions), seeds);
    const dqn: Arm[] = [];
    const rows = [`| arm | ${ids.join(' | ')} |`];
    const row = (name: string, r: Arm) => `| ${name} | ${ids.map((id) => fmt(mean(r.values[id] as number[]), 3)).join(' | ')} |`;
    for (const seed of SEEDS) {
      const start = performance.now();
      const result = await trainDqn({ envFactory: () => make('pkpd/vancomycin-v1', { patients: pool }), config: CONFIG, seed });
      console.log(`personal vancomycin DQN seed ${seed}: trained ${((performance.now() - start) / 1000).toFixed(0)} s, kept eval @ ${result.bestEvaluation?.step}`);
      const r = endpointsPerSeed('vancomycin', ids, makeEnv, () => greedyPolicy(result, result.bestWeights), seeds);
      result.online.dispose();
      result.target.dispose();
      dqn.push(r);
      rows.push(row(`dqn seed ${seed}`, r));
    }
    console.log([...rows, row('trough', trough), row('bayesian', bayesian), row('bayesian-tdm', tdm)].join('\n'));
    return { dqn, trough, bayesian, tdm };
  })();
  return cached;
}

function diff(a: ReturnType<typeof endpointsPerSeed>, b: ReturnType<typeof endpointsPerSeed>, id: string, label: string) {
  const d = pairedDifference(a.values[id] as number[], b.values[id] as number[]);
  console.log(`${label} ${id}: ${fmt(d.mean, 3)} [${fmt(d.lo, 3)}, ${fmt(d.hi, 3)}]`);
  return d;
}

describe('DQN on one patient’s vancomycin twin, held-out posterior draws (3 training seeds)', () => {
  it('every seed beats the trough-guided nomogram on day-7 target attainment and on AUC24 > 600, and the Bayesian regimen on days in target', async () => {
    const r = await arms();
    r.dqn.forEach((d, i) => {
      expect(diff(d, r.trough, 'target_attained_final', `seed ${SEEDS[i]}: DQN − trough`).lo).toBeGreaterThan(0);
      expect(diff(d, r.trough, 'auc24_above_600_final', `seed ${SEEDS[i]}: DQN − trough`).hi).toBeLessThan(0);
      expect(diff(d, r.bayesian, 'days_in_target', `seed ${SEEDS[i]}: DQN − Bayesian`).lo).toBeGreaterThan(0);
    });
  }, 900_000);

  // Measured (2026-12-05): seeds 0/1/2 +0.180 [0.099, 0.261] / +0.210 [0.133, 0.287] / +0.250 [0.176, 0.324] on
  // day-7 attainment; AUC24 > 600 +0.030 / +0.005 / −0.045. The example's own training run (the runner's job seed
  // of train-vancomycin-personal.yaml) did worse: +0.055 [−0.030, 0.145] in its trial — so this is seed-dependent.
  it('seeds 0–2 beat the Bayesian regimen on day-7 target attainment, at most 10 points more often above AUC24 600', async () => {
    const r = await arms();
    r.dqn.forEach((d, i) => {
      expect(diff(d, r.bayesian, 'target_attained_final', `seed ${SEEDS[i]}: DQN − Bayesian`).lo).toBeGreaterThan(0);
      expect(diff(d, r.bayesian, 'auc24_above_600_final', `seed ${SEEDS[i]}: DQN − Bayesian`).hi).toBeLessThan(0.1);
    });
  }, 900_000);

  // KNOWN FAILURE (it.fails: the honest claim is kept and expected to fail; if every seed ever wins it
  // flips and the marker must go). The Bayesian arm that re-estimates from the trial's levels
  // (pkpd/vancomycin-bayesian with the twin's posterior as prior) reached day-7 target on 0.910 of the
  // example trial's draws against the DQN's 0.690 (−0.220 [−0.295, −0.145]); the seeds here reach 0.815–0.885.
  it.fails('every seed beats the re-estimating Bayesian arm on day-7 target attainment', async () => {
    const r = await arms();
    r.dqn.forEach((d, i) => {
      expect(diff(d, r.tdm, 'target_attained_final', `seed ${SEEDS[i]}: DQN − Bayesian TDM`).lo).toBeGreaterThan(0);
    });
  }, 900_000);
});
