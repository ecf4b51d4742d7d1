import type { EpisodeLog } from '../engine/episode-log.js';
import type { EventSink, TwinlabEvent } from '../engine/events.js';
import { make } from '../engine/registry.js';
import { getTwin } from '../engine/twin.js';
import '../environments/index.js';
import { evaluatePolicy } from '../policies/evaluate.js';
import '../policies/index.js';
import { type PolicyFactory, type SavedPolicyHandle, loadPolicy } from '../policies/load.js';
import { hasPolicy } from '../policies/registry.js';
import { endpointDefinition } from './endpoints.js';
import type { JobOutcome, JobTask, StoredEpisode } from './job-types.js';
import type { TrialJobConfig } from './jobs.js';

/**
 * A trial job: patient `config.patientId` under arm `config.arm`, episodes reset with the patient's
 * seeds (common random numbers across arms), recorded with `RecordEpisode`; returns the twin's
 * endpoints and the episode logs. Saved (learned) policies are loaded through `loadSaved`, passed in
 * by the caller so this module never loads tfjs itself (light trial workers stay fast to start).
 */
export type SavedPolicyLoader = (dir: string) => Promise<SavedPolicyHandle>;

async function resolvePolicy(config: TrialJobConfig, loadSaved: SavedPolicyLoader | undefined): Promise<PolicyFactory> {
  if (hasPolicy(config.arm.policy) || !loadSaved) return (await loadPolicy(config.arm.policy, config.envId, config.arm.options)).policy;
  const saved = await loadSaved(config.arm.policy);
  return saved.create;
}

/** Aggregate a per-episode endpoint over a job's episodes: mean for continuous, "any" for binary. */
export function aggregateEndpoint(kind: 'continuous' | 'binary', values: number[]): number {
  if (values.length === 1) return values[0] as number;
  if (kind === 'binary') return values.some((v) => v !== 0) ? 1 : 0;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export async function runTrialJob(task: JobTask, config: TrialJobConfig, emit: EventSink, loadSaved?: SavedPolicyLoader): Promise<JobOutcome> {
  const twin = config.twinId ? getTwin(config.twinId) : undefined;
  const createPolicy = await resolvePolicy(config, loadSaved);
  const env = make(config.envId, config.envOptions);
  const policy = createPolicy(env);
  const definitions = config.endpoints.map((id) => endpointDefinition(twin, id));
  emit({
    type: 'run.started',
    step: 0,
    data: {
      envId: config.envId,
      agent: config.arm.policy,
      seed: config.policySeed,
      config: { patientId: config.patientId, arm: config.arm.name, replicate: config.replicate },
    },
  });
  let steps = 0;
  const episodes: StoredEpisode[] = [];
  const perEpisode: Record<string, number[]> = Object.fromEntries(config.endpoints.map((id) => [id, []]));
  const evaluation = evaluatePolicy(env, policy, {
    seed: config.policySeed,
    episodes: config.episodeSeeds.length,
    episodeSeeds: config.episodeSeeds,
    record: { keyframeInterval: config.keyframeInterval },
    onEpisode: (summary) => {
      const log = summary.log as EpisodeLog;
      const values: Record<string, number> = {};
      for (const d of definitions) {
        values[d.id] = d.compute(log);
        (perEpisode[d.id] as number[]).push(values[d.id] as number);
      }
      steps += summary.length;
      const event: TwinlabEvent = {
        type: 'episode.ended',
        step: steps,
        data: { episode: summary.episode, return: summary.return, length: summary.length, terminated: summary.terminated, metrics: values },
      };
      emit(event);
      episodes.push({ key: episodeKey(summary.episode), log, summary: { seed: summary.seed, return: summary.return, length: summary.length, ...values } });
    },
  });
  env.close?.();
  const endpoints: Record<string, number> = {};
  for (const d of definitions) endpoints[d.id] = aggregateEndpoint(d.kind, perEpisode[d.id] as number[]);
  return {
    result: {
      kind: 'trial',
      patientIndex: config.patientIndex,
      patientId: config.patientId,
      arm: config.arm.name,
      replicate: config.replicate,
      endpoints,
      meanReturn: evaluation.meanReturn,
      steps,
      trajectoryHash: evaluation.hash,
      episodes: evaluation.episodes.map((e) => ({
        key: episodeKey(e.episode),
        seed: e.seed,
        return: e.return,
        length: e.length,
        terminated: e.terminated,
        hash: e.hash,
      })),
    },
    episodes,
    artifacts: [],
  };
}

export function episodeKey(k: number): string {
  return `episode-${k}`;
}
