import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Env } from '../../engine/env.js';
import type { EpisodeLog } from '../../engine/episode-log.js';
import { TwinlabError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';
import { make } from '../../engine/registry.js';
import { isDiscrete } from '../../engine/spaces.js';
import { getTwin, type TwinDefinition, twinForEnv } from '../../engine/twin.js';
import '../../environments/index.js';
import { counterfactuals } from '../../evaluation/explain/counterfactual.js';
import { decisionQ } from '../../evaluation/explain/decision.js';
import { distil, treeJson, treeText } from '../../evaluation/explain/distil.js';
import { integratedGradients } from '../../evaluation/explain/integrated-gradients.js';
import { endpointDefinition } from '../../experiments/endpoints.js';
import type { TrialJobConfig } from '../../experiments/jobs.js';
import { GreedyQPolicy } from '../../policies/greedy-q.js';
import '../../policies/index.js';
import { isSavedPolicyDir, loadPolicy } from '../../policies/load.js';
import type { Policy } from '../../policies/policy.js';
import { loadSavedPolicy } from '../../policies/saved.js';
import { armPolicy, MaskedQPolicy, ShieldedPolicy } from '../../policies/shield.js';
import { parseInteger } from '../program.js';
import { addDataOption, openExistingStore } from './run.js';

interface ExplainCliOptions {
  data: string;
  experiment?: string;
  job?: string;
  episode?: string;
  step?: number;
  horizon: number;
  igSteps: number;
  distil?: string;
  env?: string;
  states: number;
  iterations: number;
  trainSize: number;
  maxDepth: number;
  episodes: number;
  seed: number;
  out?: string;
  json?: boolean;
}

/**
 * `twinlab explain`: explanations of a learned policy (evaluation/README.md, "Explanations and shields").
 * - A decision: `--experiment ID --job J --episode E --step T` — the Q-values and action gap of the
 *   logged step, integrated-gradients attributions of the network's choice, and counterfactual
 *   rollouts of every action (held `--horizon` steps, then the arm's policy) with the trial's endpoints.
 * - A policy: `--distil POLICY [--env ENV]` — a VIPER decision tree distilled from a saved Q-network,
 *   its fidelity and its performance next to the network's on the same episodes.
 */
export function registerExplainCommand(program: Command): void {
  addDataOption(
    program
      .command('explain')
      .description('explain a logged decision (Q-values, attributions, counterfactuals) or distil a Q-network into a decision tree')
      .option('--experiment <id>', 'trial experiment id (decision mode)')
      .option('--job <j>', 'job index or id in the experiment (decision mode)')
      .option('--episode <e>', 'episode index or key, e.g. 0 or episode-0 (decision mode, default 0)')
      .option('--step <t>', 'decision step, 0-based (decision mode)', parseInteger('--step', { min: 0 }))
      .option('--horizon <h>', 'steps each counterfactual action is held before the policy acts again', parseInteger('--horizon', { min: 1 }), 1)
      .option('--ig-steps <m>', 'trapezoid intervals of integrated gradients', parseInteger('--ig-steps', { min: 1, max: 100_000 }), 64)
      .option('--distil <policy>', 'saved Q-network policy directory to distil into a decision tree (policy mode)')
      .option('--env <id>', 'env to distil on (default: the one the policy was trained on)')
      .option('--states <n>', 'states collected over the DAgger iterations', parseInteger('--states', { min: 100 }), 20_000)
      .option('--iterations <n>', 'DAgger iterations', parseInteger('--iterations', { min: 1, max: 50 }), 4)
      .option('--train-size <n>', 'states resampled (∝ Q-gap) for each tree fit', parseInteger('--train-size', { min: 10 }), 5_000)
      .option('--max-depth <d>', 'tree depth', parseInteger('--max-depth', { min: 1, max: 20 }), 5)
      .option('--episodes <n>', 'evaluation episodes for the network-vs-tree comparison', parseInteger('--episodes', { min: 1 }), 10)
      .option('--seed <n>', 'distillation seed', parseInteger('--seed', { min: 0 }), 0)
      .option('--out <file>', 'write the distilled tree and its evaluation as JSON')
      .option('--json', 'print JSON'),
  ).action(async (options: ExplainCliOptions) => {
    const decision = options.experiment !== undefined || options.job !== undefined || options.step !== undefined || options.episode !== undefined;
    if (options.distil !== undefined && decision)
      throw new TwinlabError('INVALID_ARGUMENT', '--distil excludes --experiment/--job/--episode/--step: explain a policy or a decision, not both');
    if (options.distil !== undefined) return explainPolicy(options.distil, options);
    if (!decision) throw new TwinlabError('INVALID_ARGUMENT', '--experiment (with --job and --step) or --distil is required');
    for (const name of ['experiment', 'job', 'step'] as const) {
      if (options[name] === undefined) throw new TwinlabError('INVALID_ARGUMENT', `--${name} is required to explain a decision`);
    }
    return explainDecision(options);
  });
}

function unwrapQ(policy: Policy): GreedyQPolicy | undefined {
  const inner = policy instanceof ShieldedPolicy || policy instanceof MaskedQPolicy ? policy.inner : policy;
  return inner instanceof GreedyQPolicy ? inner : undefined;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}

async function explainDecision(options: ExplainCliOptions): Promise<void> {
  const store = openExistingStore(options.data);
  try {
    const experimentId = options.experiment as string;
    if (!store.getExperiment(experimentId)) throw new TwinlabError('NOT_FOUND', `--experiment: no experiment ${experimentId} in ${store.path}`);
    const jobArg = options.job as string;
    const jobId = /^\d+$/.test(jobArg) ? `${experimentId}/job-${jobArg}` : jobArg;
    const job = store.getJob(jobId);
    if (!job || job.experimentId !== experimentId) throw new TwinlabError('NOT_FOUND', `--job: no job ${jobArg} in experiment ${experimentId}`);
    if (job.kind !== 'trial') throw new TwinlabError('INVALID_ARGUMENT', `--job: ${jobId} is a ${job.kind} job; decisions are explained on trial jobs`);
    const episodeArg = options.episode ?? '0';
    const key = /^\d+$/.test(episodeArg) ? `episode-${episodeArg}` : episodeArg;
    const k = /^episode-(\d+)$/.exec(key)?.[1];
    const log = k === undefined ? undefined : store.getEpisode(jobId, key);
    if (!log || k === undefined) throw new TwinlabError('NOT_FOUND', `--episode: job ${jobId} has no episode ${episodeArg}`);
    const t = options.step as number;
    if (t >= log.steps.length) throw new TwinlabError('INVALID_ARGUMENT', `--step must be < ${log.steps.length} (the episode's length), got ${t}`);
    const config = job.config as TrialJobConfig;
    const twin = config.twinId ? getTwin(config.twinId) : undefined;
    const { policy: factory } = await loadPolicy(config.arm.policy, config.envId, config.arm.options);
    const makeEnv = () => make(config.envId, config.envOptions);
    const makeArmPolicy = (env: Env) => armPolicy(factory(env), env, twin, config.arm.shield);
    const env = makeEnv();
    const space = env.actionSpace;
    const obsLabels = env.observationSpace.labels ?? [];
    const actionLabels = isDiscrete(space) ? (space.labels ?? []) : [];
    const start = isDiscrete(space) ? space.start : 0;
    const q = unwrapQ(makeArmPolicy(env));
    env.close?.();

    const observation = Float32Array.from(t === 0 ? log.initialObservation : (log.steps[t - 1] as { observation: number[] }).observation);
    const stepRecord = log.steps[t] as EpisodeLog['steps'][number];
    const loggedQ = Array.isArray(stepRecord.info.q) ? (stepRecord.info.q as number[]) : q ? Array.from(q.qValues(observation)) : undefined;
    const qSummary = loggedQ ? decisionQ(loggedQ) : undefined;
    const ig = q ? integratedGradients(q, observation, { steps: options.igSteps }) : undefined;
    const endpoints = config.endpoints.map((id) => endpointDefinition(twin, id));
    const cf = counterfactuals({
      makeEnv,
      makePolicy: makeArmPolicy,
      policyRng: () => Rng.fromSeed(config.policySeed).fork(`policy/episode/${k}`),
      log,
      step: t,
      horizon: options.horizon,
      endpoints,
    });
    const label = (a: number) => actionLabels[a - start] ?? String(a);
    const report = {
      experiment: experimentId,
      job: jobId,
      episode: key,
      step: t,
      envId: config.envId,
      arm: config.arm.name,
      patientId: config.patientId,
      observation: Object.fromEntries(Array.from(observation, (v, i) => [obsLabels[i] ?? `x${i}`, v])),
      action: {
        taken: stepRecord.action,
        label: typeof stepRecord.action === 'number' ? label(stepRecord.action) : undefined,
        shieldIntervened: stepRecord.info.shield === 1,
      },
      q: qSummary
        ? { values: qSummary.values, best: start + qSummary.best, gap: qSummary.gap, source: Array.isArray(stepRecord.info.q) ? 'log' : 'recomputed' }
        : null,
      attributions: ig
        ? {
            method: 'integrated gradients (trapezoid)',
            steps: ig.steps,
            baseline: 'zero in the network input space (the normaliser mean / box centre)',
            action: start + ig.action,
            q: ig.q,
            qBaseline: ig.qBaseline,
            completenessError: ig.completenessError,
            features: Array.from(ig.attributions, (v, i) => ({ feature: obsLabels[i] ?? `x${i}`, attribution: v })).sort(
              (a, b) => Math.abs(b.attribution) - Math.abs(a.attribution),
            ),
          }
        : null,
      counterfactuals: {
        horizon: cf.horizon,
        branches: cf.branches.map((b) => ({
          action: b.action,
          label: label(b.action),
          logged: b.logged,
          returnFromStep: b.returnFromStep,
          length: b.length,
          terminated: b.terminated,
          endpoints: b.endpoints,
        })),
      },
    };
    if (options.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    const lines: string[] = [];
    lines.push(`decision ${jobId} ${key} step ${t} — ${config.envId}, arm ${config.arm.name}, patient ${config.patientId}`);
    lines.push(
      `observation  ${Object.entries(report.observation)
        .map(([n, v]) => `${n}=${fmt(v)}`)
        .join('  ')}`,
    );
    lines.push(
      `action taken ${JSON.stringify(stepRecord.action)} (${report.action.label ?? ''})${report.action.shieldIntervened ? "  — the shield replaced the policy's proposal" : ''}`,
    );
    if (qSummary) {
      lines.push(`Q-values (${report.q?.source})  ${qSummary.values.map((v, a) => `${label(start + a)}: ${fmt(v)}`).join('  |  ')}`);
      lines.push(`greedy ${label(start + qSummary.best)}, action gap ${fmt(qSummary.gap)}`);
    } else lines.push("Q-values     n/a (the arm's policy is not a Q-network)");
    if (ig && report.attributions) {
      lines.push(`attributions of Q(${label(start + ig.action)}) by integrated gradients (m = ${ig.steps}; baseline: the normaliser's mean observation)`);
      for (const f of report.attributions.features.slice(0, 10)) lines.push(`  ${f.feature.padEnd(20)} ${f.attribution >= 0 ? '+' : ''}${fmt(f.attribution)}`);
      lines.push(`  sum = Q(x) − Q(baseline) = ${fmt(ig.q)} − ${fmt(ig.qBaseline)} (completeness error ${ig.completenessError.toExponential(1)})`);
    }
    const ids = endpoints.map((e) => e.id);
    lines.push(`counterfactuals: each action held ${cf.horizon} step(s) from step ${t}, then the policy`);
    lines.push(['action'.padEnd(24), 'return from t'.padStart(14), ...ids.map((id) => id.padStart(12))].join(' '));
    for (const b of report.counterfactuals.branches) {
      lines.push(
        [
          `${b.label}${b.logged ? ' (logged)' : ''}`.padEnd(24),
          fmt(b.returnFromStep).padStart(14),
          ...ids.map((id) => fmt(b.endpoints[id] as number).padStart(12)),
        ].join(' '),
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    store.close();
  }
}

async function explainPolicy(ref: string, options: ExplainCliOptions): Promise<void> {
  if (!isSavedPolicyDir(ref)) throw new TwinlabError('INVALID_ARGUMENT', `--distil: ${ref} is not a saved policy directory (a Q-network with policy.json)`);
  const saved = await loadSavedPolicy(ref);
  const envId = options.env ?? saved.envId;
  const envOptions = options.env === undefined || options.env === saved.envId ? saved.envOptions : {};
  let probe: Env;
  try {
    probe = make(envId, envOptions);
  } catch (error) {
    throw new TwinlabError('INVALID_ARGUMENT', `--env: ${(error as Error).message}`);
  }
  let teacher: GreedyQPolicy | undefined;
  try {
    teacher = unwrapQ(saved.create(probe));
  } catch (error) {
    throw new TwinlabError('INVALID_ARGUMENT', `--env: ${(error as Error).message}`);
  } finally {
    probe.close?.();
  }
  if (!teacher) throw new TwinlabError('INVALID_ARGUMENT', `--distil: ${ref} is not a Q-network policy`);
  const twin: TwinDefinition | undefined = twinForEnv(envId);
  const endpoints = twin ? twin.primaryEndpoints.map((id) => endpointDefinition(twin, id)) : [];
  const result = distil({
    teacher,
    makeEnv: () => make(envId, envOptions),
    seed: options.seed,
    states: options.states,
    iterations: options.iterations,
    trainSize: options.trainSize,
    maxDepth: options.maxDepth,
    evalEpisodes: options.episodes,
    endpoints,
  });
  const json = {
    policy: ref,
    envId,
    method: 'VIPER (Q-gap-weighted DAgger) into a CART tree (ml-cart, Gini)',
    options: { states: options.states, iterations: options.iterations, trainSize: options.trainSize, maxDepth: options.maxDepth, seed: options.seed },
    depth: result.depth,
    leaves: result.leaves,
    chosenIteration: result.chosenIteration,
    iterations: result.iterations,
    fidelity: result.fidelity,
    performance: result.performance,
    tree: treeJson(result.tree, result.featureLabels, result.actionLabels),
  };
  if (options.out) writeFileSync(options.out, `${JSON.stringify(json, null, 2)}\n`);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(json)}\n`);
    return;
  }
  const { teacher: net, tree } = result.performance;
  const lines = [
    `decision tree distilled from ${ref} on ${envId}: depth ${result.depth}, ${result.leaves} leaves (iteration ${result.chosenIteration + 1} of ${result.iterations.length})`,
    '',
    treeText(result.tree, result.featureLabels, result.actionLabels).trimEnd(),
    '',
    `fidelity (same action as the network): ${(result.fidelity.heldOut * 100).toFixed(1)} % of ${result.fidelity.teacherStates} held-out network states, ${(result.fidelity.onTreeStates * 100).toFixed(1)} % of ${result.fidelity.treeStates} states the tree visits`,
    `performance on the same ${result.performance.episodes} episodes (seed ${result.performance.seed}):`,
    `  ${'policy'.padEnd(10)} ${'return'.padStart(10)} ${Object.keys(net.endpoints)
      .map((id) => id.padStart(10))
      .join(' ')}`,
    `  ${'network'.padEnd(10)} ${fmt(net.meanReturn).padStart(10)} ${Object.values(net.endpoints)
      .map((v) => fmt(v).padStart(10))
      .join(' ')}`,
    `  ${'tree'.padEnd(10)} ${fmt(tree.meanReturn).padStart(10)} ${Object.values(tree.endpoints)
      .map((v) => fmt(v).padStart(10))
      .join(' ')}`,
  ];
  if (options.out) lines.push(`tree and evaluation written to ${options.out}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
