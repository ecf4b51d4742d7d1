/**
 * Registers every named policy (clinical protocols per twin) with the policy registry. Each twin's
 * protocols expose one `registerXPolicies()` function; add them here.
 */
import './registry.js';
import { registerGlucosePolicies } from './glucose/index.js';
import { registerGlucoseT2dPolicies } from './glucose-t2d/index.js';
import { registerSepsisPolicies } from './sepsis/index.js';
import { registerOpcPolicies } from './oncology/opc.js';
import { registerChemoPolicies } from './oncology/chemo.js';
import { registerHivPolicies } from './hiv/index.js';
import { registerPkpdPolicies } from './pkpd/index.js';
import { registerHospitalPolicies } from './hospital/index.js';

let registered = false;

export function registerAllPolicies(): void {
  if (registered) return;
  registered = true;
  registerGlucosePolicies();
  registerGlucoseT2dPolicies();
  registerSepsisPolicies();
  registerOpcPolicies();
  registerChemoPolicies();
  registerHivPolicies();
  registerPkpdPolicies();
  registerHospitalPolicies();
}

registerAllPolicies();
