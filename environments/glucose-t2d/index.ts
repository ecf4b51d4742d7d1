export * from './model.js';
export * from './patient.js';
