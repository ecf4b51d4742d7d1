import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Env } from '../engine/env.js';
import { TwinlabError } from '../engine/errors.js';
import type { DenseActivation, DenseLayerWeights } from './dense-stack.js';
import { GreedyQPolicy } from './greedy-q.js';
import type { SavedPolicyHandle } from './load.js';
import type { NormalizationSpec } from './observation-transform.js';

/**
 * Saved learned policies: a directory with
 * - `model.json` + `weights.bin` — a TensorFlow.js LayersModel (Sequential of Dense layers), exactly
 *   what `tf.loadLayersModel('…/model.json')` reads in the browser;
 * - `policy.json` — what the network means: env, observation size and normalisation, actions,
 *   provenance (seed, config, code version, backend, tfjs version, steps, final evaluation).
 *
 * Loading parses the model with tfjs (any backend — only weights are read) and acts with the
 * TypeScript dense stack of `GreedyQPolicy`.
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
}

/** A tfjs IOHandler reading `model.json` and its weight files from a directory (Node's fs). */
export function directoryLoadHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const modelJSON = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const path of group.paths) {
            const bytes = await readFile(join(dir, path));
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
  const policy = JSON.parse(text) as PolicyFile;
  if (policy.format !== POLICY_FORMAT || policy.version !== POLICY_VERSION) {
    throw new TwinlabError(
      'INVALID_SPEC',
      `${join(dir, 'policy.json')} is not a ${POLICY_FORMAT} v${POLICY_VERSION} file (format ${JSON.stringify(policy.format)}, version ${JSON.stringify(policy.version)})`,
    );
  }
  if (typeof policy.envId !== 'string' || !(policy.observation?.size > 0) || !(policy.actions?.n > 0)) {
    throw new TwinlabError('INVALID_SPEC', `${join(dir, 'policy.json')} needs envId, observation.size and actions.n`);
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
  const model = await tf.loadLayersModel(directoryLoadHandler(dir));
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

/** The handle `policies/load.ts` expects: env id/options and a factory binding the policy to an env. */
export async function loadSavedPolicy(dir: string): Promise<SavedPolicyHandle> {
  const { policy, layers } = await readSavedPolicy(dir);
  const base = new GreedyQPolicy(layers, { name: `greedy-q:${policy.envId}`, normalization: policy.observation.normalization });
  return { envId: policy.envId, envOptions: policy.envOptions ?? {}, create: (env: Env) => base.bindTo(env) };
}
