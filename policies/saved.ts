import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Env } from '../engine/env.js';
import { TwinlabError } from '../engine/errors.js';
import type { DenseActivation, DenseLayerWeights } from './dense-stack.js';
import { twinForEnv } from '../engine/twin.js';
import { GreedyQPolicy } from './greedy-q.js';
import type { NormalizationSpec } from './observation-transform.js';
import type { Policy } from './policy.js';
import { MaskedQPolicy, resolveShield, shielded } from './shield.js';

/**
 * Saved learned policies: a directory with
 * - `model.json` + `weights.bin` — a TensorFlow.js LayersModel (Sequential of Dense layers), exactly
 *   what `tf.loadLayersModel('…/model.json')` reads in the browser;
 * - `policy.json` — what the network means: env, observation size and normalisation, actions,
 *   provenance (seed, config, code version, backend, tfjs version, steps, final evaluation).
 *
 * Loading parses the model with tfjs (any backend — only weights are read) and acts with the
 * TypeScript dense stack of `GreedyQPolicy`.
 *
 * Integrity: `policy.json` records `integrity: { file → SHA-256 hex }` for `model.json` and every
 * weight file, and loading refuses a file whose bytes no longer match (INVALID_SPEC naming the file),
 * so a policy whose weights were overwritten does not run silently. Directories saved before the hash
 * existed (no `integrity`) still load, with one process warning per directory (TWINLAB_UNVERIFIED_POLICY).
 */
export const POLICY_FORMAT = 'twinlab-policy';
export const POLICY_VERSION = 1;

export interface PolicyFile {
  format: typeof POLICY_FORMAT;
  version: typeof POLICY_VERSION;
  envId: string;
  envOptions: Record<string, unknown>;
  observation: { size: number; normalization: NormalizationSpec };
  actions: { n: number; labels?: string[] };
  provenance: {
    seed: number | string;
    config: Record<string, unknown>;
    codeVersion: string;
    backend: string;
    tfjsVersion: string;
    trainedSteps: number;
    finalEvaluation: unknown;
  };
  /**
   * The twin shield the policy was trained with and acts under (agents/dqn-config.ts `shield`): `mask` =
   * argmax over the allowed actions (MaskedQPolicy), `replace` = a masked argmax replaced by the shield's
   * safest action (ShieldedPolicy). Absent: the plain greedy policy.
   */
  shield?: { id: string; mode: 'mask' | 'replace' };
  /** SHA-256 (hex) of `model.json` and each weight file, by file name; absent in policies saved before it existed. */
  integrity?: Record<string, string>;
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Refuse a file whose hash differs from the recorded one (no-op when nothing is recorded). */
function verify(dir: string, file: string, data: string | Uint8Array, integrity: Record<string, string> | undefined): void {
  if (integrity === undefined) return;
  const expected = integrity[file];
  if (expected === undefined) {
    throw new TwinlabError('INVALID_SPEC', `${join(dir, file)}: not listed in policy.json integrity (listed: ${Object.keys(integrity).join(', ')}); the model files do not belong to this policy.json`);
  }
  const actual = sha256(data);
  if (actual !== expected) {
    throw new TwinlabError(
      'INVALID_SPEC',
      `${join(dir, file)}: SHA-256 ${actual.slice(0, 12)}… does not match ${expected.slice(0, 12)}… recorded in policy.json (the file was modified or corrupted after saving)`,
      { file: join(dir, file), expected, actual },
    );
  }
}

const warnedUnverified = new Set<string>();

/**
 * A tfjs IOHandler reading `model.json` and its weight files from a directory (Node's fs), checking
 * each against `integrity` (policy.json's hashes) when given.
 */
export function directoryLoadHandler(dir: string, integrity?: Record<string, string>): tf.io.IOHandler {
  return {
    load: async () => {
      const modelPath = join(dir, 'model.json');
      let text: string;
      try {
        text = await readFile(modelPath, 'utf8');
      } catch (error) {
        throw new TwinlabError('NOT_FOUND', `${modelPath}: cannot be read (${(error as Error).message})`);
      }
      verify(dir, 'model.json', text, integrity);
      let modelJSON: tf.io.ModelJSON;
      try {
        modelJSON = JSON.parse(text) as tf.io.ModelJSON;
      } catch (error) {
        throw new TwinlabError('INVALID_SPEC', `${modelPath}: not valid JSON (${(error as Error).message})`);
      }
      if (modelJSON === null || typeof modelJSON !== 'object' || typeof modelJSON.modelTopology !== 'object' || !Array.isArray(modelJSON.weightsManifest)) {
        throw new TwinlabError('INVALID_SPEC', `${modelPath}: not a tfjs LayersModel file (needs modelTopology and weightsManifest)`);
      }
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const path of group.paths) {
            let bytes: Buffer;
            try {
              bytes = await readFile(join(dir, path));
            } catch (error) {
              throw new TwinlabError('NOT_FOUND', `${join(dir, path)}: cannot be read (${(error as Error).message})`);
            }
            verify(dir, path, bytes, integrity);
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

export async function readPolicyFile(dir: string): Promise<PolicyFile> {
  let text: string;
  try {
    text = await readFile(join(dir, 'policy.json'), 'utf8');
  } catch {
    throw new TwinlabError('NOT_FOUND', `no policy.json in ${dir}`);
  }
  let policy: PolicyFile;
  try {
    policy = JSON.parse(text) as PolicyFile;
  } catch (error) {
    throw new TwinlabError('INVALID_SPEC', `${join(dir, 'policy.json')}: not valid JSON (${(error as Error).message})`);
  }
  if (policy === null || typeof policy !== 'object') throw new TwinlabError('INVALID_SPEC', `${join(dir, 'policy.json')}: not a JSON object`);
  if (policy.format !== POLICY_FORMAT || policy.version !== POLICY_VERSION) {
    throw new TwinlabError(
      'INVALID_SPEC',
      `${join(dir, 'policy.json')} is not a ${POLICY_FORMAT} v${POLICY_VERSION} file (format ${JSON.stringify(policy.format)}, version ${JSON.stringify(policy.version)})`,
    );
  }
  if (typeof policy.envId !== 'string' || !(policy.observation?.size > 0) || !(policy.actions?.n > 0)) {
    throw new TwinlabError('INVALID_SPEC', `${join(dir, 'policy.json')} needs envId, observation.size and actions.n`);
  }
  const { integrity } = policy;
  if (
    integrity !== undefined &&
    (integrity === null || typeof integrity !== 'object' || Object.values(integrity).some((h) => typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)))
  ) {
    throw new TwinlabError('INVALID_SPEC', `${join(dir, 'policy.json')}: integrity must map file names to SHA-256 hex digests`);
  }
  return policy;
}

const ACTIVATIONS: Record<string, DenseActivation> = { relu: 'relu', tanh: 'tanh', linear: 'linear' };

/** The dense layers of a loaded Sequential model (kernels transposed to out × in). */
export function denseLayersOf(model: tf.LayersModel): DenseLayerWeights[] {
  return model.layers.map((layer, l) => {
    const config = layer.getConfig() as { activation?: string; useBias?: boolean };
    const activation = ACTIVATIONS[config.activation ?? 'linear'];
    const weights = layer.getWeights();
    if (layer.getClassName() !== 'Dense' || !activation || weights.length !== 2) {
      throw new TwinlabError(
        'INVALID_SPEC',
        `saved model layer ${l} (${layer.getClassName()}, activation ${config.activation}) is not a biased Dense layer with relu/tanh/linear activation`,
      );
    }
    const [kernelT, biasT] = weights as [tf.Tensor, tf.Tensor];
    const [inputSize, outputSize] = kernelT.shape as [number, number];
    const k = kernelT.dataSync();
    const kernel = new Float32Array(inputSize * outputSize);
    for (let i = 0; i < inputSize; i++) for (let o = 0; o < outputSize; o++) kernel[o * inputSize + i] = k[i * outputSize + o] as number;
    return { inputSize, outputSize, kernel, bias: Float32Array.from(biasT.dataSync()), activation };
  });
}

export async function readSavedPolicy(dir: string): Promise<{ policy: PolicyFile; layers: DenseLayerWeights[] }> {
  const policy = await readPolicyFile(dir);
  await tf.ready();
  if (policy.integrity === undefined && !warnedUnverified.has(dir)) {
    warnedUnverified.add(dir);
    process.emitWarning(`${join(dir, 'policy.json')} records no integrity hashes (saved before they existed): its model files are loaded unverified`, {
      code: 'TWINLAB_UNVERIFIED_POLICY',
    });
  }
  const model = await tf.loadLayersModel(directoryLoadHandler(dir, policy.integrity));
  try {
    const layers = denseLayersOf(model);
    const first = layers[0] as DenseLayerWeights;
    const last = layers[layers.length - 1] as DenseLayerWeights;
    if (first.inputSize !== policy.observation.size || last.outputSize !== policy.actions.n) {
      throw new TwinlabError(
        'INVALID_SPEC',
        `model maps ${first.inputSize} inputs to ${last.outputSize} outputs but policy.json says ${policy.observation.size} → ${policy.actions.n}`,
      );
    }
    return { policy, layers };
  } finally {
    model.dispose();
  }
}

/** A loaded saved policy: the env it was trained on and a factory binding the policy to an env. */
export interface SavedPolicyHandle {
  envId: string;
  envOptions: Record<string, unknown>;
  create: (env: Env) => Policy;
}

/** Load a saved policy directory into the handle `policies/load.ts` and trial jobs use. */
export async function loadSavedPolicy(dir: string): Promise<SavedPolicyHandle> {
  const { policy, layers } = await readSavedPolicy(dir);
  const base = new GreedyQPolicy(layers, { name: `greedy-q:${policy.envId}`, normalization: policy.observation.normalization });
  const saved = policy.shield;
  if (saved === undefined) return { envId: policy.envId, envOptions: policy.envOptions ?? {}, create: (env: Env) => base.bindTo(env) };
  if (saved.mode !== 'mask' && saved.mode !== 'replace') throw new TwinlabError('INVALID_SPEC', `${join(dir, 'policy.json')}: shield.mode must be mask or replace (got ${JSON.stringify(saved.mode)})`);
  const definition = resolveShield(twinForEnv(policy.envId), saved.id, `${join(dir, 'policy.json')}: shield.id`);
  return {
    envId: policy.envId,
    envOptions: policy.envOptions ?? {},
    create: (env: Env) => (saved.mode === 'mask' ? new MaskedQPolicy(base.bindTo(env), definition, env) : shielded(base.bindTo(env), definition, env)),
  };
}
