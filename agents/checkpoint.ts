import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../engine/env.js';
import { TwinlabError } from '../engine/errors.js';
import type { RngState } from '../engine/random.js';
import type { DqnConfig } from './dqn-config.js';
import type { NStepState } from './n-step.js';
import type { OptimizerState } from './q-network.js';
import type { NormalizerState } from './normalization.js';
import type { ReplayBufferState } from './replay-buffer.js';

/**
 * Everything a DQN run needs to continue exactly where it stopped. Checkpoints are taken at a
 * training-phase boundary (after a rollout of `trainFrequency` VectorEnv steps and its gradient
 * steps), so no minibatch or rollout is half done. Every env is mid-episode there (the VectorEnv
 * autoresets on the step an episode ends), so each env's `getState()` is saved (wrappers add their
 * own state to it, e.g. TimeLimit's step counter); resuming resets the VectorEnv and then restores
 * those states. Hence envs must implement getState/setState covering all their randomness.
 */
export const CHECKPOINT_VERSION = 1;

export interface EvaluationSummary {
  step: number;
  meanReturn: number;
  stdReturn: number;
  meanLength: number;
  returns: number[];
  lengths: number[];
  /** SHA-256 over the episodes' trajectory hashes, in episode order. */
  hash: string;
  /** Constrained training: each episode's cost (mean or sum per `constraint.episodeCost`) and their mean. */
  costs?: number[];
  meanCost?: number;
}

export interface EnvSnapshot {
  /** env.getState() of the outermost wrapper: the env's state plus every wrapper's (e.g. TimeLimit's step counter). */
  state: unknown;
}

export interface DqnCounters {
  /** Env steps done (VectorEnv steps × numEnvs). */
  steps: number;
  /** VectorEnv step calls (SB3 `_n_calls`). */
  calls: number;
  episodes: number;
  gradientSteps: number;
  targetUpdates: number;
  nextEvalAt: number;
  nextCheckpointAt: number;
  nextMetricsAt: number;
  /** Loss / mean-Q sums since the last train.metrics event. */
  lossSum: number;
  meanQSum: number;
  metricSteps: number;
}

export interface DqnCheckpoint {
  version: number;
  seed: number;
  config: DqnConfig;
  counters: DqnCounters;
  online: Float32Array[];
  target: Float32Array[];
  optimizer: OptimizerState;
  replay: ReplayBufferState;
  nStep: NStepState;
  normalizer: NormalizerState;
  rngs: { explore: RngState; replay: RngState };
  envs: EnvSnapshot[];
  /** Current observations of the VectorEnv (numEnvs × obsDim). */
  observations: Float32Array;
  episodeReturns: number[];
  episodeLengths: number[];
  /** Evaluations so far, and the best one's weights when keepBest. */
  evaluations: EvaluationSummary[];
  /** `score`: what chose it (the selectionScore when one was given, else the mean return). */
  best: { evaluation: EvaluationSummary; score?: number; weights: Float32Array[] } | null;
  /** config.shield: each env's allowed actions now (numEnvs × numActions) and the interventions (total, since the last metrics). */
  shield?: { masks: Uint8Array; interventions: number; windowInterventions: number; windowDecisions: number };
  /** config.constraint: λ, each env's cost so far in its episode, and the episode costs since the last metrics. */
  constraint?: { lambda: number; episodeCosts: number[]; windowCostSum: number; windowEpisodes: number };
}

export function captureEnv(env: Env): EnvSnapshot {
  const state = env.getState?.();
  if (state === undefined) {
    throw new TwinlabError('INVALID_STATE', `env ${env.id} has no getState(); DQN checkpoints need envs that can save their state`);
  }
  return { state: structuredClone(state) };
}

/** Restore a snapshot into an env that has been reset (so its wrappers accept steps). Wrapper state (TimeLimit's step counter, noise streams) travels inside getState(). */
export function restoreEnv(env: Env, snapshot: EnvSnapshot): void {
  if (!env.setState) throw new TwinlabError('INVALID_STATE', `env ${env.id} has no setState(); cannot resume a DQN checkpoint`);
  env.setState(structuredClone(snapshot.state));
}

// ---- serialisation: JSON with typed arrays moved into one binary file -------------------------

type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint32Array | Int16Array | Uint16Array | Int8Array;
const TYPED: Record<string, new (buffer: ArrayBuffer, offset: number, length: number) => TypedArray> = {
  Float32Array,
  Float64Array,
  Int32Array,
  Uint8Array,
  Uint32Array,
  Int16Array,
  Uint16Array,
  Int8Array,
};

interface TypedRef {
  __typed: string;
  offset: number;
  length: number;
}

function encode(value: unknown, chunks: Uint8Array[], cursor: { offset: number }): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const name = value.constructor.name;
    if (!(name in TYPED)) throw new TwinlabError('INVALID_ARGUMENT', `checkpoint cannot store a ${name}`);
    const arr = value as TypedArray;
    const pad = (arr.BYTES_PER_ELEMENT - (cursor.offset % arr.BYTES_PER_ELEMENT)) % arr.BYTES_PER_ELEMENT;
    if (pad > 0) {
      chunks.push(new Uint8Array(pad));
      cursor.offset += pad;
    }
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).slice();
    const ref: TypedRef = { __typed: name, offset: cursor.offset, length: arr.length };
    chunks.push(bytes);
    cursor.offset += bytes.byteLength;
    return ref;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return { __number: String(value) };
  if (Array.isArray(value)) return value.map((v) => encode(v, chunks, cursor));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = encode(v, chunks, cursor);
    return out;
  }
  return value;
}

function decode(value: unknown, bin: Buffer): unknown {
  if (Array.isArray(value)) return value.map((v) => decode(v, bin));
  if (value !== null && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.__typed === 'string') {
      const ref = v as unknown as TypedRef;
      const Ctor = TYPED[ref.__typed];
      if (!Ctor) throw new TwinlabError('INVALID_ARGUMENT', `checkpoint names unknown array type ${ref.__typed}`);
      const bytesPer = (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
      const copy = new Uint8Array(ref.length * bytesPer);
      copy.set(bin.subarray(ref.offset, ref.offset + copy.byteLength));
      return new Ctor(copy.buffer, 0, ref.length);
    }
    if (typeof v.__number === 'string' && Object.keys(v).length === 1) return Number(v.__number);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = decode(x, bin);
    return out;
  }
  return value;
}

/** Any JSON-like value with typed arrays → { json, binary }. */
export function encodeWithBinary(value: unknown): { json: string; binary: Uint8Array } {
  const chunks: Uint8Array[] = [];
  const cursor = { offset: 0 };
  const tree = encode(value, chunks, cursor);
  const binary = new Uint8Array(cursor.offset);
  let o = 0;
  for (const c of chunks) {
    binary.set(c, o);
    o += c.byteLength;
  }
  return { json: JSON.stringify(tree), binary };
}

export function decodeWithBinary(json: string, binary: Uint8Array): unknown {
  return decode(JSON.parse(json), Buffer.from(binary.buffer, binary.byteOffset, binary.byteLength));
}

/** Write `checkpoint.json` + `checkpoint.bin` into `dir` (atomically per file). Returns the dir. */
export function saveCheckpoint(dir: string, checkpoint: DqnCheckpoint): string {
  mkdirSync(dir, { recursive: true });
  const { json, binary } = encodeWithBinary(checkpoint);
  writeFileSync(join(dir, 'checkpoint.bin.tmp'), binary);
  writeFileSync(join(dir, 'checkpoint.json.tmp'), json);
  renameSync(join(dir, 'checkpoint.bin.tmp'), join(dir, 'checkpoint.bin'));
  renameSync(join(dir, 'checkpoint.json.tmp'), join(dir, 'checkpoint.json'));
  return dir;
}

export function loadCheckpoint(dir: string): DqnCheckpoint {
  let json: string;
  let binary: Buffer;
  try {
    json = readFileSync(join(dir, 'checkpoint.json'), 'utf8');
    binary = readFileSync(join(dir, 'checkpoint.bin'));
  } catch (error) {
    throw new TwinlabError('NOT_FOUND', `no DQN checkpoint in ${dir}: ${(error as Error).message}`);
  }
  const checkpoint = decodeWithBinary(json, binary) as DqnCheckpoint;
  if (checkpoint.version !== CHECKPOINT_VERSION) {
    throw new TwinlabError('INVALID_ARGUMENT', `checkpoint version ${checkpoint.version} in ${dir}; this code reads version ${CHECKPOINT_VERSION}`);
  }
  return checkpoint;
}
