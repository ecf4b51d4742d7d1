/**
 * Former home of the OPC env and twin, kept only because cli/simulate/ and its importers are being edited
 * concurrently: import opc-env.ts (env) or opc-twin.ts (endpoints, cohorts, registerOpc) instead.
 */
export * from './opc-env.js';
export * from './opc-twin.js';
