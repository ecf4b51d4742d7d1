/** The Oberst & Sontag sepsis twin (`sepsis/oberst-v1`). */
export { SEPSIS_ENV_ID, SepsisEnv } from './env.js';
export { registerSepsis } from './twin.js';
