import type { EndpointDefinition, TwinDefinition } from '../engine/twin.js';
import { TwinlabError } from '../engine/errors.js';

/**
 * Endpoints every env has, so a trial can run on an env without a twin (e.g. CartPole with the
 * random policy, used to test the trial machinery): the episode return, its length in decision
 * steps, and whether it terminated (absorbing state) rather than being truncated. Plus the safety
 * endpoint `shieldInterventions`, valid on twins that declare shields.
 */
export const GENERIC_ENDPOINTS: EndpointDefinition[] = [
  { id: 'return', label: 'Episode return', unit: '', kind: 'continuous', better: 'higher', compute: (log) => log.totalReward },
  { id: 'length', label: 'Episode length', unit: 'steps', kind: 'continuous', better: 'none', compute: (log) => log.length },
  { id: 'terminated', label: 'Terminated', unit: '', kind: 'binary', better: 'none', compute: (log) => (log.terminated ? 1 : 0) },
  {
    id: 'shieldInterventions',
    label: 'Shield interventions',
    unit: 'decisions',
    kind: 'continuous',
    better: 'lower',
    safety: true,
    compute: (log) => log.steps.reduce((n, s) => n + (s.info.shield === 1 ? 1 : 0), 0),
  },
];

/**
 * Decisions per episode in which the arm's policy proposed an action the twin's shield masks
 * (`info.shield` = 1, recorded by policies/shield.ts DecisionInfo): replaced by the safest allowed
 * action in shielded arms (`arms[].shield`), taken anyway — and only counted — in the others.
 */
export const SHIELD_ENDPOINT = 'shieldInterventions';

/** The definition of an endpoint id: the twin's own first, then the generic ones. */
export function endpointDefinition(twin: TwinDefinition | undefined, id: string): EndpointDefinition {
  const found = twin?.endpoints.find((e) => e.id === id) ?? GENERIC_ENDPOINTS.find((e) => e.id === id);
  if (!found) throw new TwinlabError('NOT_FOUND', `unknown endpoint "${id}"${twin ? ` for twin ${twin.id}` : ''}`);
  return found;
}
