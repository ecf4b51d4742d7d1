import { TwinlabError } from '../engine/errors.js';

/**
 * A plain-TypeScript forward pass over a stack of dense layers: the greedy-Q policy's engine and the
 * single-observation path of the Q-network. No tfjs, so a saved policy acts identically on every
 * tfjs backend (virtual trials stay reproducible whatever backend loaded the model).
 */
export type DenseActivation = 'relu' | 'tanh' | 'linear';

export interface DenseLayerWeights {
  inputSize: number;
  outputSize: number;
  /** outputSize × inputSize, row-major (PyTorch `nn.Linear.weight` layout; the tfjs kernel transposed). */
  kernel: Float32Array;
  bias: Float32Array;
  activation: DenseActivation;
}

export function activate(activation: DenseActivation, z: number): number {
  if (activation === 'relu') return z > 0 ? z : 0;
  if (activation === 'tanh') return Math.tanh(z);
  return z;
}

export class DenseStack {
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly scratch: Float64Array[];

  constructor(readonly layers: readonly DenseLayerWeights[]) {
    if (layers.length === 0) throw new TwinlabError('INVALID_ARGUMENT', 'a dense stack needs at least one layer');
    for (let l = 0; l < layers.length; l++) {
      const layer = layers[l] as DenseLayerWeights;
      if (l > 0 && layer.inputSize !== (layers[l - 1] as DenseLayerWeights).outputSize) {
        throw new TwinlabError(
          'INVALID_SPEC',
          `dense layer ${l} takes ${layer.inputSize} inputs but layer ${l - 1} has ${(layers[l - 1] as DenseLayerWeights).outputSize} outputs`,
        );
      }
      if (layer.kernel.length !== layer.inputSize * layer.outputSize || layer.bias.length !== layer.outputSize) {
        throw new TwinlabError(
          'INVALID_SPEC',
          `dense layer ${l}: kernel has ${layer.kernel.length} values and bias ${layer.bias.length}, expected ${layer.outputSize}×${layer.inputSize} and ${layer.outputSize}`,
        );
      }
    }
    this.inputSize = (layers[0] as DenseLayerWeights).inputSize;
    this.outputSize = (layers[layers.length - 1] as DenseLayerWeights).outputSize;
    this.scratch = layers.map((layer) => new Float64Array(layer.outputSize));
  }

  /** Forward `rows` inputs (row-major, rows × inputSize) into `out` (rows × outputSize). */
  forward(input: Float32Array, rows: number, out: Float32Array): Float32Array {
    const inSize = this.inputSize;
    const outSize = this.outputSize;
    for (let r = 0; r < rows; r++) {
      let prev: Float32Array | Float64Array = input;
      let prevOffset = r * inSize;
      for (let l = 0; l < this.layers.length; l++) {
        const { kernel, bias, activation, inputSize, outputSize } = this.layers[l] as DenseLayerWeights;
        const h = this.scratch[l] as Float64Array;
        for (let o = 0; o < outputSize; o++) {
          let s = bias[o] as number;
          const k = o * inputSize;
          for (let j = 0; j < inputSize; j++) s += (kernel[k + j] as number) * (prev[prevOffset + j] as number);
          h[o] = activate(activation, s);
        }
        prev = h;
        prevOffset = 0;
      }
      const last = prev as Float64Array;
      for (let a = 0; a < outSize; a++) out[r * outSize + a] = last[a] as number;
    }
    return out;
  }
}

/** Index of the largest value in values[offset … offset+n); the lowest index wins ties. */
export function argmax(values: ArrayLike<number>, offset: number, n: number): number {
  let best = 0;
  let bestValue = values[offset] as number;
  for (let a = 1; a < n; a++) {
    const v = values[offset + a] as number;
    if (v > bestValue) {
      bestValue = v;
      best = a;
    }
  }
  return best;
}
