import type { Env } from '../engine/env.js';
import { TwinlabError } from '../engine/errors.js';
import type { Rng } from '../engine/random.js';
import { isDiscrete } from '../engine/spaces.js';
import { argmax, type DenseLayerWeights, DenseStack } from './dense-stack.js';
import { compileObservationTransform, type NormalizationSpec, type ObservationTransform } from './observation-transform.js';
import type { Policy } from './policy.js';

/**
 * Greedy policy over a Q-network: a = start + argmax_a Q(normalise(s), a), lowest index on ties.
 * The network is a plain dense stack evaluated in TypeScript, so actions do not depend on the tfjs
 * backend. `GreedyQPolicy.load(dir)` reads a saved policy (policy.json + tfjs LayersModel files).
 */
export class GreedyQPolicy implements Policy<number> {
  readonly kind = 'learned' as const;
  private readonly stack: DenseStack;
  private readonly transform: ObservationTransform | null;
  private readonly q: Float32Array;
  private readonly normalized: Float32Array;
  private batchQ = new Float32Array(0);
  private batchX = new Float32Array(0);
  private last: Float32Array | undefined;

  constructor(layers: readonly DenseLayerWeights[], options: { name?: string; normalization?: NormalizationSpec; actionStart?: number } = {}) {
    this.stack = new DenseStack(layers);
    this.name = options.name ?? 'greedy-q';
    this.actionStart = options.actionStart ?? 0;
    this.normalization = options.normalization;
    this.transform = compileObservationTransform(options.normalization, this.stack.inputSize);
    this.q = new Float32Array(this.stack.outputSize);
    this.normalized = new Float32Array(this.stack.inputSize);
  }

  readonly name: string;
  readonly actionStart: number;
  readonly normalization: NormalizationSpec | undefined;

  get inputSize(): number {
    return this.stack.inputSize;
  }

  get numActions(): number {
    return this.stack.outputSize;
  }

  /** The network's dense layers (for explanations: attributions, distillation). */
  get layers(): readonly DenseLayerWeights[] {
    return this.stack.layers;
  }

  /** The network input for a raw observation (the saved normalisation applied; a copy). */
  normalize(observation: Float32Array): Float32Array {
    const out = new Float32Array(this.inputSize);
    if (this.transform) this.transform(observation, 0, out);
    else out.set(observation.subarray(0, this.inputSize));
    return out;
  }

  static async load(dir: string): Promise<GreedyQPolicy> {
    const saved = './saved.js'; // lazily: only saved policies load tfjs
    const { readSavedPolicy } = (await import(saved)) as typeof import('./saved.js');
    const { policy, layers } = await readSavedPolicy(dir);
    return new GreedyQPolicy(layers, { name: `greedy-q:${policy.envId}`, normalization: policy.observation.normalization });
  }

  /** Q-values (numActions) for one observation, after normalisation. */
  qValues(observation: Float32Array, out: Float32Array = new Float32Array(this.numActions)): Float32Array {
    let x: Float32Array = observation;
    if (this.transform) {
      this.transform(observation, 0, this.normalized);
      x = this.normalized;
    }
    return this.stack.forward(x, 1, out);
  }

  act(observation: Float32Array, _rng: Rng): number {
    if (observation.length !== this.inputSize) {
      throw new TwinlabError('INVALID_ARGUMENT', `observation has ${observation.length} components, the policy expects ${this.inputSize}`);
    }
    this.qValues(observation, this.q);
    this.last = this.q;
    return this.actionStart + argmax(this.q, 0, this.numActions);
  }

  actBatch(observations: Float32Array, n: number, _rng: Rng, out: Int32Array): void {
    const d = this.inputSize;
    const A = this.numActions;
    if (observations.length < n * d) throw new TwinlabError('INVALID_ARGUMENT', `actBatch needs ${n}×${d} observation values, got ${observations.length}`);
    if (this.batchQ.length < n * A) this.batchQ = new Float32Array(n * A);
    let x: Float32Array = observations;
    if (this.transform) {
      if (this.batchX.length < n * d) this.batchX = new Float32Array(n * d);
      for (let r = 0; r < n; r++) this.transform(observations, r * d, this.batchX);
      x = this.batchX;
    }
    this.stack.forward(x, n, this.batchQ);
    for (let r = 0; r < n; r++) out[r] = this.actionStart + argmax(this.batchQ, r * A, A);
    this.last = this.batchQ.slice((n - 1) * A, n * A);
  }

  lastQValues(): Float32Array | undefined {
    return this.last;
  }

  /** A copy bound to `env` (checks observation size and the Discrete action count). */
  bindTo(env: Env): GreedyQPolicy {
    const obsSize = env.observationSpace.size;
    if (obsSize !== this.inputSize) {
      throw new TwinlabError('INVALID_ARGUMENT', `env ${env.id} observes ${obsSize} components, the saved policy expects ${this.inputSize}`);
    }
    if (!isDiscrete(env.actionSpace) || env.actionSpace.n !== this.numActions) {
      throw new TwinlabError('INVALID_ARGUMENT', `env ${env.id} action space is not Discrete(${this.numActions}), which the saved policy needs`);
    }
    return new GreedyQPolicy(this.stack.layers, { name: this.name, normalization: this.normalization, actionStart: env.actionSpace.start });
  }
}
