import { register } from '../../engine/registry.js';
import { CartPoleEnv } from './cartpole.js';

let registered = false;

/** Registers the reference env `classic/cartpole-v1` (idempotent). CartPole is not a twin: no endpoints, no cohorts. */
export function registerClassic(): void {
  if (registered) return;
  registered = true;
  register({
    id: 'classic/cartpole-v1',
    description: 'Gymnasium CartPole-v1 exactly: the reference env for comparing agents with other RL libraries',
    entryPoint: () => new CartPoleEnv(),
    maxEpisodeSteps: 500,
    optionNames: [],
    decisionInterval: '0.02 s',
    reference: 'Barto, Sutton & Anderson 1983; Gymnasium CartPole-v1',
  });
}
