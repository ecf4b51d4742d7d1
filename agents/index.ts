/**
 * Public API of the agents layer: the DQN family on TensorFlow.js, its replay buffers, schedules,
 * checkpoints, and the exact tabular oracles.
 */
export { initBackend, backendInfo, type BackendName, type BackendInfo } from './backend.js';
export { QNetwork, type QNetworkSpec, type OptimizerConfig, type TrainBatch, type TrainResult, type OptimizerState } from './q-network.js';
export { savePolicy, type SavePolicyMeta } from './save.js';
export { trainDqn, type TrainOptions, type DqnResult } from './dqn.js';
export {
  DqnConfigSchema,
  PrioritizedConfigSchema,
  parseDqnConfig,
  type DqnConfig,
  type DqnConfigInput,
  SB3_DEFAULTS,
  ZOO_CARTPOLE,
  ONE_TO_ONE,
  RAINBOW_LITE,
  DQN_PRESETS,
} from './dqn-config.js';
export {
  type DqnCheckpoint,
  type EvaluationSummary,
  saveCheckpoint,
  loadCheckpoint,
  captureEnv,
  restoreEnv,
  CHECKPOINT_VERSION,
} from './checkpoint.js';
export { evaluateGreedy, argmaxRow, type QFunction } from './evaluate.js';
export { ReplayBuffer, allocateBatch, type ReplayBatch, type ReplayBufferState } from './replay-buffer.js';
export { PrioritizedReplayBuffer } from './prioritized-replay.js';
export { SumTree } from './sum-tree.js';
export { NStepAccumulator, type NStepState } from './n-step.js';
export { LinearSchedule } from './schedules.js';
export { ObservationNormalizer, type NormalizationMode, type NormalizerState } from './normalization.js';
export { valueIteration, tabularQLearning, MdpEnv, validateMdp, type ExplicitMdp, type Outcome, type ValueIterationResult, type QLearningOptions } from './tabular.js';
