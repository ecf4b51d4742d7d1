import { describe, expect, it } from 'vitest';
import { trainDqn } from '../../agents/dqn.js';
import { type DqnConfig, parseDqnConfig } from '../../agents/dqn-config.js';
import type { Env, ResetOptions, ResetResult, StepResult } from '../../engine/env.js';
import { make } from '../../engine/registry.js';
import { Box } from '../../engine/spaces.js';
import { FrameStack, RecordEpisode, Wrapper } from '../../engine/wrappers.js';
import '../../environments/index.js';
import { timeToDurableClearance } from '../../environments/oncology/chemo-twin.js';
import { registerAllPolicies } from '../../policies/index.js';
import { frontLoaded } from '../../policies/oncology/chemo.js';
import { makePolicy } from '../../policies/registry.js';
import { CohortEnv, endpointsPerSeed, fmt, greedyPolicy, mean, memberOptions, pairedDifference } from './helpers.js';

/**
 * Chemotherapy with the cumulative-toxicity option: a trained DQN policy against the twin's registered
 * fixed protocols on held-out virtual patients.
 *
 * The fair comparison:
 * - Population `virtual-toxic` of the chemo twin (cohort seed 42): the illustrative IIV on r1, c2, a2, T0
 *   and the SYNTHETIC cumulative-exposure toxicity (environments/oncology/README-chemo.md), under which MTD
 *   kills and dosing decisions matter. (With the published parameters every protocol is near-optimal —
 *   see dqn-chemo-vancomycin.test.ts.)
 * - Training pool: patients 0–199 (a new one at every reset, `CohortEnv`). The kept weights are the
 *   candidate (every 50k steps) with the best exact mean endpoint of the greedy policy over all 200 pool
 *   patients (`selectionScore`, `validationScore` below). Held-out: patients 1000–1099, never seen in
 *   training or selection.
 * - Arms: the trained greedy policy and the registered baselines `oncology/chemo-mtd`, `-pulsed` (7/7),
 *   `-front-loaded` (20 days), default options, run on exactly the same held-out patients and reset seeds
 *   (paired). "Best fixed baseline" = the one with the best held-out mean (the most favourable choice).
 *   For information only, also the best front-loading duration chosen on the held-out patients (1…40 d).
 * - Endpoint: `time_to_durable_clearance` (chemo-twin.ts; lower is better): the day the tumour first falls
 *   below 1e−3 if the patient is alive and tumour-free at day 150, otherwise 150. It captures the
 *   trade-off: dosing too little leaves the tumour, dosing too long kills (the twin's
 *   `time_to_clearance` alone would credit a schedule that clears and then kills). Criterion: paired
 *   DQN − best baseline 95 % CI entirely below 0, for every training seed.
 * - Observation: (N, T, I, B, log10 T) (env option `observeLogTumour`) plus the day and the cumulative dose
 *   given so far (`ClinicalClock` below; both known to the treating clinician), stacked over the last 4
 *   decisions (engine `FrameStack`, 18 h of history: how the tumour responds to the dose, which is how the
 *   hidden r1, c2, a2 show). Same wrappers for all arms; the fixed schedules ignore the observation.
 * - Training reward (replaces the DTR-Bench reward; aligned with the endpoint): −0.01 per 6-h step until
 *   the tumour first falls below 1e−3, 0 after; on death, or at day 150 with the tumour back, the
 *   remainder so that the undiscounted return is exactly −endpoint/25. Plus potential-based shaping
 *   γΦ(s′) − Φ(s), Φ = c·clamp(−log10 T, 0, 3) with c = 1 (`durableClearanceReward`), which leaves the
 *   optimal policy unchanged (Ng, Harada & Russell 1999).
 *
 * Tried without success (all 1M env steps unless stated; paired DQN − front-loaded 20 d, seeds 0/1/2):
 * no shaping −0.21 / −0.96 / +2.07 d (CIs all crossing 0); shaping c = 1 (kept) −0.79 [−3.18, 1.61] /
 * +0.55 [−2.29, 3.39] / −0.18 [−0.64, 0.27]; c = 0.3 +1.10 [0.47, 1.73] / −0.43 / +0.07; c = 1 with 2M steps
 * +0.46 [−0.35, 1.27] / +1.02 [−0.10, 2.14] / +0.75 [−2.62, 4.12]; c = 3 with 2M steps +0.28 [−2.60,
 * 3.16] / +1.56 [−0.02, 3.14] / +0.13 [−0.40, 0.66]. Best exact pool mean per seed (front-loading: 79.33 d):
 * c = 1 80.04 / 80.28 / 79.27 (seed 2 the only run beating front-loading on the pool, by 0.06 d); the 2M
 * runs 79.55–80.18 d. Shaping helps a little at best; longer training did not.
 *
 * The ceiling, measured without training in chemo-headroom.test.ts: even a clairvoyant per-patient choice
 * of the front-loading duration gains only −2.67 [−5.23, −0.10] d on these held-out patients, and the
 * observable rules (blood-count monitoring, duration from the first day's response) land within ±1.3 d with
 * CIs spanning 0 — where the DQN lands.
 */
const COHORT_SEED = 42;
const POPULATION = 'virtual-toxic';
const POOL = Array.from({ length: 200 }, (_, i) => i);
const HELD = Array.from({ length: 100 }, (_, k) => 1000 + k);
const SEEDS = HELD.map((k) => 9_000_000 + k);
const TRAIN_SEEDS = [0, 1, 2];
const ENV_BASE = { observeNormal: true, observeLogTumour: true };
const FRAMES = 4;
/** Patients whose exact greedy endpoint picks the kept weights: the whole training pool (never held-out ones). */
const VALIDATION = POOL;
const VALIDATION_SEED = 1;
const HORIZON_STEPS = 600;
const STEP_REWARD = -0.01;
const ENDPOINT = 'time_to_durable_clearance';

/** Appends the day and the cumulative dose (dose·day, from the env's info) to the observation. */
class ClinicalClock extends Wrapper<number, number> {
  private readonly obs: Float32Array;
  private readonly space: Box;
  constructor(env: Env<number>) {
    super(env);
    const inner = env.observationSpace;
    const n = inner.size;
    this.obs = new Float32Array(n + 2);
    this.space = new Box([...inner.low, 0, 0], [...inner.high, 150, 150], [n + 2], [...(inner.labels ?? []), 'day', 'cumulativeDose']);
  }
  override get observationSpace(): Box {
    return this.space;
  }
  private write(observation: Float32Array, info: Record<string, unknown>): Float32Array {
    this.obs.set(observation);
    this.obs[observation.length] = info.day as number;
    this.obs[observation.length + 1] = info.cumulativeDose as number;
    return this.obs;
  }
  protected override resetWrapped(options: ResetOptions): ResetResult {
    const r = this.env.reset(options);
    return { ...r, observation: this.write(r.observation, r.info) };
  }
  protected stepWrapped(action: number): StepResult {
    const r = this.env.step(action);
    return this.withObservation(r, this.write(r.observation, r.info));
  }
}

/** Per-env episode state of the endpoint-aligned reward (`phi`: potential of the current state). */
const episodeState = new WeakMap<CohortEnv, { clearedAt: number; total: number; phi: number }>();

const GAMMA = 0.999;
/** Weight c of the shaping potential Φ = c·clamp(−log10 T, 0, 3). */
const SHAPING = 1;
const potential = (T: number): number => SHAPING * Math.min(3, Math.max(0, -Math.log10(Math.max(T, 1e-30))));

/**
 * The endpoint-aligned reward r plus potential-based shaping γΦ(s′) − Φ(s) (Ng, Harada & Russell 1999,
 * ICML "Policy invariance under reward transformations": any such term leaves the optimal policy
 * unchanged). Φ = c·clamp(−log10 T, 0, 3): credit for each step's tumour kill, at once, instead of only
 * at the clearance day; clamped at the clearance threshold so a cleared patient earns nothing more.
 * Φ = 0 at the initial (day-0) state — the day is in the state, so this is still a function of the
 * state — and at the terminal (death) state; at the day-150 truncation the agent bootstraps, as it must.
 */
function durableClearanceReward(result: StepResult, env: CohortEnv): number {
  let s = episodeState.get(env);
  if (!s || env.steps === 0) {
    s = { clearedAt: -1, total: 0, phi: 0 };
    episodeState.set(env, s);
  }
  const T = result.info.T as number;
  let r = s.clearedAt < 0 ? STEP_REWARD : 0;
  if (s.clearedAt < 0 && T < 1e-3) s.clearedAt = env.steps + 1;
  const failed = result.terminated || (result.truncated && !(T < 1e-3));
  if (failed) r = HORIZON_STEPS * STEP_REWARD - s.total;
  s.total += r;
  const phiNext = result.terminated ? 0 : potential(T);
  const shaped = r + GAMMA * phiNext - s.phi;
  s.phi = phiNext;
  return shaped;
}

/**
 * Why this configuration: as the vancomycin/published-chemo runs (double DQN, 3-step returns, 64×64,
 * target every 2k) with `running` normalisation (N…B, log T, day and dose have different scales), lr 3e-4,
 * γ 0.999 (toxic deaths come 15–60 days after the dosing that causes them; the γ 0.995 variants tried
 * gave seed 0 +0.75 and +0.89 d, this one −0.21 d), 1M env steps (≈ 70–95 s per seed here), kept weights chosen every 50k steps by
 * the exact pool score (`validationScore`); the 16-episode Monte Carlo evaluation is only logged.
 */
function chemoToxicConfig(totalSteps: number): DqnConfig {
  return parseDqnConfig({
    totalSteps,
    numEnvs: 8,
    learningRate: 3e-4,
    batchSize: 64,
    bufferSize: totalSteps,
    learningStarts: 5_000,
    trainFrequency: 1,
    gradientSteps: 1,
    targetUpdateInterval: 2_000,
    doubleDqn: true,
    nStep: 3,
    gamma: GAMMA,
    normalization: 'running',
    explorationFraction: 0.2,
    hidden: [64, 64],
    evalEvery: 50_000,
    evalEpisodes: 16,
    keepBest: true,
  });
}
const TOTAL_STEPS = 1_000_000;

/** What every arm sees: (N, T, I, B, log10 T, day, cumulative dose) over the last FRAMES decisions. */
const observe = (env: Env): Env => new FrameStack(new ClinicalClock(env as Env<number>), FRAMES) as unknown as Env;
const patientEnv = (patient: number): Env => observe(make('oncology/chemo-v1', { ...ENV_BASE, ...memberOptions('chemo', POPULATION, COHORT_SEED, patient) }));
const heldEnv = (k: number): Env => patientEnv(HELD[k] as number);
const trainEnv = (): Env => observe(new CohortEnv('oncology/chemo-v1', 'chemo', POPULATION, COHORT_SEED, POOL, ENV_BASE, durableClearanceReward) as unknown as Env);

/**
 * −mean time to durable clearance of the greedy policy over the validation (pool) patients — exact, as the
 * twin is deterministic: the same patients and seeds for every candidate, so candidates are compared
 * without the sampling noise of the periodic evaluation (whose patients are drawn at random).
 */
function validationScore(): (act: (observation: Float32Array) => number) => number {
  const envs = VALIDATION.map((p) => new RecordEpisode(patientEnv(p), { keyframeInterval: 0, selectInfo: (i) => ({ day: i.day, T: i.T, dead: i.dead }) }));
  return (act) => {
    let total = 0;
    for (const env of envs) {
      let r = env.reset({ seed: VALIDATION_SEED });
      let done = false;
      while (!done) {
        const s = env.step(act(r.observation));
        done = s.terminated || s.truncated;
        r = s;
      }
      total += timeToDurableClearance(env.lastEpisode as NonNullable<typeof env.lastEpisode>);
      env.episodes.length = 0;
    }
    return -total / envs.length;
  };
}

const IDS = [ENDPOINT, 'time_to_clearance', 'death', 'cleared', 'cumulative_dose'];
const BASELINES = ['oncology/chemo-mtd', 'oncology/chemo-pulsed', 'oncology/chemo-front-loaded'];

describe('DQN against the registered chemo protocols, cumulative-toxicity virtual patients', () => {
  // KNOWN FAILURE (it.fails: the honest assertion is kept and is expected to fail; if every seed ever
  // wins, this flips to a failure and the marker must go). See agents/README.md "Long learning checks"
  // for the full table. Measured (1M steps, potential-based shaping c = 1, 100 held-out patients):
  // front-loaded 20 d 88.49 d (best baseline; pulsed 89.87, MTD 150 — everyone dies), per-patient best
  // duration (an oracle) 85.82. DQN 87.70 / 89.04 / 88.31 d (seeds 0/1/2), paired DQN − front-loaded
  // −0.79 [−3.18, 1.61], +0.55 [−2.29, 3.39], −0.18 [−0.64, 0.27]. Seeds 0/1 save patient 1030 (−119 d)
  // and seed 1 loses patient 1008 (+71.5 d); seed 2 loses no patient but gains only 0.3–4.8 d on 32 and
  // loses up to 14.8 d on 19. The other variants tried (header) did no better. The earlier figures
  // (+2.16 / +6.19 / +3.48) were measured with a wrapper bug that froze (N, T, I, B) at its first-step
  // value (fixed in engine/wrappers.ts; see the README).
  it.fails(`oncology/chemo-v1 (${POPULATION}): shorter time to durable clearance than the best protocol, ${HELD.length} held-out patients, ${TRAIN_SEEDS.length} training seeds`, async () => {
    registerAllPolicies();
    const base: Record<string, ReturnType<typeof endpointsPerSeed>> = {};
    for (const arm of BASELINES) base[arm] = endpointsPerSeed('chemo', IDS, heldEnv, (env) => makePolicy(arm, env), SEEDS);
    const bestArm = BASELINES.reduce((a, b) => (mean(base[b]?.values[ENDPOINT] as number[]) < mean(base[a]?.values[ENDPOINT] as number[]) ? b : a));
    const bestValues = base[bestArm]?.values[ENDPOINT] as number[];
    let tuned = { days: 0, values: [] as number[] };
    for (let days = 1; days <= 40; days++) {
      const v = endpointsPerSeed('chemo', [ENDPOINT], heldEnv, (env) => frontLoaded(env, { days }), SEEDS).values[ENDPOINT] as number[];
      if (tuned.values.length === 0 || mean(v) < mean(tuned.values)) tuned = { days, values: v };
    }
    const lines = [
      `chemo ${POPULATION}: ${HELD.length} held-out patients; ${TOTAL_STEPS} env steps per training seed`,
      '| arm | time to durable clearance (d) | time to clearance (d) | death | cleared & alive | cumulative dose |',
      '|---|---|---|---|---|---|',
      ...Object.entries(base).map(([a, r]) => `| ${a} | ${IDS.map((id) => fmt(mean(r.values[id] as number[]), 3)).join(' | ')} |`),
      `| front-loaded, best duration on the held-out patients (${tuned.days} d) | ${fmt(mean(tuned.values), 3)} | | | | |`,
    ];
    const perSeed: string[] = ['| train seed | DQN durable clearance (d) | death | cleared | dose | paired DQN − ' + bestArm + ' [95 % CI] | vs front-loaded ' + tuned.days + ' d | train s | kept @ |', '|---|---|---|---|---|---|---|---|---|'];
    const his: number[] = [];
    for (const seed of TRAIN_SEEDS) {
      const start = performance.now();
      const pool = validationScore();
      let bestPool = -Infinity;
      const selectionScore = (act: (observation: Float32Array) => number): number => {
        const v = pool(act);
        bestPool = Math.max(bestPool, v);
        return v;
      };
      const result = await trainDqn({ envFactory: trainEnv, config: chemoToxicConfig(TOTAL_STEPS), seed, selectionScore });
      const seconds = (performance.now() - start) / 1000;
      const dqn = endpointsPerSeed('chemo', IDS, heldEnv, () => greedyPolicy(result, result.bestWeights), SEEDS);
      const v = dqn.values[ENDPOINT] as number[];
      const diff = pairedDifference(v, bestValues);
      const dTuned = pairedDifference(v, tuned.values);
      his.push(diff.hi);
      perSeed.push(
        `| ${seed} | ${fmt(mean(v))} | ${fmt(mean(dqn.values.death as number[]))} | ${fmt(mean(dqn.values.cleared as number[]))} | ${fmt(mean(dqn.values.cumulative_dose as number[]), 1)} | ${fmt(diff.mean)} [${fmt(diff.lo)}, ${fmt(diff.hi)}] | ${fmt(dTuned.mean)} [${fmt(dTuned.lo)}, ${fmt(dTuned.hi)}] | ${seconds.toFixed(0)} | ${result.bestEvaluation?.step} |`,
      );
      console.log(perSeed[perSeed.length - 1]);
      console.log(`seed ${seed}: best pool mean ${fmt(-bestPool)} d (kept @ ${result.bestEvaluation?.step})`);
      console.log(`seed ${seed} per-patient DQN − ${bestArm}: ${v.map((x, i) => fmt(x - (bestValues[i] as number), 1)).join(' ')}`);
      result.online.dispose();
      result.target.dispose();
    }
    console.log([...lines, '', ...perSeed].join('\n'));
    for (const hi of his) expect(hi).toBeLessThan(0);
  });
});
