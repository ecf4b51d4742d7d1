/** HIV structured-treatment-interruption twin (`hiv/sti-v1`; the same twin as agents, `hiv/sti-agents-v0`). */
export { registerHiv } from './twin.js';
export { HIV_AGENTS_ENV_ID, HivAgentsEnv } from './sti-agents.js';
