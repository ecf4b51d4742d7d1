import { type Command, Option } from 'commander';
import type { Env, Info } from '../../engine/env.js';
import { TwinlabError } from '../../engine/errors.js';
import type { Rng } from '../../engine/random.js';
import { Discrete } from '../../engine/spaces.js';
import '../../environments/index.js';
import { estimateBehaviour } from '../../evaluation/ope/behaviour.js';
import { type OpeData, type PolicyProbs, probsFromPolicy, type Trajectory, trajectoryFromLog } from '../../evaluation/ope/data.js';
import { ESTIMATORS, type OpeReport, type PolicyEstimates, evaluateOffPolicy } from '../../evaluation/ope/report.js';
import { getDatasetRecord } from '../../experiments/dataset-store.js';
import type { TrialJobConfig } from '../../experiments/jobs.js';
import { EnvPool } from '../../experiments/trial-job.js';
import type { JobRecord, Store } from '../../experiments/store.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import '../../policies/index.js';
import { loadPolicy } from '../../policies/load.js';
import type { Policy } from '../../policies/policy.js';
import { makePolicy } from '../../policies/registry.js';
import { parseInteger, parseNumber } from '../program.js';
import { addDataOption, openExistingStore } from './run.js';

interface OpeCliOptions {
  logs: string;
  policy: string;
  arm?: string;
  data: string;
  gamma: number;
  bootstrap: number;
  bootstrapFqe: number;
  seed: number;
  fqe: 'auto' | 'tabular' | 'linear';
  behaviour: 'auto' | 'counts' | 'logistic';
  truth?: boolean;
  json?: boolean;
}

/**
 * `twinlab ope --logs EXPERIMENT|JOB --policy P`: off-policy evaluation of a target policy from the
 * stored episodes of one trial arm (evaluation/README.md). Episode logs keep the observation, action
 * and reward of every step — all OPE needs — but not the behaviour policy's probabilities, which are
 * therefore estimated (and the output says so). `--truth` re-simulates every policy on the same
 * patients and episode seeds (the episodes are deterministic), which only a simulator can do.
 */
export function registerOpeCommand(program: Command): void {
  addDataOption(
    program
      .command('ope')
      .description('off-policy evaluation of a policy from the stored episodes of a trial arm (IS, WIS, PDWIS, DR, WDR, FQE, with baselines)')
      .requiredOption('--logs <id>', 'experiment id (a trial; choose the arm with --arm) or job id whose episodes are the logs')
      .requiredOption('--policy <name|dir>', 'target policy: a registered policy name or a saved policy directory')
      .option('--arm <name>', 'the trial arm whose episodes are the logs (required when the trial has several)')
      .option('--gamma <g>', 'discount of the estimated value (1 = undiscounted return)', parseNumber('--gamma', { min: 0 }), 1)
      .option('--bootstrap <B>', 'bootstrap resamples for IS, WIS, PDWIS, DR, WDR', parseInteger('--bootstrap', { min: 10 }), 200)
      .option('--bootstrap-fqe <B>', 'bootstrap resamples (refits) for FQE', parseInteger('--bootstrap-fqe', { min: 10 }), 50)
      .option('--seed <n>', 'bootstrap seed', parseInteger('--seed', { min: 0 }), 0)
      .addOption(new Option('--fqe <model>', 'FQE model (auto: tabular for few distinct observations)').choices(['auto', 'tabular', 'linear']).default('auto'))
      .addOption(new Option('--behaviour <model>', 'behaviour-policy model when the logs lack its probabilities').choices(['auto', 'counts', 'logistic']).default('auto'))
      .option('--truth', 're-simulate each policy on the same patients and seeds and print its true value')
      .option('--json', 'print the report as JSON'),
  ).action(async (options: OpeCliOptions) => {
    if (!(options.gamma > 0 && options.gamma <= 1)) throw new TwinlabError('INVALID_ARGUMENT', `--gamma must be in (0, 1], got ${options.gamma}`);
    const store = openExistingStore(options.data);
    const pool = new EnvPool();
    try {
      const jobs = logJobs(store, options.logs, options.arm);
      const configs = jobs.map((j) => j.config as TrialJobConfig);
      const envId = (configs[0] as TrialJobConfig).envId;
      const firstEnv = pool.get(envId, (configs[0] as TrialJobConfig).envOptions);
      if (!(firstEnv.actionSpace instanceof Discrete)) {
        throw new TwinlabError('INVALID_ARGUMENT', `--logs: env ${envId} has action space ${firstEnv.actionSpace.toString()}; OPE here needs a Discrete action space`);
      }
      const nA = firstEnv.actionSpace.n;
      const { policy: factory } = await loadPolicyFor(options.policy, envId);
      // the logs, one trajectory per stored episode, with what a protocol saw before each decision
      const trajectories: Trajectory[] = [];
      const owners: Owner[] = [];
      for (const [k, job] of jobs.entries()) {
        for (const { key } of store.listEpisodes(job.id)) {
          const log = store.getEpisode(job.id, key);
          if (!log) continue;
          trajectories.push(trajectoryFromLog(log));
          if (log.seed === null) throw new TwinlabError('INVALID_ARGUMENT', `--logs: episode ${key} of ${job.id} has no reset seed`);
          owners.push({ job: configs[k] as TrialJobConfig, seed: log.seed, resetInfo: log.resetInfo, infos: [log.resetInfo, ...log.steps.map((s) => s.info)] });
        }
      }
      if (trajectories.length < 2) throw new TwinlabError('INVALID_ARGUMENT', `--logs: ${options.logs} has ${trajectories.length} stored episode(s); OPE needs at least 2`);
      const data: OpeData = { trajectories, nActions: nA, gamma: options.gamma };
      const targetProbs = policyProbsPerEpisode(data, owners, pool, factory);
      const label = firstEnv.actionSpace.labels?.[0];
      const report = evaluateOffPolicy(data, targetProbs, {
        bootstrap: options.bootstrap,
        bootstrapFqe: options.bootstrapFqe,
        seed: options.seed,
        fqe: { model: options.fqe },
        behaviour: { model: options.behaviour },
        targetName: options.policy,
        zeroActionLabel: label,
      });
      let truth: Record<string, number> | undefined;
      if (options.truth) truth = resimulate(data, owners, pool, factory, options.gamma);
      const arm = (configs[0] as TrialJobConfig).arm;
      const header = { logs: options.logs, arm: arm.name, behaviourPolicy: arm.policy, envId, target: options.policy };
      if (options.json) process.stdout.write(`${JSON.stringify({ ...header, ...report, truth })}\n`);
      else process.stdout.write(formatReport(header, report, truth));
    } finally {
      pool.close();
      store.close();
    }
  });
}

async function loadPolicyFor(ref: string, envId: string) {
  try {
    return await loadPolicy(ref, envId);
  } catch (error) {
    if (error instanceof TwinlabError) throw new TwinlabError(error.code, `--policy: ${error.message}`);
    throw error;
  }
}

/** The trial jobs of one arm behind `--logs` (an experiment with `--arm`, or one job). */
function logJobs(store: Store, id: string, arm: string | undefined): JobRecord[] {
  let jobs: JobRecord[];
  const job = store.getJob(id);
  if (job) jobs = [job];
  else if (store.getExperiment(id)) jobs = store.listJobs(id);
  else if (getDatasetRecord(store, id)) {
    throw new TwinlabError(
      'INVALID_ARGUMENT',
      `--logs: ${id} is an imported patient dataset (CGM, insulin, carbs on a time grid); OPE needs decision logs — the observation the policy saw, the discrete action taken and the reward at every step — so run a trial of the behaviour policy on the twin, or export the dataset as such logs`,
    );
  } else throw new TwinlabError('NOT_FOUND', `--logs: no experiment, job or dataset ${id} in ${store.path}`);
  const trial = jobs.filter((j) => j.kind === 'trial');
  if (trial.length === 0) throw new TwinlabError('INVALID_ARGUMENT', `--logs: ${id} has no trial jobs (OPE reads the episodes a trial arm stored)`);
  const arms = [...new Set(trial.map((j) => (j.config as TrialJobConfig).arm.name))];
  if (arm === undefined) {
    if (arms.length > 1) throw new TwinlabError('INVALID_ARGUMENT', `--arm is required: ${id} has arms ${arms.join(', ')}`);
    return trial;
  }
  if (!arms.includes(arm)) throw new TwinlabError('INVALID_ARGUMENT', `--arm ${arm}: not an arm of ${id} (arms: ${arms.join(', ')})`);
  return trial.filter((j) => (j.config as TrialJobConfig).arm.name === arm);
}

/** The job, reset seed, reset info and per-step infos of one logged episode. */
type Owner = { job: TrialJobConfig; seed: number; resetInfo: Info; infos: Info[] };

/** π_e along each episode, the policy bound to that episode's env (patient) and reset with its reset info. */
function policyProbsPerEpisode(data: OpeData, owners: Owner[], pool: EnvPool, factory: (env: Env) => Policy): PolicyProbs {
  return data.trajectories.map((tr, i) => {
    const owner = owners[i] as Owner;
    const env = pool.get(owner.job.envId, owner.job.envOptions);
    const one: OpeData = { trajectories: [tr], nActions: data.nActions, gamma: data.gamma };
    return probsFromPolicy(one, factory(env), env, { resetInfos: [owner.resetInfo], infos: [owner.infos], seed: i })[0] as Float64Array;
  });
}

class ConstantAction implements Policy<number> {
  readonly kind = 'protocol' as const;
  readonly name = 'zero-treatment';
  act(): number {
    return 0;
  }
}

class GreedyOf implements Policy<number> {
  readonly kind = 'protocol' as const;
  readonly name = 'behaviour-cloning';
  constructor(private readonly predict: (o: Float32Array) => Float64Array) {}
  act(observation: Float32Array, _rng: Rng): number {
    const p = this.predict(observation);
    let best = 0;
    for (let a = 1; a < p.length; a++) if ((p[a] as number) > (p[best] as number)) best = a;
    return best;
  }
}

/** True values: each policy run on every logged episode's env options and reset seed; mean discounted return. */
function resimulate(data: OpeData, owners: Owner[], pool: EnvPool, factory: (env: Env) => Policy, gamma: number): Record<string, number> {
  const bc = estimateBehaviour(data).predict;
  const policies: [string, (env: Env) => Policy][] = [
    ['target', factory],
    ['random', (env) => makePolicy('random', env)],
    ['zero-treatment', () => new ConstantAction()],
    ['behaviour-cloning', () => new GreedyOf(bc)],
  ];
  const out: Record<string, number> = {};
  for (const [name, create] of policies) {
    let sum = 0;
    for (const owner of owners) {
      const env = pool.get(owner.job.envId, owner.job.envOptions);
      const r = evaluatePolicy(env, create(env), { seed: owner.job.policySeed, episodes: 1, episodeSeeds: [owner.seed], record: gamma !== 1 });
      const e = r.episodes[0];
      sum += gamma === 1 ? (e?.return ?? 0) : (e?.log?.steps.reduce((g, st, t) => g + st.reward * gamma ** t, 0) ?? 0);
    }
    out[name] = sum / owners.length;
  }
  out.behaviour = data.trajectories.reduce((s, tr) => s + tr.rewards.reduce((g, r, t) => g + r * gamma ** t, 0), 0) / data.trajectories.length;
  return out;
}

function formatReport(header: { logs: string; arm: string; behaviourPolicy: string; envId: string; target: string }, r: OpeReport, truth?: Record<string, number>): string {
  const f = (x: number) => (!Number.isFinite(x) ? 'n/a' : Math.abs(x) >= 1e6 ? x.toExponential(2) : x.toFixed(3));
  const lines: string[] = [];
  lines.push(`OPE of ${header.target} from ${r.n} episodes (${r.transitions} transitions, horizon ${r.horizon}) of arm ${header.arm} (${header.behaviourPolicy}) in ${header.logs}, env ${header.envId}, γ = ${r.gamma}`);
  lines.push(
    r.behaviour.source === 'logged'
      ? 'behaviour probabilities: logged'
      : `behaviour probabilities: NOT in the logs — estimated (${r.behaviour.model}); calibration ECE ${f(r.behaviour.calibration?.ece ?? Number.NaN)} (${r.behaviour.calibration?.method})`,
  );
  if (r.behaviour.source === 'estimated' && r.behaviour.calibration) {
    const bins = r.behaviour.calibration.bins.map((b) => `${b.lo.toFixed(1)}–${b.hi.toFixed(1)}: ${b.meanPredicted.toFixed(3)} → ${b.observedFrequency.toFixed(3)} (n ${b.n})`);
    lines.push(`reliability of π̂_b (bin: mean predicted → observed frequency): ${bins.join('; ')}`);
  }
  lines.push(`observed mean return of the logs (behaviour, on-policy): ${f(r.behaviour.observedValue)} [${f(r.behaviour.observedCi.lo)}, ${f(r.behaviour.observedCi.hi)}]`);
  lines.push(`95 % percentile bootstrap CIs over episodes: B = ${r.bootstrap.B} (FQE: ${r.bootstrap.BFqe} refits), seed ${r.bootstrap.seed}`);
  lines.push('');
  const rows: string[][] = [['policy', ...ESTIMATORS.map(String), 'ESS', 'FQE model', ...(truth ? ['true (re-simulated)'] : [])]];
  const truthOf = (p: PolicyEstimates, i: number): string => {
    if (!truth) return '';
    const key = i === 0 ? 'target' : p.name.startsWith('zero-treatment') ? 'zero-treatment' : p.name;
    return f(truth[key] ?? Number.NaN);
  };
  [r.target, ...r.baselines].forEach((p, i) => {
    rows.push([
      i === 0 ? `${p.name} (target)` : p.name,
      ...p.estimates.map((e) => `${f(e.value)} [${f(e.ci.lo)}, ${f(e.ci.hi)}]`),
      `${p.ess.toFixed(1)} (${(p.essFraction * 100).toFixed(1)} %)`,
      `${p.fqe.model}, coverage ${(p.fqe.coverage * 100).toFixed(0)} %`,
      ...(truth ? [truthOf(p, i)] : []),
    ]);
  });
  const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((row) => (row[c] as string).length)));
  for (const row of rows) lines.push(row.map((cell, c) => cell.padEnd(widths[c] as number)).join('  ').trimEnd());
  if (r.warnings.length) {
    lines.push('');
    for (const w of r.warnings) lines.push(`warning: ${w}`);
  }
  return `${lines.join('\n')}\n`;
}
