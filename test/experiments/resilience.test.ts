import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { InlineExecutor, PiscinaExecutor } from '../../experiments/executor.js';
import { currentOwner, leaseIsLive, type LeaseOwner, processStartTime } from '../../experiments/lease.js';
import { resumeExperiment, runExperiment } from '../../experiments/runner.js';
import { type StoredEvent, Store } from '../../experiments/store.js';

const stores: Store[] = [];
afterAll(() => {
  for (const s of stores) s.close();
});
function freshStore(tag: string): Store {
  const store = Store.open(mkdtempSync(join(tmpdir(), `twinlab-resilience-${tag}-`)));
  stores.push(store);
  return store;
}
/** The store's connection (tests only: to make the file "full" with SQLite's max_page_count). */
const dbOf = (store: Store): Database.Database => (store as unknown as { db: Database.Database }).db;

const cartTrial = {
  kind: 'trial',
  name: 'cartpole trial',
  seed: 9,
  cohort: { env: 'classic/cartpole-v1', size: 8 },
  arms: [
    { name: 'a', policy: 'random' },
    { name: 'b', policy: 'random' },
  ],
  duration: { episodes: 3 },
  endpoints: { primary: ['return'], secondary: ['length'] },
};

const trainSpec = {
  kind: 'train',
  name: 'cartpole checkpoints',
  seed: 5,
  env: 'classic/cartpole-v1',
  seeds: 1,
  evalEpisodes: 1,
  config: {
    totalSteps: 2000,
    learningStarts: 100,
    trainFrequency: 4,
    batchSize: 16,
    hidden: [16],
    evalEvery: 500,
    evalEpisodes: 2,
    metricsEvery: 200,
    checkpointEvery: 400,
    backend: 'cpu',
  },
};

/** Event data without wall-clock fields (steps per second), for comparing runs. */
function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([k]) => k !== 'stepsPerSecond')
        .map(([k, v]) => [k, stable(v)]),
    );
  }
  return value;
}
const eventsOf = (store: Store, id: string): StoredEvent[] => store.eventsAfter(id, 0, 1_000_000);
const jobEvents = (events: StoredEvent[], jobId: string) => events.filter((e) => e.jobId === jobId).map((e) => stable({ type: e.event.type, step: e.event.step, data: e.event.data }));

describe('runner resilience', () => {
  it('a full disk fails the run with a one-line reason instead of crashing the process', async () => {
    const store = freshStore('full');
    const executor = new PiscinaExecutor({ workers: 1 });
    let filled = false;
    let outcome: Awaited<ReturnType<typeof runExperiment>>;
    try {
      outcome = await runExperiment({
        spec: { ...cartTrial, cohort: { ...cartTrial.cohort, size: 30 } },
        store,
        executor,
        onEvent: ({ event }) => {
          if (!filled && event.type === 'run.finished') {
            // From here on the file cannot grow: the next page the runner needs is refused (SQLITE_FULL).
            const db = dbOf(store);
            db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
            filled = true;
          }
        },
      });
    } finally {
      await executor.close();
    }
    expect(filled).toBe(true);
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toMatch(/^store write failed: database or disk is full/);
    expect(outcome.jobs.filter((j) => j.status === 'running')).toEqual([]);
    // The store took the experiment's in-place status update; the jobs' rows could not grow (they stay running, reset by resume).
    const stored = store.getExperiment(outcome.id);
    expect(stored?.status).toBe('failed');
    expect(stored?.error).toBe('store write failed: database or disk is full');
    // The process (this test worker) is alive and the store still serves reads and, with room again, writes.
    dbOf(store).pragma('max_page_count = 1073741823');
    const again = await runExperiment({ spec: cartTrial, store, executor: new InlineExecutor() });
    expect(again.status).toBe('finished');
  });

  it('a failing store write (injected) marks the running jobs and the experiment failed with the reason', async () => {
    const store = freshStore('ioerr');
    const append = store.appendEvents.bind(store);
    let calls = 0;
    store.appendEvents = (...args: Parameters<Store['appendEvents']>) => {
      if (++calls === 4) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
      return append(...args);
    };
    const executor = new PiscinaExecutor({ workers: 2 });
    let outcome: Awaited<ReturnType<typeof runExperiment>>;
    try {
      outcome = await runExperiment({ spec: trainSpec, store, executor });
    } finally {
      await executor.close();
    }
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toBe('store write failed: disk I/O error');
    expect(store.getExperiment(outcome.id)).toMatchObject({ status: 'failed', error: 'store write failed: disk I/O error' });
    expect(store.listJobs(outcome.id).map((j) => [j.status, j.error])).toEqual([['failed', 'store write failed: disk I/O error']]);
  });

  it('Ctrl-C then resume continues training from the last checkpoint and keeps one attempt of events', async () => {
    const reference = freshStore('ck-ref');
    const uninterrupted = await runExperiment({ spec: trainSpec, id: 'ck', store: reference, executor: new InlineExecutor() });
    expect(uninterrupted.status).toBe('finished');

    const store = freshStore('ck');
    const controller = new AbortController();
    const cancelled = await runExperiment({
      spec: trainSpec,
      id: 'ck',
      store,
      executor: new InlineExecutor(),
      signal: controller.signal,
      onEvent: ({ event }) => {
        // Cancel between checkpoints: the attempt goes on to step ~1000 (and a final evaluation) past the one at 800.
        if (event.type === 'train.metrics' && event.step >= 1000) controller.abort();
      },
    });
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.error).toBe('cancelled: 0 of 1 jobs finished, 1 interrupted');
    const job = store.getJob('ck/job-0');
    expect(job?.checkpointPath).toBe('runs/ck/job-0/checkpoint/step-800');
    // Only the recorded checkpoint is kept on disk.
    expect(readdirSync(join(store.dataDir, 'runs/ck/job-0/checkpoint'))).toEqual(['step-800']);

    const resumedSteps: number[] = [];
    const resumed = await resumeExperiment({ id: 'ck', store, executor: new InlineExecutor(), onEvent: ({ event }) => resumedSteps.push(event.step) });
    expect(resumed.status).toBe('finished');
    // It started from the checkpoint, not from step 0 …
    expect(Math.min(...resumedSteps)).toBeGreaterThan(800);
    // … and ends exactly where an uninterrupted run does.
    const result = (r: unknown) => stable(r);
    expect(result(resumed.jobs[0]?.result)).toEqual(result(uninterrupted.jobs[0]?.result));
    // One attempt's events: identical to the uninterrupted run's, event for event (no second eval at the cancel step, no second run.started).
    expect(jobEvents(eventsOf(store, 'ck'), 'ck/job-0')).toEqual(jobEvents(eventsOf(reference, 'ck'), 'ck/job-0'));
    for (const name of ['eval.meanReturn', 'episode.return', 'train.loss']) {
      const a = store.metricSeries('ck/job-0', name);
      const b = reference.metricSeries('ck/job-0', name);
      expect(Array.from(a.steps), name).toEqual(Array.from(b.steps));
      expect(Array.from(a.values), name).toEqual(Array.from(b.values));
    }
    expect(store.getJob('ck/job-0')?.attempts).toBe(2);
    // Seqs freed by the discarded attempt are not handed out again.
    const seqs = eventsOf(store, 'ck').map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  });

  it('training jobs checkpoint about ten times per run when their config sets no checkpoints', async () => {
    const { withCheckpoints } = await import('../../experiments/train-job.js');
    const { DqnConfigSchema } = await import('../../agents/dqn-config.js');
    const config = DqnConfigSchema.parse({ totalSteps: 50_000 });
    expect(config.checkpointEvery).toBe(0);
    expect(withCheckpoints(config).checkpointEvery).toBe(5000);
    expect(withCheckpoints({ ...config, checkpointEvery: 123 }).checkpointEvery).toBe(123);
  });

  it('a re-run trial job replaces the events of its failed attempt', async () => {
    const store = freshStore('rerun');
    const controller = new AbortController();
    let seen = 0;
    const partial = await runExperiment({
      spec: cartTrial,
      store,
      executor: new InlineExecutor(),
      signal: controller.signal,
      onEvent: ({ event }) => {
        if (event.type === 'run.finished' && ++seen === 3) controller.abort();
      },
    });
    expect(partial.status).toBe('cancelled');
    // Pretend job 3 ran (as a killed process leaves it): it has events of an attempt that never finished.
    const job3 = `${partial.id}/job-3`;
    store.markJobRunning(job3);
    store.appendEvents(partial.id, job3, [{ type: 'episode.ended', step: 7, data: { episode: 1, return: 99, length: 7, terminated: true } }]);
    const refStore = freshStore('rerun-ref');
    const reference = await runExperiment({ spec: cartTrial, store: refStore, executor: new InlineExecutor() });
    const resumed = await resumeExperiment({ id: partial.id, store, executor: new InlineExecutor() });
    expect(resumed.status).toBe('finished');
    const refEvents = eventsOf(refStore, reference.id);
    for (let i = 0; i < resumed.jobs.length; i++) {
      expect(jobEvents(eventsOf(store, partial.id), `${partial.id}/job-${i}`), `job ${i}`).toEqual(jobEvents(refEvents, `${reference.id}/job-${i}`));
    }
    expect(store.metricSeries(job3, 'episode.return').values).not.toContain(99);
  });

  it('refuses to resume an experiment whose owner is alive, and takes over a dead one', async () => {
    const store = freshStore('lease');
    const partial = await runExperiment({ spec: { ...cartTrial, cohort: { ...cartTrial.cohort, size: 2 } }, store, executor: new InlineExecutor() });
    const id = partial.id;
    store.setExperimentStatus(id, 'running');
    const now = Date.now();
    const owner = (o: Partial<LeaseOwner>): LeaseOwner => {
      const x = { pid: 4242, host: 'lab-node-7', processStart: 'ticks:1', ...o };
      return { ...x, id: `${x.pid}@${x.host}#${x.processStart}` };
    };
    // Another host, lease fresh: alive.
    store.acquireLease(id, owner({}), { nowMs: now, ttlMs: 10_000, isLive: () => false });
    await expect(resumeExperiment({ id, store, executor: new InlineExecutor() })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/being run by pid 4242 on host lab-node-7/),
    });
    // Another host, lease expired: dead, taken over.
    store.acquireLease(id, owner({}), { nowMs: now - 60_000, ttlMs: 10_000, isLive: () => false });
    expect(leaseIsLive(store.getLease(id) as never, now)).toBe(false);
    expect((await resumeExperiment({ id, store, executor: new InlineExecutor() })).status).toBe('finished');
    expect(store.getLease(id)).toBeUndefined(); // released at the end
    // This host, a pid that is alive with the same start time (this process under another id): alive even once expired.
    const me = currentOwner();
    store.acquireLease(id, owner({ pid: process.ppid, host: hostname(), processStart: processStartTime(process.ppid) ?? 'x' }), {
      nowMs: now - 60_000,
      ttlMs: 10_000,
      isLive: () => false,
    });
    if (existsSync('/proc/self/stat')) {
      await expect(resumeExperiment({ id, store, executor: new InlineExecutor() })).rejects.toMatchObject({ code: 'CONFLICT' });
      // The same pid with another start time is a recycled pid: dead.
      store.acquireLease(id, owner({ pid: process.ppid, host: hostname(), processStart: 'ticks:0' }), { nowMs: now, ttlMs: 10_000, isLive: () => false });
      expect((await resumeExperiment({ id, store, executor: new InlineExecutor() })).status).toBe('finished');
    }
    // A pid that no longer exists on this host: dead even with a fresh lease.
    store.acquireLease(id, owner({ pid: 2 ** 22 + 17, host: me.host }), { nowMs: now, ttlMs: 10_000, isLive: () => false });
    expect((await resumeExperiment({ id, store, executor: new InlineExecutor() })).status).toBe('finished');
  });

  it('reconciles experiments a dead process left running to interrupted', async () => {
    const store = freshStore('orphans');
    const a = await runExperiment({ spec: { ...cartTrial, cohort: { ...cartTrial.cohort, size: 1 } }, store, executor: new InlineExecutor() });
    const b = await runExperiment({ spec: { ...cartTrial, cohort: { ...cartTrial.cohort, size: 1 } }, store, executor: new InlineExecutor() });
    for (const id of [a.id, b.id]) store.setExperimentStatus(id, 'running');
    // job-1 was finished; put it back to running as a killed process leaves it (test-only SQL).
    dbOf(store).prepare(`UPDATE jobs SET status = 'running' WHERE id IN (?, ?)`).run(`${a.id}/job-1`, `${b.id}/job-1`);
    store.acquireLease(b.id, { id: 'x', pid: 1, host: 'elsewhere', processStart: 'ticks:1' }, { nowMs: Date.now(), ttlMs: 10_000, isLive: () => false });
    expect(store.reconcileOrphans((lease) => leaseIsLive(lease))).toEqual([a.id]);
    expect(store.getExperiment(a.id)?.status).toBe('interrupted');
    expect(store.getExperiment(a.id)?.error).toMatch(/interrupted: its process ended while running it/);
    expect(store.getJob(`${a.id}/job-1`)?.status).toBe('interrupted');
    expect(store.getExperiment(b.id)?.status).toBe('running'); // its owner's lease is alive
  });
});
