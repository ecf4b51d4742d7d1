import type { Env, Info } from '../engine/env.js';
import type { Rng } from '../engine/random.js';
import type { Action, Box, Space } from '../engine/spaces.js';

/**
 * The Policy contract. A policy sees observations and spaces — never model internals. Clinical
 * protocols may read the *prescription* a clinician would have (carb ratio, correction factor, body
 * weight), which twins publish in the reset info under `prescription`.
 */
export const POLICY_KINDS = { protocol: 'protocol', learned: 'learned', random: 'random' } as const;
export type PolicyKind = (typeof POLICY_KINDS)[keyof typeof POLICY_KINDS];

export interface PolicyContext {
  envId: string;
  observationSpace: Box;
  actionSpace: Space;
  /** The info returned by env.reset() (may carry `prescription`). */
  resetInfo: Info;
}

export interface Policy<A extends Action = Action> {
  readonly name: string;
  readonly kind: PolicyKind;
  /** Start of an episode; stateful protocols (PID integrators, cycle counters) clear their state here. */
  reset?(context: PolicyContext): void;
  /** Choose an action. `info` is the previous step's info (for protocols that react to announced events). */
  act(observation: Float32Array, rng: Rng, info?: Info): A;
  /** Batched greedy actions for a VectorEnv: observations are n × obsDim; write one action per row. */
  actBatch?(observations: Float32Array, n: number, rng: Rng, out: Int32Array): void;
  /** Q-values of the last `act` call, when the policy has them (the viewer shows them). */
  lastQValues?(): Float32Array | undefined;
}

export function policyContext(env: Env, resetInfo: Info): PolicyContext {
  return { envId: env.id, observationSpace: env.observationSpace, actionSpace: env.actionSpace, resetInfo };
}
