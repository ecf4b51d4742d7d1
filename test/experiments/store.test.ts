import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EPISODE_LOG_VERSION, type EpisodeLog } from '../../engine/episode-log.js';
import type { TwinlabEvent } from '../../engine/events.js';
import { isExperimentStatus, metricRowsForEvent, resolveDataPath, STORE_FILE, Store } from '../../experiments/store.js';
import { MIGRATIONS, type Migration, migrate, SCHEMA_VERSION, schemaVersion } from '../../experiments/store-schema.js';
import { EVENTS_PER_JOB, expectedResult } from './fixtures/store-writer.js';

const here = path.dirname(fileURLToPath(import.meta.url));

let dir: string;
let store: Store;
let clock = 0;
const now = (): string => new Date(Date.UTC(2025, 0, 1) + 1000 * clock++).toISOString();

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'twinlab-store-'));
  store = Store.open(path.join(dir, 'data'), { now });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function createTrain(id = 'exp-1', jobs = 3) {
  return store.createExperiment({
    id,
    kind: 'train',
    name: `experiment ${id}`,
    spec: { env: 'cartpole', nested: { a: [1, 2] } },
    seed: 42,
    codeVersion: 'abc123',
    jobs: Array.from({ length: jobs }, (_, i) => ({ id: `${id}-j${i}`, index: i, kind: 'train', config: { lr: 0.001 * (i + 1) }, seed: 100 + i })),
  });
}

const metricsEvent = (step: number, loss: number): TwinlabEvent => ({
  type: 'train.metrics',
  step,
  data: { loss, meanQ: 2 * loss, epsilon: 0.5, stepsPerSecond: 1e3, gradientSteps: step },
});

function sampleLog(length: number): EpisodeLog {
  return {
    version: EPISODE_LOG_VERSION,
    envId: 'test/env-v0',
    seed: 7,
    initialObservation: [0.1, 0.2],
    resetInfo: { patient: 'p0' },
    steps: Array.from({ length }, (_, step) => ({
      step,
      action: step % 3,
      reward: step * 0.5,
      observation: [Math.fround(step / 7), -step],
      terminated: false,
      truncated: step === length - 1,
      info: { glucose: step === 2 ? Number.NaN : 100 + step, events: step % 10 === 0 ? ['meal'] : [], limit: step === 3 ? Number.POSITIVE_INFINITY : 1 },
    })),
    keyframes: Array.from({ length: Math.ceil(length / 10) }, (_, k) => ({
      step: 10 * k,
      state: { y: [k, k + 0.5], t: 10 * k, ode: Float64Array.of(k / 3, -0, Number.NaN) },
    })),
    totalReward: (0.5 * length * (length - 1)) / 2,
    length,
    terminated: false,
    truncated: true,
    hash: 'deadbeef',
  };
}

describe('Store: experiments and jobs', () => {
  it('creates the data directory, the db file in WAL mode with foreign keys on', () => {
    expect(existsSync(path.join(dir, 'data', STORE_FILE))).toBe(true);
    const db = new Database(store.path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    expect(schemaVersion(new Database(store.path, { readonly: true }))).toBe(SCHEMA_VERSION);
  });

  it('round-trips an experiment with its jobs in index order, all pending', () => {
    const created = createTrain('exp-1', 3);
    expect(created).toMatchObject({
      id: 'exp-1',
      kind: 'train',
      status: 'pending',
      seed: 42,
      codeVersion: 'abc123',
      spec: { env: 'cartpole', nested: { a: [1, 2] } },
    });
    const jobs = store.listJobs('exp-1');
    expect(jobs.map((j) => [j.index, j.seed, j.status, j.attempts])).toEqual([
      [0, 100, 'pending', 0],
      [1, 101, 'pending', 0],
      [2, 102, 'pending', 0],
    ]);
    expect(jobs[1]?.config).toEqual({ lr: 0.002 });
    expect(store.getJob('exp-1-j2')?.experimentId).toBe('exp-1');
    expect(store.getExperiment('nope')).toBeUndefined();
  });

  it('lists experiments newest first and refuses duplicate ids atomically', () => {
    createTrain('a');
    createTrain('b');
    expect(store.listExperiments().map((e) => e.id)).toEqual(['b', 'a']);
    expect(() => createTrain('a')).toThrow(/already exists/);
    // A job id clash rolls back the whole experiment (one transaction).
    expect(() =>
      store.createExperiment({
        id: 'c',
        kind: 'sweep',
        name: 'c',
        spec: {},
        seed: 1,
        codeVersion: 'x',
        jobs: [
          { id: 'c-0', index: 0, kind: 'train', config: {}, seed: 1 },
          { id: 'a-j0', index: 1, kind: 'train', config: {}, seed: 1 },
        ],
      }),
    ).toThrow(/job id a-j0 already exists/);
    expect(store.getExperiment('c')).toBeUndefined();
    expect(store.getJob('c-0')).toBeUndefined();
  });

  it('tracks job status transitions, attempts, errors and resume', () => {
    createTrain();
    store.markJobRunning('exp-1-j0');
    store.markJobFinished('exp-1-j0', { meanReturn: 12.5 });
    store.markJobRunning('exp-1-j1');
    store.markJobFailed('exp-1-j1', 'boom', 'stack…');
    store.markJobRunning('exp-1-j1');
    store.markJobRunning('exp-1-j2');
    const [j0, j1, j2] = store.listJobs('exp-1');
    expect(j0).toMatchObject({ status: 'finished', result: { meanReturn: 12.5 }, attempts: 1 });
    expect(j0?.finishedAt).toBeDefined();
    expect(j1).toMatchObject({ status: 'running', attempts: 2 });
    expect(j1?.error).toBeUndefined(); // cleared by the retry
    expect(j2?.status).toBe('running');
    expect(store.resetUnfinishedJobs('exp-1')).toBe(2);
    expect(store.listJobs('exp-1').map((j) => j.status)).toEqual(['finished', 'pending', 'pending']);
    expect(() => store.markJobRunning('exp-1-j0')).toThrow(/already finished/);
    store.markJobCancelled('exp-1-j0'); // finished stays finished
    store.markJobCancelled('exp-1-j1');
    expect(store.listJobs('exp-1').map((j) => j.status)).toEqual(['finished', 'cancelled', 'pending']);
    expect(() => store.markJobFinished('missing', 1)).toThrow(/no job missing/);
    store.setExperimentStatus('exp-1', 'failed', 'one job failed');
    expect(store.getExperiment('exp-1')).toMatchObject({ status: 'failed', error: 'one job failed' });
    expect(() => store.setExperimentStatus('exp-1', 'done' as never)).toThrow(/status "done" is not one of/);
    expect(isExperimentStatus('cancelled')).toBe(true);
    expect(isExperimentStatus('toString')).toBe(false);
  });

  it('survives close and reopen with everything intact', () => {
    createTrain();
    store.markJobRunning('exp-1-j0');
    store.markJobFinished('exp-1-j0', { ok: true });
    store.appendEvents('exp-1', 'exp-1-j0', [metricsEvent(1, 0.5)]);
    store.close();
    expect(() => store.listJobs('exp-1')).toThrow(/closed/);
    store = Store.open(path.join(dir, 'data'), { now });
    expect(store.getJob('exp-1-j0')?.result).toEqual({ ok: true });
    expect(store.lastSeq('exp-1')).toBe(1);
    expect(store.appendEvents('exp-1', null, [metricsEvent(2, 0.4)])).toEqual([2]);
  });
});

describe('Store: events and metrics', () => {
  it('assigns per-experiment seqs 1, 2, 3… continuing across batches', () => {
    createTrain('a');
    createTrain('b');
    expect(store.appendEvents('a', 'a-j0', [metricsEvent(1, 1), metricsEvent(2, 0.9)])).toEqual([1, 2]);
    expect(store.appendEvents('b', null, [metricsEvent(1, 1)])).toEqual([1]);
    expect(store.appendEvents('a', 'a-j1', [metricsEvent(3, 0.8), metricsEvent(4, 0.7), metricsEvent(5, 0.6)])).toEqual([3, 4, 5]);
    expect(store.appendEvents('a', null, [])).toEqual([]);
    expect(store.lastSeq('a')).toBe(5);
    const after = store.eventsAfter('a', 1);
    expect(after.map((e) => [e.seq, e.jobId])).toEqual([
      [2, 'a-j0'],
      [3, 'a-j1'],
      [4, 'a-j1'],
      [5, 'a-j1'],
    ]);
    expect(after[0]?.event).toEqual(metricsEvent(2, 0.9));
    expect(store.eventsAfter('a', 0, 2).map((e) => e.seq)).toEqual([1, 2]);
    expect(() => store.appendEvents('a', 'b-j0', [metricsEvent(1, 1)])).toThrow(/no job b-j0 in experiment a/);
    expect(store.lastSeq('a')).toBe(5);
  });

  it('copies numeric event fields into named metric series', () => {
    createTrain();
    const ended: TwinlabEvent = { type: 'episode.ended', step: 200, data: { episode: 3, return: 17.5, length: 200, terminated: true, metrics: { tir: 0.71 } } };
    const evaluated: TwinlabEvent = { type: 'eval.completed', step: 300, data: { meanReturn: 20, stdReturn: 2, episodes: 5, returns: [1, 2], hash: 'h' } };
    expect(metricRowsForEvent(ended)).toEqual([
      { name: 'episode.episode', value: 3 },
      { name: 'episode.return', value: 17.5 },
      { name: 'episode.length', value: 200 },
      { name: 'episode.metrics.tir', value: 0.71 },
    ]);
    store.appendEvents('exp-1', 'exp-1-j0', [metricsEvent(100, 0.25), ended, evaluated, { type: 'checkpoint.saved', step: 300, data: { path: 'x' } }]);
    expect(store.metricNames('exp-1-j0')).toEqual([
      'episode.episode',
      'episode.length',
      'episode.metrics.tir',
      'episode.return',
      'eval.episodes',
      'eval.meanReturn',
      'eval.stdReturn',
      'train.epsilon',
      'train.gradientSteps',
      'train.loss',
      'train.meanQ',
      'train.stepsPerSecond',
    ]);
    const series = store.metricSeries('exp-1-j0', 'episode.metrics.tir');
    expect(Array.from(series.steps)).toEqual([200]);
    expect(Array.from(series.values)).toEqual([0.71]);
    expect(series.downsampled).toBe(false);
  });

  it('downsamples long series into buckets with mean and min/max envelope, and says so', () => {
    createTrain();
    const n = 10_000;
    const events: TwinlabEvent[] = [];
    // A sawtooth with one spike: the envelope must keep the spike's extreme value.
    for (let i = 0; i < n; i++) events.push(metricsEvent(i, i === 4321 ? 1000 : i % 10));
    store.appendEvents('exp-1', 'exp-1-j0', events);
    const full = store.metricSeries('exp-1-j0', 'train.loss', { maxPoints: n });
    expect(full.downsampled).toBe(false);
    expect(full.values.length).toBe(n);
    const s = store.metricSeries('exp-1-j0', 'train.loss', { maxPoints: 100 });
    expect(s.downsampled).toBe(true);
    expect(s.totalPoints).toBe(n);
    expect(s.steps.length).toBeLessThanOrEqual(100);
    expect(s.steps.length).toBeGreaterThan(90);
    expect(Math.max(...(s.max as Float64Array))).toBe(1000);
    expect(Math.min(...(s.min as Float64Array))).toBe(0);
    // Each bucket's mean lies within its envelope and the steps are increasing.
    for (let i = 0; i < s.steps.length; i++) {
      expect(s.values[i]).toBeGreaterThanOrEqual(s.min?.[i] as number);
      expect(s.values[i]).toBeLessThanOrEqual(s.max?.[i] as number);
      if (i > 0) expect(s.steps[i]).toBeGreaterThan(s.steps[i - 1] as number);
    }
    // The bucket means average to the series mean (equal-width buckets of equal counts here).
    const trueMean = events.reduce((a, e) => a + (e.data as { loss: number }).loss, 0) / n;
    expect(s.values.reduce((a, b) => a + b, 0) / s.values.length).toBeCloseTo(trueMean, 1);
    const ranged = store.metricSeries('exp-1-j0', 'train.loss', { fromStep: 10, toStep: 19 });
    expect(Array.from(ranged.steps)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(ranged.totalPoints).toBe(10);
  });
});

describe('Store: episodes, artifacts, trial results', () => {
  it('round-trips a compressed episode log and serves ranges with the nearest keyframe', () => {
    createTrain();
    const log = sampleLog(95);
    store.saveEpisode('exp-1-j0', 'patient/3/arm/pid', log, { tir: 0.8, hypo: 0 });
    const back = store.getEpisode('exp-1-j0', 'patient/3/arm/pid') as EpisodeLog;
    expect(back).toEqual(log); // lossless: −0, NaN, ∞ and typed arrays survive
    expect(Object.is(back.steps[0]?.observation[1], -0)).toBe(true);
    expect(back.keyframes[1]?.state).toEqual({ y: [1, 1.5], t: 10, ode: Float64Array.of(1 / 3, -0, Number.NaN) });
    expect(store.listEpisodes('exp-1-j0')).toEqual([{ key: 'patient/3/arm/pid', summary: { tir: 0.8, hypo: 0 }, length: 95 }]);
    const db = new Database(store.path, { readonly: true });
    const blob = (db.prepare('SELECT log FROM episodes').get() as { log: Buffer }).log;
    db.close();
    expect(blob[0]).toBe(0x1f); // gzip magic
    expect(blob[1]).toBe(0x8b);
    expect(blob.length).toBeLessThan(JSON.stringify(log).length / 3);
    const range = store.getEpisodeRange('exp-1-j0', 'patient/3/arm/pid', 37, 41);
    expect(range.steps.map((s) => s.step)).toEqual([37, 38, 39, 40, 41]);
    expect(range.keyframe).toEqual({ step: 30, state: { y: [3, 3.5], t: 30, ode: Float64Array.of(1, -0, Number.NaN) } });
    expect(store.getEpisodeRange('exp-1-j0', 'patient/3/arm/pid', 40, 40).keyframe?.step).toBe(40);
    expect(() => store.getEpisodeRange('exp-1-j0', 'nope', 0, 1)).toThrow(/no episode nope/);
    // Mutating a returned log never changes the stored one.
    const copy = store.getEpisode('exp-1-j0', 'patient/3/arm/pid') as EpisodeLog;
    (copy.steps[0] as { reward: number }).reward = 99;
    expect(store.getEpisode('exp-1-j0', 'patient/3/arm/pid')?.steps[0]?.reward).toBe(0);
    store.replaceEpisodeStep('exp-1-j0', 'patient/3/arm/pid', 5, { reward: -1 });
    expect(store.getEpisodeRange('exp-1-j0', 'patient/3/arm/pid', 5, 5).steps[0]?.reward).toBe(-1);
    expect(() => store.saveEpisode('missing-job', 'k', log, {})).toThrow(/no job missing-job/);
  });

  it('stores artifacts and checkpoints by relative path and refuses paths that escape the data directory', () => {
    createTrain();
    store.addArtifact('exp-1-j0', 'policy', 'policies/exp-1/j0/model.json', { format: 'tfjs-layers' });
    store.addArtifact('exp-1', 'report', './reports/exp-1.html');
    expect(store.listArtifacts('exp-1').map((a) => [a.jobId, a.kind, a.path])).toEqual([
      ['exp-1-j0', 'policy', 'policies/exp-1/j0/model.json'],
      [null, 'report', 'reports/exp-1.html'],
    ]);
    expect(store.listArtifacts('exp-1-j0')).toHaveLength(1);
    expect(store.listArtifacts('exp-1-j0')[0]?.meta).toEqual({ format: 'tfjs-layers' });
    for (const bad of ['../outside.json', 'a/../../b', '/etc/passwd', 'C:\\x', 'a\\..\\b', '', '.', 'a/..']) {
      expect(() => store.addArtifact('exp-1-j0', 'policy', bad), bad).toThrow(/relative to the data directory/);
      expect(() => store.setJobCheckpoint('exp-1-j0', bad), bad).toThrow(/relative to the data directory/);
    }
    store.setJobCheckpoint('exp-1-j1', 'checkpoints/exp-1-j1/step-1000');
    expect(store.getJob('exp-1-j1')?.checkpointPath).toBe('checkpoints/exp-1-j1/step-1000');
    expect(store.resolvePath('checkpoints/x')).toBe(path.join(store.dataDir, 'checkpoints', 'x'));
    expect(resolveDataPath('/data', 'a/./b').relative).toBe('a/b');
    expect(() => store.addArtifact('exp-1', 'model' as never, 'x')).toThrow(/artifact kind "model"/);
    expect(store.listArtifacts('exp-1')).toHaveLength(2);
  });

  it('saves and replaces the trial result', () => {
    createTrain();
    expect(store.getTrialResult('exp-1')).toBeUndefined();
    store.saveTrialResult('exp-1', { endpoints: [1] });
    store.saveTrialResult('exp-1', { endpoints: [2] });
    expect(store.getTrialResult('exp-1')).toEqual({ endpoints: [2] });
    expect(() => store.saveTrialResult('nope', {})).toThrow(/no experiment nope/);
  });
});

describe('Store: migrations', () => {
  it('applies pending migrations once, in order; re-running is a no-op', () => {
    const db = new Database(':memory:');
    const calls: number[] = [];
    const migrations: Migration[] = [
      {
        version: 1,
        description: 'a',
        up: (d) => {
          calls.push(1);
          d.exec('CREATE TABLE a (x INTEGER)');
        },
      },
      {
        version: 2,
        description: 'b',
        up: (d) => {
          calls.push(2);
          d.exec('ALTER TABLE a ADD COLUMN y TEXT');
        },
      },
    ];
    expect(migrate(db, migrations.slice(0, 1))).toEqual([1]);
    expect(migrate(db, migrations)).toEqual([2]);
    expect(migrate(db, migrations)).toEqual([]);
    expect(calls).toEqual([1, 2]);
    expect(schemaVersion(db)).toBe(2);
    expect(() => migrate(db, migrations.slice(0, 1))).toThrow(/newer than this twinlab supports/);
    expect(() => migrate(db, [migrations[1] as Migration])).toThrow(/numbered 1, 2, 3/);
  });

  it('rolls a failing migration back entirely (version unchanged, no partial DDL)', () => {
    const db = new Database(':memory:');
    const migrations: Migration[] = [
      { version: 1, description: 'ok', up: (d) => d.exec('CREATE TABLE a (x)') },
      {
        version: 2,
        description: 'fails half-way',
        up: (d) => {
          d.exec('CREATE TABLE b (x)');
          throw new Error('disk on fire');
        },
      },
    ];
    expect(() => migrate(db, migrations)).toThrow(/disk on fire/);
    expect(schemaVersion(db)).toBe(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'b'").get()).toBeUndefined();
  });

  it('opens an existing store without re-running migration 1 and refuses a newer store', () => {
    createTrain();
    store.close();
    expect(MIGRATIONS).toHaveLength(SCHEMA_VERSION);
    store = Store.open(path.join(dir, 'data'));
    expect(store.getExperiment('exp-1')).toBeDefined();
    store.close();
    const db = new Database(path.join(dir, 'data', STORE_FILE));
    db.pragma('user_version = 99');
    db.close();
    expect(() => Store.open(path.join(dir, 'data'))).toThrow(/schema version 99 is newer/);
    store = Store.open(path.join(dir, 'other'));
  });
});

/** Runs the writer fixture and SIGKILLs it after `ticks` finished jobs (0: right after it opened the store). */
function runAndKill(dataDir: string, ticks: number, jobs: number, extraDelayMs: number): Promise<{ sawTicks: number; finishedNormally: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures', 'store-writer.ts'), dataDir, 'crash', String(jobs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffer = '';
    let sawTicks = 0;
    let killed = false;
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.stdout.on('data', (d) => {
      buffer += String(d);
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('tick')) sawTicks++;
        const trigger = ticks === 0 ? line === 'ready' : line.startsWith('tick') && sawTicks === ticks;
        if (trigger && !killed) {
          killed = true;
          setTimeout(() => child.kill('SIGKILL'), extraDelayMs);
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL' && code !== 0) reject(new Error(`writer exited with ${code}: ${stderr}`));
      else resolve({ sawTicks, finishedNormally: signal !== 'SIGKILL' });
    });
  });
}

describe('Store: crash safety', () => {
  it('stays readable and consistent after SIGKILL at several points of a write loop', async () => {
    const dataDir = path.join(dir, 'crash');
    const jobs = 400;
    const plan: [number, number][] = [
      [0, 0], // during open / createExperiment
      [0, 30],
      [5, 0],
      [20, 3],
      [60, 1],
      [15, 7],
    ];
    let finishedBefore = 0;
    for (const [ticks, delay] of plan) {
      const run = await runAndKill(dataDir, ticks, jobs, delay);
      const s = Store.open(dataDir);
      try {
        expect(s.integrityCheck()).toBe('ok');
        const experiment = s.getExperiment('crash');
        if (experiment === undefined) continue; // killed before createExperiment committed: nothing half-written
        const list = s.listJobs('crash');
        expect(list).toHaveLength(jobs); // createExperiment is all-or-nothing
        const finished = list.filter((j) => j.status === 'finished');
        expect(finished.length).toBeGreaterThanOrEqual(finishedBefore + (run.finishedNormally ? 0 : run.sawTicks));
        finishedBefore = finished.length;
        const db = new Database(s.path, { readonly: true });
        const perJob = new Map(
          (db.prepare('SELECT job_id AS id, COUNT(*) AS n FROM events WHERE job_id IS NOT NULL GROUP BY job_id').all() as { id: string; n: number }[]).map(
            (r) => [r.id, r.n],
          ),
        );
        const metricsPerJob = new Map(
          (db.prepare('SELECT job_id AS id, COUNT(*) AS n FROM metrics GROUP BY job_id').all() as { id: string; n: number }[]).map((r) => [r.id, r.n]),
        );
        const total = (db.prepare("SELECT COUNT(*) AS n FROM events WHERE experiment_id = 'crash'").get() as { n: number }).n;
        db.close();
        for (const job of list) {
          if (job.status === 'finished') {
            expect(job.result).toEqual(expectedResult(job.index));
            expect(perJob.get(job.id)).toBe(EVENTS_PER_JOB);
            expect(metricsPerJob.get(job.id)).toBe(5 * EVENTS_PER_JOB);
          } else {
            expect(job.result).toBeUndefined();
            expect(perJob.get(job.id)).toBeUndefined(); // events and result commit together
          }
        }
        // Seqs are gap-free 1..lastSeq: no batch was half-written.
        expect(s.lastSeq('crash')).toBe(total);
      } finally {
        s.close();
      }
    }
    expect(finishedBefore).toBeGreaterThan(60);
  }, 120_000);
});
