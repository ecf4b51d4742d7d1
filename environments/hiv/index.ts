/** HIV structured-treatment-interruption twin (`hiv/sti-v1`). */
export { registerHiv } from './twin.js';
