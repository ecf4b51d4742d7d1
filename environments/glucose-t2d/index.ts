export * from './cohort.js';
export * from './env.js';
export * from './foods.js';
export * from './menu.js';
export * from './model.js';
export * from './patient.js';
export * from './t2d-nutrition-agents.js';
export * from './twin.js';
