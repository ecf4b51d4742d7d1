import type { EpisodeLog } from '../engine/episode-log.js';
import { TwinlabError } from '../engine/errors.js';
import { make } from '../engine/registry.js';
import '../environments/index.js';
import type { TrialBlockConfig } from './jobs.js';
import type { JobRecord, Store } from './store.js';
import { blockEpisodeSource } from './trial-blocks.js';

/**
 * Step-by-step export of stored episodes, for one job or a whole experiment (every arm and patient of
 * a trial in one table). Each row carries `job`, `arm`, `patient`, `replicate`, `episode`, `step`, then
 * action, reward, flags, the observation (`obs_<label>`) and numeric info (`info_<name>`); columns
 * whose unit is known get it as a suffix (`info_bg_mg_dl`, `obs_iob_u`). Rows are written one
 * episode at a time through `write`, so memory stays bounded by one episode whatever the trial size.
 * The columns are fixed from the first episode of each job (the union over jobs): an info key that
 * first appears later in an episode is not exported. A streaming trial's block job holds several
 * patients' episodes (`p<i>.r<r>.a<a>.episode-<k>`, its sampled patients): each row's arm, patient and
 * replicate are those of the episode's own patient job (`episodeConfig`), so a block's episode exports
 * exactly as the same episode of the trial run job by job, but for the `job` and `episode` columns.
 */

export type EpisodeExportFormat = 'csv' | 'jsonl';

/**
 * Units of the glucose env's observation and info fields (environments/glucose/env.ts): glucose in
 * mg/dL, insulin in U (per decision step for boluses and totals, per minute for basal rates), carbs in g.
 */
const GLUCOSE_UNITS: Record<string, string> = {
  bg: 'mg_dl',
  gsub: 'mg_dl',
  cgm: 'mg_dl',
  minute: 'min',
  insulin: 'u_per_min',
  insulinU: 'u',
  basal: 'u_per_min',
  bolus: 'u',
  cho: 'g',
  announcedCarbs: 'g',
  iob: 'u',
  cob: 'g',
  meal_announced: 'g',
};

function unitOf(envId: string, name: string): string | undefined {
  if (!envId.startsWith('glucose')) return undefined;
  if (/^cgm_t-\d+min$/.test(name)) return 'mg_dl';
  return GLUCOSE_UNITS[name];
}

/** What the rows of an episode say about where it ran (a trial job config's fields; a training job's env). */
export interface EpisodeConfig {
  envId?: string;
  envOptions?: Record<string, unknown>;
  arm?: { name?: string } | string;
  patientId?: string;
  replicate?: number;
}

/**
 * The config an episode of `job` ran with: the job's own, or for a streaming trial's block the config of
 * the episode's patient job, regenerated from the block config and the key (`blockEpisodeSource`).
 */
export function episodeConfig(job: JobRecord, key: string): EpisodeConfig {
  const config = job.config as EpisodeConfig & { kind?: string };
  if (config.kind !== 'trial-block') return config;
  const source = blockEpisodeSource(job.config as TrialBlockConfig, key);
  if (!source) throw new TwinlabError('NOT_FOUND', `episode ${key} of ${job.id} is not one of its block's patients`, { id: job.id, key });
  return source.config;
}

interface JobColumns {
  job: JobRecord;
  envId: string;
  obs: { index: number; column: string }[];
  info: { key: string; column: string }[];
}

/** The observation labels an env declares for these options ([] when it cannot be built). */
export function observationLabels(envId: string, envOptions: Record<string, unknown>): string[] {
  try {
    const env = make(envId, envOptions);
    const labels = env.observationSpace.labels ?? [];
    env.close?.();
    return [...labels];
  } catch {
    return [];
  }
}

function jobColumns(store: Store, job: JobRecord): JobColumns {
  const first = store.listEpisodes(job.id)[0];
  const config = first ? episodeConfig(job, first.key) : (job.config as EpisodeConfig);
  const envId = config.envId ?? (job.config as { shape?: { envId?: string } }).shape?.envId ?? '';
  const labels = envId ? observationLabels(envId, config.envOptions ?? {}) : [];
  const log = first ? store.getEpisode(job.id, first.key) : undefined;
  const step = log?.steps[0];
  const named = (prefix: string, name: string): string => {
    const unit = unitOf(envId, name);
    return `${prefix}_${name}${unit ? `_${unit}` : ''}`;
  };
  return {
    job,
    envId,
    obs: step ? Array.from(step.observation, (_, i) => ({ index: i, column: named('obs', labels[i] ?? String(i)) })) : [],
    info: step ? Object.entries(step.info).flatMap(([key, v]) => (typeof v === 'number' ? [{ key, column: named('info', key) }] : [])) : [],
  };
}

const cell = (value: unknown): string => {
  if (value === undefined || value === null) return '';
  const text = Array.isArray(value) || ArrayBuffer.isView(value) ? Array.from(value as ArrayLike<unknown>).join(' ') : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/**
 * Writes the episodes of `jobIds` (in order) through `write`; returns the number of rows. A job
 * without stored episodes contributes no rows; if none of them has any, a NOT_FOUND error says so.
 */
export function exportEpisodes(store: Store, jobIds: readonly string[], format: EpisodeExportFormat, write: (chunk: string) => void): number {
  const jobs = jobIds.map((id) => {
    const job = store.getJob(id);
    if (!job) throw new TwinlabError('NOT_FOUND', `no job ${id} in ${store.path}`, { id });
    return jobColumns(store, job);
  });
  const columns = ['job', 'arm', 'patient', 'replicate', 'episode', 'step', 'action', 'reward', 'terminated', 'truncated'];
  const seen = new Set(columns);
  for (const j of jobs)
    for (const c of [...j.obs, ...j.info])
      if (!seen.has(c.column)) {
        seen.add(c.column);
        columns.push(c.column);
      }
  if (jobs.every((j) => j.obs.length === 0 && j.info.length === 0))
    throw new TwinlabError('NOT_FOUND', `no stored episodes in ${jobIds.length === 1 ? `job ${jobIds[0]}` : `the ${jobIds.length} jobs`} (try --what events)`);
  if (format === 'csv') write(`${columns.join(',')}\n`);
  let rows = 0;
  const block = (job: JobRecord): boolean => (job.config as { kind?: string }).kind === 'trial-block';
  for (const j of jobs) {
    for (const { key } of store.listEpisodes(j.job.id)) {
      const config = block(j.job) ? episodeConfig(j.job, key) : (j.job.config as EpisodeConfig);
      const arm = typeof config.arm === 'string' ? config.arm : (config.arm?.name ?? '');
      const log = store.getEpisode(j.job.id, key) as EpisodeLog;
      const lines: string[] = [];
      for (const s of log.steps) {
        const row: Record<string, unknown> = {
          job: j.job.id,
          arm,
          patient: config.patientId ?? '',
          replicate: config.replicate ?? '',
          episode: key,
          step: s.step,
          action: ArrayBuffer.isView(s.action) ? Array.from(s.action as unknown as ArrayLike<number>) : s.action,
          reward: s.reward,
          terminated: s.terminated,
          truncated: s.truncated,
        };
        for (const o of j.obs) row[o.column] = s.observation[o.index];
        for (const i of j.info) {
          const v = s.info[i.key];
          if (typeof v === 'number') row[i.column] = v;
        }
        lines.push(format === 'csv' ? columns.map((c) => cell(row[c])).join(',') : JSON.stringify(row));
        rows++;
      }
      if (lines.length > 0) write(`${lines.join('\n')}\n`);
    }
  }
  return rows;
}
