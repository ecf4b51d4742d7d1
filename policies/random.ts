import type { Rng } from '../engine/random.js';
import type { Action, Space } from '../engine/spaces.js';
import type { Policy } from './policy.js';

/** Uniform random actions from the action space, drawn from the caller's stream. */
export class RandomPolicy implements Policy {
  readonly name = 'random';
  readonly kind = 'random' as const;
  constructor(private readonly actionSpace: Space) {}
  act(_observation: Float32Array, rng: Rng): Action {
    return this.actionSpace.sample(rng);
  }
}
