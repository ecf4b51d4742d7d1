export * from './behaviour.js';
export * from './data.js';
export * from './estimators.js';
export * from './fqe.js';
export * from './report.js';
