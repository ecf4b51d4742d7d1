import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetToCsv } from '../../datasets/csv.js';
import { make } from '../../engine/registry.js';
import { type ExplicitPatient, GlucoseEnv, type GlucoseEnvOptions } from '../../environments/glucose/env.js';
import { PATIENT_COLUMNS } from '../../environments/glucose/params.js';
import { getPatient, getTherapy } from '../../environments/glucose/patients.js';
import { InlineExecutor } from '../../experiments/executor.js';
import { expandJobs, type TrainJobConfig, type TrialJobConfig } from '../../experiments/jobs.js';
import { personalTherapy, resolvePersonalCohort } from '../../experiments/personal-cohort.js';
import { runExperiment } from '../../experiments/runner.js';
import { validateSpec } from '../../experiments/spec.js';
import { Store } from '../../experiments/store.js';
import { fitGlucoseTwin } from '../../twinning/glucose/fit.js';
import { patientForTheta } from '../../twinning/glucose/parameters.js';
import { syntheticPerson } from '../../twinning/glucose/synthetic.js';
import { type GlucoseTwinFile, twinFileText } from '../../twinning/glucose/twin-file.js';
import '../../environments/index.js';
import '../../policies/index.js';
import { specErrors } from './spec-errors.js';

/**
 * Personal cohorts (experiments/personal-cohort.ts): a tiny twin fitted here, its posterior draws as
 * the patients of a trial (and the training pool of a DQN spec), bad specs naming the field.
 */
const SEED = 5;
const root = mkdtempSync(join(tmpdir(), 'twinlab-personal-'));
const twinDir = join(root, 'p1');
const person = syntheticPerson({ seed: SEED, index: 0, days: 2 });
let twin: GlucoseTwinFile;

beforeAll(async () => {
  twin = await fitGlucoseTwin(person.dataset, { method: 'mcmc', walkers: 18, steps: 30, burn: 10, workers: 1, seed: SEED, codeVersion: 'test' });
  mkdirSync(twinDir, { recursive: true });
  writeFileSync(join(twinDir, 'twin.json'), twinFileText(twin));
  writeFileSync(join(twinDir, 'data.csv'), datasetToCsv(person.dataset));
}, 180_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

const trialSpec = (cohort: Record<string, unknown>) => ({
  kind: 'trial',
  name: 'personal',
  seed: 9,
  cohort: { twin: 'glucose', personal: twinDir, draws: 4, ...cohort },
  arms: [
    { name: 'basal-bolus', policy: 'glucose/basal-bolus' },
    { name: 'basal', policy: 'glucose/basal' },
  ],
  duration: { steps: 36 },
  endpoints: { primary: ['tir'], secondary: ['mean_bg'] },
});

describe('personal cohorts', () => {
  it('the patients of a trial are the posterior draws, in file order from the offset, with the person’s therapy', () => {
    expect(twin.posterior.draws.length).toBeGreaterThanOrEqual(8);
    for (const offset of [0, 3]) {
      const spec = validateSpec(trialSpec({ offset }));
      const jobs = expandJobs('exp', spec);
      expect(jobs).toHaveLength(8);
      for (let i = 0; i < 4; i++) {
        const configs = jobs.slice(2 * i, 2 * i + 2).map((j) => j.config as TrialJobConfig);
        const expected = patientForTheta(twin.posterior.draws[offset + i] as number[], twin.context);
        expect(expected).toBeDefined();
        for (const config of configs) {
          const patient = config.envOptions.patient as ExplicitPatient;
          expect(patient.params.BW).toBe(expected?.BW);
          expect(patient.params.Vmx).toBe(expected?.Vmx);
          expect(patient.params.Gb).toBe(expected?.Gb);
          expect(patient.x0).toEqual(Array.from(expected?.x0 ?? []));
          expect(config.patientIndex).toBe(offset + i);
          expect(config.patientId).toBe(`${twin.patient.id}#draw-${offset + i}`);
        }
        // the env runs that patient: its basal is the person's, its therapy the one resolved from the twin
        const env = make('glucose/t1d-v1', configs[0]?.envOptions ?? {});
        const { info } = env.reset({ seed: 1 });
        const prescription = info.prescription as { basalRateUPerHour: number; carbRatio: number; bodyWeight: number };
        expect(prescription.basalRateUPerHour).toBeCloseTo(twin.context.basalUPerH, 12);
        expect(prescription.bodyWeight).toBe(person.dataset.bodyWeightKg);
        expect(prescription.carbRatio).toBe(personalTherapy(twin).carbRatio);
        expect(info.patientId).toBe(`${twin.patient.id}#draw-${offset + i}`);
      }
    }
  });

  it('therapy: carb ratio from the logged meal boluses when the data is given, else the 500/1800 rules', () => {
    const rules = personalTherapy(twin);
    const tdi = (24 * twin.context.basalUPerH) / 0.5;
    expect(rules).toMatchObject({ source: 'rules', basalUPerH: twin.context.basalUPerH });
    expect(rules.carbRatio).toBeCloseTo(500 / tdi, 12);
    expect(rules.correctionFactor).toBeCloseTo(1800 / tdi, 12);
    const resolved = resolvePersonalCohort({ twin: 'glucose', personal: twinDir, draws: 2, offset: 0, data: join(twinDir, 'data.csv') });
    // synthetic.ts boluses logged carbs / round(500 / (0.55·BW)), rounded to 0.1 U
    const trueRatio = Math.round(500 / (0.55 * (person.dataset.bodyWeightKg as number)));
    expect(resolved.therapy.source).toBe('dataset');
    expect(resolved.therapy.meals).toBeGreaterThan(3);
    expect(Math.abs(resolved.therapy.carbRatio - trueRatio) / trueRatio).toBeLessThan(0.05);
    expect(resolved.therapy.correctionFactor).toBeCloseTo(1800 / resolved.therapy.tdi, 12);
    const patient = resolved.members[0]?.envOptions.patient as ExplicitPatient;
    expect(patient.therapy.carbRatio).toBe(resolved.therapy.carbRatio);
  });

  it('the same personal trial twice gives identical results', async () => {
    const outcomes = [];
    for (const k of [0, 1]) {
      const store = Store.open(join(root, `store-${k}`));
      try {
        const outcome = await runExperiment({ spec: trialSpec({}), store, executor: new InlineExecutor(), id: 'personal-trial' });
        expect(outcome.status, outcome.error).toBe('finished');
        outcomes.push(outcome);
      } finally {
        store.close();
      }
    }
    const [a, b] = outcomes;
    expect(a?.jobs.map((j) => j.result)).toEqual(b?.jobs.map((j) => j.result));
    expect(a?.trial).toEqual(b?.trial);
    expect(a?.trial?.endpoints.find((e) => e.id === 'tir')?.arms.map((arm) => arm.n)).toEqual([4, 4]);
    // the draws differ, so the patients do: not all four basal-bolus days are the same
    const hashes = new Set(
      a?.jobs.filter((j) => (j.config as TrialJobConfig).armIndex === 0).map((j) => (j.result as { trajectoryHash: string }).trajectoryHash),
    );
    expect(hashes.size).toBe(4);
  });

  it('a training spec trains on its draws: the env pool is those patients', () => {
    const spec = validateSpec({
      kind: 'train',
      name: 'personal dqn',
      env: 'glucose/t1d-hcl-v1',
      steps: 1000,
      cohort: { twin: 'glucose', personal: twinDir, draws: 3 },
    });
    const [job] = expandJobs('exp', spec);
    const config = job?.config as TrainJobConfig;
    const patients = config.envOptions.patients as ExplicitPatient[];
    expect(patients.map((p) => p.name)).toEqual([0, 1, 2].map((k) => `${twin.patient.id}#draw-${k}`));
    const env = new GlucoseEnv({ mealBolus: 'auto', ...(config.envOptions as GlucoseEnvOptions) });
    expect(env.pool).toEqual(patients.map((p) => p.name));
    const seen = new Set<unknown>();
    for (let s = 0; s < 20; s++) seen.add(env.reset({ seed: s }).info.patientId);
    expect(seen.size).toBe(3);
  });

  it('bad personal cohorts are refused naming the field (and the file)', () => {
    const tooMany = specErrors(trialSpec({ draws: twin.posterior.draws.length + 1 }));
    expect(tooMany[0]?.path).toBe('cohort.draws');
    expect(tooMany[0]?.message).toContain(join(twinDir, 'twin.json'));
    expect(specErrors(trialSpec({ draws: 2, offset: twin.posterior.draws.length - 1 }))[0]?.path).toBe('cohort.draws');
    const missing = specErrors(trialSpec({ personal: join(root, 'nobody') }));
    expect(missing[0]).toMatchObject({ path: 'cohort.personal' });
    expect(missing[0]?.message).toContain(join(root, 'nobody', 'twin.json'));
    const badDir = join(root, 'bad');
    mkdirSync(badDir, { recursive: true });
    writeFileSync(join(badDir, 'twin.json'), '{"format": "twinlab.twin/1"}');
    const invalid = specErrors(trialSpec({ personal: badDir }));
    expect(invalid[0]?.path).toBe('cohort.personal');
    expect(invalid[0]?.message).toContain(join(badDir, 'twin.json'));
    expect(specErrors(trialSpec({ population: 'adult' }))[0]).toMatchObject({ path: 'cohort.population', message: expect.stringMatching(/unknown field/) });
    expect(specErrors(trialSpec({ draws: 0 }))[0]?.path).toBe('cohort.draws');
    expect(specErrors(trialSpec({ twin: 'sepsis' }))[0]?.path).toBe('cohort.twin');
    expect(specErrors(trialSpec({ env: 'classic/cartpole-v1' }))[0]?.path).toBe('cohort.env');
    const otherData = join(root, 'other.csv');
    writeFileSync(otherData, datasetToCsv(syntheticPerson({ seed: SEED, index: 0, days: 1 }).dataset));
    expect(specErrors(trialSpec({ data: otherData }))[0]).toMatchObject({ path: 'cohort.data', message: expect.stringMatching(/fitted on/) });
    const train = { kind: 'train', name: 't', env: 'glucose/t1d-v1', steps: 100, cohort: { twin: 'glucose', personal: twinDir, draws: 2 } };
    expect(specErrors({ ...train, envOptions: { patient: 'adult#001' } })[0]?.path).toBe('envOptions.patient');
    expect(specErrors({ ...train, cohort: { ...train.cohort, draws: 10_000 } })[0]?.path).toBe('cohort.draws');
  });
});

describe('glucose env: a patient given by value', () => {
  const byValue = (name: string): ExplicitPatient => {
    const p = getPatient(name);
    const t = getTherapy(name);
    return {
      name: 'copy',
      params: Object.fromEntries(PATIENT_COLUMNS.map((c) => [c, p[c]])),
      x0: Array.from(p.x0),
      therapy: { carbRatio: t.carbRatio, correctionFactor: t.correctionFactor },
    };
  };

  it('simulates exactly as the named patient it copies', () => {
    const named = new GlucoseEnv({ patient: 'adult#003', mealBolus: 'auto' });
    const copy = new GlucoseEnv({ patient: byValue('adult#003'), mealBolus: 'auto' });
    named.reset({ seed: 4 });
    copy.reset({ seed: 4 });
    for (let t = 0; t < 200; t++) {
      const a = named.step(t % 3);
      const b = copy.step(t % 3);
      expect(b.reward).toBe(a.reward);
      expect(Array.from(b.observation as Float32Array)).toEqual(Array.from(a.observation as Float32Array));
    }
    const state = copy.getState();
    expect(state.patientName).toBe('copy');
    copy.setState(state);
  });

  it('refuses an incomplete or inconsistent patient naming the field', () => {
    const noVmx = byValue('adult#001');
    delete noVmx.params.Vmx;
    expect(() => new GlucoseEnv({ patient: noVmx })).toThrow(/patient\.params\.Vmx must be a finite number/);
    expect(() => new GlucoseEnv({ patients: [byValue('adult#001'), { ...byValue('adult#001'), x0: [1, 2] }] })).toThrow(
      /patients\[1\]\.x0 must be 13 finite numbers/,
    );
    expect(() => new GlucoseEnv({ patient: { ...byValue('adult#001'), therapy: { carbRatio: 0, correctionFactor: 40 } } })).toThrow(
      /patient\.therapy\.carbRatio/,
    );
    expect(() => new GlucoseEnv({ patient: { ...byValue('adult#001'), name: 'adult#002' } })).toThrow(/patient\.name/);
    expect(() => new GlucoseEnv({ patients: [byValue('adult#001'), byValue('adult#002')] })).toThrow(/patients\[1\]\.name "copy" is used by another/);
  });
});
