import { sha256Hex } from '../engine/hash.js';
import type { EventSink } from '../engine/events.js';
import { getTwin, type TwinDefinition } from '../engine/twin.js';
import type { JobOutcome, JobTask, StoredEpisode } from './job-types.js';
import { cohortMemberAt, type TrialBlockConfig, type TrialJobConfig, trialJobConfig } from './jobs.js';
import { type BlockBootstrap, blockBootstrapSums } from './streaming-trial.js';
import { EnvPool, runTrialJob, type SavedPolicyLoader } from './trial-job.js';

/**
 * A block of a streaming trial (`TrialBlockConfig`, spec `streaming`), run where the job runs: for each
 * enrolment position p in [from, to) the patient is regenerated with `cohortMemberAt` (the twin's
 * `cohortMember` of the cohort request, as the coordinator would enrol it) and each (replicate, arm) job
 * config with `trialJobConfig` — the very configs `generateTrial` makes for the same spec, so every job
 * simulates exactly as in a trial expanded job by job (test/experiments/streaming-trial.test.ts compares
 * the configs and the results). The arms of a patient share its env (`EnvPool`), closed before the next
 * patient, so a block's memory does not grow with its size.
 *
 * The result is the block's summary for the store and the streaming analysis (`TrialBlockResult`): per
 * endpoint and arm the patients' values (replicates averaged, as `analyzeTrial` does; null when not
 * finite), their ids, the steps, and `blockHash` = SHA-256 over the jobs' trajectory hashes in job order
 * (one per line). Episode logs are returned only for the sampled patients (`keepEvery`), keyed
 * `p<position>.r<replicate>.a<arm>.episode-<k>`, and only those patients' `episode.ended` events are
 * emitted (steps counted over the block), so the store does not grow by two events per patient. With
 * `config.bootstrap` the block also draws its patients' Poisson-bootstrap weights and returns their sums
 * (`bootstrap`), the part of the streaming analysis whose cost grows with B (resamples) per patient.
 */
export interface TrialBlockResult {
  kind: 'trial-block';
  from: number;
  to: number;
  patientIds: string[];
  /** endpoint id → arm name → value per patient of the block (position from + i). */
  values: Record<string, Record<string, Array<number | null>>>;
  jobs: number;
  steps: number;
  blockHash: string;
  /**
   * The block's Poisson-bootstrap sums (streaming-trial.ts `blockBootstrapSums`), when its config asks for
   * them (`TrialBlockConfig.bootstrap`): the coordinator adds them instead of drawing B weights per
   * patient. Only for the aggregation on arrival: the runner does not store them (a resume recomputes them
   * from the values, to the same bits).
   */
  bootstrap?: BlockBootstrap;
}

/** The job configs of one enrolment position, in job order (replicate-major, then arm). */
export function blockPatientConfigs(config: TrialBlockConfig, position: number, twin: TwinDefinition | undefined): TrialJobConfig[] {
  const member = cohortMemberAt(twin, config.cohort, position);
  const out: TrialJobConfig[] = [];
  for (let r = 0; r < config.replicates; r++) for (let a = 0; a < config.shape.arms.length; a++) out.push(trialJobConfig(config.shape, member, position, r, a));
  return out;
}

/** Episode key of a sampled patient's episode inside a block job. */
export function blockEpisodeKey(position: number, replicate: number, armIndex: number, key: string): string {
  return `p${position}.r${replicate}.a${armIndex}.${key}`;
}

/** The job config and episode key behind a block episode key (for replay), or undefined when it is not one. */
export function blockEpisodeSource(config: TrialBlockConfig, key: string): { config: TrialJobConfig; key: string } | undefined {
  const m = /^p(\d+)\.r(\d+)\.a(\d+)\.(episode-\d+)$/.exec(key);
  if (!m) return undefined;
  const [position, r, a] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (position < config.from || position >= config.to || r >= config.replicates || a >= config.shape.arms.length) return undefined;
  const twin = config.shape.twinId ? getTwin(config.shape.twinId) : undefined;
  const job = blockPatientConfigs(config, position, twin)[r * config.shape.arms.length + a] as TrialJobConfig;
  return { config: job, key: m[4] as string };
}

export async function runTrialBlockJob(task: JobTask, config: TrialBlockConfig, emit: EventSink, loadSaved?: SavedPolicyLoader, signal?: AbortSignal): Promise<JobOutcome> {
  const { shape } = config;
  const twin = shape.twinId ? getTwin(shape.twinId) : undefined;
  const arms = shape.arms.map((a) => a.name);
  const n = config.to - config.from;
  const values: TrialBlockResult['values'] = {};
  for (const id of shape.endpoints) values[id] = Object.fromEntries(arms.map((arm) => [arm, new Array<number | null>(n).fill(null)]));
  const patientIds: string[] = [];
  const hashes: string[] = [];
  const episodes: StoredEpisode[] = [];
  let steps = 0;
  let jobs = 0;
  emit({ type: 'run.started', step: 0, data: { envId: shape.envId, agent: 'trial-block', seed: task.seed, config: { from: config.from, to: config.to } } });
  for (let i = 0; i < n; i++) {
    if (signal?.aborted) throw new Error('cancelled');
    const position = config.from + i;
    const configs = blockPatientConfigs(config, position, twin);
    patientIds.push((configs[0] as TrialJobConfig).patientId);
    const sums = new Map<string, number>(); // `${endpoint}\0${arm}` → Σ over replicates
    const envs = new EnvPool();
    try {
      for (const job of configs) {
        const sampled = job.keepEpisodes !== false;
        // Unsampled patients' events are dropped here: only the summary leaves the block.
        const sink: EventSink = sampled
          ? (event) => {
              if (event.type === 'episode.ended') emit({ ...event, step: steps + event.step });
            }
          : () => {};
        const outcome = await runTrialJob(task, job, sink, loadSaved, envs);
        const result = outcome.result as { endpoints: Record<string, number>; steps: number; trajectoryHash: string };
        steps += result.steps;
        jobs++;
        hashes.push(result.trajectoryHash);
        for (const id of shape.endpoints) {
          const key = `${id}\0${job.arm.name}`;
          const v = result.endpoints[id] as number;
          sums.set(key, (sums.get(key) ?? 0) + (typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN));
        }
        for (const e of outcome.episodes) episodes.push({ ...e, key: blockEpisodeKey(position, job.replicate, job.armIndex, e.key) });
      }
    } finally {
      envs.close();
    }
    for (const id of shape.endpoints) {
      for (const arm of arms) {
        // As analyzeTrial: the replicates' values summed in order, then divided by R.
        const y = ((sums.get(`${id}\0${arm}`) ?? Number.NaN) as number) / config.replicates;
        (values[id] as Record<string, Array<number | null>>)[arm]![i] = Number.isFinite(y) ? y : null;
      }
    }
  }
  const result: TrialBlockResult = { kind: 'trial-block', from: config.from, to: config.to, patientIds, values, jobs, steps, blockHash: sha256Hex(hashes.join('\n')) };
  if (config.bootstrap) result.bootstrap = blockBootstrapSums(config.bootstrap, shape.endpoints, arms, result);
  return { result: result as unknown as Record<string, unknown>, episodes, artifacts: [] };
}
