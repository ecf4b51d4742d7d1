/**
 * Safety in learning on the glucose twin (#17 item 3): the same DQN trained and deployed
 *   - without a shield (and the same network deployed with the post-posed shield added afterwards),
 *   - with the post-posed shield in training and deployment (`shield: { mode: 'replace' }`),
 *   - with the mask inside the learner (`shield: { mode: 'mask' }`),
 *   - with the Lagrangian constraint on time below 70 mg/dL (`constraint: glucose/below-70`, budget 0.04),
 *   - with both the mask and the constraint (the example spec experiments/examples/train-glucose-safe.yaml),
 * all on the `glucose-adult` preset (agents/dqn-config.ts) and `glucose/t1d-v1` with the 10 named adults
 * and random meals, then evaluated — one random-meal day each — on 40 held-out generated adults (cohort
 * seed 2026, episode seeds 7 000 000 + k, the long check's), paired with basal-bolus. Interventions: the
 * proposals the shield `glucose/no-insulin-above-basal-when-low` masks per day (replaced in shielded arms,
 * only counted — taken — in the others).
 *
 *   npx tsx bench/dqn-safety-glucose.ts [--steps 150000] [--seeds 1] [--budget 0.04] [--lambda-lr 0.5] [--only none,replace,mask,lagrangian,mask+lagrangian]
 *
 * Prints a markdown table (means over patients, paired bootstrap CIs of the differences vs the
 * unshielded DQN) and returns bench figures. Wall times are inflated by the shared machine's load.
 */
import { type DqnResult, trainDqn } from '../agents/dqn.js';
import { type DqnConfigInput, GLUCOSE_ADULT } from '../agents/dqn-config.js';
import type { Env } from '../engine/env.js';
import { Rng } from '../engine/random.js';
import { make } from '../engine/registry.js';
import { type EndpointDefinition, getTwin } from '../engine/twin.js';
import '../environments/index.js';
import { bootstrapMeanCI } from '../experiments/stats.js';
import { evaluatePolicy } from '../policies/evaluate.js';
import { GreedyQPolicy } from '../policies/greedy-q.js';
import { registerAllPolicies } from '../policies/index.js';
import type { Policy } from '../policies/policy.js';
import { makePolicy } from '../policies/registry.js';
import { MaskedQPolicy, ShieldedPolicy, resolveShield, shielded } from '../policies/shield.js';
import type { BenchResult } from './types.js';
import { numberOption, runAsMain } from './util.js';

const N = 40;
const HELD_OUT_COHORT_SEED = 2026;
const SEEDS = Array.from({ length: N }, (_, k) => 7_000_000 + k);
const ENDPOINTS = ['tir', 'tbr70', 'tbr54', 'tar180', 'severe_hypo'] as const;
const TRAIN_OPTIONS = { cohort: 'adult', scenario: 'random' } as const;
const heldOutEnv = (k: number): Env => make('glucose/t1d-v1', { patient: { group: 'adult', seed: HELD_OUT_COHORT_SEED, index: k }, scenario: 'random' });

interface ArmResult {
  values: Record<string, number[]>;
  /** Per patient: proposals the shield masks (replaced when the arm enforces it). */
  interventions: number[];
}

/** One recorded day per held-out patient; the policy is wrapped by a monitoring shield that counts masked proposals. */
function evaluateArm(makeArmPolicy: (env: Env) => Policy): ArmResult {
  const twin = getTwin('glucose');
  const shield = resolveShield(twin, true);
  const values: Record<string, number[]> = Object.fromEntries(ENDPOINTS.map((id) => [id, [] as number[]]));
  const interventions: number[] = [];
  SEEDS.forEach((seed, k) => {
    const env = heldOutEnv(k);
    const inner = makeArmPolicy(env);
    // a shielded arm counts its own replacements; any other arm is monitored (masked proposals taken, counted)
    const counted = inner instanceof ShieldedPolicy ? inner : shielded(inner, shield, env, { enforce: false });
    const run = evaluatePolicy(env, counted, { seed, episodes: 1, episodeSeeds: [seed], record: true });
    const log = run.episodes[0]?.log;
    if (!log) throw new Error('evaluatePolicy did not record the episode');
    for (const id of ENDPOINTS) (values[id] as number[]).push((twin.endpoints.find((e) => e.id === id) as EndpointDefinition).compute(log));
    interventions.push(counted.interventions);
    env.close?.();
  });
  return { values, interventions };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : String(x));

function ci(a: number[], b: number[], tag: string): string {
  const c = bootstrapMeanCI(
    a.map((x, i) => x - (b[i] as number)),
    Rng.fromSeed(17).fork(tag),
    { resamples: 10_000 },
  );
  return `${fmt(c.estimate, 2)} [${fmt(c.lower, 2)}, ${fmt(c.upper, 2)}]`;
}

function greedy(result: DqnResult): GreedyQPolicy {
  if (result.bestWeights) result.online.setWeights(result.bestWeights);
  return new GreedyQPolicy(result.online.toDenseLayers(), { name: 'dqn', normalization: result.normalizer.toSpec() });
}

export async function run(): Promise<BenchResult[]> {
  registerAllPolicies();
  const steps = numberOption('--steps', GLUCOSE_ADULT.totalSteps);
  const numSeeds = numberOption('--seeds', 1);
  const budget = numberOption('--budget', 0.04);
  const lambdaLr = numberOption('--lambda-lr', 0.5);
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt > 0 ? new Set((process.argv[onlyAt + 1] ?? '').split(',')) : null;
  const shield = resolveShield(getTwin('glucose'), true);
  const base: DqnConfigInput = { ...GLUCOSE_ADULT, totalSteps: steps, bufferSize: Math.min(GLUCOSE_ADULT.bufferSize, steps), backend: 'wasm' };
  type Deployment = { label: string; make: (p: GreedyQPolicy, env: Env) => Policy };
  const asTrained = (make: Deployment['make']): Deployment[] => [{ label: 'as trained', make }];
  const variants: { name: string; config: DqnConfigInput; deployments: Deployment[] }[] = [
    {
      name: 'none',
      config: base,
      deployments: [
        { label: 'as trained', make: (p, env) => p.bindTo(env) },
        { label: 'post-posed shield added', make: (p, env) => shielded(p.bindTo(env), shield, env) },
      ],
    },
    { name: 'replace', config: { ...base, shield: { mode: 'replace' } }, deployments: asTrained((p, env) => shielded(p.bindTo(env), shield, env)) },
    { name: 'mask', config: { ...base, shield: { mode: 'mask' } }, deployments: asTrained((p, env) => new MaskedQPolicy(p.bindTo(env), shield, env)) },
    {
      name: 'lagrangian',
      config: { ...base, constraint: { cost: 'glucose/below-70', budget, lambdaLearningRate: lambdaLr } },
      deployments: asTrained((p, env) => p.bindTo(env)),
    },
    {
      name: 'mask+lagrangian',
      config: { ...base, shield: { mode: 'mask' }, constraint: { cost: 'glucose/below-70', budget, lambdaLearningRate: lambdaLr } },
      deployments: asTrained((p, env) => new MaskedQPolicy(p.bindTo(env), shield, env)),
    },
  ];
  const reference = evaluateArm((env) => makePolicy('glucose/basal-bolus', env));
  const lines: string[] = [
    `training: glucose-adult preset, ${steps} env steps, 10 named adults, random meals; held-out: ${N} generated adults (cohort seed ${HELD_OUT_COHORT_SEED}), one random-meal day each`,
    `constraint: glucose/below-70, budget ${budget}, η ${lambdaLr}`,
    '| seed | trained with | deployed with | TIR % | TBR70 % | TBR54 % | severe hypo days | masked proposals / day | ΔTIR vs DQN (none) | ΔTBR70 vs DQN (none) | train s | λ end | training cost, last 20 % of episodes |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const row = (seed: string, trained: string, deployed: string, a: ArmResult, ref: ArmResult | null, seconds: string, lambda: string, cost = '—') =>
    `| ${seed} | ${trained} | ${deployed} | ${fmt(mean(a.values.tir as number[]))} | ${fmt(mean(a.values.tbr70 as number[]), 2)} | ${fmt(mean(a.values.tbr54 as number[]), 2)} | ${mean(a.values.severe_hypo as number[]) * N} | ${fmt(mean(a.interventions), 2)} | ` +
    `${ref ? ci(a.values.tir as number[], ref.values.tir as number[], `tir/${seed}/${trained}/${deployed}`) : '—'} | ${ref ? ci(a.values.tbr70 as number[], ref.values.tbr70 as number[], `tbr/${seed}/${trained}/${deployed}`) : '—'} | ${seconds} | ${lambda} | ${cost} |`;
  lines.push(row('—', 'basal-bolus', '—', reference, null, '—', '—'));
  const results: BenchResult[] = [];
  for (let seed = 0; seed < numSeeds; seed++) {
    let unshielded: ArmResult | null = null;
    for (const v of variants) {
      if (only && !only.has(v.name)) continue;
      const costs: number[] = [];
      const t0 = performance.now(); // clock-ok: a benchmark
      const trained = await trainDqn({
        envFactory: () => make('glucose/t1d-v1', TRAIN_OPTIONS),
        config: v.config,
        seed,
        onEvent: (e) => {
          if (e.type === 'episode.ended' && e.data.metrics?.cost !== undefined) costs.push(e.data.metrics.cost);
        },
      });
      const tail = costs.slice(Math.floor(costs.length * 0.8));
      const trainCost = tail.length > 0 ? fmt(mean(tail), 3) : '—';
      const seconds = (performance.now() - t0) / 1000; // clock-ok
      const policy = greedy(trained);
      for (const deployment of v.deployments) {
        const result = evaluateArm((env) => deployment.make(policy, env));
        const isRef = v.name === 'none' && deployment.label === 'as trained';
        if (isRef) unshielded = result;
        lines.push(row(String(seed), v.name, deployment.label, result, isRef ? null : unshielded, seconds.toFixed(0), trained.lambda === undefined ? '—' : fmt(trained.lambda, 3), trainCost));
        results.push(
          { name: `seed ${seed} ${v.name} (${deployment.label}) TIR`, value: mean(result.values.tir as number[]), unit: '%' },
          { name: `seed ${seed} ${v.name} (${deployment.label}) TBR70`, value: mean(result.values.tbr70 as number[]), unit: '%' },
          { name: `seed ${seed} ${v.name} (${deployment.label}) masked proposals`, value: mean(result.interventions), unit: '/day' },
        );
      }
      results.push({ name: `seed ${seed} ${v.name} training`, value: seconds, unit: 's', note: `training interventions ${trained.shield?.interventions ?? '—'}` });
      trained.online.dispose();
      trained.target.dispose();
    }
  }
  console.log(lines.join('\n'));
  return results;
}

runAsMain(import.meta.url, run);
