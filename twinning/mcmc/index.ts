export { type Diagnostics, type DiagnosticThresholds, DEFAULT_THRESHOLDS, diagnose, integratedAutocorrTime } from './diagnostics.js';
export { ACCEPTANCE_BAND, type EnsembleOptions, type EnsembleResult, type Reparametrization, sampleEnsemble } from './ensemble.js';
export { inProcessDensity, type LogDensityBatch, workerDensity, type WorkerDensityOptions } from './parallel.js';
