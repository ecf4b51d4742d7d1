import { z } from 'zod';
import { TwinlabError } from '../engine/errors.js';

/**
 * The one DQN configuration, validated by zod. Defaults follow Stable-Baselines3 2.4.1 `DQN` where
 * the option exists there (SB3 column of agents/README.md); the Rainbow options (double, dueling,
 * n-step, prioritized) default to off, i.e. SB3's vanilla DQN. All intervals count **env steps**
 * (one VectorEnv step of n envs = n env steps), as SB3 does.
 */
const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const unit = z.number().min(0).max(1);

export const PrioritizedConfigSchema = z
  .object({
    /** Priority exponent α (Schaul et al. 2016 proportional variant: 0.6). */
    alpha: z.number().min(0).default(0.6),
    /** Importance-sampling exponent β at step 0 (0.4 in Schaul et al.). */
    betaStart: unit.default(0.4),
    /** β at the end of the budget (annealed linearly over all of totalSteps). */
    betaEnd: unit.default(1),
    /** Added to |δ| so no transition has zero priority. */
    epsilon: z.number().positive().default(1e-6),
  })
  .strict();

/**
 * A safety shield declared by the env's twin (`TwinDefinition.shields`), enforced during training:
 * - `mask`: inside the learner — ε-greedy explores only allowed actions, the greedy action is the
 *   argmax over allowed actions, and the TD target's max over next actions runs over the next state's
 *   allowed actions (Huang & Ontañón 2022's invalid-action masking, applied to Q-learning's max);
 * - `replace`: post-posed (Alshiekh et al. 2018) — the agent's masked choice is replaced by the
 *   shield's safest allowed action before the env steps, and the replaced action is what is stored.
 * The saved policy carries the shield, so deployment acts the same way.
 */
export const ShieldConfigSchema = z
  .object({
    /** The twin's shield id, or true = its first (default) shield. */
    id: z.union([z.literal(true), z.string().min(1)]).default(true),
    mode: z.enum(['mask', 'replace']).default('mask'),
  })
  .strict();

/**
 * Constrained training (a CMDP, Altman 1999) by a Lagrangian relaxation: the learner optimises
 * r − λ·c with c the twin's declared per-step cost `cost`, and after every finished episode
 * λ ← clip(λ + η·(Ĉ − d), 0, lambdaMax) — dual ascent on the episode cost Ĉ (its mean per step, or its
 * sum) against the budget d (Tessler, Mankowitz & Mannor 2019, "Reward constrained policy
 * optimization", ICLR). Costs are stored in the replay buffer apart from rewards, so every TD target
 * uses the current λ.
 */
export const ConstraintConfigSchema = z
  .object({
    /** Id of a cost signal the env's twin declares (`TwinDefinition.costs`). */
    cost: z.string().min(1),
    /** Budget d on the episode cost. */
    budget: z.number().nonnegative(),
    /** Episode cost Ĉ: mean per step (a fraction of time for 0/1 costs) or sum over the episode. */
    episodeCost: z.enum(['mean', 'sum']).default('mean'),
    /** Dual step size η. */
    lambdaLearningRate: z.number().positive().default(0.05),
    /** λ at step 0. */
    lambdaInit: z.number().nonnegative().default(0),
    /** Upper clip of λ (keeps r − λc bounded). */
    lambdaMax: z.number().positive().default(100),
  })
  .strict();

export const DqnConfigSchema = z
  .object({
    /** Env steps to train for (exact: the last rollout is cut at this budget). */
    totalSteps: positiveInt.default(100_000),
    /** Envs stepped together in a VectorEnv; one batched forward pass chooses all their actions. */
    numEnvs: positiveInt.default(1),
    /** Adam learning rate (SB3 1e-4). */
    learningRate: z.number().positive().default(1e-4),
    /** Adam ε (PyTorch's 1e-8, used by SB3; TF.js would default to 1e-7). */
    adamEpsilon: z.number().positive().default(1e-8),
    /** Replay capacity in transitions (SB3 1e6); allocation is min(bufferSize, totalSteps). */
    bufferSize: positiveInt.default(1_000_000),
    /** Env steps of uniform random actions before learning; updates start once steps > learningStarts (SB3 100). */
    learningStarts: nonNegativeInt.default(100),
    /** Minibatch size (SB3 32). */
    batchSize: positiveInt.default(32),
    /** Discount γ (SB3 0.99). */
    gamma: unit.default(0.99),
    /** Env-step calls between training phases (SB3 train_freq 4). */
    trainFrequency: positiveInt.default(4),
    /** Gradient steps per training phase (SB3 1). */
    gradientSteps: positiveInt.default(1),
    /** Env steps between target-network updates (SB3 10 000), counted in env steps as SB3. */
    targetUpdateInterval: positiveInt.default(10_000),
    /** Polyak coefficient of the target update (1 = hard copy; SB3 1.0). */
    tau: z.number().gt(0).max(1).default(1),
    /** Fraction of totalSteps over which ε decays linearly (SB3 0.1). */
    explorationFraction: unit.default(0.1),
    /** ε at step 0 (SB3 1.0). */
    explorationInitial: unit.default(1),
    /** ε after the decay (SB3 0.05). */
    explorationFinal: unit.default(0.05),
    /** Double DQN target (van Hasselt et al. 2016): argmax by the online net, value by the target net. Off = SB3. */
    doubleDqn: z.boolean().default(false),
    /** Dueling head (Wang et al. 2016). Off = SB3. */
    dueling: z.boolean().default(false),
    /** n of n-step returns (1 = one-step, SB3 2.4 default). */
    nStep: positiveInt.max(100).default(1),
    /** Prioritized replay settings; null = uniform replay (SB3). */
    prioritized: PrioritizedConfigSchema.nullable().default(null),
    /** TD loss: Huber (smooth L1, δ = 1; SB3) or mean squared error (CleanRL). */
    loss: z.enum(['huber', 'mse']).default('huber'),
    /** Clip gradients by global norm (SB3 10); null = no clipping. */
    maxGradNorm: z.number().positive().nullable().default(10),
    /** Hidden layer widths of the MLP (SB3 [64, 64]). */
    hidden: z.array(positiveInt).max(8).default([64, 64]),
    /** Network input normalisation: none (SB3), Box bounds → [−1, 1], or running stats frozen at learningStarts. */
    normalization: z.enum(['none', 'bounds', 'running']).default('none'),
    /** Env steps between greedy evaluations (0 = only the final one). */
    evalEvery: nonNegativeInt.default(10_000),
    /** Episodes per greedy evaluation (SB3 EvalCallback: 5). */
    evalEpisodes: positiveInt.default(5),
    /** Base reset seed of evaluation episodes (episode i uses evalSeed + i), kept apart from training seeds. */
    evalSeed: z.number().int().default(1_000_000),
    /** Keep the weights of the best periodic evaluation (SB3 EvalCallback best_model_save_path). */
    keepBest: z.boolean().default(false),
    /** Env steps between checkpoints (0 = none); taken at the first training-phase boundary past each multiple. */
    checkpointEvery: nonNegativeInt.default(0),
    /** Env steps between train.metrics events (at training-phase boundaries). */
    metricsEvery: positiveInt.default(1_000),
    /** tfjs backend. */
    backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
    /** Enforce the twin's shield during training (ShieldConfigSchema); absent or null = none (absent keeps older configs byte-identical). */
    shield: ShieldConfigSchema.nullable().optional(),
    /** Lagrangian constrained training on a twin's cost signal (ConstraintConfigSchema); absent or null = none. */
    constraint: ConstraintConfigSchema.nullable().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.explorationFinal > c.explorationInitial) {
      ctx.addIssue({ code: 'custom', path: ['explorationFinal'], message: `must be ≤ explorationInitial (${c.explorationInitial})` });
    }
    if (c.constraint && c.constraint.lambdaInit > c.constraint.lambdaMax) {
      ctx.addIssue({ code: 'custom', path: ['constraint', 'lambdaInit'], message: `must be ≤ lambdaMax (${c.constraint.lambdaMax})` });
    }
    if (c.prioritized && c.prioritized.betaEnd < c.prioritized.betaStart) {
      ctx.addIssue({ code: 'custom', path: ['prioritized', 'betaEnd'], message: `must be ≥ betaStart (${c.prioritized.betaStart})` });
    }
  });

export type DqnConfig = z.output<typeof DqnConfigSchema>;
export type DqnConfigInput = z.input<typeof DqnConfigSchema>;

/** Validate and fill defaults; errors name the field, e.g. `dqn config: batchSize: Too small: …`. */
export function parseDqnConfig(input: unknown): DqnConfig {
  const result = DqnConfigSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const messages = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    const extra = issue.code === 'unrecognized_keys' ? '' : ` (got ${describe(pick(input, issue.path))})`;
    return `${path}: ${issue.message}${extra}`;
  });
  throw new TwinlabError('INVALID_ARGUMENT', `dqn config: ${messages.join('; ')}`, { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
}

function pick(value: unknown, path: PropertyKey[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** SB3's DQN defaults (what `DQN('MlpPolicy', env)` does), as a full config. */
export const SB3_DEFAULTS: DqnConfig = parseDqnConfig({});

/**
 * RL Baselines3 Zoo `hyperparams/dqn.yml`, CartPole-v1: n_timesteps 5e4, learning_rate 2.3e-3,
 * batch_size 64, buffer_size 100 000, learning_starts 1 000, gamma 0.99, target_update_interval 10,
 * train_freq 256, gradient_steps 128, exploration_fraction 0.16, exploration_final_eps 0.04,
 * policy_kwargs net_arch [256, 256]. Evaluation settings are twinlab's (every 2 500 steps,
 * 10 episodes, best weights kept).
 */
export const ZOO_CARTPOLE: DqnConfig = parseDqnConfig({
  totalSteps: 50_000,
  learningRate: 2.3e-3,
  batchSize: 64,
  bufferSize: 100_000,
  learningStarts: 1_000,
  gamma: 0.99,
  targetUpdateInterval: 10,
  trainFrequency: 256,
  gradientSteps: 128,
  explorationFraction: 0.16,
  explorationFinal: 0.04,
  hidden: [256, 256],
  evalEvery: 2_500,
  evalEpisodes: 10,
  keepBest: true,
});

/** One gradient step per env step (the 1:1 regime of the snake-dqn example and the throughput bench). */
export const ONE_TO_ONE: DqnConfig = parseDqnConfig({
  totalSteps: 50_000,
  learningRate: 1e-3,
  batchSize: 64,
  bufferSize: 50_000,
  learningStarts: 1_000,
  trainFrequency: 1,
  gradientSteps: 1,
  targetUpdateInterval: 500,
  explorationFraction: 0.2,
  hidden: [64, 64],
});

/** Rainbow-lite for small-state clinical problems: double + dueling + 3-step + prioritized replay. */
export const RAINBOW_LITE: DqnConfig = parseDqnConfig({
  learningRate: 5e-4,
  batchSize: 64,
  learningStarts: 1_000,
  trainFrequency: 4,
  targetUpdateInterval: 2_000,
  doubleDqn: true,
  dueling: true,
  nStep: 3,
  prioritized: {},
  normalization: 'bounds',
  hidden: [128, 128],
});

/**
 * Insulin dosing on `glucose/t1d-v1` (adult cohort, random meals): the configuration of the long
 * check test/long/dqn-glucose.test.ts, where it beats fixed basal on time in range on held-out seeds
 * (agents/README.md, "Long learning checks"). Running normalisation (CGM, IOB and carbs have very
 * different scales), double DQN with 3-step returns (the meal signal precedes the glucose rise by
 * 30–90 min), 4 envs, best periodic evaluation kept.
 */
export const GLUCOSE_ADULT: DqnConfig = parseDqnConfig({
  totalSteps: 150_000,
  numEnvs: 4,
  learningRate: 5e-4,
  batchSize: 64,
  bufferSize: 150_000,
  learningStarts: 5_000,
  trainFrequency: 1,
  gradientSteps: 1,
  targetUpdateInterval: 2_000,
  doubleDqn: true,
  nStep: 3,
  normalization: 'running',
  explorationFraction: 0.3,
  hidden: [64, 64],
  evalEvery: 10_000,
  evalEpisodes: 10,
  keepBest: true,
});

export const DQN_PRESETS: Record<string, DqnConfig> = {
  'glucose-adult': GLUCOSE_ADULT,
  sb3: SB3_DEFAULTS,
  'zoo-cartpole': ZOO_CARTPOLE,
  'one-to-one': ONE_TO_ONE,
  'rainbow-lite': RAINBOW_LITE,
};
