import type { Env } from '../engine/env.js';
import type { EpisodeLog } from '../engine/episode-log.js';
import { TwinlabError } from '../engine/errors.js';
import type { EventSink, TwinlabEvent } from '../engine/events.js';
import { make } from '../engine/registry.js';
import { jsonSafe } from '../engine/wrappers.js';
import { getTwin } from '../engine/twin.js';
import '../environments/index.js';
import { evaluatePolicy } from '../policies/evaluate.js';
import '../policies/index.js';
import type { PolicyFactory } from '../policies/load.js';
import { hasPolicy, makePolicy } from '../policies/registry.js';
import type { SavedPolicyHandle } from '../policies/saved.js';
import { armPolicy, DecisionInfo, reportsDecisions } from '../policies/shield.js';
import { endpointDefinition, SHIELD_ENDPOINT } from './endpoints.js';
import { encodeEpisode } from './episode-codec.js';
import type { JobOutcome, JobTask, StoredEpisode } from './job-types.js';
import type { TrialJobConfig } from './jobs.js';

/**
 * A trial job: patient `config.patientId` under arm `config.arm`, episodes reset with the patient's
 * seeds (common random numbers across arms), recorded with `RecordEpisode`; returns the twin's
 * endpoints and the episode logs, already encoded for the store (`encodeEpisode`). Saved (learned) policies are loaded through `loadSaved`, passed in
 * by the caller so this module never loads tfjs itself (light trial workers stay fast to start).
 */
export type SavedPolicyLoader = (dir: string) => Promise<SavedPolicyHandle>;

async function resolvePolicy(config: TrialJobConfig, loadSaved: SavedPolicyLoader | undefined): Promise<PolicyFactory> {
  const { policy, options } = config.arm;
  // makePolicy, not policies/load.ts: that module imports saved.ts and with it tfjs (≈ 0.5 s per worker).
  if (hasPolicy(policy)) return (env) => makePolicy(policy, env, options ?? {});
  if (!loadSaved) {
    throw new TwinlabError(
      'INVALID_ARGUMENT',
      `arm ${config.arm.name}: policy "${policy}" is not a registered policy; saved policies need a saved-policy loader (the full worker)`,
    );
  }
  const saved = await loadSaved(policy);
  return saved.create;
}

/** Aggregate a per-episode endpoint over a job's episodes: mean for continuous, "any" for binary. */
export function aggregateEndpoint(kind: 'continuous' | 'binary', values: number[]): number {
  if (values.length === 1) return values[0] as number;
  if (kind === 'binary') return values.some((v) => v !== 0) ? 1 : 0;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Envs shared by the jobs of one worker batch — the arms of a patient simulate the same env with the
 * same options, and building it (for a generated glucose patient: rejection sampling with a test-meal
 * simulation) cost about as much as a third of the simulated day. Sharing is safe because every job
 * resets with its own seed and `reset({ seed })` fully determines the episode, whatever ran before
 * (conformance check 5; test/experiments/episode-codec.test.ts compares batched and inline trials).
 */
export class EnvPool {
  private readonly envs = new Map<string, Env>();

  get(envId: string, options: Record<string, unknown>): Env {
    const key = JSON.stringify([envId, options]);
    let env = this.envs.get(key);
    if (env === undefined) {
      env = make(envId, options);
      this.envs.set(key, env);
    }
    return env;
  }

  close(): void {
    for (const env of this.envs.values()) env.close?.();
    this.envs.clear();
  }
}

export async function runTrialJob(_task: JobTask, config: TrialJobConfig, emit: EventSink, loadSaved?: SavedPolicyLoader, envs?: EnvPool): Promise<JobOutcome> {
  const twin = config.twinId ? getTwin(config.twinId) : undefined;
  const createPolicy = await resolvePolicy(config, loadSaved);
  const env = envs ? envs.get(config.envId, config.envOptions) : make(config.envId, config.envOptions);
  // Shielded arms enforce the twin's shield; with the shield endpoint declared, the other arms are monitored by the default shield.
  const policy = armPolicy(createPolicy(env), env, twin, config.arm.shield, config.endpoints.includes(SHIELD_ENDPOINT), `arm ${config.arm.name}`);
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
  // Q-values and shield flags go into each step's info (not into the trajectory hash).
  const evaluation = evaluatePolicy(reportsDecisions(policy) ? new DecisionInfo(env, policy) : env, policy, {
    seed: config.policySeed,
    episodes: config.episodeSeeds.length,
    episodeSeeds: config.episodeSeeds,
    record: { keyframeInterval: config.keyframeInterval },
    // live frames (spec `frames: true`): copies of the step, as the episode log stores them
    onFrame: config.frames
      ? (f) =>
          emit({
            type: 'trajectory.frame',
            step: steps + f.t,
            data: { episode: f.episode, t: f.t, observation: Array.from(f.observation), action: f.action === null ? null : typeof f.action === 'number' ? f.action : Array.from(f.action), reward: f.reward, info: jsonSafe(f.info) },
          })
      : undefined,
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
      // Encoded here, in the worker: the main thread only writes the bytes. Unsampled patients (keepEpisodes) keep none.
      if (config.keepEpisodes === false) return;
      episodes.push({
        key: episodeKey(summary.episode),
        encoded: encodeEpisode(log),
        summary: { seed: summary.seed, return: summary.return, length: summary.length, ...values },
      });
    },
  });
  if (!envs) env.close?.();
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
