import type { EndpointDefinition, TwinDefinition } from '../engine/twin.js';
import { TwinlabError } from '../engine/errors.js';

/**
 * Endpoints every env has, so a trial can run on an env without a twin (e.g. CartPole with the
 * random policy, used to test the trial machinery): the episode return, its length in decision
 * steps, and whether it terminated (absorbing state) rather than being truncated.
 */
export const GENERIC_ENDPOINTS: EndpointDefinition[] = [
  { id: 'return', label: 'Episode return', unit: '', kind: 'continuous', better: 'higher', compute: (log) => log.totalReward },
  { id: 'length', label: 'Episode length', unit: 'steps', kind: 'continuous', better: 'none', compute: (log) => log.length },
  { id: 'terminated', label: 'Terminated', unit: '', kind: 'binary', better: 'none', compute: (log) => (log.terminated ? 1 : 0) },
];

/** The definition of an endpoint id: the twin's own first, then the generic ones. */
export function endpointDefinition(twin: TwinDefinition | undefined, id: string): EndpointDefinition {
  const found = twin?.endpoints.find((e) => e.id === id) ?? GENERIC_ENDPOINTS.find((e) => e.id === id);
  if (!found) throw new TwinlabError('NOT_FOUND', `unknown endpoint "${id}"${twin ? ` for twin ${twin.id}` : ''}`);
  return found;
}
