import type Database from 'better-sqlite3';
import { TwinlabError } from '../engine/errors.js';

/**
 * The DDL of the results store and its ordered migrations. The schema version lives in
 * `PRAGMA user_version`; migration *k* moves the store from version k−1 to k. Each pending
 * migration runs in its own transaction together with the `user_version` bump (SQLite writes the
 * header inside the transaction), so a crash mid-migration leaves the store at the previous version.
 */
export interface Migration {
  version: number;
  description: string;
  up(db: Database.Database): void;
}

/** Migration 1: the initial schema (see experiments/README.md, "Store"). */
const INITIAL_SCHEMA = `
CREATE TABLE experiments (
  id            TEXT PRIMARY KEY,
  kind          TEXT NOT NULL CHECK (kind IN ('train', 'sweep', 'trial')),
  name          TEXT NOT NULL,
  spec          TEXT NOT NULL,
  seed          INTEGER NOT NULL,
  status        TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  code_version  TEXT NOT NULL,
  error         TEXT
);
CREATE INDEX experiments_by_created ON experiments (created_at DESC, id DESC);

CREATE TABLE jobs (
  id              TEXT PRIMARY KEY,
  experiment_id   TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
  idx             INTEGER NOT NULL,
  kind            TEXT NOT NULL,
  config          TEXT NOT NULL,
  seed            INTEGER NOT NULL,
  status          TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  result          TEXT,
  error           TEXT,
  stack           TEXT,
  started_at      TEXT,
  finished_at     TEXT,
  checkpoint_path TEXT,
  UNIQUE (experiment_id, idx)
);

CREATE TABLE events (
  experiment_id TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
  seq           INTEGER NOT NULL,
  job_id        TEXT REFERENCES jobs (id) ON DELETE CASCADE,
  type          TEXT NOT NULL,
  step          REAL NOT NULL,
  data          TEXT NOT NULL,
  PRIMARY KEY (experiment_id, seq)
) WITHOUT ROWID;

-- Metric series are keyed by a small integer so each point is one narrow WITHOUT ROWID b-tree row
-- (≈1.5× the write rate of a (job_id, name, step) index); the metrics view restores that shape.
CREATE TABLE metric_series (
  id      INTEGER PRIMARY KEY,
  job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  name    TEXT NOT NULL,
  UNIQUE (job_id, name)
);

CREATE TABLE metric_points (
  series_id INTEGER NOT NULL REFERENCES metric_series (id) ON DELETE CASCADE,
  step      REAL NOT NULL,
  seq       INTEGER NOT NULL,
  value     REAL NOT NULL,
  PRIMARY KEY (series_id, step, seq)
) WITHOUT ROWID;

CREATE VIEW metrics AS
  SELECT s.job_id AS job_id, s.name AS name, p.step AS step, p.value AS value, p.seq AS seq
  FROM metric_points p JOIN metric_series s ON s.id = p.series_id;

CREATE TABLE episodes (
  job_id   TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  key      TEXT NOT NULL,
  length   INTEGER NOT NULL,
  summary  TEXT NOT NULL,
  log      BLOB NOT NULL,
  PRIMARY KEY (job_id, key)
) WITHOUT ROWID;

CREATE TABLE artifacts (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  experiment_id TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
  job_id        TEXT REFERENCES jobs (id) ON DELETE CASCADE,
  kind          TEXT NOT NULL CHECK (kind IN ('policy', 'checkpoint', 'report')),
  path          TEXT NOT NULL,
  meta          TEXT,
  created_at    TEXT NOT NULL
);
CREATE INDEX artifacts_by_experiment ON artifacts (experiment_id, id);
CREATE INDEX artifacts_by_job ON artifacts (job_id, id);

CREATE TABLE trial_results (
  experiment_id TEXT PRIMARY KEY REFERENCES experiments (id) ON DELETE CASCADE,
  result        TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);
`;

/**
 * Migration 2: who is running an experiment, and which events a re-run keeps.
 * - `leases`: one row per experiment being run, naming the owning process (pid, host, process start
 *   time) and renewed while it lives; `resume` refuses an experiment whose owner is alive.
 * - `jobs.checkpoint_seq`: the seq of the `checkpoint.saved` event of the job's recorded checkpoint;
 *   a job resumed from it keeps its events up to that seq and loses the rest of the dead attempt's.
 * - `experiments.seq_floor`: the highest seq ever assigned, so seqs freed by discarding a dead
 *   attempt's events are never handed out again (live subscribers have already seen them).
 */
const RUN_OWNERSHIP = `
CREATE TABLE leases (
  experiment_id TEXT PRIMARY KEY REFERENCES experiments (id) ON DELETE CASCADE,
  owner         TEXT NOT NULL,
  pid           INTEGER NOT NULL,
  host          TEXT NOT NULL,
  process_start TEXT NOT NULL,
  acquired_at   TEXT NOT NULL,
  renewed_ms    INTEGER NOT NULL,
  expires_ms    INTEGER NOT NULL
);
ALTER TABLE jobs ADD COLUMN checkpoint_seq INTEGER;
ALTER TABLE experiments ADD COLUMN seq_floor INTEGER NOT NULL DEFAULT 0;
`;

/**
 * Migration 3: personal digital twins (datasets/README.md).
 * - `datasets`: one imported patient dataset each — the grid (start, step, length), the four arrays as
 *   gzipped little-endian float64 (`data`), its fingerprint (unique: re-importing the same data is a
 *   no-op), provenance (file SHA-256, format, file name, import time, de-identified) and warnings.
 * - `twins`: fitted personal twins, written by twinning/; `dataset_id` names the data it was fitted to.
 */
const PERSONAL_TWINS = `
CREATE TABLE datasets (
  id             TEXT PRIMARY KEY,
  kind           TEXT NOT NULL,
  patient_id     TEXT NOT NULL,
  start_ms       INTEGER NOT NULL,
  step_min       INTEGER NOT NULL,
  length         INTEGER NOT NULL,
  body_weight_kg REAL,
  utc_offset_min INTEGER,
  fingerprint    TEXT NOT NULL UNIQUE,
  format         TEXT,
  file_sha256    TEXT,
  provenance     TEXT,
  summary        TEXT NOT NULL,
  warnings       TEXT NOT NULL,
  created_at     TEXT NOT NULL,
  data           BLOB NOT NULL
);
CREATE INDEX datasets_by_patient ON datasets (patient_id, created_at);

CREATE TABLE twins (
  id          TEXT PRIMARY KEY,
  twin        TEXT NOT NULL,
  dataset_id  TEXT REFERENCES datasets (id) ON DELETE SET NULL,
  created_at  TEXT NOT NULL,
  dir         TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  summary     TEXT NOT NULL
);
CREATE INDEX twins_by_dataset ON twins (dataset_id);
`;

/**
 * Migration 4: live recalibration of personal twins (server/twins.ts). `twin_observations` holds the
 * rows posted to `POST /api/twins/:id/observations` after the end of the twin's data, as received
 * (on the 5-minute grid, `cgm` NULL when missing); replaying them in time order rebuilds the twin's
 * living profile exactly, so a restarted server resumes where it was.
 */
const TWIN_OBSERVATIONS = `
CREATE TABLE twin_observations (
  twin_id     TEXT NOT NULL REFERENCES twins (id) ON DELETE CASCADE,
  time_ms     INTEGER NOT NULL,
  cgm         REAL,
  basal       REAL NOT NULL,
  bolus       REAL NOT NULL,
  carbs       REAL NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (twin_id, time_ms)
) WITHOUT ROWID;
`;

/**
 * Migration 5: live recalibration of event-based personal twins (server/twins-vancomycin.ts).
 * `twin_events` holds the dose and level rows posted to `POST /api/twins/:id/observations` of a
 * vancomycin twin after its data (`event` 'dose': `amount` mg over `duration` h; 'level': `value`
 * mg/L), as received; the twin's data plus these rows in time order is its live data after a restart.
 */
const TWIN_EVENTS = `
CREATE TABLE twin_events (
  twin_id     TEXT NOT NULL REFERENCES twins (id) ON DELETE CASCADE,
  time_ms     INTEGER NOT NULL,
  event       TEXT NOT NULL CHECK (event IN ('dose', 'level')),
  amount      REAL,
  duration    REAL,
  value       REAL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (twin_id, time_ms, event)
) WITHOUT ROWID;
`;

/**
 * A finished job's metric series encoded once (little-endian float64 steps, then values, in (step, seq)
 * order): the run comparison reads 10^5-point series whole, and 10^5 rows cost ≈ 0.1–0.2 s to read
 * (≈ 4 s for 20 runs on a loaded machine) where one blob costs a few ms. Written when the job finishes
 * (or on the first whole read of a finished job's series); dropped when points are added to the series.
 */
const METRIC_BLOBS = `
CREATE TABLE metric_blobs (
  series_id INTEGER PRIMARY KEY REFERENCES metric_series (id) ON DELETE CASCADE,
  points    INTEGER NOT NULL,
  body      BLOB NOT NULL
);
`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial schema: experiments, jobs, events, metric_series/metric_points (+ metrics view), episodes, artifacts, trial_results',
    up(db) {
      db.exec(INITIAL_SCHEMA);
    },
  },
  {
    version: 2,
    description: 'run ownership and attempts: leases (owner process per running experiment), jobs.checkpoint_seq, experiments.seq_floor',
    up(db) {
      db.exec(RUN_OWNERSHIP);
    },
  },
  {
    version: 3,
    description: 'personal digital twins: datasets (imported patient data, arrays gzipped) and twins (fitted to a dataset)',
    up(db) {
      db.exec(PERSONAL_TWINS);
    },
  },
  {
    version: 4,
    description: 'live personal twins: twin_observations (rows appended to a twin after its data, replayed on restart)',
    up(db) {
      db.exec(TWIN_OBSERVATIONS);
    },
  },
  {
    version: 5,
    description: 'live event-based personal twins: twin_events (vancomycin doses and levels appended to a twin after its data)',
    up(db) {
      db.exec(TWIN_EVENTS);
    },
  },
  {
    version: 6,
    description: 'metric_blobs: the whole metric series of a finished job encoded once (the run comparison reads them whole)',
    up(db) {
      db.exec(METRIC_BLOBS);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Applies the migrations newer than the store's `user_version`, in order, each in one transaction.
 * Returns the versions applied (empty when the store is current: running it twice is a no-op).
 * Refuses a store written by a newer twinlab (its version is above the last known migration).
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  for (let i = 0; i < migrations.length; i++) {
    if ((migrations[i] as Migration).version !== i + 1) {
      throw new TwinlabError('INTERNAL', `migrations must be numbered 1, 2, 3, … in order; entry ${i} has version ${(migrations[i] as Migration).version}`);
    }
  }
  const latest = migrations.length;
  const current = schemaVersion(db);
  if (current > latest) {
    throw new TwinlabError('CONFLICT', `store schema version ${current} is newer than this twinlab supports (${latest}); upgrade twinlab`, {
      storeVersion: current,
      supported: latest,
    });
  }
  const applied: number[] = [];
  for (const migration of migrations.slice(current)) {
    // Re-read inside the write lock: another process may have applied it since we looked.
    const ran = db
      .transaction(() => {
        if (schemaVersion(db) >= migration.version) return false;
        migration.up(db);
        db.pragma(`user_version = ${migration.version}`);
        return true;
      })
      .immediate();
    if (ran) applied.push(migration.version);
  }
  return applied;
}
