import * as tf from '@tensorflow/tfjs';
import { TwinlabError } from '../../engine/errors.js';
import type { DenseLayerWeights } from '../../policies/dense-stack.js';
import type { GreedyQPolicy } from '../../policies/greedy-q.js';

/**
 * Integrated gradients (Sundararajan, Taly & Yan, ICML 2017) of one action's Q-value with respect to
 * the network input:
 *
 *   IG_i(x) = (x_i − x'_i) · ∫₀¹ ∂Q_a(x' + α(x − x'))/∂x_i dα
 *
 * computed in the network's input space (the normalised observation), with the integral by the
 * trapezoid rule on m intervals: weights 1/(2m) at α = 0 and 1, 1/m in between. All m + 1 gradients
 * come from one batched tfjs gradient call. Completeness: Σ_i IG_i = Q_a(x) − Q_a(x') up to the
 * quadrature error (ReLU networks are piecewise linear, so the error falls as the path's kinks are
 * resolved; `completenessError` reports it).
 *
 * Baseline x' = 0 in normalised space: for a policy with running normalisation that is the running
 * mean observation (x' = (mean − mean)/std = 0), for box-bounds normalisation the centre of the box —
 * an "average patient" reference rather than the physiologically meaningless raw zero (CGM 0 mg/dL).
 * The normalisation is a per-feature affine map, so the attributions are the same whether read in
 * raw or normalised units (both factors of IG_i rescale inversely); clipping is applied before.
 */
export interface IntegratedGradients {
  action: number;
  /** One attribution per input feature (Q units). */
  attributions: Float64Array;
  q: number;
  qBaseline: number;
  /** |Σ attributions − (q − qBaseline)|. */
  completenessError: number;
  steps: number;
  /** The baseline input (normalised space). */
  baseline: Float32Array;
}

export interface IntegratedGradientsOptions {
  /** Trapezoid intervals m (default 64). */
  steps?: number;
  /** Action index (0-based network output) to explain; default the greedy action. */
  action?: number;
  /** Baseline in normalised space (default zeros). */
  baseline?: Float32Array;
}

function forward(layers: readonly DenseLayerWeights[], kernels: tf.Tensor2D[], biases: tf.Tensor1D[], x: tf.Tensor2D): tf.Tensor2D {
  let h = x;
  layers.forEach((layer, l) => {
    const z = tf.add(tf.matMul(h, kernels[l] as tf.Tensor2D, false, true), biases[l] as tf.Tensor1D) as tf.Tensor2D;
    h = layer.activation === 'relu' ? tf.relu(z) : layer.activation === 'tanh' ? tf.tanh(z) : z;
  });
  return h;
}

/** IG for a raw observation, through the policy's own normalisation and network. */
export function integratedGradients(policy: GreedyQPolicy, observation: Float32Array, options: IntegratedGradientsOptions = {}): IntegratedGradients {
  return integratedGradientsOnInput(policy.layers, policy.normalize(observation), options);
}

/** IG for a network input `x` (already normalised). */
export function integratedGradientsOnInput(
  layers: readonly DenseLayerWeights[],
  x: Float32Array,
  options: IntegratedGradientsOptions = {},
): IntegratedGradients {
  const m = options.steps ?? 64;
  if (!Number.isInteger(m) || m < 1) throw new TwinlabError('INVALID_ARGUMENT', `integrated gradients: steps must be an integer ≥ 1, got ${m}`);
  const d = (layers[0] as DenseLayerWeights).inputSize;
  const A = (layers[layers.length - 1] as DenseLayerWeights).outputSize;
  if (x.length !== d) throw new TwinlabError('INVALID_ARGUMENT', `integrated gradients: input has ${x.length} components, the network takes ${d}`);
  const baseline = options.baseline ?? new Float32Array(d);
  if (baseline.length !== d) throw new TwinlabError('INVALID_ARGUMENT', `integrated gradients: baseline has ${baseline.length} components, expected ${d}`);
  const path = new Float32Array((m + 1) * d);
  for (let k = 0; k <= m; k++) {
    const alpha = k / m;
    for (let i = 0; i < d; i++) path[k * d + i] = (baseline[i] as number) + alpha * ((x[i] as number) - (baseline[i] as number));
  }
  const result = tf.tidy(() => {
    const kernels = layers.map((l) => tf.tensor2d(l.kernel, [l.outputSize, l.inputSize]));
    const biases = layers.map((l) => tf.tensor1d(l.bias));
    const input = tf.tensor2d(path, [m + 1, d]);
    const qPath = forward(layers, kernels, biases, input);
    const qData = qPath.dataSync();
    let action = options.action;
    if (action === undefined) {
      action = 0;
      for (let a = 1; a < A; a++) if ((qData[m * A + a] as number) > (qData[m * A + action] as number)) action = a;
    }
    if (!Number.isInteger(action) || action < 0 || action >= A)
      throw new TwinlabError('INVALID_ARGUMENT', `integrated gradients: action must be in [0, ${A}), got ${action}`);
    const chosen = action;
    const oneHot = tf.oneHot(tf.tensor1d([chosen], 'int32'), A).reshape([1, A]);
    // Rows are independent, so the gradient of the summed chosen Q-values gives each row's own gradient.
    const grads = tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(forward(layers, kernels, biases, xs as tf.Tensor2D), oneHot)))(input);
    return { grads: grads.dataSync() as Float32Array, q: qData[m * A + chosen] as number, qBaseline: qData[chosen] as number, action: chosen };
  });
  const attributions = new Float64Array(d);
  for (let k = 0; k <= m; k++) {
    const w = k === 0 || k === m ? 0.5 / m : 1 / m;
    for (let i = 0; i < d; i++) attributions[i] = (attributions[i] as number) + w * (result.grads[k * d + i] as number);
  }
  let sum = 0;
  for (let i = 0; i < d; i++) {
    attributions[i] = (attributions[i] as number) * ((x[i] as number) - (baseline[i] as number));
    sum += attributions[i] as number;
  }
  return {
    action: result.action,
    attributions,
    q: result.q,
    qBaseline: result.qBaseline,
    completenessError: Math.abs(sum - (result.q - result.qBaseline)),
    steps: m,
    baseline,
  };
}
