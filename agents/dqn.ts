import type { Env } from '../engine/env.js';
import { TwinlabError } from '../engine/errors.js';
import type { EventSink, TwinlabEvent } from '../engine/events.js';
import { Rng, deriveSeed } from '../engine/random.js';
import { isDiscrete } from '../engine/spaces.js';
import { type BoundCost, type BoundShield, type TwinDefinition, twinForEnv } from '../engine/twin.js';
import { VectorEnv } from '../engine/vector.js';
import { bindShield, resolveShield } from '../policies/shield.js';
import { initBackend } from './backend.js';
import { CHECKPOINT_VERSION, type DqnCheckpoint, type DqnCounters, type EvaluationSummary, captureEnv, restoreEnv } from './checkpoint.js';
import { type DqnConfig, parseDqnConfig } from './dqn-config.js';
import { argmaxAllowed, argmaxRow, evaluateGreedy } from './evaluate.js';
import { DualAscent, bindCost, resolveCost } from './lagrangian.js';
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
 *
 * Safety options (agents/dqn-config.ts; both off by default, and then nothing above changes):
 *  - `shield` (a shield the env's twin declares): each env's allowed actions are computed from its
 *    current observation and info. Mode `mask` (invalid-action masking, Huang & Ontañón 2022, "A
 *    closer look at invalid action masking in policy gradient algorithms", FLAIRS-35, applied to
 *    Q-learning's max): warm-up and ε draws are uniform over the allowed actions, the greedy action is
 *    argmax over the allowed ones, the replay buffer stores the allowed actions of s′ (bytes) and the
 *    TD target's argmax runs over them: y = R + γᵏ·(1 − done)·Q_target(s′, argmax_{a ∈ A(s′)} Q(s′, a)).
 *    Mode `replace` (post-posed shield, Alshiekh et al. 2018, AAAI): a masked choice is replaced by
 *    the shield's safest allowed action before the step, and the replaced action is stored.
 *    Evaluation acts the same way; interventions (replaced choices) are counted in train.metrics.
 *  - `constraint` (a cost signal the twin declares, budget d): the per-step cost c is accumulated
 *    beside the reward (n-step discounted, its own replay column), targets use R − λ·C with the
 *    current λ, and λ follows dual ascent on each finished episode's cost (agents/lagrangian.ts).
 *    train.metrics report λ, the mean episode cost and the violation (mean episode cost − d).
 *    Evaluations measure the cost too, and keepBest ranks feasibility first: an evaluation within
 *    the budget beats one over it, two within by score, two over by the lower cost.
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
  /** The twin whose shields and costs `config.shield` / `config.constraint` name (default: the twin listing envId). */
  twin?: TwinDefinition;
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
  /** config.shield: the shield's id and mode, and the choices it replaced during training (0 in mask mode). */
  shield?: { id: string; mode: 'mask' | 'replace'; interventions: number };
  /** config.constraint: λ at the end. */
  lambda?: number;
}

/** Rows of TD targets y_i = (R_i − λ·C_i) + γᵏ_i·(1 − done_i)·Q_target(s′_i, a*_i); see `tdTargets`. */
export interface TdTargetInput {
  rows: number;
  numActions: number;
  /** Batch rows [row0, row0 + rows) of the columns below. */
  row0: number;
  rewards: Float32Array;
  discounts: Float32Array;
  dones: Float32Array;
  /** Q_target(s′) rows, row qNextRow0 + i for batch row row0 + i. */
  qNext: Float32Array;
  qNextRow0: number;
  /** Double DQN: Q_online(s′) rows i = 0 … rows − 1 choose a*; null = vanilla (argmax of Q_target). */
  qSelect: Float32Array | null;
  /** Allowed actions of s′ (batch row row0 + i, numActions bytes each): a* maximises over them; null = all. */
  nextMasks: Uint8Array | null;
  /** n-step costs and λ (constrained training); null = none. */
  costs: Float32Array | null;
  lambda: number;
  out: Float32Array;
}

/** TD targets of a minibatch (the masked, penalised max target of the file comment). Exported for its tests. */
export function tdTargets(t: TdTargetInput): Float32Array {
  const A = t.numActions;
  for (let i = 0; i < t.rows; i++) {
    const k = t.row0 + i;
    const select = t.qSelect ?? t.qNext;
    const selectRow = t.qSelect ? i : t.qNextRow0 + i;
    const a = t.nextMasks ? argmaxAllowed(select, selectRow, A, t.nextMasks, k) : argmaxRow(select, selectRow, A);
    const bootstrap = t.qNext[(t.qNextRow0 + i) * A + a] as number;
    const reward = t.costs ? (t.rewards[k] as number) - t.lambda * (t.costs[k] as number) : (t.rewards[k] as number);
    t.out[i] = reward + (t.discounts[k] as number) * (1 - (t.dones[k] as number)) * bootstrap;
  }
  return t.out;
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

  // Safety: the twin's shield (allowed actions per env) and cost signal (constrained training).
  const twin = config.shield || config.constraint ? (options.twin ?? twinForEnv(envId)) : undefined;
  const shieldDef = config.shield ? resolveShield(twin, config.shield.id, 'dqn config: shield.id') : null;
  const shieldMode = config.shield?.mode ?? 'mask';
  const masking = shieldDef !== null && shieldMode === 'mask';
  const shields: BoundShield[] | null = shieldDef ? vec.envs.map((e) => bindShield(shieldDef, e)) : null;
  const evalShield = shieldDef ? { bounds: evalEnvs.map((e) => bindShield(shieldDef, e)), mode: shieldMode } : undefined;
  const constraint = config.constraint ?? null;
  const costDef = constraint ? resolveCost(twin, constraint.cost, 'dqn config: constraint.cost') : null;
  const costs: BoundCost[] | null = costDef ? vec.envs.map((e) => bindCost(costDef, e)) : null;
  const evalCosts = costDef && constraint ? { bounds: evalEnvs.map((e) => bindCost(costDef, e)), episodeCost: constraint.episodeCost } : undefined;
  const dual = constraint ? new DualAscent(constraint.lambdaInit, constraint.budget, constraint.lambdaLearningRate, constraint.lambdaMax) : null;

  const spec = { inputSize: d, numActions, hidden: config.hidden, dueling: config.dueling };
  const opt = { learningRate: config.learningRate, adamEpsilon: config.adamEpsilon, maxGradNorm: config.maxGradNorm, loss: config.loss };
  const online = QNetwork.create(spec, root.fork('init'), opt);
  const target = QNetwork.create(spec, root.fork('init-target'), opt);
  online.copyTo(target);

  const capacity = Math.min(config.bufferSize, config.totalSteps);
  const per = config.prioritized;
  const extras = { maskWidth: masking ? numActions : 0, costs: constraint !== null };
  const buffer = per ? new PrioritizedReplayBuffer(capacity, d, per.alpha, per.epsilon, extras) : new ReplayBuffer(capacity, d, extras);
  // Allowed actions (1 byte per action) of each env's current state, and of each transition's s′.
  const masks = new Uint8Array(shields ? n * numActions : 0);
  const nextMasks = new Uint8Array(masking ? n * numActions : 0);
  const nStep = new NStepAccumulator(config.nStep, config.gamma, n, d, (o, oo, a, r, s2, so, done, disc, cost, env) => {
    const slot = buffer.add(o, a, r, s2, done, disc, oo, so);
    if (masking || constraint) buffer.setExtras(slot, masking ? nextMasks : null, env * numActions, cost);
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
  const episodeCosts = new Float64Array(n);
  const safety = { interventions: 0, windowInterventions: 0, windowDecisions: 0, windowCostSum: 0, windowEpisodes: 0 };
  const evaluations: EvaluationSummary[] = [];
  let best: { evaluation: EvaluationSummary; score: number; weights: Float32Array[] } | null = null;

  const obsViews = Array.from({ length: n }, (_, i) => obs.subarray(i * d, (i + 1) * d));
  const maskViews = Array.from({ length: shields ? n : 0 }, (_, i) => masks.subarray(i * numActions, (i + 1) * numActions));
  const nextMaskViews = Array.from({ length: masking ? n : 0 }, (_, i) => nextMasks.subarray(i * numActions, (i + 1) * numActions));
  // Row views of the VectorEnv's reused result buffers (made once: no allocation per step).
  const rowViews = new Map<Float32Array, Float32Array[]>();
  const rowsOf = (array: Float32Array): Float32Array[] => {
    let views = rowViews.get(array);
    if (!views) {
      views = Array.from({ length: n }, (_, i) => array.subarray(i * d, (i + 1) * d));
      rowViews.set(array, views);
    }
    return views;
  };
  /** allowed ← the shield's mask of env i for (observation, info). */
  const maskInto = (i: number, observation: Float32Array, info: Record<string, unknown>, allowed: Uint8Array): void => {
    allowed.fill(0);
    (shields as BoundShield[])[i]?.mask(observation, info, allowed);
    if (allowed.indexOf(1) < 0) throw new TwinlabError('INTERNAL', `shield ${shieldDef?.id} masked every action of env ${i}`);
  };

  const first = vec.reset({ seed: deriveSeed(seed, 'env') });
  obs.set(first.observations);
  if (shields) for (let i = 0; i < n; i++) maskInto(i, obsViews[i] as Float32Array, first.infos[i] ?? {}, maskViews[i] as Uint8Array);
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
    if (shields) {
      if (!r.shield) throw new TwinlabError('INVALID_ARGUMENT', 'resumeFrom has no shield state, the config has a shield');
      masks.set(r.shield.masks);
      safety.interventions = r.shield.interventions;
      safety.windowInterventions = r.shield.windowInterventions;
      safety.windowDecisions = r.shield.windowDecisions;
    }
    if (dual) {
      if (!r.constraint) throw new TwinlabError('INVALID_ARGUMENT', 'resumeFrom has no constraint state, the config has a constraint');
      dual.lambda = r.constraint.lambda;
      episodeCosts.set(r.constraint.episodeCosts);
      safety.windowCostSum = r.constraint.windowCostSum;
      safety.windowEpisodes = r.constraint.windowEpisodes;
    }
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
  const phaseBatch = allocateBatch(usePhaseBatch ? B * G : B, d, extras);
  const stepBatch = allocateBatch(B, d, extras);
  const phaseNext = new Float32Array(phaseBatch.size * d);
  const trainObs = new Float32Array(B * d);
  const trainNext = new Float32Array(B * d);
  const targets = new Float32Array(B);

  const selectInput = new Float32Array(d);
  const selectMask = new Uint8Array(numActions);
  /** The greedy policy as deployed (under the shield, with an empty info); for selectionScore. */
  const greedyAct = (observation: Float32Array): number => {
    normalizer.apply(observation, 1, selectInput);
    const q = online.predict(selectInput, 1);
    if (!shields) return actionStart + argmaxRow(q, 0, numActions);
    maskInto(0, observation, {}, selectMask);
    if (masking) return actionStart + argmaxAllowed(q, 0, numActions, selectMask, 0);
    const a = actionStart + argmaxRow(q, 0, numActions);
    return selectMask[a - actionStart] === 1 ? a : (shields[0] as BoundShield).safest(a, selectMask);
  };
  /**
   * keepBest: the higher score wins; under a constraint, feasibility first — an evaluation whose mean
   * episode cost is within the budget beats one that is not, and of two over budget the cheaper wins.
   */
  const withinBudget = (e: EvaluationSummary): boolean => !constraint || e.meanCost === undefined || e.meanCost <= constraint.budget;
  const isBetter = (summary: EvaluationSummary, score: number): boolean => {
    if (best === null) return true;
    const a = withinBudget(summary);
    const b = withinBudget(best.evaluation);
    if (a !== b) return a;
    if (a) return score > best.score;
    return (summary.meanCost as number) < (best.evaluation.meanCost as number);
  };
  const evaluate = (): EvaluationSummary => {
    const summary = evaluateGreedy(online, evalEnvs, {
      episodes: config.evalEpisodes,
      seed: config.evalSeed,
      normalizer,
      actionStart,
      step: c.steps,
      ...(evalShield ? { shield: evalShield } : {}),
      ...(evalCosts ? { costs: evalCosts } : {}),
    });
    evaluations.push(summary);
    const score = options.selectionScore ? options.selectionScore(greedyAct) : summary.meanReturn;
    if (config.keepBest && isBetter(summary, score)) best = { evaluation: summary, score, weights: online.getWeights() };
    const metrics: Record<string, number> = { meanLength: summary.meanLength };
    if (summary.meanCost !== undefined) metrics.meanCost = summary.meanCost;
    if (options.selectionScore) metrics.selectionScore = score;
    emit({
      type: 'eval.completed',
      step: c.steps,
      data: { meanReturn: summary.meanReturn, stdReturn: summary.stdReturn, episodes: summary.returns.length, returns: summary.returns, hash: summary.hash, metrics },
    });
    return summary;
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
    tdTargets({
      rows: B,
      numActions,
      row0,
      rewards: batch.rewards,
      discounts: batch.discounts,
      dones: batch.dones,
      qNext,
      qNextRow0,
      qSelect: qOnlineNext,
      nextMasks: masking ? batch.nextMasks : null,
      costs: dual ? batch.costs : null,
      lambda: dual?.lambda ?? 0,
      out: targets,
    });
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
    ...(shields
      ? { shield: { masks: masks.slice(), interventions: safety.interventions, windowInterventions: safety.windowInterventions, windowDecisions: safety.windowDecisions } }
      : {}),
    ...(dual ? { constraint: { lambda: dual.lambda, episodeCosts: Array.from(episodeCosts), windowCostSum: safety.windowCostSum, windowEpisodes: safety.windowEpisodes } } : {}),
  });

  /** A uniform draw over env i's allowed actions (one `explore` draw, as the unmasked draw). */
  const randomAllowed = (i: number): number => {
    const base = i * numActions;
    let k = 0;
    for (let a = 0; a < numActions; a++) k += masks[base + a] as number;
    let j = explore.integer(0, k);
    for (let a = 0; a < numActions; a++) {
      if (masks[base + a] !== 1) continue;
      if (j === 0) return a;
      j--;
    }
    throw new TwinlabError('INTERNAL', `no allowed action for env ${i}`);
  };
  const stepCost = (i: number, info: Record<string, unknown>): number => {
    const value = (costs as BoundCost[])[i]?.cost(info) as number;
    if (!(value >= 0) || !Number.isFinite(value)) throw new TwinlabError('INVALID_STATE', `cost ${constraint?.cost} of env ${i} is ${value} (must be finite and ≥ 0)`);
    return value;
  };
  /** train.metrics fields of the shield and the constraint since the last metrics. */
  const safetyMetrics = (): Record<string, number> => {
    const m: Record<string, number> = {};
    if (shields) {
      m.shieldInterventions = safety.windowInterventions;
      m.shieldInterventionRate = safety.windowDecisions > 0 ? safety.windowInterventions / safety.windowDecisions : 0;
    }
    if (dual && constraint) {
      m.lambda = dual.lambda;
      if (safety.windowEpisodes > 0) {
        m.episodeCost = safety.windowCostSum / safety.windowEpisodes;
        m.constraintViolation = m.episodeCost - constraint.budget;
      }
    }
    return m;
  };

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
          for (let i = 0; i < n; i++) actions[i] = actionStart + (masking ? randomAllowed(i) : explore.integer(0, numActions));
        } else {
          const eps = epsilon.value(c.steps);
          let greedyNeeded = false;
          for (let i = 0; i < n; i++) {
            if (explore.next() < eps) actions[i] = actionStart + (masking ? randomAllowed(i) : explore.integer(0, numActions));
            else {
              actions[i] = -1;
              greedyNeeded = true;
            }
          }
          if (greedyNeeded) {
            normalizer.apply(obs, n, actInput);
            const q = online.predict(actInput, n);
            for (let i = 0; i < n; i++) {
              if (actions[i] !== -1) continue;
              actions[i] = actionStart + (masking ? argmaxAllowed(q, i, numActions, masks, i) : argmaxRow(q, i, numActions));
            }
          }
        }
        // 3a′. post-posed shield: a masked choice is replaced by the shield's safest allowed action
        if (shields && !masking) {
          for (let i = 0; i < n; i++) {
            const a = actions[i] as number;
            safety.windowDecisions++;
            if (masks[i * numActions + a - actionStart] === 1) continue;
            actions[i] = (shields[i] as BoundShield).safest(a, maskViews[i] as Uint8Array);
            safety.interventions++;
            safety.windowInterventions++;
          }
        } else if (shields) safety.windowDecisions += n;
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
          const next = ended ? out.finalObservations : out.observations;
          const info = out.infos[i] ?? {};
          // allowed actions of s′ (the true final observation when the episode ended), before the n-step sink stores them
          if (masking) maskInto(i, rowsOf(next)[i] as Float32Array, info, nextMaskViews[i] as Uint8Array);
          const cost = costs ? stepCost(i, info) : 0;
          nStep.push(i, obs, i * d, (actions[i] as number) - actionStart, out.rewards[i] as number, next, i * d, terminated, truncated, cost);
          episodeReturns[i] = (episodeReturns[i] as number) + (out.rewards[i] as number);
          episodeLengths[i] = (episodeLengths[i] as number) + 1;
          if (costs) episodeCosts[i] = (episodeCosts[i] as number) + cost;
          if (ended) {
            c.episodes++;
            let metrics: Record<string, number> | undefined;
            if (dual && constraint) {
              const episodeCost = constraint.episodeCost === 'mean' ? (episodeCosts[i] as number) / (episodeLengths[i] as number) : (episodeCosts[i] as number);
              metrics = { cost: episodeCost, lambda: dual.update(episodeCost) };
              safety.windowCostSum += episodeCost;
              safety.windowEpisodes++;
              episodeCosts[i] = 0;
            }
            const data = { episode: c.episodes, return: episodeReturns[i] as number, length: episodeLengths[i] as number, terminated };
            emit({ type: 'episode.ended', step: c.steps, data: metrics ? { ...data, metrics } : data });
            episodeReturns[i] = 0;
            episodeLengths[i] = 0;
          }
        }
        obs.set(out.observations);
        // the allowed actions of each env's state now (after an autoreset: of the new episode's first state)
        if (shields) {
          for (let i = 0; i < n; i++) {
            const ended = out.terminated[i] === 1 || out.truncated[i] === 1;
            maskInto(i, obsViews[i] as Float32Array, (ended ? out.resetInfos[i] : out.infos[i]) ?? {}, maskViews[i] as Uint8Array);
          }
        }
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
              ...safetyMetrics(),
            },
          });
        }
        safety.windowInterventions = 0;
        safety.windowDecisions = 0;
        safety.windowCostSum = 0;
        safety.windowEpisodes = 0;
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
      ...(shieldDef ? { shield: { id: shieldDef.id, mode: shieldMode, interventions: safety.interventions } } : {}),
      ...(dual ? { lambda: dual.lambda } : {}),
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
          ...(shieldDef ? { shieldInterventions: safety.interventions } : {}),
          ...(dual ? { lambda: dual.lambda } : {}),
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
