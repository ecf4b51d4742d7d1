import type { Env } from '../engine/env.js';
import { TwinlabError } from '../engine/errors.js';
import type { BoundCost, CostDefinition, TwinDefinition } from '../engine/twin.js';

/**
 * Constrained training by a Lagrangian relaxation (agents/dqn.ts `constraint`). A constrained MDP
 * (Altman 1999, "Constrained Markov Decision Processes") maximises the return subject to
 * E[episode cost] ≤ d; its Lagrangian max_π min_{λ≥0} E[R] − λ(E[C] − d) is solved by learning on the
 * penalised reward r − λ·c while λ follows projected dual ascent on the observed episode cost,
 *   λ ← clip(λ + η·(Ĉ − d), 0, λ_max),
 * on a slower timescale than the Q-learning (Tessler, Mankowitz & Mannor 2019, "Reward constrained
 * policy optimization", ICLR; Borkar 2005 for the two-timescale argument). Here λ moves once per
 * finished training episode.
 */

/** The twin's cost signal by id (errors name `where`, e.g. the config field). */
export function resolveCost(twin: TwinDefinition | undefined, id: string, where = 'constraint.cost'): CostDefinition {
  const costs = twin?.costs ?? [];
  if (costs.length === 0) throw new TwinlabError('INVALID_ARGUMENT', `${where}: ${twin ? `twin ${twin.id}` : 'this env'} declares no cost signals`);
  const found = costs.find((c) => c.id === id);
  if (!found) throw new TwinlabError('INVALID_ARGUMENT', `${where}: unknown cost "${id}" (twin ${twin?.id} declares ${costs.map((c) => c.id).join(', ')})`);
  return found;
}

/** Bind a cost signal to an env, refusing envs it cannot read. */
export function bindCost(definition: CostDefinition, env: Env): BoundCost {
  const bound = definition.bind(env);
  if (!bound) throw new TwinlabError('INVALID_ARGUMENT', `cost ${definition.id} does not apply to env ${env.id} with these options`);
  return bound;
}

/** Projected dual ascent on λ (see the file comment). */
export class DualAscent {
  constructor(
    public lambda: number,
    readonly budget: number,
    readonly learningRate: number,
    readonly lambdaMax: number,
  ) {
    if (!(lambda >= 0 && lambda <= lambdaMax)) throw new TwinlabError('INVALID_ARGUMENT', `λ must lie in [0, ${lambdaMax}], got ${lambda}`);
  }

  /** One update with an episode's cost Ĉ; returns the new λ (always in [0, lambdaMax]). */
  update(episodeCost: number): number {
    if (!Number.isFinite(episodeCost)) throw new TwinlabError('INVALID_ARGUMENT', `episode cost ${episodeCost} is not finite`);
    const next = this.lambda + this.learningRate * (episodeCost - this.budget);
    this.lambda = Math.min(this.lambdaMax, Math.max(0, next));
    return this.lambda;
  }
}
