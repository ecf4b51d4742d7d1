export * from './env.js';
export * from './ward.js';
