import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { make } from '../../engine/registry.js';
import { VancomycinEnv, type VancoPatient } from '../../environments/pkpd/vancomycin-env.js';
import { InlineExecutor } from '../../experiments/executor.js';
import { expandJobs, type TrainJobConfig, type TrialJobConfig } from '../../experiments/jobs.js';
import { bayesianRegimen, twinPrior } from '../../experiments/personal-cohort-vancomycin.js';
import { runExperiment } from '../../experiments/runner.js';
import { validateSpec } from '../../experiments/spec.js';
import { Store } from '../../experiments/store.js';
import { recommendDoses } from '../../twinning/vancomycin/dose.js';
import { fitVancomycinTwin } from '../../twinning/vancomycin/fit.js';
import { pkAt } from '../../twinning/vancomycin/parameters.js';
import { parseVancoTwinFile, type VancoTwinFile, vancoTwinFileText } from '../../twinning/vancomycin/twin-file.js';
import { syntheticVancoPatient } from '../../twinning/vancomycin/validation.js';
import '../../environments/index.js';
import '../../policies/index.js';
import { specErrors } from './spec-errors.js';

/**
 * Personal cohorts of the vancomycin twin (experiments/personal-cohort-vancomycin.ts): a small twin
 * fitted here to a synthetic Goti patient's three levels; its posterior draws as the patients of
 * pkpd/vancomycin-v1 in trials and DQN training; the three arms of issue #18 A5 end to end.
 */
const root = mkdtempSync(join(tmpdir(), 'twinlab-personal-vanco-'));
const twinDir = join(root, 'v1');
let twin: VancoTwinFile;
const H = 3_600_000;

beforeAll(async () => {
  const p = syntheticVancoPatient(7, 2);
  const dataset = {
    kind: 'vancomycin' as const,
    patientId: 'synthetic-vanco-7-2',
    covariates: {},
    doses: p.doses.map((d) => ({ timeMs: d.timeH * H, amountMg: d.amountMg, durationH: d.durationH })),
    levels: p.times.map((t, i) => ({ timeMs: t * H, concMgL: p.observed[i] as number })),
    warnings: [],
    provenance: { format: 'csv' as const, fileSha256: '0'.repeat(64), records: 10 },
  };
  twin = await fitVancomycinTwin(dataset, p.cov, { method: 'mcmc', seed: 3, codeVersion: 'test', walkers: 12, steps: 300, burn: 100, draws: 24 });
  mkdirSync(twinDir, { recursive: true });
  writeFileSync(join(twinDir, 'twin.json'), vancoTwinFileText(twin));
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const trialSpec = (cohort: Record<string, unknown> = {}, arms?: unknown[]) => ({
  kind: 'trial',
  name: 'personal vancomycin',
  seed: 9,
  cohort: { twin: 'vancomycin', personal: twinDir, draws: 3, ...cohort },
  arms: arms ?? [
    { name: 'trough', policy: 'pkpd/vancomycin-trough' },
    { name: 'nomogram', policy: 'pkpd/vancomycin-nomogram' },
  ],
  endpoints: { primary: ['target_attained_final', 'auc24_above_600_final', 'aki'], secondary: ['trough_final'] },
});

describe('vancomycin personal cohorts', () => {
  it("the patients of a trial are the twin's posterior draws with the person's covariates: the env's CL, V1, V2 are the draw's", () => {
    const jobs = expandJobs('exp', validateSpec(trialSpec({ offset: 5, draws: 4 })));
    expect(jobs).toHaveLength(8);
    const cov = twin.covariates;
    for (let i = 0; i < 4; i++) {
      const k = 5 + i;
      const draw = twin.posterior.draws[k] as number[];
      const config = jobs[2 * i]?.config as TrialJobConfig;
      expect(config.envOptions).toMatchObject({ weight: cov.bodyWeightKg, crcl: cov.crclMlMin, dialysis: cov.dialysis, etaCl: draw[0], etaV1: draw[1], etaV2: draw[2] });
      expect(config.patientIndex).toBe(k);
      expect(config.patientId).toBe(`${twin.patient.id}#draw-${k}`);
      const { info } = make('pkpd/vancomycin-v1', config.envOptions).reset({ seed: 1 });
      expect(info.pk).toEqual(pkAt(cov, draw));
      expect(info.patientId).toBe(`${twin.patient.id}#draw-${k}`);
    }
  });

  it('a training spec trains on its draws: the env pool is those patients', () => {
    const spec = validateSpec({ kind: 'train', name: 't', env: 'pkpd/vancomycin-v1', steps: 100, cohort: { twin: 'vancomycin', personal: twinDir, draws: 4 } });
    const config = expandJobs('exp', spec)[0]?.config as TrainJobConfig;
    const patients = config.envOptions.patients as VancoPatient[];
    expect(patients.map((p) => p.patientId)).toEqual([0, 1, 2, 3].map((k) => `${twin.patient.id}#draw-${k}`));
    expect(patients.map((p) => [p.etaCl, p.etaV1, p.etaV2])).toEqual(twin.posterior.draws.slice(0, 4));
    const env = new VancomycinEnv(config.envOptions);
    const seen = new Set<unknown>();
    for (let s = 0; s < 24; s++) seen.add(env.reset({ seed: s }).info.patientId);
    expect(seen.size).toBe(4);
  });

  it('bad specs name the field: missing twin dir, too many draws, data, a foreign env, a bad twin file', () => {
    const missing = specErrors(trialSpec({ personal: join(root, 'nobody') }));
    expect(missing[0]?.path).toBe('cohort.personal');
    expect(missing[0]?.message).toContain(join(root, 'nobody', 'twin.json'));
    expect(missing[0]?.message).toContain('--twin vancomycin');
    const tooMany = specErrors(trialSpec({ draws: 25 }));
    expect(tooMany[0]?.path).toBe('cohort.draws');
    expect(tooMany[0]?.message).toMatch(/draws 0–24 asked for, but .*twin\.json holds 24 posterior draws/);
    expect(specErrors(trialSpec({ draws: 4, offset: 21 }))[0]?.path).toBe('cohort.draws');
    expect(specErrors(trialSpec({ data: join(root, 'x.csv') }))[0]).toMatchObject({ path: 'cohort.data', message: expect.stringMatching(/not used by a vancomycin personal cohort/) });
    expect(specErrors(trialSpec({ env: 'glucose/t1d-v1' })).some((e) => e.path === 'cohort.env')).toBe(true);
    const train = { kind: 'train', name: 't', steps: 100, cohort: { twin: 'vancomycin', personal: twinDir, draws: 2 } };
    expect(specErrors({ ...train, env: 'glucose/t1d-v1' })[0]).toMatchObject({ path: 'env', message: expect.stringMatching(/a personal vancomycin cohort runs on pkpd\/vancomycin-v1/) });
    expect(specErrors({ ...train, env: 'pkpd/vancomycin-v1', envOptions: { weight: 70 } })[0]?.path).toBe('envOptions.weight');
    const badDir = join(root, 'bad');
    mkdirSync(badDir, { recursive: true });
    writeFileSync(join(badDir, 'twin.json'), '{"format": "twinlab.vancomycin-twin/1"}');
    const invalid = specErrors(trialSpec({ personal: badDir }));
    expect(invalid[0]).toMatchObject({ path: 'cohort.personal', message: expect.stringMatching(/invalid vancomycin twin file/) });
  });

  it("the Bayesian arm's regimen is twin dose's best the env can give; the example's options equal it", () => {
    const r = bayesianRegimen(twin);
    const rows = recommendDoses(twin, { targetAuc: [400, 600], intervals: [12, 24], mic: 1, top: 1000 }).regimens;
    const best = rows.find((row) => (row.doseMg >= 500 && row.doseMg <= 2000) || row.doseMg === 2500); // the default dose levels
    expect(r.row).toEqual(best);
    expect([12, 24]).toContain(r.options.intervalH);
    // the example trial's bayesian-auc arm is this computation on the example twin (re-run it after a refit)
    const dir = join(import.meta.dirname, '../../experiments/examples');
    const example = parseVancoTwinFile(readFileSync(join(dir, 'vancomycin-personal/twin.json'), 'utf8'), 'twin.json');
    const spec = parseYaml(readFileSync(join(dir, 'trial-vancomycin-personal.yaml'), 'utf8')) as { arms: Array<{ name: string; options?: unknown }> };
    expect(spec.arms.find((a) => a.name === 'bayesian-auc')?.options).toEqual(bayesianRegimen(example).options);
    // the re-estimating arm's prior is the twin's posterior moments, with the same loading dose
    expect(spec.arms.find((a) => a.name === 'bayesian-tdm')?.options).toEqual({ loadingMg: bayesianRegimen(example).options.loadingMg, prior: twinPrior(example) });
    const prior = twinPrior(twin);
    const n = twin.posterior.draws.length;
    expect(prior.mean[0]).toBeCloseTo(twin.posterior.draws.reduce((s, d) => s + (d[0] as number), 0) / n, 12);
    expect(prior.cov[1]?.[1]).toBeCloseTo(twin.posterior.draws.reduce((s, d) => s + ((d[1] as number) - (prior.mean[1] as number)) ** 2, 0) / (n - 1), 12);
    expect(prior.cov[0]?.[2]).toBe(prior.cov[2]?.[0]);
  });

  it('trains a DQN on draws, then a trial of the three arms (trough nomogram, Bayesian regimen, DQN) runs end to end on held-out draws, twice identically', async () => {
    const store = Store.open(join(root, 'train-store'));
    let policyDir: string;
    try {
      const trained = await runExperiment({
        spec: {
          kind: 'train',
          name: 'tiny personal vancomycin dqn',
          seed: 4,
          env: 'pkpd/vancomycin-v1',
          steps: 300,
          evalEpisodes: 1,
          config: { learningStarts: 50, numEnvs: 2, hidden: [16], evalEvery: 0 },
          cohort: { twin: 'vancomycin', personal: twinDir, draws: 6 },
        },
        store,
        executor: new InlineExecutor(),
        id: 'tiny-train',
      });
      expect(trained.status, trained.error).toBe('finished');
      policyDir = join(root, 'train-store', 'runs', 'tiny-train', 'job-0', 'policy');
      expect(existsSync(join(policyDir, 'policy.json'))).toBe(true);
    } finally {
      store.close();
    }
    const arms = [
      { name: 'trough', policy: 'pkpd/vancomycin-trough' },
      { name: 'bayesian-auc', policy: 'pkpd/vancomycin-regimen', options: bayesianRegimen(twin).options },
      { name: 'dqn', policy: policyDir },
      { name: 'bayesian-tdm', policy: 'pkpd/vancomycin-bayesian', options: { prior: twinPrior(twin), samples: 200 } },
    ];
    const outcomes = [];
    for (const k of [0, 1]) {
      const s = Store.open(join(root, `trial-store-${k}`));
      try {
        const outcome = await runExperiment({ spec: trialSpec({ offset: 6 }, arms), store: s, executor: new InlineExecutor(), id: 'personal-vanco' });
        expect(outcome.status, outcome.error).toBe('finished');
        outcomes.push(outcome);
      } finally {
        s.close();
      }
    }
    const [a, b] = outcomes;
    const hashes = (o: typeof a) => o?.jobs.map((j) => (j.result as { trajectoryHash: string }).trajectoryHash);
    expect(hashes(a)).toEqual(hashes(b));
    expect(a?.trial).toEqual(b?.trial);
    expect(a?.trial?.endpoints.find((e) => e.id === 'target_attained_final')?.arms.map((arm) => arm.n)).toEqual([3, 3, 3, 3]);
    // three different draws, and three arms that dose differently on each of them (the re-estimating arm may match the fixed one)
    const byArm = (arm: number) => a?.jobs.filter((j) => (j.config as TrialJobConfig).armIndex === arm).map((j) => (j.result as { trajectoryHash: string }).trajectoryHash) ?? [];
    for (const arm of [0, 1, 2]) expect(new Set(byArm(arm)).size).toBe(3);
    for (let i = 0; i < 3; i++) expect(new Set([0, 1, 2].map((arm) => byArm(arm)[i])).size).toBe(3);
  }, 120_000);
});
