/**
 * Registers every twin with the engine registry. Import this module (or call `registerAll`) before
 * `make(id)`. Each twin exposes one `registerX()` function; add new twins here.
 */
import { registerClassic } from './classic/index.js';

let registered = false;

export function registerAll(): void {
  if (registered) return;
  registered = true;
  registerClassic();
}

registerAll();
