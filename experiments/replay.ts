import type { Env, Info } from '../engine/env.js';
import type { EpisodeLog } from '../engine/episode-log.js';
import { TwinlabError } from '../engine/errors.js';
import { TrajectoryHasher } from '../engine/hash.js';
import { deriveSeed, Rng } from '../engine/random.js';
import { make } from '../engine/registry.js';
import '../environments/index.js';
import '../policies/index.js';
import { loadPolicy } from '../policies/load.js';
import { type Policy, policyContext } from '../policies/policy.js';
import { armPolicy } from '../policies/shield.js';
import { getTwin } from '../engine/twin.js';
import { codeVersion } from './code-version.js';
import { episodeConfig, observationLabels } from './export.js';
import type { TrainJobConfig, TrialBlockConfig, TrialJobConfig } from './jobs.js';
import type { JobRecord, Store } from './store.js';
import { blockEpisodeSource } from './trial-blocks.js';

/**
 * Replay by re-execution (docs/DESIGN.md "Episode logs and replay"): rebuild the episode from its manifest
 * — the job's env id and options, the episode's reset seed, the policy reference and its random
 * stream — run it again and compare with the stored log step by step: the reset observation, then at
 * every step the action, reward, each observation component, terminated and truncated (exact
 * equality: stored numbers round-trip float32/float64 exactly through JSON). Reports "identical" or
 * the first diverging step, field and values.
 *
 * Manifest sources: trial episodes `episode-<k>` re-run arm policy `config.arm.policy` with seed
 * `config.episodeSeeds[k]` and policy stream `Rng(config.policySeed).fork('policy/episode/k')`;
 * training episodes `eval-<k>` re-run the saved policy `runs/<jobId>/policy` with seed
 * `deriveSeed(jobSeed, 'eval', k)` (as experiments/train-job.ts recorded them). A streaming trial's block
 * job stores its sampled patients' episodes as `p<i>.r<r>.a<a>.episode-<k>`: the patient's job config is
 * regenerated from the block config (`blockEpisodeSource`: the twin's cohort member at enrolment position
 * i, as the worker built it) and episode k of that config is replayed like any trial episode.
 */
export type ReplayVerdict =
  | { identical: true; steps: number; hash: string; codeVersion: { recorded: string; current: string } }
  | { identical: false; step: number; field: string; expected: unknown; actual: unknown; codeVersion: { recorded: string; current: string } };

interface Manifest {
  envId: string;
  envOptions: Record<string, unknown>;
  seed: number;
  policyRef: string;
  policyOptions: Record<string, unknown>;
  policyRng: Rng;
  /** A shielded trial arm: its twin and shield (monitoring does not change actions, so is not replayed). */
  shield?: { twinId: string | null; ref: true | string };
}

function manifestFor(store: Store, job: JobRecord, key: string): Manifest {
  if ((job.config as { kind?: string }).kind === 'trial-block') {
    const block = job.config as TrialBlockConfig;
    const source = blockEpisodeSource(block, key);
    if (!source)
      throw new TwinlabError(
        'INVALID_ARGUMENT',
        `episode key ${JSON.stringify(key)} is not p<i>.r<r>.a<a>.episode-<k> of block ${job.id} (patients ${block.from}–${block.to - 1}, ${block.replicates} replicate(s), ${block.shape.arms.length} arms)`,
      );
    return trialManifest(job.id, source.config, Number(source.key.slice('episode-'.length)));
  }
  const match = /^(episode|eval)-(\d+)$/.exec(key);
  if (!match) throw new TwinlabError('INVALID_ARGUMENT', `episode key ${JSON.stringify(key)} is not episode-<k> or eval-<k>`);
  const k = Number(match[2]);
  if (job.kind === 'trial' && match[1] === 'episode') return trialManifest(job.id, job.config as TrialJobConfig, k);
  if (job.kind === 'train' && match[1] === 'eval') {
    const c = job.config as TrainJobConfig;
    const policyDir = (job.result as { policyDir?: string } | undefined)?.policyDir;
    if (!policyDir) throw new TwinlabError('NOT_FOUND', `job ${job.id} has no saved policy (status ${job.status})`);
    return {
      envId: c.envId,
      envOptions: c.envOptions,
      seed: deriveSeed(job.seed, 'eval', k),
      policyRef: store.resolvePath(policyDir),
      policyOptions: {},
      policyRng: Rng.fromSeed(deriveSeed(job.seed, 'eval')).fork(`policy/episode/${k}`),
    };
  }
  throw new TwinlabError('INVALID_ARGUMENT', `episode ${key} does not belong to a ${job.kind} job`);
}

/** Episode k of a trial job config: its seed, the arm's policy and the policy's stream for that episode. */
function trialManifest(jobId: string, c: TrialJobConfig, k: number): Manifest {
  const seed = c.episodeSeeds[k];
  if (seed === undefined) throw new TwinlabError('NOT_FOUND', `job ${jobId} has no episode ${k} (it ran ${c.episodeSeeds.length})`);
  return {
    envId: c.envId,
    envOptions: c.envOptions,
    seed,
    policyRef: c.arm.policy,
    policyOptions: c.arm.options,
    policyRng: Rng.fromSeed(c.policySeed).fork(`policy/episode/${k}`),
    ...(c.arm.shield !== undefined ? { shield: { twinId: c.twinId, ref: c.arm.shield } } : {}),
  };
}

function requireJob(store: Store, jobId: string): JobRecord {
  const job = store.getJob(jobId);
  if (!job) throw new TwinlabError('NOT_FOUND', `no job ${jobId} in ${store.path}`);
  return job;
}

export async function verifyReplay(store: Store, jobId: string, episodeKey: string): Promise<ReplayVerdict> {
  const job = requireJob(store, jobId);
  const log = store.getEpisode(jobId, episodeKey);
  if (!log)
    throw new TwinlabError(
      'NOT_FOUND',
      `no episode ${episodeKey} for job ${jobId} (stored: ${
        store
          .listEpisodes(jobId)
          .map((e) => e.key)
          .join(', ') || 'none'
      })`,
    );
  const recorded = store.getExperiment(job.experimentId)?.codeVersion ?? 'unknown';
  const versions = { recorded, current: codeVersion() };
  const manifest = manifestFor(store, job, episodeKey);
  const differ = (step: number, field: string, expected: unknown, actual: unknown): ReplayVerdict => ({
    identical: false,
    step,
    field,
    expected,
    actual,
    codeVersion: versions,
  });
  if (log.seed !== manifest.seed) return differ(0, 'seed', log.seed, manifest.seed);
  const { policy: createPolicy } = await loadPolicy(manifest.policyRef, manifest.envId, manifest.policyOptions);
  const env = make(manifest.envId, manifest.envOptions);
  try {
    const { shield } = manifest;
    const policy = shield ? armPolicy(createPolicy(env), env, shield.twinId ? getTwin(shield.twinId) : undefined, shield.ref) : createPolicy(env);
    return runAndCompare(env, policy, manifest, log, differ, versions);
  } finally {
    env.close?.();
  }
}

function runAndCompare(
  env: Env,
  policy: Policy,
  manifest: Manifest,
  log: EpisodeLog,
  differ: (step: number, field: string, expected: unknown, actual: unknown) => ReplayVerdict,
  versions: { recorded: string; current: string },
): ReplayVerdict {
  const hasher = new TrajectoryHasher();
  const reset = env.reset({ seed: manifest.seed });
  let observation = reset.observation;
  const first = compareArray(log.initialObservation, observation);
  if (first >= 0) return differ(0, `initialObservation[${first}]`, log.initialObservation[first], observation[first]);
  hasher.observation(observation);
  policy.reset?.(policyContext(env, reset.info));
  let info: Info = reset.info;
  let t = 0;
  for (;;) {
    const stored = log.steps[t];
    const action = policy.act(observation, manifest.policyRng, info);
    const actual = typeof action === 'number' ? action : Array.from(action);
    if (!stored) return differ(t, 'length', log.steps.length, `more than ${log.steps.length} steps (episode had not ended)`);
    if (!sameAction(stored.action, actual)) return differ(t, 'action', stored.action, actual);
    const result = env.step(action);
    hasher.step(action, result.reward, result.observation);
    if (!Object.is(stored.reward, result.reward)) return differ(t, 'reward', stored.reward, result.reward);
    const j = compareArray(stored.observation, result.observation);
    if (j >= 0) return differ(t, `observation[${j}]`, stored.observation[j], result.observation[j]);
    if (stored.terminated !== result.terminated) return differ(t, 'terminated', stored.terminated, result.terminated);
    if (stored.truncated !== result.truncated) return differ(t, 'truncated', stored.truncated, result.truncated);
    observation = result.observation;
    info = result.info;
    t++;
    if (result.terminated || result.truncated) break;
  }
  if (t !== log.steps.length) return differ(t, 'length', log.steps.length, t);
  const hash = hasher.digest();
  if (log.hash && hash !== log.hash) return differ(t, 'hash', log.hash, hash);
  return { identical: true, steps: t, hash, codeVersion: versions };
}

/** Index of the first differing component (or of the length mismatch), −1 when equal. */
function compareArray(expected: number[], actual: ArrayLike<number>): number {
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) if (!Object.is(expected[i], actual[i])) return i;
  return -1;
}

function sameAction(stored: number | number[], actual: number | number[]): boolean {
  if (typeof stored === 'number' || typeof actual === 'number') return Object.is(stored, actual);
  return compareArray(stored, actual) < 0;
}

// ---------------------------------------------------------------- export

export type ExportFormat = 'csv' | 'jsonl';

/**
 * Export a job: its stored episodes step by step (episode, step, action, reward, terminated,
 * truncated, one column per observation component named by the observation space labels, and the
 * numeric top-level info fields as info_<name>), or — when the job stored no episodes, or
 * `what: 'events'` — its event stream (seq, type, step and the flattened numeric data).
 */
export function exportRun(store: Store, jobId: string, format: ExportFormat, options: { what?: 'episodes' | 'events' } = {}): string {
  const job = requireJob(store, jobId);
  const episodes = store.listEpisodes(jobId);
  const what = options.what ?? (episodes.length > 0 ? 'episodes' : 'events');
  const rows: Array<Record<string, unknown>> = [];
  if (what === 'episodes') {
    const config = episodes[0] ? episodeConfig(job, episodes[0].key) : {};
    const labels = config.envId ? observationLabels(config.envId, config.envOptions ?? {}) : [];
    for (const { key } of episodes) {
      const log = store.getEpisode(jobId, key) as EpisodeLog;
      for (const s of log.steps) {
        const row: Record<string, unknown> = {
          episode: key,
          step: s.step,
          action: s.action,
          reward: s.reward,
          terminated: s.terminated,
          truncated: s.truncated,
        };
        s.observation.forEach((v, i) => {
          row[`obs_${labels[i] ?? i}`] = v;
        });
        for (const [name, value] of Object.entries(s.info)) if (typeof value === 'number') row[`info_${name}`] = value;
        rows.push(row);
      }
    }
  } else {
    for (let after = 0; ; ) {
      const batch = store.eventsAfter(job.experimentId, after, 1000);
      if (batch.length === 0) break;
      for (const e of batch) {
        if (e.jobId === jobId)
          rows.push({ seq: e.seq, type: e.event.type, step: e.event.step, ...flatten(e.event.data as unknown as Record<string, unknown>, format === 'csv') });
      }
      after = (batch[batch.length - 1] as { seq: number }).seq;
    }
  }
  return format === 'jsonl' ? rows.map((r) => `${JSON.stringify(r)}\n`).join('') : toCsv(rows);
}

function flatten(data: Record<string, unknown>, numericOnly: boolean, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [key, value] of Object.entries(data)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) flatten(value as Record<string, unknown>, numericOnly, name, out);
    else if (!numericOnly || typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') out[name] = value;
  }
  return out;
}

function toCsv(rows: Array<Record<string, unknown>>): string {
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) if (!seen.has(key)) seen.add(key) && columns.push(key);
  const cell = (value: unknown): string => {
    if (value === undefined || value === null) return '';
    const text = Array.isArray(value) ? value.join(' ') : String(value);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}
