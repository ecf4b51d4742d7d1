import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DqnCheckpoint, loadCheckpoint, saveCheckpoint } from '../../agents/checkpoint.js';
import { type DqnResult, tdTargets, trainDqn } from '../../agents/dqn.js';
import { type DqnConfigInput, parseDqnConfig } from '../../agents/dqn-config.js';
import { DualAscent, bindCost, resolveCost } from '../../agents/lagrangian.js';
import { ReplayBuffer, allocateBatch } from '../../agents/replay-buffer.js';
import { savePolicy } from '../../agents/save.js';
import { BaseEnv, type Env, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import type { EpisodeLog } from '../../engine/episode-log.js';
import type { TwinlabEvent } from '../../engine/events.js';
import { make } from '../../engine/registry.js';
import { Rng } from '../../engine/random.js';
import { Box, Discrete } from '../../engine/spaces.js';
import { type CostDefinition, type EndpointDefinition, getTwin, registerTwin, type ShieldDefinition, type TwinDefinition } from '../../engine/twin.js';
import { TimeLimit, Wrapper } from '../../engine/wrappers.js';
import { type ExplicitMdp, MdpEnv, type Outcome } from '../../agents/tabular.js';
import '../../environments/index.js';
import { InlineExecutor } from '../../experiments/executor.js';
import { buildReport } from '../../experiments/report-builder.js';
import { runExperiment } from '../../experiments/runner.js';
import { validateSpec } from '../../experiments/spec.js';
import { Store } from '../../experiments/store.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import type { Policy } from '../../policies/policy.js';
import { loadSavedPolicy } from '../../policies/saved.js';

const BACKEND = 'wasm' as const;

// ---- a masked toy: 4 states × 4 actions, random moves; the masked actions pay the most ---------

const S = 4;
/** Masked in state s: actions s and s + 1 (mod 4) — and a = s is the best-paid action (1 vs 0.2). */
const isMasked = (s: number, a: number): boolean => a === s || a === (s + 1) % S;

function maskMdp(): ExplicitMdp {
  const transitions: Outcome[][][] = [];
  for (let s = 0; s < S; s++) {
    const row: Outcome[][] = [];
    for (let a = 0; a < S; a++) row.push(Array.from({ length: S }, (_, next) => ({ prob: 1 / S, next, reward: a === s ? 1 : 0.2, done: false })));
    transitions.push(row);
  }
  return { numStates: S, numActions: S, transitions };
}

/** Counts the steps that took an action the toy shield masks (from the env's true state). */
class Audit extends Wrapper<number, number> {
  violations = 0;
  steps = 0;
  constructor(private readonly mdp: MdpEnv) {
    super(mdp);
  }
  protected stepWrapped(action: number): StepResult {
    this.steps++;
    if (isMasked(this.mdp.currentState, action)) this.violations++;
    return this.env.step(action);
  }
}

/** The toy shield reads the state from the info (so the reset info after an autoreset must reach it). */
const TOY_SHIELD: ShieldDefinition = {
  id: 'toy/no-greed',
  title: 'toy mask',
  rationale: 'test fixture (2026)',
  bind: () => ({
    mask(_observation, info, allowed) {
      const s = info.state as number;
      for (let a = 0; a < S; a++) allowed[a] = isMasked(s, a) ? 0 : 1;
      return allowed;
    },
    safest(_action, allowed) {
      return allowed.indexOf(1);
    },
  }),
};

// ---- a toy CMDP: 10 steps; action 1 pays more (0.6 + 0.2·t) but costs 1, action 0 pays 0.5 for free

const T = 10;
class CmdpEnv extends BaseEnv<number> {
  readonly id = 'test/cmdp-v0';
  readonly observationSpace = new Box(0, 1, [T]);
  readonly actionSpace = new Discrete(2);
  private t = 0;
  private readonly observation = new Float32Array(T);
  protected resetEnv(_options: ResetOptions): ResetResult {
    this.t = 0;
    this.observation.fill(0);
    this.observation[0] = 1;
    return { observation: this.observation, info: { t: 0 } };
  }
  protected stepEnv(action: number): StepResult {
    const t = this.t;
    const reward = action === 1 ? riskyReward(t) : 0.5;
    this.t = t + 1;
    this.observation.fill(0);
    if (this.t < T) this.observation[this.t] = 1;
    return { observation: this.observation, reward, terminated: this.t >= T, truncated: false, info: { t: this.t, cost: action === 1 ? 1 : 0 } };
  }
  getState(): unknown {
    return { t: this.t };
  }
  setState(state: unknown): void {
    this.t = (state as { t: number }).t;
    this.observation.fill(0);
    if (this.t < T) this.observation[this.t] = 1;
  }
}
const riskyReward = (t: number): number => 0.6 + 0.2 * t;

const TOY_COST: CostDefinition = {
  id: 'toy/risk',
  title: 'risky steps',
  unit: '1 per risky step',
  rationale: 'test fixture (2026)',
  bind: () => ({ cost: (info) => info.cost as number }),
};

const TOY_TWIN: TwinDefinition = {
  id: 'toy-safety',
  title: 'toy',
  envIds: ['test/mdp-v0', 'test/cmdp-v0'],
  defaultEnvId: 'test/mdp-v0',
  endpoints: [],
  primaryEndpoints: [],
  populations: [],
  cohortMember: () => {
    throw new Error('no cohorts');
  },
  shields: [TOY_SHIELD],
  costs: [TOY_COST],
};

const MASK_CONFIG: DqnConfigInput = {
  totalSteps: 100_000,
  learningStarts: 500,
  batchSize: 32,
  learningRate: 3e-3,
  hidden: [16],
  gamma: 0.5,
  trainFrequency: 8,
  gradientSteps: 1,
  targetUpdateInterval: 500,
  explorationFraction: 0.5,
  explorationFinal: 0.1,
  evalEvery: 0,
  evalEpisodes: 4,
  metricsEvery: 10_000,
  backend: BACKEND,
};

function maskEnvs(): { factory: () => Env; audits: Audit[] } {
  const audits: Audit[] = [];
  const factory = (): Env => {
    const audit = new Audit(new MdpEnv(maskMdp(), [0, 1, 2, 3]));
    audits.push(audit);
    return new TimeLimit(audit, 20);
  };
  return { factory, audits };
}

function dispose(...results: DqnResult[]): void {
  for (const r of results) {
    r.online.dispose();
    r.target.dispose();
  }
}

describe('DQN with a shield in mask mode (masking inside the learner)', () => {
  it('never takes a masked action over 10^5 training steps (warm-up, ε draws and greedy) nor in its evaluations; without the mask it does', async () => {
    const masked = maskEnvs();
    const result = await trainDqn({ envFactory: masked.factory, config: { ...MASK_CONFIG, shield: { mode: 'mask' } }, seed: 3, twin: TOY_TWIN });
    const [train, ...evals] = masked.audits;
    expect(train?.steps).toBe(100_000);
    expect(train?.violations).toBe(0);
    expect(evals.reduce((n, a) => n + a.steps, 0)).toBeGreaterThan(0);
    expect(evals.reduce((n, a) => n + a.violations, 0)).toBe(0);
    expect(result.shield).toEqual({ id: 'toy/no-greed', mode: 'mask', interventions: 0 });
    // the rule bites: the plain DQN on the same toy learns to take the well-paid masked action a = s
    const plain = maskEnvs();
    const unmasked = await trainDqn({ envFactory: plain.factory, config: { ...MASK_CONFIG, totalSteps: 20_000 }, seed: 3, twin: TOY_TWIN });
    expect(plain.audits[0]?.violations).toBeGreaterThan(5_000);
    expect(unmasked.finalEvaluation.meanReturn).toBeGreaterThan(result.finalEvaluation.meanReturn);
    dispose(result, unmasked);
  }, 60_000);

  it('in replace mode (post-posed) replaces and counts the masked choices; the env never sees one', async () => {
    const envs = maskEnvs();
    const events: TwinlabEvent[] = [];
    const result = await trainDqn({
      envFactory: envs.factory,
      config: { ...MASK_CONFIG, totalSteps: 10_000, metricsEvery: 2_000, shield: { mode: 'replace' } },
      seed: 4,
      twin: TOY_TWIN,
      onEvent: (e) => events.push(e),
    });
    expect(envs.audits.reduce((n, a) => n + a.violations, 0)).toBe(0);
    // uniform warm-up and ε draws propose a masked action half of the time: thousands of interventions
    expect(result.shield?.mode).toBe('replace');
    expect(result.shield?.interventions).toBeGreaterThan(1_000);
    const metrics = events.flatMap((e) => (e.type === 'train.metrics' ? [e.data] : []));
    expect(metrics.reduce((n, m) => n + (m.shieldInterventions ?? 0), 0)).toBeLessThanOrEqual(result.shield?.interventions ?? 0);
    for (const m of metrics) expect(m.shieldInterventionRate).toBeGreaterThan(0);
    dispose(result);
  }, 30_000);

  it('the masked TD target equals the hand-computed value (vanilla and double DQN, ties, costs with λ, terminal rows)', () => {
    const A = 3;
    const rewards = Float32Array.from([1, 1, 1, 2]);
    const discounts = Float32Array.from([0.9, 0.9, 0.81, 0.9]);
    const dones = Float32Array.from([0, 0, 0, 1]);
    // Q_target(s′) rows: the unmasked max of row 0 is action 0 (5), masked
    const qNext = Float32Array.from([5, 2, 3, 1, 4, 4, 7, 1, 1, 9, 9, 9]);
    const nextMasks = Uint8Array.from([0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1]);
    const out = new Float32Array(4);
    const close = (actual: ArrayLike<number>, expected: number[]): void => {
      expect(actual.length).toBe(expected.length);
      expected.forEach((y, i) => expect(actual[i]).toBeCloseTo(y, 5));
    };
    const base = { rows: 4, numActions: A, row0: 0, rewards, discounts, dones, qNext, qNextRow0: 0, qSelect: null, costs: null, lambda: 0, out };
    tdTargets({ ...base, nextMasks });
    // row 0: max over {1, 2} = 3 → 1 + 0.9·3; row 1: tie 4 = 4 at actions 1, 2 → 1 + 0.9·4; row 2: max over {1, 2} = 1 (not 7) → 1 + 0.81·1; row 3 terminal → 2
    close(out, [1 + 0.9 * 3, 1 + 0.9 * 4, 1 + 0.81 * 1, 2]);
    tdTargets({ ...base, nextMasks: null });
    close(out, [1 + 0.9 * 5, 1 + 0.9 * 4, 1 + 0.81 * 7, 2]);
    // double DQN: the online net chooses among the allowed actions, the target net values the choice
    const qSelect = Float32Array.from([9, 1, 2, 0, 0, 5, 0, 3, 2, 0, 0, 0]);
    tdTargets({ ...base, qSelect, nextMasks });
    close(out, [1 + 0.9 * 3, 1 + 0.9 * 4, 1 + 0.81 * 1, 2]);
    qSelect.set([0, 5, 2], 0); // now the online net picks action 1 of row 0: Q_target(s′, 1) = 2
    tdTargets({ ...base, qSelect, nextMasks });
    expect(out[0]).toBeCloseTo(1 + 0.9 * 2, 5);
    // costs: y = (R − λ·C) + γᵏ·(1 − done)·Q
    const costs = Float32Array.from([2, 0, 1, 4]);
    tdTargets({ ...base, nextMasks, costs, lambda: 0.25 });
    close(out, [0.5 + 0.9 * 3, 1 + 0.9 * 4, 0.75 + 0.81 * 1, 1]);
    // batch rows from row0 with Q rows from qNextRow0
    const shifted = new Float32Array(2);
    tdTargets({ ...base, rows: 2, row0: 2, qNext: qNext.subarray(6), qNextRow0: 0, nextMasks, out: shifted });
    close(shifted, [1 + 0.81 * 1, 2]);
  });

  it('the replay buffer stores next-state masks and costs per transition and restores them from a snapshot', () => {
    const buffer = new ReplayBuffer(4, 1, { maskWidth: 3, costs: true });
    const masks = Uint8Array.from([1, 0, 1, 0, 1, 1]);
    for (let k = 0; k < 6; k++) {
      const slot = buffer.add(Float32Array.of(k), k % 3, k, Float32Array.of(k + 1), false, 0.9);
      buffer.setExtras(slot, masks, (k % 2) * 3, k / 10);
    }
    expect(ReplayBuffer.bytesPerTransition(1, { maskWidth: 3, costs: true })).toBe(ReplayBuffer.bytesPerTransition(1) + 3 + 4);
    const batch = allocateBatch(2, 1, { maskWidth: 3, costs: true });
    batch.indices.set([0, 3]); // slot 0 holds transition 4 (ring), slot 3 transition 3
    buffer.gather(batch);
    expect(Array.from(batch.observations)).toEqual([4, 3]);
    expect(Array.from(batch.nextMasks)).toEqual([1, 0, 1, 0, 1, 1]);
    expect(Array.from(batch.costs)).toEqual([0.4, 0.3].map(Math.fround));
    const copy = new ReplayBuffer(4, 1, { maskWidth: 3, costs: true });
    copy.restoreState(buffer.saveState());
    const again = allocateBatch(2, 1, { maskWidth: 3, costs: true });
    again.indices.set([0, 3]);
    copy.gather(again);
    expect(again).toEqual(batch);
    expect(() => new ReplayBuffer(4, 1, { maskWidth: 3 }).restoreState(new ReplayBuffer(4, 1).saveState())).toThrow(/lacks next-state masks/);
  });

  it('the saved policy carries the shield: loaded, it acts as the masked argmax and never proposes a masked action', async () => {
    registerTwin(TOY_TWIN); // the loader finds the shield through the twin that lists the env id
    const envs = maskEnvs();
    const result = await trainDqn({ envFactory: envs.factory, config: { ...MASK_CONFIG, totalSteps: 3_000 }, seed: 5, twin: TOY_TWIN });
    // trained without the mask, so its unmasked greedy choice is often a masked action
    const dir = mkdtempSync(join(tmpdir(), 'twinlab-masked-policy-'));
    try {
      await savePolicy(dir, result.online, {
        envId: 'test/mdp-v0',
        normalization: result.normalizer.toSpec(),
        shield: { id: 'toy/no-greed', mode: 'mask' },
        provenance: { seed: 5, config: {}, codeVersion: 'test', trainedSteps: result.steps },
      });
      expect(JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8')).shield).toEqual({ id: 'toy/no-greed', mode: 'mask' });
      const handle = await loadSavedPolicy(dir);
      const mdp = new MdpEnv(maskMdp(), [0, 1, 2, 3]);
      const policy = handle.create(mdp);
      expect(policy.name).toBe('greedy-q:test/mdp-v0+mask:toy/no-greed');
      const q = result.online.predict(Float32Array.from([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), 4);
      const rng = Rng.fromSeed(1);
      let unmaskedWouldViolate = 0;
      for (let s = 0; s < S; s++) {
        const obs = new Float32Array(S);
        obs[s] = 1;
        const a = policy.act(obs, rng, { state: s }) as number;
        expect(isMasked(s, a)).toBe(false);
        // a is the argmax of Q over the allowed actions
        const allowedQ = [0, 1, 2, 3].filter((b) => !isMasked(s, b)).map((b) => q[s * S + b] as number);
        expect(q[s * S + a]).toBe(Math.max(...allowedQ));
        const row = Array.from(q.subarray(s * S, s * S + S));
        if (isMasked(s, row.indexOf(Math.max(...row)))) unmaskedWouldViolate++;
      }
      expect(unmaskedWouldViolate).toBeGreaterThan(0);
      // replace mode loads as the post-posed shield
      await savePolicy(dir, result.online, {
        envId: 'test/mdp-v0',
        normalization: result.normalizer.toSpec(),
        shield: { id: 'toy/no-greed', mode: 'replace' },
        provenance: { seed: 5, config: {}, codeVersion: 'test', trainedSteps: result.steps },
      });
      expect((await loadSavedPolicy(dir)).create(mdp).name).toBe('greedy-q:test/mdp-v0+shield:toy/no-greed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      dispose(result);
    }
  }, 30_000);
});

// ---- constrained (Lagrangian) training ----------------------------------------------------------

const CMDP_CONFIG: DqnConfigInput = {
  totalSteps: 30_000,
  learningStarts: 500,
  batchSize: 32,
  learningRate: 3e-3,
  hidden: [32],
  gamma: 0.5,
  trainFrequency: 4,
  gradientSteps: 1,
  targetUpdateInterval: 200,
  explorationFraction: 0.3,
  explorationFinal: 0.05,
  evalEvery: 0,
  evalEpisodes: 1,
  metricsEvery: 1_000,
  backend: BACKEND,
};
const BUDGET = 0.3;
const CONSTRAINT = { cost: 'toy/risk', budget: BUDGET, lambdaLearningRate: 0.02 };

/** Mean cost (risky steps / T) and return of the trained greedy policy, from its Q-values on the 10 states. */
function greedyCmdp(result: DqnResult): { cost: number; ret: number } {
  const input = new Float32Array(T * T);
  for (let t = 0; t < T; t++) input[t * T + t] = 1;
  const q = result.online.predict(input, T);
  let risky = 0;
  let ret = 0;
  for (let t = 0; t < T; t++) {
    const a = (q[2 * t + 1] as number) > (q[2 * t] as number) ? 1 : 0;
    risky += a;
    ret += a === 1 ? riskyReward(t) : 0.5;
  }
  return { cost: risky / T, ret };
}

describe('constrained DQN (Lagrangian dual ascent on a cost signal)', () => {
  it('on a toy CMDP the constrained run converges to a greedy policy within the budget, the unconstrained one does not; λ ≥ 0 throughout', async () => {
    const events: TwinlabEvent[] = [];
    // periodic evaluations and keepBest do not change training (own envs, no draws from its streams)
    const constrained = await trainDqn({
      envFactory: () => new CmdpEnv(),
      config: { ...CMDP_CONFIG, constraint: CONSTRAINT, evalEvery: 1_500, keepBest: true },
      seed: 1,
      twin: TOY_TWIN,
      onEvent: (e) => events.push(e),
    });
    const unconstrained = await trainDqn({ envFactory: () => new CmdpEnv(), config: CMDP_CONFIG, seed: 1, twin: TOY_TWIN });
    const c = greedyCmdp(constrained);
    const u = greedyCmdp(unconstrained);
    // unconstrained: risky at every step (0.6 + 0.2t > 0.5) — cost 1, far above the budget
    expect(u.cost).toBe(1);
    // constrained: within the budget, yet using it (risky on the best-paid late steps, not all-safe)
    expect(c.cost).toBeLessThanOrEqual(BUDGET);
    expect(c.cost).toBeGreaterThanOrEqual(0.2);
    expect(c.ret).toBeGreaterThan(0.5 * T);
    // the greedy choice is r − λ·c: risky iff 0.6 + 0.2t − λ > 0.5 (the γ-terms are equal for both actions, which do not
    // move the state), so 3 risky steps (t = 7, 8, 9: cost = d) need λ ∈ [1.3, 1.5) and 2 need [1.5, 1.7); seed 1 ends at 1.49
    expect(constrained.lambda).toBeGreaterThan(1.2);
    expect(constrained.lambda).toBeLessThan(1.8);
    const episodes = events.flatMap((e) => (e.type === 'episode.ended' ? [e.data.metrics as { cost: number; lambda: number }] : []));
    expect(episodes.length).toBe(constrained.episodes);
    for (const m of episodes) expect(m.lambda).toBeGreaterThanOrEqual(0);
    // the training cost approaches the budget: mean over the last quarter of the episodes within 0.1 of d
    const tail = episodes.slice(Math.floor((episodes.length * 3) / 4));
    expect(Math.abs(tail.reduce((s, m) => s + m.cost, 0) / tail.length - BUDGET)).toBeLessThan(0.1);
    // kept weights: feasibility first — early greedy policies (risky everywhere: return 15, cost 1) out-earn every
    // feasible one, yet the kept evaluation is the best-paid of those within the budget
    const evals = constrained.evaluations;
    expect(evals.every((e) => e.meanCost !== undefined)).toBe(true);
    const feasible = evals.filter((e) => (e.meanCost as number) <= BUDGET);
    expect(feasible.length).toBeGreaterThan(0);
    expect(evals.some((e) => (e.meanCost as number) > BUDGET && e.meanReturn > Math.max(...feasible.map((f) => f.meanReturn)))).toBe(true);
    expect(constrained.bestEvaluation?.meanCost).toBeLessThanOrEqual(BUDGET);
    expect(constrained.bestEvaluation?.meanReturn).toBe(Math.max(...feasible.map((f) => f.meanReturn)));
    const metrics = events.flatMap((e) => (e.type === 'train.metrics' ? [e.data] : []));
    expect(metrics.length).toBeGreaterThan(10);
    for (const m of metrics) {
      expect(m.lambda).toBeGreaterThanOrEqual(0);
      expect(m.constraintViolation).toBeCloseTo((m.episodeCost as number) - BUDGET, 12);
    }
    dispose(constrained, unconstrained);
  }, 60_000);

  it('λ stays at 0 when the budget is never exceeded, and the dual step is projected onto [0, λmax]', async () => {
    const events: TwinlabEvent[] = [];
    const loose = await trainDqn({
      envFactory: () => new CmdpEnv(),
      config: { ...CMDP_CONFIG, totalSteps: 3_000, constraint: { ...CONSTRAINT, budget: 1 } },
      seed: 2,
      twin: TOY_TWIN,
      onEvent: (e) => events.push(e),
    });
    expect(loose.lambda).toBe(0);
    for (const e of events) if (e.type === 'episode.ended') expect((e.data.metrics as { lambda: number }).lambda).toBe(0);
    dispose(loose);
    const dual = new DualAscent(0.1, 0.5, 1, 2);
    expect(dual.update(0)).toBe(0); // 0.1 + (0 − 0.5) < 0 → 0
    expect(dual.update(0.7)).toBeCloseTo(0.2, 12);
    expect(dual.update(5)).toBe(2); // clipped at λmax
    expect(() => dual.update(Number.NaN)).toThrow(/not finite/);
  }, 30_000);

  it('same seed → same weights hash, λ and events; a run resumed from a checkpoint ends identical (mask + constraint, n-step, 2 envs)', async () => {
    const config: DqnConfigInput = {
      ...CMDP_CONFIG,
      totalSteps: 2_000,
      numEnvs: 2,
      nStep: 3,
      checkpointEvery: 800,
      evalEvery: 1_000,
      keepBest: true,
      shield: { mode: 'mask' },
      constraint: CONSTRAINT,
    };
    // the CMDP has no toy mask of its own: a shield that forbids the risky action at t = 0 and 5 (reads info.t)
    const twin: TwinDefinition = {
      ...TOY_TWIN,
      shields: [
        {
          ...TOY_SHIELD,
          bind: () => ({
            mask: (_o, info, allowed) => {
              allowed[0] = 1;
              allowed[1] = info.t === 0 || info.t === 5 ? 0 : 1;
              return allowed;
            },
            safest: () => 0,
          }),
        },
      ],
    };
    const run = (extra: Partial<Parameters<typeof trainDqn>[0]> = {}) => {
      const events: TwinlabEvent[] = [];
      return trainDqn({ envFactory: () => new CmdpEnv(), config, seed: 9, twin, onEvent: (e) => events.push(e), ...extra }).then((r) => ({ r, events }));
    };
    const a = await run();
    const b = await run();
    expect(b.r.weightsHash).toBe(a.r.weightsHash);
    expect(b.r.lambda).toBe(a.r.lambda);
    const strip = (es: TwinlabEvent[]) => es.map((e) => (e.type === 'train.metrics' ? { ...e, data: { ...e.data, stepsPerSecond: 0 } } : e));
    expect(strip(b.events)).toEqual(strip(a.events));
    const other = await trainDqn({ envFactory: () => new CmdpEnv(), config, seed: 10, twin });
    expect(other.weightsHash).not.toBe(a.r.weightsHash);

    const checkpoints: DqnCheckpoint[] = [];
    const taken = await run({ checkpoint: (c) => void checkpoints.push(c) });
    expect(taken.r.weightsHash).toBe(a.r.weightsHash);
    expect(checkpoints[0]?.shield?.masks.length).toBe(4);
    expect(checkpoints[0]?.constraint?.lambda).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), 'twinlab-safety-ckpt-'));
    try {
      saveCheckpoint(dir, checkpoints[0] as DqnCheckpoint);
      const resumed = await run({ resumeFrom: loadCheckpoint(dir) });
      expect(resumed.r.weightsHash).toBe(a.r.weightsHash);
      expect(resumed.r.lambda).toBe(a.r.lambda);
      expect(resumed.r.finalEvaluation.hash).toBe(a.r.finalEvaluation.hash);
      dispose(resumed.r);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    dispose(a.r, b.r, other, taken.r);
  }, 60_000);
});

describe('safety config validation', () => {
  it('errors name the field', async () => {
    expect(() => parseDqnConfig({ shield: { mode: 'block' } })).toThrow(/shield\.mode: .*\(got "block"\)/);
    expect(() => parseDqnConfig({ shield: { id: 3 } })).toThrow(/shield\.id/);
    expect(() => parseDqnConfig({ constraint: { budget: 0.1 } })).toThrow(/constraint\.cost/);
    expect(() => parseDqnConfig({ constraint: { cost: 'toy/risk', budget: -1 } })).toThrow(/constraint\.budget: .*\(got -1\)/);
    expect(() => parseDqnConfig({ constraint: { cost: 'toy/risk', budget: 0.1, lambdaLearningRate: 0 } })).toThrow(/constraint\.lambdaLearningRate/);
    expect(() => parseDqnConfig({ constraint: { cost: 'toy/risk', budget: 0.1, lambdaInit: 5, lambdaMax: 1 } })).toThrow(/constraint\.lambdaInit: must be ≤ lambdaMax/);
    expect(() => parseDqnConfig({ constraint: { cost: 'toy/risk', budget: 0.1, lamda: 1 } })).toThrow(/constraint/);
    // defaults; and configs without the options stay byte-identical (no new keys)
    expect(parseDqnConfig({ shield: {} }).shield).toEqual({ id: true, mode: 'mask' });
    expect(parseDqnConfig({ constraint: { cost: 'x', budget: 0 } }).constraint).toEqual({ cost: 'x', budget: 0, episodeCost: 'mean', lambdaLearningRate: 0.05, lambdaInit: 0, lambdaMax: 100 });
    expect(Object.keys(parseDqnConfig({}))).not.toContain('shield');
    // unknown shield / cost of the twin, and a twin without any
    const small = { ...CMDP_CONFIG, totalSteps: 10 };
    await expect(trainDqn({ envFactory: () => new CmdpEnv(), config: { ...small, shield: { id: 'nope' } }, seed: 1, twin: TOY_TWIN })).rejects.toThrow(
      /dqn config: shield\.id: unknown shield "nope"/,
    );
    await expect(trainDqn({ envFactory: () => new CmdpEnv(), config: { ...small, constraint: { cost: 'nope', budget: 0 } }, seed: 1, twin: TOY_TWIN })).rejects.toThrow(
      /dqn config: constraint\.cost: unknown cost "nope"/,
    );
    await expect(
      trainDqn({ envFactory: () => new CmdpEnv(), config: { ...small, constraint: { cost: 'toy/risk', budget: 0 } }, seed: 1, twin: { ...TOY_TWIN, costs: [] } }),
    ).rejects.toThrow(/constraint\.cost: twin toy-safety declares no cost signals/);
  });
});

describe('twin cost signals', () => {
  const constant = (action: number): Policy<number> => ({ name: `constant-${action}`, kind: 'protocol', act: () => action });

  it('glucose/below-70: an episode’s mean cost is its tbr70 endpoint (as a fraction); chemo/drug: the summed cost is cumulative_dose', () => {
    const glucose = getTwin('glucose');
    const env = make('glucose/t1d-v1', { patient: 'adult#001', scenario: 'fixed' });
    const cost = bindCost(resolveCost(glucose, 'glucose/below-70'), env);
    const tbr70 = glucose.endpoints.find((e) => e.id === 'tbr70') as EndpointDefinition;
    // 3× basal all day drives this adult into hypoglycaemia for part of it
    const run = evaluatePolicy(env, constant(5), { seed: 1, episodes: 1, record: true });
    const log = run.episodes[0]?.log as EpisodeLog;
    const mean = log.steps.reduce((s, step) => s + cost.cost(step.info), 0) / log.steps.length;
    expect(mean).toBeGreaterThan(0.05);
    expect(mean).toBeLessThan(1);
    expect(mean * 100).toBeCloseTo(tbr70.compute(log), 10);

    const chemo = getTwin('chemo');
    const chemoEnv = make('oncology/chemo-v1');
    const drug = bindCost(resolveCost(chemo, 'chemo/drug'), chemoEnv);
    const cumulative = chemo.endpoints.find((e) => e.id === 'cumulative_dose') as EndpointDefinition;
    const chemoLog = evaluatePolicy(chemoEnv, constant(2), { seed: 1, episodes: 1, record: true }).episodes[0]?.log as EpisodeLog;
    const sum = chemoLog.steps.reduce((s, step) => s + drug.cost(step.info), 0);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeCloseTo(cumulative.compute(chemoLog), 9);
    // twins without costs, and envs a cost cannot read, are refused naming the field
    expect(() => resolveCost(getTwin('sepsis'), 'x')).toThrow(/constraint\.cost: twin sepsis declares no cost signals/);
    expect(() => bindCost(resolveCost(glucose, 'glucose/below-70'), make('sepsis/oberst-v1'))).toThrow(/does not apply to env sepsis\/oberst-v1/);
  });

  it('train specs: the shield and the cost must be declared by the env’s twin (errors name the field)', () => {
    const train = (config: Record<string, unknown>, env = 'glucose/t1d-v1') => () => validateSpec({ kind: 'train', name: 't', env, config });
    expect(train({ shield: { id: 'nope' } })).toThrow(/config\.shield\.id: unknown shield "nope" \(expected true or one of glucose\/no-insulin-above-basal-when-low\)/);
    expect(train({ constraint: { cost: 'nope', budget: 0.04 } })).toThrow(/config\.constraint\.cost: unknown cost "nope" \(expected one of glucose\/below-70\)/);
    expect(train({ constraint: { cost: 'x', budget: 1 } }, 'sepsis/oberst-v1')).toThrow(/config\.constraint: twin sepsis declares no cost signals/);
    expect(train({ shield: { mode: 'sometimes' } })).toThrow(/config\.shield\.mode/);
    const ok = validateSpec({ kind: 'train', name: 't', env: 'glucose/t1d-v1', config: { shield: { mode: 'mask' }, constraint: { cost: 'glucose/below-70', budget: 0.04 } } });
    expect(ok.kind).toBe('train');
  });
});

describe('shielded and constrained training jobs end to end', () => {
  it('a train spec with shield + constraint saves a masked policy, stores λ and the violation, and its trial arm has no shield interventions', async () => {
    const root = mkdtempSync(join(tmpdir(), 'twinlab-safety-job-'));
    const store = Store.open(join(root, 'store'));
    try {
      const train = await runExperiment({
        spec: {
          kind: 'train',
          name: 'glucose masked + constrained',
          seed: 3,
          env: 'glucose/t1d-v1',
          envOptions: { patient: 'adult#001', scenario: 'random' },
          evalEpisodes: 1,
          config: {
            totalSteps: 1_500,
            learningStarts: 300,
            hidden: [16],
            evalEvery: 0,
            evalEpisodes: 1,
            metricsEvery: 300,
            backend: BACKEND,
            shield: { mode: 'mask' },
            constraint: { cost: 'glucose/below-70', budget: 0.04, lambdaLearningRate: 1 },
          },
        },
        id: 'safety-train',
        store,
        executor: new InlineExecutor(),
      });
      expect(train.status).toBe('finished');
      const job = train.jobs[0] as { id: string; result: Record<string, unknown> };
      expect(job.result.shield).toEqual({ id: 'glucose/no-insulin-above-basal-when-low', mode: 'mask', interventions: 0 });
      expect(job.result.lambda).toBeGreaterThanOrEqual(0);
      const policyDir = join(root, 'store', job.result.policyDir as string);
      expect(JSON.parse(readFileSync(join(policyDir, 'policy.json'), 'utf8')).shield).toEqual({ id: 'glucose/no-insulin-above-basal-when-low', mode: 'mask' });
      expect(store.metricNames(job.id)).toEqual(expect.arrayContaining(['train.lambda', 'train.constraintViolation', 'episode.metrics.cost', 'episode.metrics.lambda']));
      // the training report draws λ and the violation as learning curves
      const report = JSON.parse(await buildReport(store, 'safety-train', 'json')) as { series: { metric: string; runs: unknown[] }[] };
      const drawn = report.series.filter((x) => x.runs.length > 0).map((x) => x.metric);
      expect(drawn).toEqual(expect.arrayContaining(['train.lambda', 'train.constraintViolation']));

      // the saved policy in a trial with the shield endpoint: the masked argmax never proposes a masked action
      const trial = await runExperiment({
        spec: {
          kind: 'trial',
          name: 'masked policy on the shield endpoint',
          seed: 4,
          cohort: { env: 'glucose/t1d-v1', population: 'adult', size: 3 },
          arms: [
            { name: 'dqn-masked', policy: policyDir },
            { name: 'basal-bolus', policy: 'glucose/basal-bolus' },
          ],
          endpoints: { primary: ['tir'], secondary: ['shieldInterventions'] },
        },
        id: 'safety-trial',
        store,
        executor: new InlineExecutor(),
      });
      expect(trial.status).toBe('finished');
      const perArm = new Map<string, number>();
      for (const j of trial.jobs) {
        const r = j.result as { arm: string; endpoints: Record<string, number> };
        perArm.set(r.arm, (perArm.get(r.arm) ?? 0) + (r.endpoints.shieldInterventions as number));
      }
      expect(perArm.get('dqn-masked')).toBe(0);
    } finally {
      store.close();
      rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
