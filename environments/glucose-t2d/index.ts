export * from './foods.js';
export * from './model.js';
export * from './patient.js';
