import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TwinlabError } from '../../engine/errors.js';
import { InlineExecutor } from '../../experiments/executor.js';
import { expandJobs } from '../../experiments/jobs.js';
import { runExperiment } from '../../experiments/runner.js';
import { loadSpecFile, validateSpec } from '../../experiments/spec.js';
import { Store } from '../../experiments/store.js';

const train = { kind: 'train', name: 't', seed: 1, env: 'classic/cartpole-v1', steps: 1000 };
const sweep = { ...train, kind: 'sweep', grid: { learningRate: [0.001, 0.01] } };
const trial = {
  kind: 'trial',
  name: 'g',
  seed: 1,
  cohort: { twin: 'glucose', population: 'adult', size: 3 },
  arms: [
    { name: 'basal', policy: 'glucose/basal' },
    { name: 'pid', policy: 'glucose/pid' },
  ],
  duration: { steps: 12 },
  endpoints: { primary: ['tir'], secondary: ['tbr70'] },
};

type Case = [label: string, spec: unknown, path: string, fragment: RegExp];
const cases: Case[] = [
  ['unknown kind', { ...train, kind: 'tune' }, 'kind', /expected one of train, sweep, trial/],
  ['name of wrong type', { ...train, name: 3 }, 'name', /expected string.*got 3/],
  ['unknown env', { ...train, env: 'classic/cartpol-v1' }, 'env', /unknown env "classic\/cartpol-v1" \(expected one of .*classic\/cartpole-v1/],
  ['negative seed', { ...train, seed: -4 }, 'seed', /got -4/],
  ['zero seeds', { ...train, seeds: 0 }, 'seeds', /got 0/],
  ['negative steps', { ...train, steps: -5 }, 'steps', /got -5/],
  ['unknown preset', { ...train, preset: 'zoo-cartpol' }, 'preset', /unknown preset "zoo-cartpol" \(expected one of .*zoo-cartpole/],
  ['bad agent config value', { ...train, config: { batchSize: -1 } }, 'config.batchSize', /got -1/],
  ['unknown agent config field', { ...train, config: { lr: 0.1 } }, 'config.lr', /unknown field/],
  ['unknown top-level field', { ...train, envOption: {} }, 'envOption', /unknown field \(expected one of .*envOptions/],
  [
    'env options the env rejects',
    { ...train, env: 'glucose/t1d-v1', envOptions: { patient: 'nobody#999' } },
    'envOptions',
    /glucose\/t1d-v1 rejects these options/,
  ],
  [
    'sweep field not in the agent config',
    { ...sweep, grid: { learnRate: [1] } },
    'grid.learnRate',
    /not a field of the dqn config \(expected one of .*learningRate/,
  ],
  ['sweep value out of range', { ...sweep, grid: { learningRate: [0.001, -2] } }, 'grid.learningRate[1]', /got -2/],
  ['sweep empty value list', { ...sweep, grid: { learningRate: [] } }, 'grid.learningRate', /expected array to have >=1/],
  ['trial unknown env', { ...trial, cohort: { env: 'glucose/t2d-v1', size: 3 } }, 'cohort.env', /unknown env "glucose\/t2d-v1"/],
  ['trial unknown twin', { ...trial, cohort: { ...trial.cohort, twin: 'glucos' } }, 'cohort.twin', /unknown twin "glucos" \(expected one of .*glucose/],
  ['trial negative cohort size', { ...trial, cohort: { ...trial.cohort, size: -10 } }, 'cohort.size', /got -10/],
  [
    'trial unknown population',
    { ...trial, cohort: { ...trial.cohort, population: 'elderly' } },
    'cohort.population',
    /unknown population "elderly" .*expected one of .*adult/,
  ],
  ['trial missing arms', { ...trial, arms: undefined }, 'arms', /expected array/],
  ['trial empty arms', { ...trial, arms: [] }, 'arms', /expected array to have >=1/],
  [
    'trial unknown policy',
    { ...trial, arms: [trial.arms[0], { name: 'x', policy: 'glucose/pidd' }] },
    'arms[1].policy',
    /unknown policy "glucose\/pidd" \(expected one of .*glucose\/pid/,
  ],
  ['trial policy for another twin', { ...trial, arms: [{ name: 'x', policy: 'sepsis/physician' }] }, 'arms[0].policy', /does not apply to glucose\/t1d-v1/],
  [
    'trial saved policy path missing',
    { ...trial, arms: [{ name: 'x', policy: './runs/nope/policy' }] },
    'arms[0].policy',
    /saved policy directory "\.\/runs\/nope\/policy" not found/,
  ],
  ['trial duplicate arm names', { ...trial, arms: [trial.arms[0], { name: 'basal', policy: 'glucose/pid' }] }, 'arms[1].name', /duplicate arm name "basal"/],
  [
    'trial unknown endpoint',
    { ...trial, endpoints: { primary: ['tirr'] } },
    'endpoints.primary[0]',
    /unknown endpoint "tirr" for twin glucose \(expected one of .*tir/,
  ],
  ['trial endpoint declared twice', { ...trial, endpoints: { primary: ['tir'], secondary: ['tir'] } }, 'endpoints.secondary[0]', /declared twice/],
  ['trial reference not an arm', { ...trial, reference: 'placebo' }, 'reference', /unknown arm "placebo" \(expected one of basal, pid\)/],
  ['trial zero duration steps', { ...trial, duration: { steps: 0 } }, 'duration.steps', /got 0/],
  [
    'trial unknown covariate in inclusion',
    { ...trial, cohort: { ...trial.cohort, inclusion: { height: { min: 1 } } } },
    'cohort.inclusion.height',
    /unknown covariate \(expected one of .*age/,
  ],
  ['trial paired of wrong type', { ...trial, paired: 'yes' }, 'paired', /expected boolean.*got "yes"/],
  ['trial replicates negative', { ...trial, replicates: -1 }, 'replicates', /got -1/],
  [
    'unknown envOptions key',
    { ...train, env: 'glucose/t1d-v1', envOptions: { sensor: 'Dexcom', bogus: 1 } },
    'envOptions.bogus',
    /^unknown option of glucose\/t1d-v1; known: patient, .*sensor, .*integrator/,
  ],
  ['envOptions on an env without options', { ...train, envOptions: { bogus: 1 } }, 'envOptions.bogus', /unknown option of classic\/cartpole-v1; known: maxEpisodeSteps$/],
  ['unknown scenario key', { ...trial, scenario: { sensr: 'Dexcom' } }, 'scenario.sensr', /^unknown option of glucose\/t1d-v1; known: .*sensor/],
  ['trial replicates beyond the limit', { ...trial, replicates: 1e9 }, 'replicates', /at most 1,000 .*got 1000000000/],
  ['seeds beyond the limit', { ...train, seeds: 1e8 }, 'seeds', /at most 1,000 .*got 100000000/],
  ['trial cohort size beyond the limit', { ...trial, cohort: { ...trial.cohort, size: 1e12 } }, 'cohort.size', /at most 1,000,000 .*got 1000000000000/],
  ['trial episodes beyond the limit', { ...trial, duration: { steps: 12, episodes: 1e6 } }, 'duration.episodes', /at most 1,000 /],
  [
    'trial with more jobs than the limit',
    {
      ...trial,
      cohort: { env: 'classic/cartpole-v1', size: 60_000 },
      arms: [
        { name: 'a', policy: 'random' },
        { name: 'b', policy: 'random' },
      ],
      endpoints: { primary: ['return'] },
    },
    'cohort.size',
    /expands to 120,000 jobs \(cohort\.size × replicates × arms\); at most 100,000/,
  ],
  [
    'sweep with more jobs than the limit',
    {
      ...sweep,
      seeds: 1000,
      grid: { gamma: [0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995], learningRate: [1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4, 7e-4, 8e-4, 9e-4, 1e-3] },
    },
    'grid',
    /expands to 110,000 jobs \(grid points × seeds\)/,
  ],
];

function errorOf(spec: unknown): TwinlabError {
  try {
    validateSpec(spec);
  } catch (error) {
    return error as TwinlabError;
  }
  throw new Error('spec was accepted');
}

const dataDir = mkdtempSync(join(tmpdir(), 'twinlab-spec-'));
const store = Store.open(dataDir);
afterAll(() => store.close());

describe('experiment spec validation', () => {
  it('accepts the reference specs and fills defaults', () => {
    expect(validateSpec(train)).toMatchObject({ agent: 'dqn', seeds: 1, envOptions: {} });
    const t = validateSpec(trial);
    expect(t).toMatchObject({ paired: true, replicates: 1, cohort: { env: 'glucose/t1d-v1', twin: 'glucose' } });
    expect(validateSpec(sweep)).toMatchObject({ grid: { learningRate: [0.001, 0.01] } });
  });

  it('accepts every example spec', () => {
    const dir = join(import.meta.dirname, '../../experiments/examples');
    const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) expect(() => loadSpecFile(join(dir, f)), f).not.toThrow();
  });

  it.each(cases)('rejects %s, naming the field and writing nothing', async (_label, spec, path, fragment) => {
    const error = errorOf(spec);
    expect(error).toBeInstanceOf(TwinlabError);
    expect(error.code).toBe('INVALID_SPEC');
    const errors = (error.details as { errors: Array<{ path: string; message: string }> }).errors;
    const hit = errors.find((e) => e.path === path);
    expect(hit, `errors: ${JSON.stringify(errors)}`).toBeDefined();
    expect(hit?.message).toMatch(fragment);
    expect(error.message).toContain(`${path}: `);
    await expect(runExperiment({ spec, store, executor: new InlineExecutor() })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    expect(store.listExperiments()).toHaveLength(0);
  });

  it('collects every error of a spec into one INVALID_SPEC error', () => {
    const error = errorOf({
      ...trial,
      cohort: { ...trial.cohort, population: 'elderly' },
      arms: [trial.arms[0], { name: 'basal', policy: 'glucose/pidd' }],
      endpoints: { primary: ['tirr'] },
    });
    const paths = (error.details as { errors: Array<{ path: string }> }).errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['cohort.population', 'arms[1].name', 'arms[1].policy', 'endpoints.primary[0]']));
    expect(error.message).toMatch(/\(\d+ errors\)/);
  });

  it('expands trials paired with common random numbers and deterministic ids/seeds', () => {
    const spec = validateSpec({ ...trial, replicates: 2 });
    const jobs = expandJobs('exp', spec);
    expect(jobs).toHaveLength(3 * 2 * 2);
    expect(jobs.map((j) => j.id)).toEqual(jobs.map((_, i) => `exp/job-${i}`));
    const byPatient = (i: number, r: number) =>
      jobs.filter((j) => j.config.kind === 'trial' && j.config.enrolled === i && j.config.replicate === r).map((j) => j.config);
    for (let i = 0; i < 3; i++) {
      const arms = byPatient(i, 0);
      expect(arms).toHaveLength(2);
      expect(arms[0]).toMatchObject({
        episodeSeeds: (arms[1] as { episodeSeeds: number[] }).episodeSeeds,
        envOptions: (arms[1] as { envOptions: unknown }).envOptions,
      });
      expect(byPatient(i, 1)[0]).not.toMatchObject({ episodeSeeds: (arms[0] as { episodeSeeds: number[] }).episodeSeeds });
    }
    const unpaired = expandJobs('exp', validateSpec({ ...trial, paired: false }));
    expect((unpaired[0]!.config as { episodeSeeds: number[] }).episodeSeeds).not.toEqual((unpaired[1]!.config as { episodeSeeds: number[] }).episodeSeeds);
    // Job seeds depend on the experiment seed and the index only (not the experiment id).
    expect(expandJobs('other', spec).map((j) => j.seed)).toEqual(jobs.map((j) => j.seed));
  });

  it('expands a sweep into the grid × seeds with validated configs', () => {
    const jobs = expandJobs('s', validateSpec({ ...sweep, seeds: 3, grid: { learningRate: [0.001, 0.01], gamma: [0.9, 0.99] } }));
    expect(jobs).toHaveLength(12);
    expect(jobs.map((j) => (j.config as { agentConfig: { learningRate: number; gamma: number } }).agentConfig.gamma).slice(0, 6)).toEqual([
      0.9, 0.9, 0.9, 0.99, 0.99, 0.99,
    ]);
    expect(new Set(jobs.map((j) => j.seed)).size).toBe(12);
  });
});
