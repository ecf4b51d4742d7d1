import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InlineExecutor, PiscinaExecutor } from '../../experiments/executor.js';
import { resumeExperiment, runExperiment } from '../../experiments/runner.js';
import { Store } from '../../experiments/store.js';

const stores: Store[] = [];
afterAll(() => {
  for (const s of stores) s.close();
});
function freshStore(tag: string): Store {
  const store = Store.open(mkdtempSync(join(tmpdir(), `twinlab-runner-${tag}-`)));
  stores.push(store);
  return store;
}

const hasDqnSave = existsSync(join(import.meta.dirname, '../../agents/save.ts'));

const trainSpec = {
  kind: 'train',
  name: 'cartpole tiny',
  seed: 5,
  env: 'classic/cartpole-v1',
  seeds: 2,
  evalEpisodes: 1,
  config: {
    totalSteps: 600,
    learningStarts: 100,
    trainFrequency: 4,
    batchSize: 16,
    hidden: [16],
    evalEvery: 0,
    evalEpisodes: 2,
    metricsEvery: 200,
    backend: 'cpu',
  },
};

const cartTrial = {
  kind: 'trial',
  name: 'cartpole trial',
  seed: 9,
  cohort: { env: 'classic/cartpole-v1', size: 6 },
  arms: [
    { name: 'a', policy: 'random' },
    { name: 'b', policy: 'random', options: {} },
  ],
  endpoints: { primary: ['return'], secondary: ['terminated'] },
};

describe('experiment runner', () => {
  it.runIf(hasDqnSave)('trains on CartPole with 1 and 2 workers to identical results', async () => {
    const outcomes = [];
    for (const workers of [1, 2]) {
      const executor = new PiscinaExecutor({ workers });
      try {
        outcomes.push(await runExperiment({ spec: trainSpec, id: 'train-tiny', store: freshStore(`train${workers}`), executor }));
      } finally {
        await executor.close();
      }
    }
    const [one, two] = outcomes as [Awaited<ReturnType<typeof runExperiment>>, Awaited<ReturnType<typeof runExperiment>>];
    expect(one.status).toBe('finished');
    const summary = (o: typeof one) => o.jobs.map((j) => ({ ...(j.result as Record<string, unknown>), stepsPerSecond: 0, evaluations: undefined }));
    expect(summary(two)).toEqual(summary(one));
    const hashes = one.jobs.map((j) => (j.result as { weightsHash: string }).weightsHash);
    expect(new Set(hashes).size).toBe(2); // different job seeds, different networks
  });

  it('records a failing job with its error and stack while the other jobs finish', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'twinlab-broken-policy-'));
    mkdirSync(join(broken, 'policy'));
    writeFileSync(join(broken, 'policy', 'policy.json'), '{ not json');
    const store = freshStore('fail');
    const executor = new PiscinaExecutor({ workers: 2 });
    let outcome: Awaited<ReturnType<typeof runExperiment>>;
    try {
      outcome = await runExperiment({ spec: { ...cartTrial, arms: [cartTrial.arms[0], { name: 'broken', policy: join(broken, 'policy') }] }, store, executor });
    } finally {
      await executor.close();
    }
    expect(outcome.status).toBe('failed');
    const failed = outcome.jobs.filter((j) => j.status === 'failed');
    const finished = outcome.jobs.filter((j) => j.status === 'finished');
    expect(failed.map((j) => j.index)).toEqual([1, 3, 5, 7, 9, 11]);
    expect(finished.map((j) => j.index)).toEqual([0, 2, 4, 6, 8, 10]);
    for (const j of failed) {
      expect(j.error).toBeTruthy();
      expect(j.stack).toMatch(/at /);
    }
    expect(store.getExperiment(outcome.id)?.error).toMatch(/6 of 12 jobs failed/);
    expect(store.getTrialResult(outcome.id)).toBeUndefined();
    const types = store
      .eventsAfter(outcome.id, 0, 10_000)
      .filter((e) => e.jobId === failed[0]?.id)
      .map((e) => e.event.type);
    expect(types).toContain('run.failed');
  });

  it('resumes a cancelled experiment by re-running only unfinished jobs, to identical results', async () => {
    const reference = await runExperiment({ spec: cartTrial, store: freshStore('ref'), executor: new InlineExecutor() });
    expect(reference.status).toBe('finished');

    const store = freshStore('resume');
    const controller = new AbortController();
    let finished = 0;
    const partial = await runExperiment({
      spec: cartTrial,
      store,
      executor: new InlineExecutor(),
      signal: controller.signal,
      onEvent: ({ event }) => {
        if (event.type === 'run.finished' && ++finished === 5) controller.abort();
      },
    });
    expect(partial.status).toBe('cancelled');
    expect(partial.jobs.filter((j) => j.status === 'finished')).toHaveLength(5);

    const executor = new PiscinaExecutor({ workers: 2 });
    let resumed: Awaited<ReturnType<typeof resumeExperiment>>;
    try {
      resumed = await resumeExperiment({ id: partial.id, store, executor });
    } finally {
      await executor.close();
    }
    expect(resumed.status).toBe('finished');
    expect(resumed.jobs.map((j) => j.result)).toEqual(reference.jobs.map((j) => j.result));
    expect(resumed.jobs.map((j) => j.attempts)).toEqual(resumed.jobs.map(() => 1));
    expect(store.getTrialResult(partial.id)).toEqual(reference.trial);
  });
});
