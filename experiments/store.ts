import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { EpisodeLog, EpisodeStepRecord, Keyframe } from '../engine/episode-log.js';
import { describeValue, TwinlabError } from '../engine/errors.js';
import type { TwinlabEvent } from '../engine/events.js';
import { decodeEpisode, type EncodedEpisode, encodeEpisode, isGzip } from './episode-codec.js';
import { describeOwner, type LeaseOwner, type LeaseRecord } from './lease.js';
import { migrate } from './store-schema.js';

/**
 * The results store: one SQLite file (`twinlab.db`) under the data directory, opened in WAL mode.
 * Every multi-row write runs in one transaction, so a process killed at any instant (even `kill -9`)
 * leaves a store that opens cleanly and holds either all or none of each write (see README "Store").
 */

export const EXPERIMENT_STATUS = {
  pending: 'pending',
  running: 'running',
  finished: 'finished',
  failed: 'failed',
  cancelled: 'cancelled',
  /** Its process died while running it (found at start-up by `reconcileOrphans`); resumable. */
  interrupted: 'interrupted',
} as const;

/** Status vocabulary shared by experiments and jobs. */
export type ExperimentStatus = (typeof EXPERIMENT_STATUS)[keyof typeof EXPERIMENT_STATUS];
export type JobStatus = ExperimentStatus;

export function isExperimentStatus(value: unknown): value is ExperimentStatus {
  return typeof value === 'string' && Object.hasOwn(EXPERIMENT_STATUS, value);
}

export const EXPERIMENT_KINDS = ['train', 'sweep', 'trial'] as const;
export type ExperimentKind = (typeof EXPERIMENT_KINDS)[number];

export const ARTIFACT_KINDS = ['policy', 'checkpoint', 'report'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

export interface ExperimentRecord {
  id: string;
  kind: ExperimentKind;
  name: string;
  spec: unknown;
  seed: number;
  status: ExperimentStatus;
  createdAt: string;
  updatedAt: string;
  codeVersion: string;
  error?: string;
}

export interface JobRecord {
  id: string;
  experimentId: string;
  index: number;
  kind: string;
  config: unknown;
  seed: number;
  status: JobStatus;
  attempts: number;
  result?: unknown;
  error?: string;
  stack?: string;
  startedAt?: string;
  finishedAt?: string;
  checkpointPath?: string;
  /** Seq of the `checkpoint.saved` event of `checkpointPath` (absent for checkpoints recorded before migration 2). */
  checkpointSeq?: number;
}

export interface NewJob {
  id: string;
  index: number;
  kind: string;
  config: unknown;
  seed: number;
}

export interface NewExperiment {
  id: string;
  kind: ExperimentKind;
  name: string;
  spec: unknown;
  seed: number;
  codeVersion: string;
  jobs: NewJob[];
}

export interface StoredEvent {
  seq: number;
  jobId: string | null;
  event: TwinlabEvent;
}

export interface MetricSeries {
  steps: Float64Array;
  values: Float64Array;
  /** Per-bucket minimum / maximum, present only when `downsampled`. */
  min?: Float64Array;
  max?: Float64Array;
  downsampled: boolean;
  /** Number of stored points in the requested step range (before downsampling). */
  totalPoints: number;
}

export interface EpisodeSummaryRow {
  key: string;
  summary: Record<string, number>;
  length: number;
}

export interface ArtifactRecord {
  id: number;
  experimentId: string;
  jobId: string | null;
  kind: ArtifactKind;
  /** Relative to the data directory. */
  path: string;
  meta?: unknown;
  createdAt: string;
}

export interface StoreOptions {
  /** Timestamp source for createdAt/updatedAt/startedAt/finishedAt (bookkeeping only, never results). */
  now?: () => string;
  /** Milliseconds to wait on a locked database before SQLITE_BUSY (default 5000). */
  busyTimeoutMs?: number;
  /** Run `PRAGMA quick_check` on open and refuse a damaged file (default true; ≈ 1 ms per MB). */
  verify?: boolean;
}

export const STORE_FILE = 'twinlab.db';
export const DEFAULT_DATA_DIR = './twinlab-data';

/** Event types whose numeric data fields are copied into the metrics table, and their name prefix. */
export const METRIC_EVENT_PREFIX: Readonly<Record<string, string>> = {
  'train.metrics': 'train',
  'episode.ended': 'episode',
  'eval.completed': 'eval',
};

/**
 * The metric rows of one event: every finite number in `event.data`, nested plain objects flattened
 * with dots, arrays skipped, named `<prefix>.<field>` — e.g. `train.loss`, `episode.return`,
 * `episode.metrics.tir`, `eval.meanReturn`. Booleans and non-finite numbers are not metrics.
 */
export function metricRowsForEvent(event: TwinlabEvent): { name: string; value: number }[] {
  const prefix = METRIC_EVENT_PREFIX[event.type];
  if (prefix === undefined) return [];
  const rows: { name: string; value: number }[] = [];
  collectNumbers(event.data as unknown as Record<string, unknown>, prefix, rows);
  return rows;
}

function collectNumbers(obj: Record<string, unknown>, prefix: string, out: { name: string; value: number }[]): void {
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (typeof value === 'number') {
      if (Number.isFinite(value)) out.push({ name: `${prefix}.${key}`, value });
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value)) {
      collectNumbers(value as Record<string, unknown>, `${prefix}.${key}`, out);
    }
  }
}

/**
 * Resolves a path stored relative to the data directory. Refuses absolute paths, `..` segments,
 * backslashes and NUL bytes (`INVALID_ARGUMENT`), so nothing stored can point outside the directory.
 * Returns the normalised relative path (POSIX separators) and the absolute one.
 */
export function resolveDataPath(dataDir: string, relativePath: string): { relative: string; absolute: string } {
  const bad = (why: string): never => {
    throw new TwinlabError('INVALID_ARGUMENT', `path ${describeValue(relativePath)} ${why}; expected a path relative to the data directory ${dataDir}`, {
      path: relativePath,
    });
  };
  if (typeof relativePath !== 'string' || relativePath.length === 0) bad('is empty or not a string');
  if (relativePath.includes('\0')) bad('contains a NUL byte');
  if (relativePath.includes('\\')) bad('contains a backslash');
  if (path.posix.isAbsolute(relativePath) || path.win32.isAbsolute(relativePath)) bad('is absolute');
  if (relativePath.split('/').includes('..')) bad('contains a ".." segment');
  const relative = path.posix.normalize(relativePath);
  if (relative === '.' || relative.startsWith('../')) bad('does not name a file inside the data directory');
  const root = path.resolve(dataDir);
  const absolute = path.resolve(root, relative);
  if (absolute !== root && !absolute.startsWith(root + path.sep)) bad('escapes the data directory');
  return { relative, absolute };
}

export { decodeExactJson, encodeExactJson } from './exact-json.js';

const json = (value: unknown): string => {
  const text = JSON.stringify(value);
  return text === undefined ? 'null' : text;
};
const parse = (text: string | null | undefined): unknown => (text == null ? undefined : JSON.parse(text));
const opt = <T>(value: T | null | undefined): T | undefined => (value === null ? undefined : value);

interface ExperimentRow {
  id: string;
  kind: ExperimentKind;
  name: string;
  spec: string;
  seed: number;
  status: ExperimentStatus;
  created_at: string;
  updated_at: string;
  code_version: string;
  error: string | null;
}

interface JobRow {
  id: string;
  experiment_id: string;
  idx: number;
  kind: string;
  config: string;
  seed: number;
  status: JobStatus;
  attempts: number;
  result: string | null;
  error: string | null;
  stack: string | null;
  started_at: string | null;
  finished_at: string | null;
  checkpoint_path: string | null;
  checkpoint_seq: number | null;
}

function toExperiment(row: ExperimentRow): ExperimentRecord {
  const record: ExperimentRecord = {
    id: row.id,
    kind: row.kind,
    name: row.name,
    spec: parse(row.spec),
    seed: row.seed,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    codeVersion: row.code_version,
  };
  if (row.error !== null) record.error = row.error;
  return record;
}

function toJob(row: JobRow): JobRecord {
  const record: JobRecord = {
    id: row.id,
    experimentId: row.experiment_id,
    index: row.idx,
    kind: row.kind,
    config: parse(row.config),
    seed: row.seed,
    status: row.status,
    attempts: row.attempts,
  };
  if (row.result !== null) record.result = parse(row.result);
  const optional = {
    error: opt(row.error),
    stack: opt(row.stack),
    startedAt: opt(row.started_at),
    finishedAt: opt(row.finished_at),
    checkpointPath: opt(row.checkpoint_path),
    checkpointSeq: opt(row.checkpoint_seq),
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) (record as unknown as Record<string, unknown>)[k] = v;
  return record;
}

function isEncodedEpisode(value: EpisodeLog | EncodedEpisode): value is EncodedEpisode {
  return value instanceof Object && (value as EncodedEpisode).bytes instanceof Uint8Array;
}

function assertStatus(status: unknown): asserts status is ExperimentStatus {
  if (!isExperimentStatus(status)) {
    throw new TwinlabError('INVALID_ARGUMENT', `status ${describeValue(status)} is not one of ${Object.values(EXPERIMENT_STATUS).join(', ')}`);
  }
}

function assertSeed(seed: unknown, field: string): void {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new TwinlabError('INVALID_ARGUMENT', `${field} must be a safe integer, got ${describeValue(seed)}`);
  }
}

function assertId(id: unknown, field: string): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw new TwinlabError('INVALID_ARGUMENT', `${field} must be a non-empty string, got ${describeValue(id)}`);
}

function verifyStoreFile(db: Database.Database, file: string): void {
  let result: string;
  try {
    result = String(db.pragma('quick_check', { simple: true }));
  } catch (error) {
    result = (error as Error).message;
  }
  if (result !== 'ok') {
    const first = result.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('***'))[0] ?? result;
    throw new TwinlabError(
      'INVALID_STATE',
      `store ${file} is damaged (PRAGMA quick_check: ${first}); twinlab will not read or write it — restore it from a backup or move it aside`,
      { path: file, check: result.slice(0, 2000) },
    );
  }
}

export class Store {
  readonly dataDir: string;
  readonly path: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly now: () => string;
  /** The last few decompressed episode logs, for viewer scrubbing (invalidated on save). */
  private readonly episodeCache = new Map<string, EpisodeLog>();
  /** (job, metric name) → metric_series.id; only ids known to be committed or in the open transaction. */
  private readonly seriesIds = new Map<string, number>();
  private closed = false;

  private constructor(dataDir: string, options: StoreOptions) {
    this.dataDir = path.resolve(dataDir);
    mkdirSync(this.dataDir, { recursive: true });
    this.path = path.join(this.dataDir, STORE_FILE);
    this.now = options.now ?? (() => new Date().toISOString());
    // Owner-only from the start; SQLite gives the -wal and -shm files the database file's mode.
    try {
      closeSync(openSync(this.path, 'wx', 0o600));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    this.db = new Database(this.path);
    try {
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      // A page damaged mid-file can go unnoticed by writes that never touch it: refuse before writing.
      if (options.verify !== false) verifyStoreFile(this.db, this.path);
      migrate(this.db);
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  /** Opens (creating if needed) `<dataDir>/twinlab.db` and applies pending migrations. */
  static open(dataDir: string = DEFAULT_DATA_DIR, options: StoreOptions = {}): Store {
    return new Store(dataDir, options);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.episodeCache.clear();
    this.db.close();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Runs `fn` in one (immediate) transaction; nested calls join the outer one (as savepoints). */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (error) {
      // Metric series created by the rolled-back work no longer exist: forget every cached id.
      this.seriesIds.clear();
      throw error;
    }
  }

  /** `PRAGMA integrity_check` — "ok" for a healthy file. */
  integrityCheck(): string {
    return (this.db.pragma('integrity_check', { simple: true }) as string) ?? 'unknown';
  }

  /** Folds the WAL back into the main file (e.g. before copying the store). */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  private stmt(sql: string): Database.Statement {
    if (this.closed) throw new TwinlabError('INVALID_STATE', `store ${this.path} is closed`);
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** A cached prepared statement, for the table modules beside this one (dataset-store.ts); run writes inside `transaction`. */
  prepare(sql: string): Database.Statement {
    return this.stmt(sql);
  }

  // ---- experiments -------------------------------------------------------------------------

  /** Inserts the experiment (status pending) and all its jobs (pending, attempts 0) in one transaction. */
  createExperiment(e: NewExperiment): ExperimentRecord {
    assertId(e.id, 'experiment id');
    if (!(EXPERIMENT_KINDS as readonly string[]).includes(e.kind)) {
      throw new TwinlabError('INVALID_ARGUMENT', `experiment kind ${describeValue(e.kind)} is not one of ${EXPERIMENT_KINDS.join(', ')}`);
    }
    assertSeed(e.seed, 'experiment seed');
    const indices = new Set<number>();
    for (const job of e.jobs) {
      assertId(job.id, 'job id');
      assertSeed(job.seed, `seed of job ${job.id}`);
      if (!Number.isInteger(job.index) || job.index < 0)
        throw new TwinlabError('INVALID_ARGUMENT', `index of job ${job.id} must be an integer ≥ 0, got ${describeValue(job.index)}`);
      if (indices.has(job.index)) throw new TwinlabError('INVALID_ARGUMENT', `job index ${job.index} appears twice in experiment ${e.id}`);
      indices.add(job.index);
    }
    if (this.getExperiment(e.id) !== undefined) throw new TwinlabError('CONFLICT', `experiment ${e.id} already exists in ${this.path}`);
    const now = this.now();
    const insertJob = this.stmt(`INSERT INTO jobs (id, experiment_id, idx, kind, config, seed, status, attempts) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0)`);
    this.transaction(() => {
      this.stmt(
        `INSERT INTO experiments (id, kind, name, spec, seed, status, created_at, updated_at, code_version) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
      ).run(e.id, e.kind, e.name, json(e.spec), e.seed, now, now, e.codeVersion);
      for (const job of e.jobs) {
        try {
          insertJob.run(job.id, e.id, job.index, job.kind, json(job.config), job.seed);
        } catch (error) {
          if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
            throw new TwinlabError('CONFLICT', `job id ${job.id} already exists in the store`);
          }
          throw error;
        }
      }
    });
    return this.getExperiment(e.id) as ExperimentRecord;
  }

  getExperiment(id: string): ExperimentRecord | undefined {
    const row = this.stmt('SELECT * FROM experiments WHERE id = ?').get(id) as ExperimentRow | undefined;
    return row === undefined ? undefined : toExperiment(row);
  }

  /** Newest first (by creation time, then id). */
  listExperiments(): ExperimentRecord[] {
    return (this.stmt('SELECT * FROM experiments ORDER BY created_at DESC, rowid DESC').all() as ExperimentRow[]).map(toExperiment);
  }

  setExperimentStatus(id: string, status: ExperimentStatus, error?: string): void {
    assertStatus(status);
    const info = this.stmt('UPDATE experiments SET status = ?, error = ?, updated_at = ? WHERE id = ?').run(status, error ?? null, this.now(), id);
    if (info.changes === 0) throw new TwinlabError('NOT_FOUND', `no experiment ${id} in ${this.path}`);
  }

  // ---- jobs --------------------------------------------------------------------------------

  /** The experiment's jobs ordered by index. */
  listJobs(experimentId: string): JobRecord[] {
    return (this.stmt('SELECT * FROM jobs WHERE experiment_id = ? ORDER BY idx').all(experimentId) as JobRow[]).map(toJob);
  }

  /** Id and status of every job of an experiment, in index order (no config or result read). */
  jobStatuses(experimentId: string): { id: string; status: JobStatus }[] {
    return this.stmt('SELECT id, status FROM jobs WHERE experiment_id = ? ORDER BY idx').all(experimentId) as { id: string; status: JobStatus }[];
  }

  /**
   * The experiment's jobs ordered by index, `offset`/`limit` a page of them, without the per-patient parts
   * of a streaming trial's blocks (jobs.ts `TrialBlockConfig`, trial-blocks.ts `TrialBlockResult`): a
   * block's config keeps kind, from, to and replicates (not the cohort request and the trial's shape), its
   * result kind, from, to, jobs, steps and blockHash (not `values` and `patientIds`, ≈ 70 bytes per
   * patient). SQLite's JSON functions drop them, so the large results are never parsed here. Other jobs
   * are returned whole, as `listJobs` returns them.
   */
  listJobSummaries(experimentId: string, options: { offset?: number; limit?: number } = {}): JobRecord[] {
    const rows = this.stmt(
      `SELECT id, experiment_id, idx, kind, seed, status, attempts, error, stack, started_at, finished_at, checkpoint_path, checkpoint_seq,
         CASE WHEN json_extract(config, '$.kind') = 'trial-block' THEN json_remove(config, '$.cohort', '$.shape') ELSE config END AS config,
         CASE WHEN json_extract(result, '$.kind') = 'trial-block' THEN json_remove(result, '$.values', '$.patientIds') ELSE result END AS result
       FROM jobs WHERE experiment_id = ? ORDER BY idx LIMIT ? OFFSET ?`,
    ).all(experimentId, options.limit ?? -1, options.offset ?? 0) as JobRow[];
    return rows.map(toJob);
  }

  /** Jobs of an experiment by status, with the patients of a streaming trial's blocks (`to − from`) summed per status. */
  jobProgress(experimentId: string): { total: number; patients: number; byStatus: Record<string, { jobs: number; patients: number }> } {
    const rows = this.stmt(
      `SELECT status, COUNT(*) AS jobs, COALESCE(SUM(json_extract(config, '$.to') - json_extract(config, '$.from')), 0) AS patients
       FROM jobs WHERE experiment_id = ? GROUP BY status`,
    ).all(experimentId) as { status: string; jobs: number; patients: number }[];
    const byStatus: Record<string, { jobs: number; patients: number }> = {};
    let total = 0;
    let patients = 0;
    for (const r of rows) {
      byStatus[r.status] = { jobs: r.jobs, patients: r.patients };
      total += r.jobs;
      patients += r.patients;
    }
    return { total, patients, byStatus };
  }

  getJob(id: string): JobRecord | undefined {
    const row = this.stmt('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row === undefined ? undefined : toJob(row);
  }

  private requireChange(changes: number, id: string): void {
    if (changes === 0) throw new TwinlabError('NOT_FOUND', `no job ${id} in ${this.path}`);
  }

  /**
   * pending/failed/cancelled/running → running, attempts + 1, clears the previous error. A finished
   * job's result is never overwritten: marking it running again is a CONFLICT.
   */
  markJobRunning(id: string): void {
    const job = this.getJob(id);
    if (job === undefined) throw new TwinlabError('NOT_FOUND', `no job ${id} in ${this.path}`);
    if (job.status === 'finished') throw new TwinlabError('CONFLICT', `job ${id} is already finished; its result is kept`);
    const info = this.stmt(
      `UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = ?, finished_at = NULL, error = NULL, stack = NULL WHERE id = ? AND status != 'finished'`,
    ).run(this.now(), id);
    this.requireChange(info.changes, id);
  }

  /**
   * Status, result and finish time in one statement (atomic); then the job's metric series are encoded
   * once into `metric_blobs` (a finished job's series no longer change), so the first whole read of a
   * series (`metricPoints`, the run comparison) costs a blob read instead of a row per point.
   */
  markJobFinished(id: string, result: unknown): void {
    const info = this.stmt(`UPDATE jobs SET status = 'finished', result = ?, error = NULL, stack = NULL, finished_at = ? WHERE id = ?`).run(
      json(result),
      this.now(),
      id,
    );
    this.requireChange(info.changes, id);
    try {
      for (const { id: seriesId } of this.stmt('SELECT id FROM metric_series WHERE job_id = ?').all(id) as { id: number }[]) this.encodeSeries(seriesId);
    } catch {
      // best effort: without its blob a series is read row by row (and encoded on that first read)
    }
  }

  /** Reads a series' points in (step, seq) order and stores them encoded in `metric_blobs`. */
  private encodeSeries(seriesId: number): void {
    this.transaction(() => {
      const count = (this.stmt('SELECT COUNT(*) AS n FROM metric_points WHERE series_id = ?').get(seriesId) as { n: number }).n;
      const body = Buffer.alloc(16 * count);
      const steps = new Float64Array(body.buffer, body.byteOffset, count);
      const values = new Float64Array(body.buffer, body.byteOffset + 8 * count, count);
      let i = 0;
      for (const r of this.stmt('SELECT step, value FROM metric_points WHERE series_id = ? ORDER BY step, seq').raw(true).iterate(seriesId) as Iterable<[number, number]>) {
        steps[i] = r[0];
        values[i] = r[1];
        i++;
      }
      this.stmt('INSERT OR REPLACE INTO metric_blobs (series_id, points, body) VALUES (?, ?, ?)').run(seriesId, count, body);
    });
  }

  markJobFailed(id: string, error: string, stack?: string): void {
    const info = this.stmt(`UPDATE jobs SET status = 'failed', error = ?, stack = ?, finished_at = ? WHERE id = ?`).run(error, stack ?? null, this.now(), id);
    this.requireChange(info.changes, id);
  }

  /** Cancels a job that has not finished (a finished job stays finished). */
  markJobCancelled(id: string): void {
    const info = this.stmt(`UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status != 'finished'`).run(this.now(), id);
    if (info.changes === 0 && this.getJob(id) === undefined) this.requireChange(0, id);
  }

  /** For resume: jobs left `running` (or `interrupted`) by a dead process go back to `pending`. Returns how many. */
  resetUnfinishedJobs(experimentId: string): number {
    return this.stmt(`UPDATE jobs SET status = 'pending', started_at = NULL WHERE experiment_id = ? AND status IN ('running', 'interrupted')`).run(experimentId)
      .changes;
  }

  /**
   * Records the job's latest checkpoint (a path relative to the data directory) and the seq of its
   * `checkpoint.saved` event: every event of the job up to that seq describes training before it.
   */
  setJobCheckpoint(id: string, checkpointPath: string, seq?: number): void {
    const { relative } = resolveDataPath(this.dataDir, checkpointPath);
    const info = this.stmt('UPDATE jobs SET checkpoint_path = ?, checkpoint_seq = ? WHERE id = ?').run(relative, seq ?? null, id);
    this.requireChange(info.changes, id);
  }

  /**
   * Before a job runs again: drops what its earlier, unfinished attempts left — its events with seq >
   * `keepThroughSeq` and their metric points (all of them when undefined: the job starts over, and its
   * checkpoint record is cleared). Curves, reports and exports then show one attempt. The freed seqs are
   * never reused (`seq_floor`). One transaction; returns the number of events dropped.
   */
  discardUnfinishedAttempts(jobId: string, keepThroughSeq?: number): number {
    return this.transaction(() => {
      const job = this.stmt('SELECT experiment_id, status FROM jobs WHERE id = ?').get(jobId) as { experiment_id: string; status: JobStatus } | undefined;
      if (job === undefined) throw new TwinlabError('NOT_FOUND', `no job ${jobId} in ${this.path}`);
      if (job.status === 'finished') throw new TwinlabError('CONFLICT', `job ${jobId} is already finished; its events are kept`);
      const keep = keepThroughSeq ?? 0;
      this.stmt('UPDATE experiments SET seq_floor = ? WHERE id = ?').run(this.lastSeq(job.experiment_id), job.experiment_id);
      this.stmt('DELETE FROM metric_points WHERE series_id IN (SELECT id FROM metric_series WHERE job_id = ?) AND seq > ?').run(jobId, keep);
      this.stmt('DELETE FROM metric_series WHERE job_id = ? AND NOT EXISTS (SELECT 1 FROM metric_points p WHERE p.series_id = metric_series.id)').run(jobId);
      this.seriesIds.clear();
      const dropped = this.stmt('DELETE FROM events WHERE experiment_id = ? AND job_id = ? AND seq > ?').run(job.experiment_id, jobId, keep).changes;
      if (keepThroughSeq === undefined) this.stmt('UPDATE jobs SET checkpoint_path = NULL, checkpoint_seq = NULL WHERE id = ?').run(jobId);
      return dropped;
    });
  }

  // ---- leases: which process runs an experiment ---------------------------------------------

  getLease(experimentId: string): LeaseRecord | undefined {
    const row = this.stmt('SELECT * FROM leases WHERE experiment_id = ?').get(experimentId) as
      | { experiment_id: string; owner: string; pid: number; host: string; process_start: string; acquired_at: string; renewed_ms: number; expires_ms: number }
      | undefined;
    if (row === undefined) return undefined;
    return {
      experimentId: row.experiment_id,
      id: row.owner,
      pid: row.pid,
      host: row.host,
      processStart: row.process_start,
      acquiredAt: row.acquired_at,
      renewedMs: row.renewed_ms,
      expiresMs: row.expires_ms,
    };
  }

  /**
   * Takes the experiment's lease for `owner` (atomically). When another owner holds it and `isLive`
   * says that owner is still running, refuses with CONFLICT naming its pid and host; a dead owner's
   * lease is taken over.
   */
  acquireLease(experimentId: string, owner: LeaseOwner, options: { nowMs: number; ttlMs: number; isLive: (lease: LeaseRecord) => boolean }): void {
    this.transaction(() => {
      if (this.getExperiment(experimentId) === undefined) throw new TwinlabError('NOT_FOUND', `no experiment ${experimentId} in ${this.path}`);
      const held = this.getLease(experimentId);
      if (held !== undefined && held.id !== owner.id && options.isLive(held)) {
        throw new TwinlabError(
          'CONFLICT',
          `experiment ${experimentId} is being run by ${describeOwner(held)} (since ${held.acquiredAt}); wait for it to end or cancel it before resuming`,
          { experimentId, ownerPid: held.pid, ownerHost: held.host },
        );
      }
      this.stmt(
        `INSERT OR REPLACE INTO leases (experiment_id, owner, pid, host, process_start, acquired_at, renewed_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(experimentId, owner.id, owner.pid, owner.host, owner.processStart, this.now(), options.nowMs, options.nowMs + options.ttlMs);
    });
  }

  /** Extends the owner's lease; false when it no longer holds it (taken over after expiring). */
  renewLease(experimentId: string, ownerId: string, nowMs: number, ttlMs: number): boolean {
    return this.stmt('UPDATE leases SET renewed_ms = ?, expires_ms = ? WHERE experiment_id = ? AND owner = ?').run(nowMs, nowMs + ttlMs, experimentId, ownerId).changes > 0;
  }

  releaseLease(experimentId: string, ownerId: string): void {
    this.stmt('DELETE FROM leases WHERE experiment_id = ? AND owner = ?').run(experimentId, ownerId);
  }

  /**
   * At start-up: experiments left `running` by a process that died (no lease, or `isLive` says its
   * owner is gone) become `interrupted`, and so do their running jobs. Returns their ids.
   */
  reconcileOrphans(isLive: (lease: LeaseRecord) => boolean): string[] {
    const running = this.stmt(`SELECT id FROM experiments WHERE status = 'running'`).all() as { id: string }[];
    const orphans: string[] = [];
    for (const { id } of running) {
      this.transaction(() => {
        const experiment = this.getExperiment(id);
        if (experiment?.status !== 'running') return;
        const lease = this.getLease(id);
        if (lease !== undefined && isLive(lease)) return;
        const who = lease === undefined ? 'its process' : `its process (${describeOwner(lease)})`;
        this.stmt(`UPDATE jobs SET status = 'interrupted', finished_at = ? WHERE experiment_id = ? AND status = 'running'`).run(this.now(), id);
        this.setExperimentStatus(id, 'interrupted', `interrupted: ${who} ended while running it; resume it to finish the unfinished jobs`);
        this.stmt('DELETE FROM leases WHERE experiment_id = ?').run(id);
        orphans.push(id);
      });
    }
    return orphans;
  }

  // ---- events and metrics ------------------------------------------------------------------

  /**
   * Appends events in one transaction, numbering them seq = lastSeq + 1, + 2, … per experiment (the
   * numbering continues across batches and processes). The numeric fields of train.metrics,
   * episode.ended and eval.completed events of a job also go to the metrics table (see
   * `metricRowsForEvent`); experiment-level events (jobId null) have no metric rows. Returns the seqs.
   */
  appendEvents(experimentId: string, jobId: string | null, events: TwinlabEvent[]): number[] {
    if (events.length === 0) return [];
    const insertEvent = this.stmt('INSERT INTO events (experiment_id, seq, job_id, type, step, data) VALUES (?, ?, ?, ?, ?, ?)');
    const insertPoint = this.stmt('INSERT INTO metric_points (series_id, step, seq, value) VALUES (?, ?, ?, ?)');
    return this.transaction(() => {
      if (this.stmt('SELECT 1 FROM experiments WHERE id = ?').get(experimentId) === undefined) {
        throw new TwinlabError('NOT_FOUND', `no experiment ${experimentId} in ${this.path}`);
      }
      if (jobId !== null) {
        const owner = this.stmt('SELECT experiment_id FROM jobs WHERE id = ?').get(jobId) as { experiment_id: string } | undefined;
        if (owner === undefined || owner.experiment_id !== experimentId) {
          throw new TwinlabError('NOT_FOUND', `no job ${jobId} in experiment ${experimentId}`);
        }
      }
      let seq = this.lastSeq(experimentId);
      let metrics = false;
      const seqs = new Array<number>(events.length);
      for (let i = 0; i < events.length; i++) {
        const event = events[i] as TwinlabEvent;
        seq += 1;
        const step = Number.isFinite(event.step) ? event.step : 0;
        insertEvent.run(experimentId, seq, jobId, event.type, step, json(event.data));
        seqs[i] = seq;
        if (jobId !== null && METRIC_EVENT_PREFIX[event.type] !== undefined) {
          for (const row of metricRowsForEvent(event)) insertPoint.run(this.seriesId(jobId, row.name), step, seq, row.value);
          metrics = true;
        }
      }
      // points added to a series drop its encoded copy (only a finished job has one)
      if (metrics) this.stmt('DELETE FROM metric_blobs WHERE series_id IN (SELECT id FROM metric_series WHERE job_id = ?)').run(jobId);
      return seqs;
    });
  }

  /** The id of the (job, metric name) series, created on first use (inside the caller's transaction). */
  private seriesId(jobId: string, name: string): number {
    const key = `${jobId}\u0000${name}`;
    let id = this.seriesIds.get(key);
    if (id === undefined) {
      const row = this.stmt('SELECT id FROM metric_series WHERE job_id = ? AND name = ?').get(jobId, name) as { id: number } | undefined;
      id = row?.id ?? Number(this.stmt('INSERT INTO metric_series (job_id, name) VALUES (?, ?)').run(jobId, name).lastInsertRowid);
      this.seriesIds.set(key, id);
    }
    return id;
  }

  /** Events with seq > afterSeq in order (at most `limit`, default 1000). */
  eventsAfter(experimentId: string, afterSeq: number, limit = 1000): StoredEvent[] {
    const rows = this.stmt('SELECT seq, job_id, type, step, data FROM events WHERE experiment_id = ? AND seq > ? ORDER BY seq LIMIT ?').all(
      experimentId,
      afterSeq,
      Math.max(0, Math.floor(limit)),
    ) as { seq: number; job_id: string | null; type: string; step: number; data: string }[];
    return rows.map((r) => ({ seq: r.seq, jobId: r.job_id, event: { type: r.type, step: r.step, data: JSON.parse(r.data) } as TwinlabEvent }));
  }

  /** The highest seq assigned in the experiment (0 when it has no events); seqs of discarded events count. */
  lastSeq(experimentId: string): number {
    const row = this.stmt(
      'SELECT MAX(COALESCE((SELECT MAX(seq) FROM events WHERE experiment_id = ?), 0), COALESCE((SELECT seq_floor FROM experiments WHERE id = ?), 0)) AS seq',
    ).get(experimentId, experimentId) as { seq: number | null };
    return row.seq ?? 0;
  }

  /** Names of the job's metric series, sorted. */
  metricNames(jobId: string): string[] {
    return (this.stmt('SELECT name FROM metric_series WHERE job_id = ? ORDER BY name').all(jobId) as { name: string }[]).map((r) => r.name);
  }

  /**
   * A metric's (step, value) series in step order. When the range holds more than `maxPoints`
   * (default 2000) points it is downsampled — never silently: `downsampled` is set, `totalPoints`
   * counts the stored points, and each of ≤ maxPoints equal-width step buckets returns the mean
   * step, the mean value and the min/max envelope of the values in it (empty buckets are skipped).
   */
  metricSeries(jobId: string, name: string, options: { maxPoints?: number; fromStep?: number; toStep?: number } = {}): MetricSeries {
    const from = options.fromStep ?? Number.NEGATIVE_INFINITY;
    const to = options.toStep ?? Number.POSITIVE_INFINITY;
    const maxPoints = options.maxPoints ?? 2000;
    if (!Number.isInteger(maxPoints) || maxPoints < 1)
      throw new TwinlabError('INVALID_ARGUMENT', `maxPoints must be an integer ≥ 1, got ${describeValue(maxPoints)}`);
    const series = this.stmt('SELECT id FROM metric_series WHERE job_id = ? AND name = ?').get(jobId, name) as { id: number } | undefined;
    if (series === undefined) return { steps: new Float64Array(0), values: new Float64Array(0), downsampled: false, totalPoints: 0 };
    const lo = Number.isFinite(from) ? from : -1e308;
    const hi = Number.isFinite(to) ? to : 1e308;
    const stats = this.stmt('SELECT COUNT(*) AS n, MIN(step) AS lo, MAX(step) AS hi FROM metric_points WHERE series_id = ? AND step >= ? AND step <= ?').get(
      series.id,
      lo,
      hi,
    ) as { n: number; lo: number | null; hi: number | null };
    const total = stats.n;
    if (total <= maxPoints) {
      const rows = this.stmt('SELECT step, value FROM metric_points WHERE series_id = ? AND step >= ? AND step <= ? ORDER BY step, seq')
        .raw(true)
        .all(series.id, lo, hi) as [number, number][];
      const steps = new Float64Array(rows.length);
      const values = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i] as [number, number];
        steps[i] = r[0];
        values[i] = r[1];
      }
      return { steps, values, downsampled: false, totalPoints: total };
    }
    const first = stats.lo as number;
    const width = ((stats.hi as number) - first) / maxPoints;
    const rows = (
      width > 0
        ? this.stmt(
            `SELECT MIN(CAST((step - ?) / ? AS INTEGER), ? - 1) AS b, AVG(step), AVG(value), MIN(value), MAX(value)
             FROM metric_points WHERE series_id = ? AND step >= ? AND step <= ? GROUP BY b ORDER BY b`,
          )
            .raw(true)
            .all(first, width, maxPoints, series.id, lo, hi)
        : this.stmt('SELECT 0, AVG(step), AVG(value), MIN(value), MAX(value) FROM metric_points WHERE series_id = ? AND step >= ? AND step <= ?')
            .raw(true)
            .all(series.id, lo, hi)
    ) as [number, number, number, number, number][];
    const n = rows.length;
    const out = { steps: new Float64Array(n), values: new Float64Array(n), min: new Float64Array(n), max: new Float64Array(n) };
    for (let i = 0; i < n; i++) {
      const r = rows[i] as [number, number, number, number, number];
      out.steps[i] = r[1];
      out.values[i] = r[2];
      out.min[i] = r[3];
      out.max[i] = r[4];
    }
    return { ...out, downsampled: true, totalPoints: total };
  }

  /**
   * Every stored point of a metric in (step, seq) order — never downsampled — and `throughSeq`, the
   * experiment's last seq at the moment of the read (one read transaction): every event with seq ≤
   * throughSeq is in the series, none after it, so a live client appends only events after it.
   */
  metricPoints(jobId: string, name: string): { steps: Float64Array; values: Float64Array; throughSeq: number } {
    const job = this.getJob(jobId);
    if (!job) throw new TwinlabError('NOT_FOUND', `no job ${jobId} in ${this.path}`);
    const read: { steps: Float64Array; values: Float64Array; throughSeq: number; encode?: number } = this.db.transaction(() => {
      const throughSeq = this.lastSeq(job.experimentId);
      const series = this.stmt('SELECT id FROM metric_series WHERE job_id = ? AND name = ?').get(jobId, name) as { id: number } | undefined;
      if (series === undefined) return { steps: new Float64Array(0), values: new Float64Array(0), throughSeq };
      if (job.status === 'finished') {
        // a finished job's series is read from its blob (written when it finished, or here the first time)
        const blob = this.stmt('SELECT points, body FROM metric_blobs WHERE series_id = ?').get(series.id) as { points: number; body: Buffer } | undefined;
        if (blob !== undefined && blob.body.length === 16 * blob.points) {
          const bytes = new Uint8Array(blob.body.length);
          bytes.set(blob.body); // an aligned copy: SQLite's buffer may not start on 8 bytes
          return { steps: new Float64Array(bytes.buffer, 0, blob.points), values: new Float64Array(bytes.buffer, 8 * blob.points, blob.points), throughSeq };
        }
      }
      const count = (this.stmt('SELECT COUNT(*) AS n FROM metric_points WHERE series_id = ?').get(series.id) as { n: number }).n;
      const steps = new Float64Array(count);
      const values = new Float64Array(count);
      let i = 0;
      for (const r of this.stmt('SELECT step, value FROM metric_points WHERE series_id = ? ORDER BY step, seq').raw(true).iterate(series.id) as Iterable<[number, number]>) {
        if (i >= count) break;
        steps[i] = r[0];
        values[i] = r[1];
        i++;
      }
      return { steps: i === count ? steps : steps.slice(0, i), values: i === count ? values : values.slice(0, i), throughSeq, encode: job.status === 'finished' ? series.id : undefined };
    })();
    if (read.encode !== undefined) {
      // a finished job without its blob (finished before migration 6): keep one now, best effort (another
      // process may hold the write lock; the next read tries again)
      try {
        const body = Buffer.alloc(16 * read.steps.length);
        Buffer.from(read.steps.buffer, read.steps.byteOffset, read.steps.byteLength).copy(body, 0);
        Buffer.from(read.values.buffer, read.values.byteOffset, read.values.byteLength).copy(body, 8 * read.steps.length);
        // only if no point came in since the read
        this.stmt('INSERT OR REPLACE INTO metric_blobs (series_id, points, body) SELECT ?, ?, ? WHERE (SELECT COUNT(*) FROM metric_points WHERE series_id = ?) = ?').run(
          read.encode,
          read.steps.length,
          body,
          read.encode,
          read.steps.length,
        );
      } catch {
        // the rows stay the source of truth
      }
    }
    return { steps: read.steps, values: read.values, throughSeq: read.throughSeq };
  }

  /** The highest step of a metric series (undefined when the run has none); one index lookup. */
  lastMetricStep(jobId: string, name: string): number | undefined {
    const row = this.stmt('SELECT MAX(p.step) AS step FROM metric_points p JOIN metric_series s ON s.id = p.series_id WHERE s.job_id = ? AND s.name = ?').get(jobId, name) as
      | { step: number | null }
      | undefined;
    return row?.step ?? undefined;
  }

  // ---- episodes ----------------------------------------------------------------------------

  /**
   * Stores (or replaces) an episode log, keyframes included. `log` is either the log itself (encoded
   * here) or an `EncodedEpisode` from `encodeEpisode` — what jobs hand back, encoded and compressed
   * in the worker — written as is. Either way `getEpisode` returns a log identical to the recorded one.
   */
  saveEpisode(jobId: string, key: string, log: EpisodeLog | EncodedEpisode, summary: Record<string, number>): void {
    assertId(key, 'episode key');
    const encoded = isEncodedEpisode(log) ? log : encodeEpisode(log);
    if (!isGzip(encoded.bytes))
      throw new TwinlabError('INVALID_ARGUMENT', `episode ${key} of job ${jobId}: encoded bytes are not gzip data (expected encodeEpisode output)`);
    const blob = Buffer.from(encoded.bytes.buffer, encoded.bytes.byteOffset, encoded.bytes.byteLength);
    try {
      this.stmt('INSERT OR REPLACE INTO episodes (job_id, key, length, summary, log) VALUES (?, ?, ?, ?, ?)').run(
        jobId,
        key,
        encoded.length,
        json(summary),
        blob,
      );
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new TwinlabError('NOT_FOUND', `no job ${jobId} in ${this.path}`);
      throw error;
    }
    this.episodeCache.delete(`${jobId}\u0000${key}`);
  }

  getEpisode(jobId: string, key: string): EpisodeLog | undefined {
    const cacheKey = `${jobId}\u0000${key}`;
    const cached = this.episodeCache.get(cacheKey);
    if (cached !== undefined) return structuredClone(cached);
    const row = this.stmt('SELECT log FROM episodes WHERE job_id = ? AND key = ?').get(jobId, key) as { log: Buffer } | undefined;
    if (row === undefined) return undefined;
    const log = decodeEpisode(row.log);
    this.remember(cacheKey, log);
    return structuredClone(log);
  }

  private remember(cacheKey: string, log: EpisodeLog): void {
    this.episodeCache.delete(cacheKey);
    this.episodeCache.set(cacheKey, log);
    while (this.episodeCache.size > 4) this.episodeCache.delete(this.episodeCache.keys().next().value as string);
  }

  /** The job's episodes (key order) with their summaries and lengths, without decompressing logs. */
  listEpisodes(jobId: string): EpisodeSummaryRow[] {
    return (
      this.stmt('SELECT key, summary, length FROM episodes WHERE job_id = ? ORDER BY key').all(jobId) as { key: string; summary: string; length: number }[]
    ).map((r) => ({ key: r.key, summary: JSON.parse(r.summary) as Record<string, number>, length: r.length }));
  }

  /**
   * Steps fromStep..toStep (inclusive) of a stored episode and the nearest keyframe at or before
   * fromStep, for the viewer's seek. NOT_FOUND if the episode does not exist.
   */
  getEpisodeRange(jobId: string, key: string, fromStep: number, toStep: number): { steps: EpisodeStepRecord[]; keyframe?: Keyframe } {
    if (!Number.isFinite(fromStep) || !Number.isFinite(toStep) || toStep < fromStep) {
      throw new TwinlabError('INVALID_ARGUMENT', `episode range must satisfy fromStep ≤ toStep (finite), got ${fromStep}..${toStep}`);
    }
    const cacheKey = `${jobId}\u0000${key}`;
    let log = this.episodeCache.get(cacheKey);
    if (log === undefined) {
      if (this.getEpisode(jobId, key) === undefined) throw new TwinlabError('NOT_FOUND', `no episode ${key} for job ${jobId}`);
      log = this.episodeCache.get(cacheKey) as EpisodeLog;
    }
    const steps = structuredClone(log.steps.filter((s) => s.step >= fromStep && s.step <= toStep));
    let keyframe: Keyframe | undefined;
    for (const k of log.keyframes) if (k.step <= fromStep && (keyframe === undefined || k.step > keyframe.step)) keyframe = k;
    return keyframe === undefined ? { steps } : { steps, keyframe: structuredClone(keyframe) };
  }

  /**
   * TEST-ONLY helper: merges `patch` into step `step` of a stored episode log and saves it back
   * (summary unchanged). Exists so replay tests can tamper with a log; production code never edits logs.
   */
  replaceEpisodeStep(jobId: string, key: string, step: number, patch: Partial<EpisodeStepRecord>): void {
    const log = this.getEpisode(jobId, key);
    if (log === undefined) throw new TwinlabError('NOT_FOUND', `no episode ${key} for job ${jobId}`);
    const index = log.steps.findIndex((s) => s.step === step);
    if (index < 0) throw new TwinlabError('NOT_FOUND', `episode ${key} of job ${jobId} has no step ${step}`);
    log.steps[index] = { ...(log.steps[index] as EpisodeStepRecord), ...patch };
    const summary = this.listEpisodes(jobId).find((e) => e.key === key)?.summary ?? {};
    this.saveEpisode(jobId, key, log, summary);
  }

  // ---- artifacts and trial results ---------------------------------------------------------

  /**
   * Records a file produced by a job (or, when `ownerId` is an experiment id, by the experiment),
   * by its path relative to the data directory; paths escaping the directory are refused.
   */
  addArtifact(ownerId: string, kind: ArtifactKind, artifactPath: string, meta?: unknown): void {
    if (!(ARTIFACT_KINDS as readonly string[]).includes(kind)) {
      throw new TwinlabError('INVALID_ARGUMENT', `artifact kind ${describeValue(kind)} is not one of ${ARTIFACT_KINDS.join(', ')}`);
    }
    const { relative } = resolveDataPath(this.dataDir, artifactPath);
    const job = this.stmt('SELECT experiment_id FROM jobs WHERE id = ?').get(ownerId) as { experiment_id: string } | undefined;
    let experimentId: string;
    let jobId: string | null = null;
    if (job !== undefined) {
      experimentId = job.experiment_id;
      jobId = ownerId;
    } else if (this.getExperiment(ownerId) !== undefined) {
      experimentId = ownerId;
    } else {
      throw new TwinlabError('NOT_FOUND', `no job or experiment ${ownerId} in ${this.path}`);
    }
    this.stmt('INSERT INTO artifacts (experiment_id, job_id, kind, path, meta, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(
      experimentId,
      jobId,
      kind,
      relative,
      meta === undefined ? null : json(meta),
      this.now(),
    );
  }

  /** Artifacts of an experiment (all of its jobs' and its own) or of one job, in insertion order. */
  listArtifacts(id: string): ArtifactRecord[] {
    const rows = this.stmt('SELECT * FROM artifacts WHERE experiment_id = ? OR job_id = ? ORDER BY id').all(id, id) as {
      id: number;
      experiment_id: string;
      job_id: string | null;
      kind: ArtifactKind;
      path: string;
      meta: string | null;
      created_at: string;
    }[];
    return rows.map((r) => {
      const record: ArtifactRecord = { id: r.id, experimentId: r.experiment_id, jobId: r.job_id, kind: r.kind, path: r.path, createdAt: r.created_at };
      if (r.meta !== null) record.meta = JSON.parse(r.meta);
      return record;
    });
  }

  /** Absolute path of a stored relative path (validated again). */
  resolvePath(relativePath: string): string {
    return resolveDataPath(this.dataDir, relativePath).absolute;
  }

  saveTrialResult(experimentId: string, result: unknown): void {
    try {
      this.stmt('INSERT OR REPLACE INTO trial_results (experiment_id, result, updated_at) VALUES (?, ?, ?)').run(experimentId, json(result), this.now());
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY')
        throw new TwinlabError('NOT_FOUND', `no experiment ${experimentId} in ${this.path}`);
      throw error;
    }
  }

  getTrialResult(experimentId: string): unknown {
    const row = this.stmt('SELECT result FROM trial_results WHERE experiment_id = ?').get(experimentId) as { result: string } | undefined;
    return row === undefined ? undefined : JSON.parse(row.result);
  }
}
