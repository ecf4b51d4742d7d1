/**
 * Registers every twin with the engine registry. Import this module (or call `registerAll`) before
 * `make(id)`. Each twin's twin.ts exposes an idempotent `registerX()`; add new twins here.
 */
import { registerClassic } from './classic/index.js';
import { registerHiv } from './hiv/index.js';
import { registerHospital } from './hospital/index.js';
import { registerChemo, registerOpc } from './oncology/index.js';
import { registerVancomycin } from './pkpd/index.js';
import { registerGlucoseAgents } from './glucose/agents.js';
import { registerGlucose } from './glucose/index.js';
import { registerGlucoseT2d } from './glucose-t2d/index.js';
import { registerSepsis } from './sepsis/index.js';

let registered = false;

export function registerAll(): void {
  if (registered) return;
  registered = true;
  registerClassic();
  registerChemo();
  registerOpc();
  registerHiv();
  registerVancomycin();
  registerGlucose();
  registerGlucoseAgents();
  registerGlucoseT2d();
  registerSepsis();
  registerHospital();
}

registerAll();
