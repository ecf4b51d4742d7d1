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

export async function runTrainJob(task: JobTask, config: TrainJobConfig, emit: EventSink, signal?: AbortSignal): Promise<JobOutcome> {
  // The DQN modules load tfjs; import them lazily so trial workers never pay for it.
  const envFactory = (): Env => make(config.envId, config.envOptions);
  const checkpointDir = checkpointDirFor(task.id);
  const trained = await trainDqn({
    envFactory,
    envId: config.envId,
    config: config.agentConfig,
    seed: task.seed,
    onEvent: emit,
    signal,
    // Returned path is relative to the data dir: the runner records it as the job's checkpoint.
    checkpoint: (c) => {
      saveCheckpoint(join(task.dataDir, checkpointDir), c);
      return checkpointDir;
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
