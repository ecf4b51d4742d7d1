export * from './env.js';
export * from './ward.js';
export * from './ward-timeline.js';
