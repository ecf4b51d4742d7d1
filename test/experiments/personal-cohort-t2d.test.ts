import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { make } from '../../engine/registry.js';
import { generateT2DPerson } from '../../environments/glucose-t2d/cohort.js';
import { InlineExecutor } from '../../experiments/executor.js';
import { expandJobs, type TrialJobConfig } from '../../experiments/jobs.js';
import { runExperiment } from '../../experiments/runner.js';
import { validateSpec } from '../../experiments/spec.js';
import { Store } from '../../experiments/store.js';
import { fitT2DTwin } from '../../twinning/glucose-t2d/fit.js';
import { t2dPersonForTheta } from '../../twinning/glucose-t2d/parameters.js';
import { syntheticT2DPerson } from '../../twinning/glucose-t2d/synthetic.js';
import { type T2DTwinFile, t2dTwinFileText } from '../../twinning/glucose-t2d/twin-file.js';
import '../../environments/index.js';
import '../../policies/index.js';
import { specErrors } from './spec-errors.js';

/**
 * Personal cohorts of the type 2 twin (experiments/personal-cohort-t2d.ts): a tiny twin fitted here,
 * its posterior draws as the people of a trial on glucose/t2d-nutrition-v1, given to the env by value.
 */
const root = mkdtempSync(join(tmpdir(), 'twinlab-personal-t2d-'));
const twinDir = join(root, 't2');
let twin: T2DTwinFile;

beforeAll(async () => {
  const person = syntheticT2DPerson({ seed: 3, index: 0, days: 2 });
  twin = await fitT2DTwin(person.dataset, { method: 'mcmc', walkers: 18, steps: 12, burn: 4, workers: 1, seed: 3, codeVersion: 'test', particles: 8 });
  mkdirSync(twinDir, { recursive: true });
  writeFileSync(join(twinDir, 'twin.json'), t2dTwinFileText(twin));
}, 180_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const trialSpec = (cohort: Record<string, unknown> = {}) => ({
  kind: 'trial',
  name: 'personal t2d',
  seed: 9,
  cohort: { twin: 'glucose-t2d', personal: twinDir, draws: 3, ...cohort },
  arms: [
    { name: 'dietitian', policy: 'glucose-t2d/dietitian-low-gi' },
    { name: 'random', policy: 'random' },
  ],
  scenario: { days: 1 },
  endpoints: { primary: ['tir', 'mean_excursion'], secondary: ['mean_glucose'] },
});

describe('glucose/t2d-nutrition-v1 with a person given by value', () => {
  it('runs exactly as the same person given by cohort seed and index', () => {
    const p = generateT2DPerson(4, 2);
    const byValue = make('glucose/t2d-nutrition-v1', { person: { id: p.id, params: p.params, basal: p.basal }, days: 1 });
    const byIndex = make('glucose/t2d-nutrition-v1', { cohortSeed: 4, patientIndex: 2, days: 1 });
    const a = byValue.reset({ seed: 7 });
    const b = byIndex.reset({ seed: 7 });
    expect(Array.from(a.observation as Float32Array)).toEqual(Array.from(b.observation as Float32Array));
    for (let t = 0; t < 3; t++) {
      const x = byValue.step(t % 6);
      const y = byIndex.step(t % 6);
      expect(x.reward).toBe(y.reward);
      expect(Array.from(x.observation as Float32Array)).toEqual(Array.from(y.observation as Float32Array));
    }
    expect(a.info.patientId).toBe(p.id);
  });

  it('refuses a person with a missing or non-finite value, naming the field', () => {
    const p = generateT2DPerson(4, 2);
    expect(() => make('glucose/t2d-nutrition-v1', { person: { id: 'x', params: { ...p.params, beta: Number.NaN }, basal: p.basal } })).toThrow(
      /option person\.params\.beta must be a finite number/,
    );
    const { Gb: _, ...noGb } = p.basal;
    expect(() => make('glucose/t2d-nutrition-v1', { person: { id: 'x', params: p.params, basal: noGb } })).toThrow(
      /option person\.basal\.Gb must be a finite number/,
    );
  });
});

describe('type 2 personal cohorts', () => {
  it('the people of a trial are the posterior draws in file order from the offset, by value', () => {
    const spec = validateSpec(trialSpec({ offset: 1 }));
    const jobs = expandJobs('exp', spec);
    expect(jobs).toHaveLength(6);
    for (let i = 0; i < 3; i++) {
      const config = jobs[2 * i]?.config as TrialJobConfig;
      const expected = t2dPersonForTheta(twin.posterior.draws[1 + i] as number[], twin.context);
      const person = config.envOptions.person as { params: { beta: number; Vmx: number; BW: number }; basal: { Gb: number } };
      expect(person.params.beta).toBe(expected?.params.beta);
      expect(person.params.Vmx).toBe(expected?.params.Vmx);
      expect(person.params.BW).toBe(twin.context.bodyWeightKg);
      expect(person.basal.Gb).toBe(expected?.basal.Gb);
      expect(config.patientId).toBe(`${twin.patient.id}#draw-${1 + i}`);
    }
  });

  it('a small personal trial runs and reports both arms; the same trial twice gives identical results', async () => {
    const outcomes = [];
    for (const k of [0, 1]) {
      const store = Store.open(join(root, `store-${k}`));
      try {
        const outcome = await runExperiment({ spec: trialSpec(), store, executor: new InlineExecutor(), id: 'personal-t2d' });
        expect(outcome.status, outcome.error).toBe('finished');
        outcomes.push(outcome);
      } finally {
        store.close();
      }
    }
    expect(outcomes[0]?.jobs.map((j) => j.result)).toEqual(outcomes[1]?.jobs.map((j) => j.result));
    expect(outcomes[0]?.trial?.endpoints.find((e) => e.id === 'tir')?.arms.map((a) => a.n)).toEqual([3, 3]);
  }, 120_000);

  it('bad specs name the field: too many draws, a type 1 env, training, data', () => {
    expect(specErrors(trialSpec({ draws: 500 }))[0]?.path).toBe('cohort.draws');
    expect(specErrors(trialSpec({ env: 'glucose/t1d-v1' })).some((e) => e.path === 'cohort.env')).toBe(true);
    expect(specErrors(trialSpec({ data: join(twinDir, 'x.csv') }))[0]?.path).toBe('cohort.data');
    const train = specErrors({
      kind: 'train',
      name: 't',
      seed: 1,
      env: 'glucose/t2d-nutrition-v1',
      cohort: { twin: 'glucose-t2d', personal: twinDir, draws: 2 },
      steps: 100,
    });
    expect(train.find((e) => e.path === 'cohort.twin')?.message).toMatch(/for trials only/);
  });
});
