/**
 * Former path of the vancomycin env, kept only because cli/simulate/ is being edited concurrently:
 * import vancomycin-env.ts instead.
 */
export * from './vancomycin-env.js';
