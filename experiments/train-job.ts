import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../agents/checkpoint.js';
import { trainDqn } from '../agents/dqn.js';
import { savePolicy } from '../agents/save.js';
import type { Env } from '../engine/env.js';
import type { EventSink } from '../engine/events.js';
import { TwinlabError } from '../engine/errors.js';
import { deriveSeed } from '../engine/random.js';
import { make } from '../engine/registry.js';
import { evaluatePolicy } from '../policies/evaluate.js';
import { loadSavedPolicy } from '../policies/saved.js';
import { codeVersion } from './code-version.js';
import type { TrainJobConfig } from './jobs.js';
import type { JobOutcome, JobTask, StoredEpisode } from './job-types.js';

/**
 * A training job: `trainDqn` with events streamed, the policy saved under
 * `runs/<jobId>/policy/` in the data dir, then `evalEpisodes` greedy episodes of the *saved* policy
 * recorded (keys `eval-<k>`, seeds `deriveSeed(jobSeed, 'eval', k)`) so a reviewer can replay them
 * from the saved files alone.
 */
export function policyDirFor(jobId: string): string {
  return join('runs', jobId, 'policy');
}

export function checkpointDirFor(jobId: string): string {
  return join('runs', jobId, 'checkpoint');
}

/** Checkpoints a job takes when its config asks for none: about ten over the run, so Ctrl-C or a crash loses ≤ 10 %. */
export const DEFAULT_CHECKPOINTS = 10;

/**
 * The agent config a job trains with: the spec's, with a checkpoint every totalSteps / DEFAULT_CHECKPOINTS
 * env steps when it sets none (`checkpointEvery: 0`). Checkpoints never change results (a resumed run
 * equals an uninterrupted one), so this only decides how much work an interruption loses.
 */
export function withCheckpoints(config: TrainJobConfig['agentConfig']): TrainJobConfig['agentConfig'] {
  if (config.checkpointEvery > 0) return config;
  return { ...config, checkpointEvery: Math.max(config.trainFrequency, Math.ceil(config.totalSteps / DEFAULT_CHECKPOINTS)) };
}

export async function runTrainJob(task: JobTask, config: TrainJobConfig, emit: EventSink, signal?: AbortSignal): Promise<JobOutcome> {
  // The DQN modules load tfjs; import them lazily so trial workers never pay for it.
  const envFactory = (): Env => make(config.envId, config.envOptions);
  const checkpointDir = checkpointDirFor(task.id);
  const trained = await trainDqn({
    envFactory,
    envId: config.envId,
    config: withCheckpoints(config.agentConfig),
    seed: task.seed,
    onEvent: emit,
    signal,
    // One directory per checkpoint (`step-<S>`), so the one the store has recorded is never overwritten
    // by a newer one a crash left unrecorded. The returned path is relative to the data dir: the runner
    // records it, with its event's seq, as the job's checkpoint, and removes the previous one.
    checkpoint: (c) => {
      const dir = `${checkpointDir.split('\\').join('/')}/step-${c.counters.steps}`;
      saveCheckpoint(join(task.dataDir, dir), c);
      return dir;
    },
    ...(task.checkpointPath ? { resumeFrom: loadCheckpoint(join(task.dataDir, task.checkpointPath)) } : {}),
  });
  if (trained.aborted) throw new TwinlabError('INVALID_STATE', `training job ${task.id} was cancelled at step ${trained.steps}`);
  const policyDir = policyDirFor(task.id);
  const absolutePolicyDir = join(task.dataDir, policyDir);
  const probe = envFactory();
  const labels = (probe.actionSpace as { labels?: readonly string[] }).labels;
  probe.close?.();
  // With keepBest the saved policy is the best periodic evaluation's weights (as SB3's EvalCallback
  // best model); the run's weightsHash and finalEvaluation still describe the final weights.
  if (trained.bestWeights) trained.online.setWeights(trained.bestWeights);
  await savePolicy(absolutePolicyDir, trained.online, {
    envId: config.envId,
    envOptions: config.envOptions,
    normalization: trained.normalizer.toSpec(),
    ...(labels ? { actionLabels: [...labels] } : {}),
    ...(trained.shield ? { shield: { id: trained.shield.id, mode: trained.shield.mode } } : {}),
    provenance: {
      seed: task.seed,
      config: config.agentConfig as unknown as Record<string, unknown>,
      codeVersion: codeVersion(),
      trainedSteps: trained.steps,
      finalEvaluation: trained.finalEvaluation,
      ...(trained.bestWeights && trained.bestEvaluation ? { keptBestEvaluation: trained.bestEvaluation } : {}),
      backend: trained.backend,
      tfjsVersion: trained.tfjsVersion,
    },
  });
  const episodes: StoredEpisode[] = [];
  let savedEvaluation: { meanReturn: number; hash: string } | undefined;
  if (config.evalEpisodes > 0) {
    const { create: policy } = await loadSavedPolicy(absolutePolicyDir);
    const env = make(config.envId, config.envOptions);
    const evalSeed = deriveSeed(task.seed, 'eval');
    const evaluation = evaluatePolicy(env, policy(env), {
      seed: evalSeed,
      episodes: config.evalEpisodes,
      episodeSeeds: Array.from({ length: config.evalEpisodes }, (_, k) => deriveSeed(task.seed, 'eval', k)),
      record: true,
    });
    for (const e of evaluation.episodes) {
      if (e.log) episodes.push({ key: `eval-${e.episode}`, log: e.log, summary: { seed: e.seed, return: e.return, length: e.length } });
    }
    savedEvaluation = { meanReturn: evaluation.meanReturn, hash: evaluation.hash };
    env.close?.();
  }
  const { online: _online, target: _target, normalizer: _normalizer, bestWeights: _bestWeights, ...summary } = trained;
  return {
    result: {
      kind: 'train',
      envId: config.envId,
      gridPoint: config.gridPoint,
      replicate: config.replicate,
      ...summary,
      trajectoryHash: trained.finalEvaluation.hash,
      policyDir,
      savedPolicyEvaluation: savedEvaluation ?? null,
    },
    episodes,
    artifacts: [{ kind: 'policy', path: policyDir, meta: { weightsHash: trained.weightsHash } }],
  };
}
