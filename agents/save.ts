import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TwinlabError } from '../engine/errors.js';
import type { NormalizationSpec } from '../policies/observation-transform.js';
import { POLICY_FORMAT, POLICY_VERSION, type PolicyFile } from '../policies/saved.js';
import { backendInfo, getTf, initBackend } from './backend.js';
import type { QNetwork } from './q-network.js';

export interface SavePolicyMeta {
  envId: string;
  envOptions?: Record<string, unknown>;
  normalization: NormalizationSpec;
  actionLabels?: string[];
  /** The shield the policy was trained with (DqnResult.shield); deployment acts under it. */
  shield?: { id: string; mode: 'mask' | 'replace' };
  provenance: {
    seed: number | string;
    config: Record<string, unknown>;
    codeVersion: string;
    trainedSteps: number;
    finalEvaluation?: unknown;
    /** Defaults to the backend in use. */
    backend?: string;
    tfjsVersion?: string;
  };
}

/**
 * Save `network` as a learned policy directory: `model.json` + `weights.bin` (tfjs LayersModel, a
 * Sequential of Dense layers — the dueling head folded into one Dense layer, see q-network.ts) and
 * `policy.json` (policies/saved.ts), which records the SHA-256 of the two model files (checked on load). Written through `model.save(tf.io.withSaveHandler(…))`, since
 * tfjs-node's `file://` handler is not available here.
 */
export async function savePolicy(dir: string, network: QNetwork, meta: SavePolicyMeta): Promise<PolicyFile> {
  await initBackend();
  const tf = getTf();
  const info = backendInfo();
  const layers = network.toDenseLayers();
  const labels = meta.actionLabels;
  if (labels !== undefined && labels.length !== network.spec.numActions) {
    throw new TwinlabError('INVALID_ARGUMENT', `actionLabels has ${labels.length} entries, the network has ${network.spec.numActions} actions`);
  }
  const model = tf.sequential();
  layers.forEach((layer, l) => {
    model.add(
      tf.layers.dense({
        units: layer.outputSize,
        activation: layer.activation,
        useBias: true,
        kernelInitializer: 'zeros',
        name: `q_dense_${l}`,
        ...(l === 0 ? { inputShape: [layer.inputSize] } : {}),
      }),
    );
  });
  const tensors = layers.flatMap((layer) => {
    const kernel = new Float32Array(layer.inputSize * layer.outputSize); // tfjs kernel: in × out
    for (let o = 0; o < layer.outputSize; o++)
      for (let i = 0; i < layer.inputSize; i++) kernel[i * layer.outputSize + o] = layer.kernel[o * layer.inputSize + i] as number;
    return [tf.tensor2d(kernel, [layer.inputSize, layer.outputSize]), tf.tensor1d(layer.bias.slice())];
  });
  model.setWeights(tensors);
  for (const t of tensors) t.dispose();

  await mkdir(dir, { recursive: true });
  let integrity: Record<string, string> = {};
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const weights = data === undefined ? new ArrayBuffer(0) : Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
      const modelJSON = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      const modelText = `${JSON.stringify(modelJSON)}\n`;
      const weightBytes = new Uint8Array(weights);
      await writeFile(join(dir, 'model.json'), modelText);
      await writeFile(join(dir, 'weights.bin'), weightBytes);
      integrity = { 'model.json': sha256(modelText), 'weights.bin': sha256(weightBytes) };
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
  model.dispose();

  const policy: PolicyFile = {
    format: POLICY_FORMAT,
    version: POLICY_VERSION,
    envId: meta.envId,
    envOptions: meta.envOptions ?? {},
    observation: { size: network.spec.inputSize, normalization: meta.normalization },
    actions: labels === undefined ? { n: network.spec.numActions } : { n: network.spec.numActions, labels },
    provenance: {
      seed: meta.provenance.seed,
      config: meta.provenance.config,
      codeVersion: meta.provenance.codeVersion,
      backend: meta.provenance.backend ?? info?.backend ?? 'unknown',
      tfjsVersion: meta.provenance.tfjsVersion ?? info?.tfjsVersion ?? tf.version.tfjs,
      trainedSteps: meta.provenance.trainedSteps,
      finalEvaluation: meta.provenance.finalEvaluation ?? null,
    },
    ...(meta.shield ? { shield: { id: meta.shield.id, mode: meta.shield.mode } } : {}),
    integrity,
  };
  await writeFile(join(dir, 'policy.json'), `${JSON.stringify(policy, null, 2)}\n`);
  return policy;
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
