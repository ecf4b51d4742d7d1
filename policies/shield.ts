import type { Env, Info, ResetOptions, ResetResult, StepResult } from '../engine/env.js';
import { TwinlabError } from '../engine/errors.js';
import type { Rng } from '../engine/random.js';
import { type Action, isDiscrete } from '../engine/spaces.js';
import type { BoundShield, ShieldDefinition, TwinDefinition } from '../engine/twin.js';
import { Wrapper } from '../engine/wrappers.js';
import type { Policy, PolicyContext } from './policy.js';

/**
 * Safety shields (action masks declared by twins, `TwinDefinition.shields`) enforced around a policy
 * or an env:
 * - `ShieldedPolicy` (`shielded(policy, shield)`): the policy proposes, the shield checks the proposal
 *   against the mask of the observation and the previous step's info, and a masked proposal is
 *   replaced by the shield's safest allowed action. Every replacement is an intervention (counted).
 *   With `enforce: false` it only monitors: proposals that the shield would have replaced are
 *   counted but taken (how unshielded trial arms report the same safety endpoint).
 * - `ShieldedEnv`: the same replacement inside the env, for training (the agent's ε-greedy and
 *   greedy actions both go through it; the replay buffer stores the action actually taken, so the
 *   learned Q-values are those of the shielded system — Alshiekh et al., AAAI 2018, "post-posed" shield).
 * - `MaskedQPolicy`: a Q-based policy that chooses the argmax over the allowed actions only — how a
 *   DQN trained with the shield in `mask` mode (agents/dqn.ts: masked exploration, greedy action and
 *   TD target) acts at deployment. It never proposes a masked action, so it has no interventions.
 * - `DecisionInfo`: an env wrapper that adds to each step's info what the policy knew when it chose
 *   the step's action: `q` (per-action Q-values, Q-based policies) and `shield` (1 when the shield
 *   masked the proposal, else 0). Info is not part of the trajectory hash, so episode hashes are
 *   unchanged.
 */

/** The twin's shield by id; `true` = the twin's first (default) shield. */
export function resolveShield(twin: TwinDefinition | undefined, ref: true | string, where = 'shield'): ShieldDefinition {
  const shields = twin?.shields ?? [];
  if (shields.length === 0) throw new TwinlabError('INVALID_ARGUMENT', `${where}: ${twin ? `twin ${twin.id}` : 'this env'} declares no shields`);
  if (ref === true) return shields[0] as ShieldDefinition;
  const found = shields.find((s) => s.id === ref);
  if (!found)
    throw new TwinlabError('INVALID_ARGUMENT', `${where}: unknown shield "${ref}" (twin ${twin?.id} declares ${shields.map((s) => s.id).join(', ')})`);
  return found;
}

/** Bind a shield to an env, refusing envs it cannot apply to (continuous actions, other encodings). */
export function bindShield(definition: ShieldDefinition, env: Env): BoundShield {
  if (!isDiscrete(env.actionSpace))
    throw new TwinlabError('INVALID_ARGUMENT', `shield ${definition.id} needs a Discrete action space; env ${env.id} has ${env.actionSpace.toString()}`);
  const bound = definition.bind(env);
  if (!bound) throw new TwinlabError('INVALID_ARGUMENT', `shield ${definition.id} does not apply to env ${env.id} with these options`);
  return bound;
}

/** The first allowed action of `order` (action values), or the lowest allowed one. */
export function firstAllowed(order: readonly number[], allowed: Uint8Array, start = 0): number {
  for (const a of order) if (allowed[a - start] === 1) return a;
  const i = allowed.indexOf(1);
  if (i < 0) throw new TwinlabError('INTERNAL', 'a shield masked every action');
  return start + i;
}

/** Shared by the policy and env forms: check one proposal, count and replace. */
class ShieldCheck {
  readonly allowed: Uint8Array;
  interventions = 0;
  decisions = 0;
  lastMasked = false;

  constructor(
    readonly definition: ShieldDefinition,
    readonly bound: BoundShield,
    readonly start: number,
    n: number,
  ) {
    this.allowed = new Uint8Array(n);
  }

  /** The action to take for `proposed` (the proposal itself when allowed or when only monitoring). */
  check(proposed: number, observation: Float32Array, info: Info, enforce: boolean): number {
    this.allowed.fill(0);
    this.bound.mask(observation, info, this.allowed);
    this.decisions++;
    this.lastMasked = this.allowed[proposed - this.start] !== 1;
    if (!this.lastMasked) return proposed;
    this.interventions++;
    if (!enforce) return proposed;
    const safe = this.bound.safest(proposed, this.allowed);
    if (this.allowed[safe - this.start] !== 1)
      throw new TwinlabError('INTERNAL', `shield ${this.definition.id} proposed masked action ${safe} as the safest replacement`);
    return safe;
  }
}

function discreteShape(env: Env): { start: number; n: number } {
  const space = env.actionSpace;
  if (!isDiscrete(space)) throw new TwinlabError('INVALID_ARGUMENT', `env ${env.id}: shields need a Discrete action space`);
  return { start: space.start, n: space.n };
}

export class ShieldedPolicy implements Policy<number> {
  readonly kind;
  readonly name: string;
  private readonly checker: ShieldCheck;

  constructor(
    readonly inner: Policy,
    definition: ShieldDefinition,
    env: Env,
    readonly enforce = true,
  ) {
    const { start, n } = discreteShape(env);
    this.checker = new ShieldCheck(definition, bindShield(definition, env), start, n);
    this.kind = inner.kind;
    this.name = enforce ? `${inner.name}+shield:${definition.id}` : inner.name;
  }

  get shieldId(): string {
    return this.checker.definition.id;
  }
  /** Proposals the shield masked (replaced when enforcing) since construction. */
  get interventions(): number {
    return this.checker.interventions;
  }
  get decisions(): number {
    return this.checker.decisions;
  }
  /** Whether the last proposal was masked. */
  lastShieldIntervention(): boolean {
    return this.checker.lastMasked;
  }

  reset(context: PolicyContext): void {
    this.inner.reset?.(context);
  }

  act(observation: Float32Array, rng: Rng, info?: Info): number {
    const proposed = this.inner.act(observation, rng, info) as number;
    return this.checker.check(proposed, observation, info ?? {}, this.enforce);
  }

  lastQValues(): Float32Array | undefined {
    return this.inner.lastQValues?.();
  }
}

/** `policy` with `shield` enforced on `env` (replaces masked actions, counts interventions). */
export function shielded(policy: Policy, shield: ShieldDefinition, env: Env, options: { enforce?: boolean } = {}): ShieldedPolicy {
  return new ShieldedPolicy(policy, shield, env, options.enforce ?? true);
}

/**
 * The shield applied inside an env (for training): a masked action is replaced before the inner env
 * steps; `info.shield` is 1 on those steps. The mask sees the observation and info the agent saw
 * when it chose the action (the previous step's, or the reset's).
 */
export class ShieldedEnv extends Wrapper<number, number> {
  private readonly checker: ShieldCheck;
  private observation = new Float32Array(0);
  private info: Info = {};

  constructor(env: Env<number>, definition: ShieldDefinition) {
    super(env);
    const { start, n } = discreteShape(env);
    this.checker = new ShieldCheck(definition, bindShield(definition, env), start, n);
  }

  get interventions(): number {
    return this.checker.interventions;
  }

  protected override resetWrapped(options: ResetOptions): ResetResult {
    const result = this.env.reset(options);
    this.observation = Float32Array.from(result.observation);
    this.info = result.info;
    return result;
  }

  protected stepWrapped(action: number): StepResult {
    const taken = this.checker.check(action, this.observation, this.info, true);
    const result = this.env.step(taken);
    this.observation.set(result.observation);
    this.info = result.info;
    return { ...result, info: { ...result.info, shield: this.checker.lastMasked ? 1 : 0 } };
  }
}

/** What MaskedQPolicy needs of a Q-based policy (GreedyQPolicy has it). */
export interface QValued extends Policy<number> {
  readonly numActions: number;
  readonly actionStart: number;
  qValues(observation: Float32Array, out?: Float32Array): Float32Array;
}

/** Greedy over the allowed actions: a = argmax_{a allowed by the shield} Q(s, a), lowest index on ties. */
export class MaskedQPolicy implements Policy<number> {
  readonly kind;
  readonly name: string;
  private readonly bound: BoundShield;
  private readonly allowed: Uint8Array;
  private readonly q: Float32Array;

  constructor(
    readonly inner: QValued,
    readonly definition: ShieldDefinition,
    env: Env,
  ) {
    const { n } = discreteShape(env);
    if (n !== inner.numActions) throw new TwinlabError('INVALID_ARGUMENT', `env ${env.id} has ${n} actions, the policy ${inner.numActions}`);
    this.bound = bindShield(definition, env);
    this.allowed = new Uint8Array(n);
    this.q = new Float32Array(n);
    this.kind = inner.kind;
    this.name = `${inner.name}+mask:${definition.id}`;
  }

  get shieldId(): string {
    return this.definition.id;
  }

  reset(context: PolicyContext): void {
    this.inner.reset?.(context);
  }

  act(observation: Float32Array, _rng: Rng, info?: Info): number {
    this.inner.qValues(observation, this.q);
    this.allowed.fill(0);
    this.bound.mask(observation, info ?? {}, this.allowed);
    let best = -1;
    for (let a = 0; a < this.q.length; a++) {
      if (this.allowed[a] !== 1) continue;
      if (best < 0 || (this.q[a] as number) > (this.q[best] as number)) best = a;
    }
    if (best < 0) throw new TwinlabError('INTERNAL', `shield ${this.definition.id} masked every action`);
    return this.inner.actionStart + best;
  }

  lastQValues(): Float32Array | undefined {
    return this.q;
  }
}

interface DecisionReporting {
  lastQValues?(): Float32Array | undefined;
  lastShieldIntervention?(): boolean;
}

/**
 * Adds the policy's decision to each step's info (`q`, `shield`; see the file comment). Wrap the env
 * the policy steps (under any recorder), and call `policy.act` right before each `step`.
 */
export class DecisionInfo<A extends Action = number> extends Wrapper<A, A> {
  constructor(
    env: Env<A>,
    private readonly policy: DecisionReporting,
  ) {
    super(env);
  }

  protected stepWrapped(action: A): StepResult {
    const q = this.policy.lastQValues?.();
    const masked = this.policy.lastShieldIntervention?.();
    const result = this.env.step(action);
    if (q === undefined && masked === undefined) return result;
    const info: Info = { ...result.info };
    if (q !== undefined) info.q = Array.from(q);
    if (masked !== undefined) info.shield = masked ? 1 : 0;
    return { ...result, info };
  }
}

/**
 * A trial arm's policy: shielded by `shield` (true = the twin's default shield, or an id) when given;
 * else, when `monitor`, wrapped by the twin's default shield in monitoring mode (counts, never replaces);
 * else unchanged. Trial jobs and replay verification build arm policies with it, so both act alike.
 */
export function armPolicy(
  policy: Policy,
  env: Env,
  twin: TwinDefinition | undefined,
  shield: true | string | undefined,
  monitor = false,
  where = 'shield',
): Policy {
  if (shield !== undefined) return shielded(policy, resolveShield(twin, shield, where), env);
  if (monitor) return shielded(policy, resolveShield(twin, true, where), env, { enforce: false });
  return policy;
}

/** Whether a policy reports anything `DecisionInfo` records. */
export function reportsDecisions(policy: Policy): boolean {
  return typeof policy.lastQValues === 'function' || typeof (policy as DecisionReporting).lastShieldIntervention === 'function';
}
