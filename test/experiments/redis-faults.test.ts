import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandJobs } from '../../experiments/jobs.js';
import type { JobTask } from '../../experiments/job-types.js';
import { RedisExecutor } from '../../experiments/redis-executor.js';
import { runExperiment } from '../../experiments/runner.js';
import { validateSpec } from '../../experiments/spec.js';
import { Store } from '../../experiments/store.js';
import { cli } from './cli-helpers.js';
import { redisMissing, startWorker, startWorkers, TestRedis, type WorkerProcess } from './executor-redis-helpers.js';
import { fingerprint, referenceRun } from './executor-suite.js';

/**
 * Faults of the Redis executor, with a real Redis and `twinlab worker` processes: a worker killed in
 * the middle of a batch, the coordinator killed and resumed, Redis restarted mid-run, a job that
 * throws. Every surviving run must equal the inline run of the same trial.
 */
const SPEC = {
  kind: 'trial',
  name: 'redis faults',
  seed: 77,
  cohort: { env: 'classic/cartpole-v1', size: 8 },
  arms: [
    { name: 'a', policy: 'random' },
    { name: 'b', policy: 'random', options: {} },
  ],
  duration: { episodes: 30 },
  keyframeInterval: 50,
  endpoints: { primary: ['return'], secondary: ['length'] },
};

// Other work may edit the sources while the test runs: pin one code version for the coordinator and its worker processes (inherited).
process.env.TWINLAB_CODE_VERSION = 'test-pinned';
const skip = redisMissing();
/** Short locks so a killed worker's batch is retried within seconds. */
const FAST_STALL = ['--lock-duration', '1500', '--stalled-interval', '500'];
const TIMEOUT = 240_000;

describe.skipIf(skip !== undefined)(`Redis executor faults${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let redis: TestRedis;
  const workers: WorkerProcess[] = [];
  beforeAll(async () => {
    redis = await TestRedis.start();
  }, 30_000);
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await redis?.stop();
  }, 30_000);

  it(
    'a worker SIGKILLed mid-batch: the batch is retried on another worker, no result stored twice, results identical',
    async () => {
      const expected = await referenceRun(SPEC);
      const queue = 'kill-worker';
      const [first] = await startWorkers(redis.url, 1, ['--queue', queue, ...FAST_STALL]);
      workers.push(first as WorkerProcess);
      const store = Store.open(mkdtempSync(join(tmpdir(), 'twinlab-redis-kill-')));
      const executor = new RedisExecutor({ url: redis.url, queue, reconcileMs: 300 });
      let second: WorkerProcess | undefined;
      try {
        const outcome = await runExperiment({
          spec: SPEC,
          id: 'suite-trial',
          store,
          executor,
          onEvent: ({ event }) => {
            if (event.type === 'run.started' && second === undefined) {
              void first?.kill('SIGKILL');
              second = startWorker(redis.url, ['--queue', queue, ...FAST_STALL]);
              workers.push(second);
            }
          },
        });
        expect(outcome.status).toBe('finished');
        const fp = fingerprint(store, 'suite-trial');
        expect(fp.jobs).toEqual(expected.jobs);
        expect(fp.trial).toBe(expected.trial);
        expect(fp.finishedEvents).toEqual(fp.jobs.map(() => 1));
        // The killed attempt was started, then the job ran again elsewhere.
        expect(Math.max(...store.listJobs('suite-trial').map((j) => j.attempts))).toBeGreaterThanOrEqual(2);
      } finally {
        await executor.close();
        store.close();
        await second?.kill('SIGTERM');
      }
    },
    TIMEOUT,
  );

  it(
    'a job that throws is recorded failed with its error after the configured attempts; the others finish',
    async () => {
      const queue = 'throws';
      workers.push(...(await startWorkers(redis.url, 1, ['--queue', queue])));
      const spec = validateSpec({ ...SPEC, cohort: { env: 'classic/cartpole-v1', size: 2 }, duration: { episodes: 1 } });
      const tasks: JobTask[] = expandJobs('throws', spec).map((j) => ({ ...j, experimentId: 'throws', dataDir: tmpdir() }));
      // Job 3 asks for an endpoint nobody defines: it throws in the worker on every attempt.
      const bad = tasks[3] as JobTask;
      if (bad.config.kind === 'trial') bad.config.endpoints = ['no-such-endpoint'];
      const executor = new RedisExecutor({ url: redis.url, queue, attempts: 3, reconcileMs: 300 });
      const started = new Map<string, number>();
      const finished: string[] = [];
      const failed: Array<[string, string]> = [];
      try {
        await executor.run(tasks, {
          onStarted: (id) => started.set(id, (started.get(id) ?? 0) + 1),
          onEvent: () => {},
          onFinished: (id) => finished.push(id),
          onFailed: (id, error) => failed.push([id, error]),
        });
      } finally {
        await executor.close();
      }
      expect(failed).toEqual([[bad.id, 'unknown endpoint "no-such-endpoint"']]);
      expect(started.get(bad.id)).toBe(3);
      expect(finished.sort()).toEqual(tasks.filter((t) => t !== bad).map((t) => t.id).sort());
    },
    TIMEOUT,
  );

  it(
    'the coordinator killed mid-run: `twinlab resume ID --executor redis` re-attaches and finishes identically',
    async () => {
      const expected = await referenceRun(SPEC);
      const queue = 'kill-coordinator';
      workers.push(...(await startWorkers(redis.url, 1, ['--queue', queue])));
      const dir = mkdtempSync(join(tmpdir(), 'twinlab-redis-resume-'));
      const specFile = join(dir, 'spec.json');
      writeFileSync(specFile, JSON.stringify(SPEC));
      const flags = ['--executor', 'redis', '--redis', redis.url, '--queue', queue, '--data', join(dir, 'data')];
      let finishedLines = 0;
      const killed = await cli(['run', specFile, ...flags, '--json'], {
        killWhen: (line) => line.includes('"run.finished"') && ++finishedLines >= 3,
      });
      expect(killed.signal).toBe('SIGKILL');
      const id = (JSON.parse(killed.stdout.split('\n')[0] as string) as { experimentId: string }).experimentId;
      const resumed = await cli(['resume', id, ...flags]);
      expect(resumed.stderr).not.toContain('error');
      expect(resumed.code).toBe(0);
      const store = Store.open(join(dir, 'data'));
      try {
        const fp = fingerprint(store, id);
        expect(fp.status).toBe('finished');
        expect(fp.jobs).toEqual(expected.jobs);
        expect(fp.trial).toBe(expected.trial);
        expect(fp.finishedEvents).toEqual(fp.jobs.map(() => 1));
      } finally {
        store.close();
      }
    },
    TIMEOUT,
  );

  it(
    'Redis restarted mid-run (no persistence): the run continues and finishes identically, or fails with a one-line reason',
    async () => {
      const expected = await referenceRun(SPEC);
      const queue = 'restart';
      workers.push(...(await startWorkers(redis.url, 1, ['--queue', queue])));
      const store = Store.open(mkdtempSync(join(tmpdir(), 'twinlab-redis-restart-')));
      const executor = new RedisExecutor({ url: redis.url, queue, reconcileMs: 300, unreachableMs: 20_000 });
      let finished = 0;
      let restarted: Promise<void> | undefined;
      try {
        const outcome = await runExperiment({
          spec: SPEC,
          id: 'suite-trial',
          store,
          executor,
          onEvent: ({ event }) => {
            if (event.type === 'run.finished' && ++finished === 3) restarted = redis.stop().then(() => redis.restart());
          },
        }).catch((error: unknown) => ({ status: 'threw', error: error instanceof Error ? error.message : String(error) }));
        await restarted;
        expect(restarted).toBeDefined();
        if (outcome.status === 'finished') {
          const fp = fingerprint(store, 'suite-trial');
          expect(fp.jobs).toEqual(expected.jobs);
          expect(fp.trial).toBe(expected.trial);
          expect(fp.finishedEvents).toEqual(fp.jobs.map(() => 1));
        } else {
          expect(outcome.error).toMatch(/redis/);
          expect(outcome.error).not.toContain('\n');
        }
      } finally {
        await executor.close();
        store.close();
      }
    },
    TIMEOUT,
  );
});
