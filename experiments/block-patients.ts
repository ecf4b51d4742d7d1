import { TwinlabError } from '../engine/errors.js';
import { jobId } from './jobs.js';
import { cohortSize, type TrialSpec } from './spec.js';
import type { JobRecord, JobStatus, Store } from './store.js';
import { blockEpisodeKey, type TrialBlockResult } from './trial-blocks.js';

/**
 * A page of a streaming trial's patients (spec `streaming`), read from the blocks that hold them rather
 * than from every job: patient i is in block job ⌊i / blockSize⌋ (jobs.ts `generateTrialBlocks`), its
 * values at `values[endpoint][arm][i − from]` of that block's result (trial-blocks.ts) and its episodes,
 * when it was sampled (`keepEpisodes.every`), under that job as `p<i>.r<r>.a<a>.episode-<k>`. A page of
 * `limit` patients reads at most `limit` blocks, whatever the trial's size, so the server and the viewer
 * can list a 10⁶-patient trial page by page (the job listing leaves these arrays out:
 * `Store.listJobSummaries`).
 *
 * `sampled`: only the patients whose episodes were kept (positions 0, k, 2k, …), the ones that can be
 * opened in the episode viewer. `episodes[arm]` names replicate 0's first episode of that arm, and only
 * when the store has it (a block that has not finished has none yet).
 */
export interface StreamingPatientRow {
  position: number;
  /** Patient id (null until its block has finished). */
  patient: string | null;
  /** The block job holding this patient. */
  run: string;
  status: JobStatus;
  /** endpoint → arm → value (replicates averaged; null when missing or the block has not finished). */
  values: Record<string, Record<string, number | null>>;
  /** arm → stored episode key of replicate 0, episode 0 (absent when not stored). */
  episodes: Record<string, string>;
}

export interface StreamingPatientsPage {
  /** Patients in the listing (all, or the sampled ones). */
  total: number;
  offset: number;
  limit: number;
  sampled: boolean;
  keepEvery: number;
  blockSize: number;
  arms: string[];
  endpoints: string[];
  rows: StreamingPatientRow[];
}

export const PATIENT_PAGE_LIMIT = 500;

export function isStreamingTrialSpec(spec: unknown): spec is TrialSpec & { streaming: NonNullable<TrialSpec['streaming']> } {
  const s = spec as { kind?: unknown; streaming?: unknown } | undefined;
  return s?.kind === 'trial' && s.streaming !== undefined && s.streaming !== null;
}

export function streamingPatients(store: Store, experimentId: string, options: { offset?: number; limit?: number; sampled?: boolean } = {}): StreamingPatientsPage {
  const experiment = store.getExperiment(experimentId);
  if (!experiment) throw new TwinlabError('NOT_FOUND', `unknown experiment "${experimentId}"`);
  const spec = experiment.spec;
  if (!isStreamingTrialSpec(spec)) throw new TwinlabError('INVALID_ARGUMENT', `experiment "${experimentId}" is not a streaming trial (its patients are its jobs: GET /api/experiments/${experimentId})`);
  const size = cohortSize(spec.cohort);
  const blockSize = spec.streaming.blockSize;
  const keepEvery = spec.keepEpisodes?.every ?? 1;
  const sampled = options.sampled === true;
  const offset = options.offset ?? 0;
  const limit = Math.min(options.limit ?? 100, PATIENT_PAGE_LIMIT);
  const total = sampled ? Math.ceil(size / keepEvery) : size;
  const arms = spec.arms.map((a) => a.name);
  const endpoints = [...spec.endpoints.primary, ...spec.endpoints.secondary];
  const blocks = new Map<number, { job: JobRecord | undefined; keys: Set<string> }>();
  const blockAt = (b: number) => {
    let entry = blocks.get(b);
    if (!entry) {
      const job = store.getJob(jobId(experimentId, b));
      entry = { job, keys: new Set(job ? store.listEpisodes(job.id).map((e) => e.key) : []) };
      blocks.set(b, entry);
    }
    return entry;
  };
  const rows: StreamingPatientRow[] = [];
  for (let j = offset; j < Math.min(total, offset + limit); j++) {
    const position = sampled ? j * keepEvery : j;
    const b = Math.floor(position / blockSize);
    const { job, keys } = blockAt(b);
    const result = job?.status === 'finished' ? (job.result as TrialBlockResult | undefined) : undefined;
    const i = position - (result?.from ?? 0);
    const values: StreamingPatientRow['values'] = {};
    for (const e of endpoints) values[e] = Object.fromEntries(arms.map((arm) => [arm, result ? (result.values[e]?.[arm]?.[i] ?? null) : null]));
    const episodes: Record<string, string> = {};
    arms.forEach((arm, a) => {
      const key = blockEpisodeKey(position, 0, a, 'episode-0');
      if (keys.has(key)) episodes[arm] = key;
    });
    rows.push({ position, patient: result?.patientIds[i] ?? null, run: job?.id ?? jobId(experimentId, b), status: job?.status ?? 'pending', values, episodes });
  }
  return { total, offset, limit, sampled, keepEvery, blockSize, arms, endpoints, rows };
}
