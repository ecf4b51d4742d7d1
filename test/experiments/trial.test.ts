import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PiscinaExecutor } from '../../experiments/executor.js';
import { runExperiment } from '../../experiments/runner.js';
import { Store } from '../../experiments/store.js';
import type { TrialAnalysis } from '../../experiments/trial-analysis.js';

const spec = {
  kind: 'trial',
  name: 'glucose three protocols',
  seed: 42,
  cohort: { twin: 'glucose', population: 'adult', size: 12, generated: true },
  arms: [
    { name: 'basal-only', policy: 'glucose/basal' },
    { name: 'pid', policy: 'glucose/pid' },
    { name: 'basal-bolus', policy: 'glucose/basal-bolus' },
  ],
  duration: { days: 1 },
  endpoints: { primary: ['tir', 'tbr70'], secondary: ['mean_bg'] },
  reference: 'basal-only',
};

const stores: Store[] = [];
afterAll(() => {
  for (const s of stores) s.close();
});

async function run(workers: number) {
  const store = Store.open(mkdtempSync(join(tmpdir(), `twinlab-trial-${workers}-`)));
  stores.push(store);
  const executor = new PiscinaExecutor({ workers });
  try {
    const outcome = await runExperiment({ spec, store, executor });
    return { store, outcome };
  } finally {
    await executor.close();
  }
}

describe('virtual trial: 12 adults × 3 insulin protocols, one simulated day', () => {
  it('gives identical results with 1 and 2 workers, and basal-bolus beats basal-only on TIR', async () => {
    const one = await run(1);
    const two = await run(2);
    expect(one.outcome.status).toBe('finished');
    expect(two.outcome.status).toBe('finished');
    expect(one.outcome.jobs).toHaveLength(36);
    const results = (o: typeof one) => o.outcome.jobs.map((j) => j.result);
    expect(results(two)).toEqual(results(one));
    expect(two.outcome.trial).toEqual(one.outcome.trial);

    // Paired: the three arms of a patient share the seed of every random stream (meals, CGM noise).
    const first = one.outcome.jobs.slice(0, 3).map((j) => j.config as { episodeSeeds: number[]; envOptions: unknown });
    expect(first[1]?.episodeSeeds).toEqual(first[0]?.episodeSeeds);
    expect(first[2]?.envOptions).toEqual(first[0]?.envOptions);
    // Episode logs are stored (288 five-minute steps = one day).
    expect(one.store.listEpisodes(one.outcome.jobs[0]?.id as string)[0]?.length).toBe(288);

    const trial = one.store.getTrialResult(one.outcome.id) as TrialAnalysis;
    const tir = trial.endpoints.find((e) => e.id === 'tir');
    const cmp = tir?.comparisons.find((c) => c.arm === 'basal-bolus' && c.reference === 'basal-only');
    expect(cmp?.nPairs).toBe(12);
    expect(cmp?.meanDifference).toBeGreaterThan(0);
    expect(cmp?.ci?.lower).toBeGreaterThan(0);
  });
});
