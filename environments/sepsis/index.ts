/** The Oberst & Sontag sepsis twin (`sepsis/oberst-v1`; the same twin as agents, `sepsis/oberst-agents-v0`). */
export { SEPSIS_ENV_ID, SepsisEnv } from './env.js';
export { registerSepsis } from './twin.js';
export { SEPSIS_AGENTS_ENV_ID, SepsisAgentsEnv } from './oberst-agents.js';
