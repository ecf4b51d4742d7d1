import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../experiments/executor.js';
import type { TrialJobConfig } from '../../experiments/jobs.js';
import { verifyReplay } from '../../experiments/replay.js';
import { type ExperimentOutcome, runExperiment } from '../../experiments/runner.js';
import { validateSpec } from '../../experiments/spec.js';
import { Store } from '../../experiments/store.js';
import type { TrialAnalysis } from '../../experiments/trial-analysis.js';

// A trial arm with `shield: true` runs shielded; every arm then reports the shieldInterventions safety endpoint.
const spec = {
  kind: 'trial',
  name: 'shielded sepsis',
  seed: 11,
  cohort: { twin: 'sepsis', population: 'icu', size: 12 },
  arms: [
    { name: 'random', policy: 'random' },
    { name: 'random-shielded', policy: 'random', shield: true },
  ],
  duration: { episodes: 3 },
  endpoints: { primary: ['mortality'] },
};

let store: Store;
let outcome: ExperimentOutcome;
beforeAll(async () => {
  store = Store.open(mkdtempSync(join(tmpdir(), 'twinlab-shield-')));
  outcome = await runExperiment({ spec, store, executor: new InlineExecutor() });
});
afterAll(() => store.close());

describe('shielded trial arms', () => {
  it('adds shieldInterventions as a safety endpoint; the shielded arm intervenes, the other arm is monitored', () => {
    expect(outcome.status).toBe('finished');
    const per = (arm: string) =>
      outcome.jobs
        .filter((j) => (j.config as TrialJobConfig).arm.name === arm)
        .map((j) => (j.result as { endpoints: Record<string, number> }).endpoints.shieldInterventions as number);
    const monitored = per('random');
    const shielded = per('random-shielded');
    expect(monitored).toHaveLength(12);
    // Paired seeds: both arms face the same patients; the counts are proposals the shield masks.
    expect(monitored.some((n) => n > 0)).toBe(true);
    expect(shielded.some((n) => n > 0)).toBe(true);
    const trial = store.getTrialResult(outcome.id) as TrialAnalysis;
    const endpoint = trial.endpoints.find((e) => e.id === 'shieldInterventions');
    expect(endpoint?.safety).toBe(true); // reported with the safety endpoints, first
  });

  it('stores a shield flag per step and replays shielded episodes identically', async () => {
    const job = outcome.jobs.find(
      (j) =>
        (j.config as TrialJobConfig).arm.name === 'random-shielded' && (j.result as { endpoints: Record<string, number> }).endpoints.shieldInterventions > 0,
    );
    const key = store.listEpisodes(job?.id as string).find((e) => store.getEpisode(job?.id as string, e.key)?.steps.some((s) => s.info.shield === 1))
      ?.key as string;
    expect(key).toBeDefined();
    expect(await verifyReplay(store, job?.id as string, key)).toMatchObject({ identical: true });
  });

  it('refuses a shield the twin does not declare, naming the arm', () => {
    expect(() => validateSpec({ ...spec, arms: [{ name: 'a', policy: 'random', shield: 'nope' }] })).toThrow(/arms\[0\]\.shield.*unknown shield/);
    expect(() =>
      validateSpec({ ...spec, cohort: { twin: 'hiv', size: 2 }, arms: [{ name: 'a', policy: 'random', shield: true }], endpoints: { primary: ['return'] } }),
    ).toThrow(/arms\[0\]\.shield.*declares no shields/);
  });
});
