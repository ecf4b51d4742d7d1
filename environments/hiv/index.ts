import { registerHivTwin } from './twin.js';

/** Registers the HIV structured-treatment-interruption twin (`hiv/sti-v1`). */
export function registerHiv(): void {
  registerHivTwin();
}
