/**
 * Registers every named policy (clinical protocols per twin) with the policy registry. Each twin's
 * protocols expose one `registerXPolicies()` function; add them here.
 */
import './registry.js';

let registered = false;

export function registerAllPolicies(): void {
  if (registered) return;
  registered = true;
}

registerAllPolicies();
