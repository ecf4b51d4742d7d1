/**
 * Registers every twin with the engine registry. Import this module (or call `registerAll`) before
 * `make(id)`. Each twin exposes one `registerX()` function; add new twins here.
 */
import { registerClassic } from './classic/index.js';
import { registerHiv } from './hiv/index.js';
import { registerOncology } from './oncology/index.js';
import { registerPkpd } from './pkpd/index.js';
import { registerGlucose } from './glucose/index.js';
import { registerSepsis } from './sepsis/index.js';

let registered = false;

export function registerAll(): void {
  if (registered) return;
  registered = true;
  registerClassic();
  registerOncology();
  registerHiv();
  registerPkpd();
  registerGlucose();
  registerSepsis();
}

registerAll();
