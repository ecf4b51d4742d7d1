/**
 * Former path of the chemotherapy env, kept only because cli/simulate/ is being edited concurrently:
 * import chemo-env.ts instead.
 */
export * from './chemo-env.js';
