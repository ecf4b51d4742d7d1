import type { Env } from '../engine/env.js';
import { TwinlabError } from '../engine/errors.js';
import type { EventSink, TwinlabEvent } from '../engine/events.js';
import { Rng, deriveSeed } from '../engine/random.js';
import { isDiscrete } from '../engine/spaces.js';
import { VectorEnv } from '../engine/vector.js';
import { initBackend } from './backend.js';
import { CHECKPOINT_VERSION, type DqnCheckpoint, type DqnCounters, type EvaluationSummary, captureEnv, restoreEnv } from './checkpoint.js';
import { type DqnConfig, parseDqnConfig } from './dqn-config.js';
import { argmaxRow, evaluateGreedy } from './evaluate.js';
import { NStepAccumulator } from './n-step.js';
import { ObservationNormalizer } from './normalization.js';
import { PrioritizedReplayBuffer } from './prioritized-replay.js';
import { QNetwork } from './q-network.js';
import { type ReplayBatch, ReplayBuffer, allocateBatch } from './replay-buffer.js';
import { LinearSchedule } from './schedules.js';

/**
 * Deep Q-learning (Mnih et al. 2015, Nature 518:529) with the Rainbow options that matter for
 * small-state problems (Hessel et al. 2018): double DQN (van Hasselt, Guez & Silver 2016), dueling
 * heads (Wang et al. 2016), n-step returns, proportional prioritized replay (Schaul et al. 2016).
 * With every option off it is Stable-Baselines3 2.4.1's DQN (see agents/README.md "DQN" for the
 * remaining differences).
 *
 * Pipeline (the numbers mark the code below):
 *  1. Validate the config; start the tfjs backend; derive named RNG substreams from the seed:
 *     'init' (weights), 'explore' (warm-up and ε-greedy draws), 'replay' (minibatches).
 *  2. Build a VectorEnv of `numEnvs` envs (env i reset with seed deriveSeed(seed, 'env') + i),
 *     the online and target Q-networks (target ← online), the replay buffer (uniform or
 *     prioritized), the n-step accumulator and the observation normaliser. Resume: restore all.
 *  3. Rollout of `trainFrequency` VectorEnv steps (SB3 collect_rollouts):
 *     a. actions — before `learningStarts` env steps uniform random (SB3 warm-up); after, one
 *        batched greedy forward pass for all envs, then per env ε-greedy with ε = linear schedule;
 *     b. step all envs (same-step autoreset); env steps += numEnvs;
 *     c. every max(⌊targetUpdateInterval / numEnvs⌋, 1) calls: target ← τ·online + (1−τ)·target
 *        (counted in env-step calls, as SB3);
 *     d. feed (s, a, r, s′, terminated, truncated) to the n-step accumulator → replay buffer,
 *        with s′ the true final observation when an episode ended; emit episode.ended;
 *     e. running normalisation: accumulate statistics, freeze at learningStarts;
 *     f. periodic greedy evaluation on separate seeds (eval.completed; keep best weights).
 *  4. If env steps > learningStarts: `gradientSteps` updates, each on a minibatch of `batchSize`:
 *        y = R + γᵏ·(1 − done)·Q_target(s′, a*),  a* = argmax_a Q_online(s′, a) (double DQN)
 *                                                  or argmax_a Q_target(s′, a) (vanilla, SB3);
 *     Huber/MSE loss (IS-weighted for PER), Adam, global-norm clipping; PER priorities ← |δ|.
 *     Speed: with uniform replay the target net is fixed during a phase (target updates happen in
 *     step 3c only), so all minibatch indices of the phase are drawn up front (same draws, same
 *     order as drawing per step) and Q_target(s′) is computed for all of them in one forward pass.
 *  5. train.metrics every `metricsEvery` env steps; checkpoint every `checkpointEvery` env steps
 *     (at this phase boundary); stop at `totalSteps` (the last rollout is cut there, unlike SB3's
 *     overshoot to a multiple of trainFrequency) or when `signal` aborts.
 *  6. Final greedy evaluation; run.finished.
 */
export interface TrainOptions {
  envFactory: (index: number) => Env;
  config: DqnConfig | Record<string, unknown>;
  seed: number;
  onEvent?: EventSink;
  resumeFrom?: DqnCheckpoint;
  signal?: AbortSignal;
  /** Receives a checkpoint every `checkpointEvery` env steps; may return where it stored it. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a checkpoint sink may return nothing or where it stored the checkpoint
  checkpoint?: (c: DqnCheckpoint) => void | string | Promise<void | string>;
  /** Env id for run.started (defaults to the first env's id). */
  envId?: string;
  /**
   * Score used to choose the kept weights (keepBest) instead of the Monte Carlo mean return of the
   * periodic evaluation — e.g. a twin's exact policy value, when the evaluation's standard error is
   * larger than the differences between candidates. Receives the current greedy policy (raw
   * observation → action index, including the action offset).
   */
  selectionScore?: (act: (observation: Float32Array) => number) => number;
}

export interface DqnResult {
  online: QNetwork;
  target: QNetwork;
  normalizer: ObservationNormalizer;
  finalEvaluation: EvaluationSummary;
  bestEvaluation: EvaluationSummary | null;
  /** Weights of the best evaluation (final one included) when config.keepBest, else null. */
  bestWeights: Float32Array[] | null;
  evaluations: EvaluationSummary[];
  steps: number;
  episodes: number;
  gradientSteps: number;
  weightsHash: string;
  backend: string;
  tfjsVersion: string;
  aborted: boolean;
  /** Wall-clock training throughput (env steps/s), excluding evaluations. */
  stepsPerSecond: number;
}

const MAX_EVAL_LANES = 16;

export async function trainDqn(options: TrainOptions): Promise<DqnResult> {
  // ---- 1. config, backend, random streams ------------------------------------------------------
  const config = parseDqnConfig(options.config);
  const { seed } = options;
  const emit = (event: TwinlabEvent): void => options.onEvent?.(event);
  const { backend, tfjsVersion } = await initBackend(config.backend);
  const backendName: string = backend;
  const root = Rng.fromSeed(seed);
  let explore = root.fork('explore');
  let replayRng = root.fork('replay');

  // ---- 2. envs, networks, buffers --------------------------------------------------------------
  const n = config.numEnvs;
  const vec = VectorEnv.fromFactory(options.envFactory, n);
  const space = vec.singleActionSpace;
  if (!isDiscrete(space)) {
    throw new TwinlabError('INVALID_ARGUMENT', `DQN needs a Discrete action space, env ${vec.envs[0]?.id} has ${space.toString()}`);
  }
  const numActions = space.n;
  const actionStart = space.start;
  const d = vec.observationSize;
  const envId = options.envId ?? (vec.envs[0] as Env).id;
  const evalEnvs = Array.from({ length: Math.min(config.evalEpisodes, MAX_EVAL_LANES) }, (_, k) => options.envFactory(n + k));

  const spec = { inputSize: d, numActions, hidden: config.hidden, dueling: config.dueling };
  const opt = { learningRate: config.learningRate, adamEpsilon: config.adamEpsilon, maxGradNorm: config.maxGradNorm, loss: config.loss };
  const online = QNetwork.create(spec, root.fork('init'), opt);
  const target = QNetwork.create(spec, root.fork('init-target'), opt);
  online.copyTo(target);

  const capacity = Math.min(config.bufferSize, config.totalSteps);
  const per = config.prioritized;
  const buffer = per ? new PrioritizedReplayBuffer(capacity, d, per.alpha, per.epsilon) : new ReplayBuffer(capacity, d);
  const nStep = new NStepAccumulator(config.nStep, config.gamma, n, d, (o, oo, a, r, s2, so, done, disc) => {
    buffer.add(o, a, r, s2, done, disc, oo, so);
  });
  const normalizer = new ObservationNormalizer(config.normalization, vec.observationSpace);
  const epsilon = new LinearSchedule(config.explorationInitial, config.explorationFinal, config.explorationFraction, config.totalSteps);
  const beta = per ? new LinearSchedule(per.betaStart, per.betaEnd, 1, config.totalSteps) : null;
  const targetEvery = Math.max(Math.floor(config.targetUpdateInterval / n), 1);

  const c: DqnCounters = {
    steps: 0,
    calls: 0,
    episodes: 0,
    gradientSteps: 0,
    targetUpdates: 0,
    nextEvalAt: config.evalEvery > 0 ? config.evalEvery : Number.POSITIVE_INFINITY,
    nextCheckpointAt: config.checkpointEvery > 0 ? config.checkpointEvery : Number.POSITIVE_INFINITY,
    nextMetricsAt: config.metricsEvery,
    lossSum: 0,
    meanQSum: 0,
    metricSteps: 0,
  };
  const obs = new Float32Array(n * d);
  const episodeReturns = new Float64Array(n);
  const episodeLengths = new Int32Array(n);
  const evaluations: EvaluationSummary[] = [];
  let best: { evaluation: EvaluationSummary; score: number; weights: Float32Array[] } | null = null;

  obs.set(vec.reset({ seed: deriveSeed(seed, 'env') }).observations);
  if (options.resumeFrom) {
    const r = options.resumeFrom;
    if (r.version !== CHECKPOINT_VERSION) throw new TwinlabError('INVALID_ARGUMENT', `checkpoint version ${r.version}, expected ${CHECKPOINT_VERSION}`);
    if (r.seed !== seed) throw new TwinlabError('INVALID_ARGUMENT', `resumeFrom was taken with seed ${r.seed}, not ${seed}`);
    if (JSON.stringify(r.config) !== JSON.stringify(config)) throw new TwinlabError('INVALID_ARGUMENT', 'resumeFrom was taken with a different config');
    Object.assign(c, r.counters);
    online.setWeights(r.online);
    target.setWeights(r.target);
    online.setOptimizerState(r.optimizer);
    buffer.restoreState(r.replay);
    nStep.restoreState(r.nStep);
    normalizer.restoreState(r.normalizer);
    explore = Rng.restore(r.rngs.explore);
    replayRng = Rng.restore(r.rngs.replay);
    r.envs.forEach((snapshot, i) => restoreEnv(vec.envs[i] as Env, snapshot));
    obs.set(r.observations);
    episodeReturns.set(r.episodeReturns);
    episodeLengths.set(r.episodeLengths);
    evaluations.push(...r.evaluations);
    best = r.best ? { ...r.best, score: r.best.score ?? r.best.evaluation.meanReturn } : null;
  }

  emit({
    type: 'run.started',
    step: c.steps,
    data: { envId, agent: 'dqn', seed, config: { ...config }, backend: backendName, tfjsVersion },
  });

  // Preallocated scratch.
  const actions = new Int32Array(n);
  const actInput = new Float32Array(n * d);
  const B = config.batchSize;
  const G = config.gradientSteps;
  const usePhaseBatch = per === null;
  const phaseBatch = allocateBatch(usePhaseBatch ? B * G : B, d);
  const stepBatch = allocateBatch(B, d);
  const phaseNext = new Float32Array(phaseBatch.size * d);
  const trainObs = new Float32Array(B * d);
  const trainNext = new Float32Array(B * d);
  const targets = new Float32Array(B);

  const selectInput = new Float32Array(d);
  const greedyAct = (observation: Float32Array): number => {
    normalizer.apply(observation, 1, selectInput);
    return actionStart + argmaxRow(online.predict(selectInput, 1), 0, numActions);
  };
  const evaluate = (): EvaluationSummary => {
    const summary = evaluateGreedy(online, evalEnvs, { episodes: config.evalEpisodes, seed: config.evalSeed, normalizer, actionStart, step: c.steps });
    evaluations.push(summary);
    const score = options.selectionScore ? options.selectionScore(greedyAct) : summary.meanReturn;
    if (config.keepBest && (best === null || score > best.score)) best = { evaluation: summary, score, weights: online.getWeights() };
    const metrics: Record<string, number> = { meanLength: summary.meanLength };
    if (options.selectionScore) metrics.selectionScore = score;
    emit({
      type: 'eval.completed',
      step: c.steps,
      data: { meanReturn: summary.meanReturn, stdReturn: summary.stdReturn, episodes: summary.returns.length, returns: summary.returns, hash: summary.hash, metrics },
    });
    return summary;
  };

  /** TD targets y_i for rows [row0, row0 + B) of `batch`, given Q_target(s′) rows in `qNext`. */
  const tdTargets = (batch: ReplayBatch, row0: number, qNext: Float32Array, qNextRow0: number, qOnlineNext: Float32Array | null): void => {
    for (let i = 0; i < B; i++) {
      const k = row0 + i;
      const a = qOnlineNext ? argmaxRow(qOnlineNext, i, numActions) : argmaxRow(qNext, qNextRow0 + i, numActions);
      const bootstrap = qNext[(qNextRow0 + i) * numActions + a] as number;
      targets[i] = (batch.rewards[k] as number) + (batch.discounts[k] as number) * (1 - (batch.dones[k] as number)) * bootstrap;
    }
  };

  const gradientStep = (batch: ReplayBatch, row0: number, qNext: Float32Array, qNextRow0: number): void => {
    trainObs.set(batch.observations.subarray(row0 * d, (row0 + B) * d));
    normalizer.apply(trainObs, B, trainObs);
    let qOnlineNext: Float32Array | null = null;
    if (config.doubleDqn) {
      trainNext.set(batch.nextObservations.subarray(row0 * d, (row0 + B) * d));
      normalizer.apply(trainNext, B, trainNext);
      qOnlineNext = online.predict(trainNext, B);
    }
    tdTargets(batch, row0, qNext, qNextRow0, qOnlineNext);
    const result = online.trainStep({
      observations: trainObs,
      actions: row0 === 0 && batch.size === B ? batch.actions : batch.actions.subarray(row0, row0 + B),
      targets,
      weights: per ? batch.weights : undefined,
    });
    if (per) (buffer as PrioritizedReplayBuffer).updatePriorities(batch.indices, result.tdErrors);
    c.gradientSteps++;
    c.lossSum += result.loss;
    c.meanQSum += result.meanQ;
    c.metricSteps++;
  };

  // ---- 4. one training phase -------------------------------------------------------------------
  const trainPhase = (): void => {
    if (usePhaseBatch) {
      buffer.sample(replayRng, phaseBatch);
      phaseNext.set(phaseBatch.nextObservations);
      normalizer.apply(phaseNext, B * G, phaseNext);
      const qNextAll = target.predict(phaseNext, B * G);
      for (let g = 0; g < G; g++) gradientStep(phaseBatch, g * B, qNextAll, g * B);
    } else {
      const b = beta?.value(c.steps) ?? 1;
      for (let g = 0; g < G; g++) {
        (buffer as PrioritizedReplayBuffer).sampleWeighted(replayRng, stepBatch, b);
        trainNext.set(stepBatch.nextObservations);
        normalizer.apply(trainNext, B, trainNext);
        const qNext = target.predict(trainNext, B);
        gradientStep(stepBatch, 0, qNext, 0);
      }
    }
  };

  const capture = (): DqnCheckpoint => ({
    version: CHECKPOINT_VERSION,
    seed,
    config,
    counters: { ...c },
    online: online.getWeights(),
    target: target.getWeights(),
    optimizer: online.getOptimizerState(),
    replay: buffer.saveState(),
    nStep: nStep.saveState(),
    normalizer: normalizer.saveState(),
    rngs: { explore: explore.saveState(), replay: replayRng.saveState() },
    envs: vec.envs.map((e) => captureEnv(e)),
    observations: obs.slice(),
    episodeReturns: Array.from(episodeReturns),
    episodeLengths: Array.from(episodeLengths),
    evaluations: evaluations.map((e) => ({ ...e })),
    best: best ? { evaluation: best.evaluation, score: best.score, weights: best.weights.map((w) => w.slice()) } : null,
  });

  let aborted = false;
  let evalMs = 0;
  const runStart = performance.now(); // clock-ok
  const stepsAtStart = c.steps;
  let windowStart = performance.now(); // clock-ok
  let windowSteps = c.steps;
  try {
    while (c.steps < config.totalSteps) {
      if (options.signal?.aborted) {
        aborted = true;
        break;
      }
      // ---- 3. rollout ----------------------------------------------------------------------------
      for (let call = 0; call < config.trainFrequency && c.steps < config.totalSteps; call++) {
        // 3a. actions
        if (c.steps < config.learningStarts) {
          for (let i = 0; i < n; i++) actions[i] = actionStart + explore.integer(0, numActions);
        } else {
          const eps = epsilon.value(c.steps);
          let greedyNeeded = false;
          for (let i = 0; i < n; i++) {
            if (explore.next() < eps) actions[i] = actionStart + explore.integer(0, numActions);
            else {
              actions[i] = -1;
              greedyNeeded = true;
            }
          }
          if (greedyNeeded) {
            normalizer.apply(obs, n, actInput);
            const q = online.predict(actInput, n);
            for (let i = 0; i < n; i++) if (actions[i] === -1) actions[i] = actionStart + argmaxRow(q, i, numActions);
          }
        }
        // 3e (statistics of the observations acted on, before freezing)
        if (!normalizer.isFrozen) normalizer.observe(obs, n);
        // 3b. step
        const out = vec.step(actions);
        c.steps += n;
        c.calls++;
        // 3c. target update in env-step calls (SB3 _on_step)
        if (c.calls % targetEvery === 0) {
          if (config.tau >= 1) online.copyTo(target);
          else online.polyakTo(target, config.tau);
          c.targetUpdates++;
        }
        // 3d. transitions and episode bookkeeping
        for (let i = 0; i < n; i++) {
          const terminated = out.terminated[i] === 1;
          const truncated = out.truncated[i] === 1;
          const ended = terminated || truncated;
          nStep.push(i, obs, i * d, (actions[i] as number) - actionStart, out.rewards[i] as number, ended ? out.finalObservations : out.observations, i * d, terminated, truncated);
          episodeReturns[i] = (episodeReturns[i] as number) + (out.rewards[i] as number);
          episodeLengths[i] = (episodeLengths[i] as number) + 1;
          if (ended) {
            c.episodes++;
            emit({ type: 'episode.ended', step: c.steps, data: { episode: c.episodes, return: episodeReturns[i] as number, length: episodeLengths[i] as number, terminated } });
            episodeReturns[i] = 0;
            episodeLengths[i] = 0;
          }
        }
        obs.set(out.observations);
        // 3e. freeze running statistics when learning starts
        if (!normalizer.isFrozen && c.steps >= config.learningStarts) normalizer.freeze();
        // 3f. periodic evaluation
        if (c.steps >= c.nextEvalAt) {
          while (c.nextEvalAt <= c.steps) c.nextEvalAt += config.evalEvery;
          const t0 = performance.now(); // clock-ok
          evaluate();
          const spent = performance.now() - t0; // clock-ok
          windowStart += spent; // evaluation time is excluded from steps/s
          evalMs += spent;
        }
      }
      // ---- 4. train ------------------------------------------------------------------------------
      if (c.steps > config.learningStarts && buffer.size > 0) {
        trainPhase();
      }
      // ---- 5. metrics, checkpoints ---------------------------------------------------------------
      if (c.steps >= c.nextMetricsAt || c.steps >= config.totalSteps) {
        while (c.nextMetricsAt <= c.steps) c.nextMetricsAt += config.metricsEvery;
        const now = performance.now(); // clock-ok
        const sps = ((c.steps - windowSteps) * 1000) / Math.max(now - windowStart, 1e-6);
        windowStart = now;
        windowSteps = c.steps;
        if (c.metricSteps > 0) {
          emit({
            type: 'train.metrics',
            step: c.steps,
            data: {
              loss: c.lossSum / c.metricSteps,
              meanQ: c.meanQSum / c.metricSteps,
              epsilon: c.steps < config.learningStarts ? 1 : epsilon.value(c.steps),
              stepsPerSecond: sps,
              gradientSteps: c.gradientSteps,
              ...(beta ? { beta: beta.value(c.steps) } : {}),
            },
          });
        }
        c.lossSum = 0;
        c.meanQSum = 0;
        c.metricSteps = 0;
        await new Promise<void>((resolve) => setImmediate(resolve)); // let abort signals and I/O through
      }
      if (c.steps >= c.nextCheckpointAt && c.steps < config.totalSteps) {
        while (c.nextCheckpointAt <= c.steps) c.nextCheckpointAt += config.checkpointEvery;
        if (options.checkpoint) {
          const where = await options.checkpoint(capture());
          emit({ type: 'checkpoint.saved', step: c.steps, data: { path: typeof where === 'string' ? where : `step-${c.steps}` } });
        }
      }
    }

    // ---- 6. final evaluation -------------------------------------------------------------------
    const trainWallMs = performance.now() - runStart - evalMs; // clock-ok
    const finalEvaluation = evaluate();
    const bestEval = best as { evaluation: EvaluationSummary; weights: Float32Array[] } | null;
    const weightsHash = online.weightsHash();
    const result: DqnResult = {
      online,
      target,
      normalizer,
      finalEvaluation,
      bestEvaluation: bestEval?.evaluation ?? null,
      bestWeights: bestEval?.weights ?? null,
      evaluations,
      steps: c.steps,
      episodes: c.episodes,
      gradientSteps: c.gradientSteps,
      weightsHash,
      backend: backendName,
      tfjsVersion,
      aborted,
      stepsPerSecond: ((c.steps - stepsAtStart) * 1000) / Math.max(trainWallMs, 1e-6),
    };
    emit({
      type: 'run.finished',
      step: c.steps,
      data: {
        result: {
          steps: c.steps,
          episodes: c.episodes,
          gradientSteps: c.gradientSteps,
          weightsHash,
          aborted,
          finalMeanReturn: finalEvaluation.meanReturn,
          bestMeanReturn: bestEval?.evaluation.meanReturn ?? null,
          backend: backendName,
          tfjsVersion,
        },
      },
    });
    return result;
  } catch (error) {
    emit({ type: 'run.failed', step: c.steps, data: { error: (error as Error).message, stack: (error as Error).stack } });
    online.dispose();
    target.dispose();
    throw error;
  } finally {
    vec.close();
    for (const e of evalEnvs) e.close?.();
  }
}
