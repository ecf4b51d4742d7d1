import { beforeAll, describe, expect, it } from 'vitest';
import { getTf, initBackend, isBackendName } from '../../agents/backend.js';
import { type OptimizerConfig, QNetwork, type QNetworkSpec, type TrainBatch } from '../../agents/q-network.js';
import { isTwinlabError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';
import { DenseStack } from '../../policies/dense-stack.js';

const ADAM: OptimizerConfig = { learningRate: 1e-3, adamEpsilon: 1e-8, maxGradNorm: 10, loss: 'huber' };
const SPEC: QNetworkSpec = { inputSize: 4, numActions: 3, hidden: [16, 8], dueling: false };

function randomBatch(rng: Rng, spec: QNetworkSpec, B: number, withWeights = false): TrainBatch {
  return {
    observations: Float32Array.from({ length: B * spec.inputSize }, () => rng.normal()),
    actions: Int32Array.from({ length: B }, () => rng.integer(0, spec.numActions)),
    targets: Float32Array.from({ length: B }, () => rng.normal(0, 2)),
    ...(withWeights ? { weights: Float32Array.from({ length: B }, () => rng.uniform(0.1, 1)) } : {}),
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** Reference: the same loss built from standard tfjs ops and differentiated by tfjs autodiff. */
function autodiffGradients(net: QNetwork, batch: TrainBatch, loss: 'huber' | 'mse'): { loss: number; grads: Float32Array[] } {
  const tf = getTf();
  const { inputSize, numActions, hidden, dueling, activation } = net.spec;
  const B = batch.actions.length;
  const vars = net.getWeights().map((w) => tf.tensor1d(w));
  const lossFn = (...ps: import('@tensorflow/tfjs').Tensor[]) => {
    let h: import('@tensorflow/tfjs').Tensor = tf.tensor2d(batch.observations, [B, inputSize]);
    let k = 0;
    const dense = (x: import('@tensorflow/tfjs').Tensor, out: number) => {
      const w = (ps[k++] as import('@tensorflow/tfjs').Tensor).reshape([out, -1]);
      return tf.add(tf.matMul(x, w, false, true), ps[k++] as import('@tensorflow/tfjs').Tensor);
    };
    for (const width of hidden) h = activation === 'tanh' ? tf.tanh(dense(h, width)) : tf.relu(dense(h, width));
    let q: import('@tensorflow/tfjs').Tensor;
    if (dueling) {
      const v = dense(h, 1);
      const a = dense(h, numActions);
      q = tf.add(v, tf.sub(a, tf.mean(a, 1, true)));
    } else q = dense(h, numActions);
    const qsa = tf.sum(tf.mul(q, tf.oneHot(tf.tensor1d(batch.actions, 'int32'), numActions)), 1);
    const d = tf.sub(qsa, tf.tensor1d(batch.targets));
    let l: import('@tensorflow/tfjs').Tensor;
    if (loss === 'huber') {
      const c = tf.minimum(tf.abs(d), 1);
      l = tf.add(tf.mul(0.5, tf.square(c)), tf.sub(tf.abs(d), c));
    } else l = tf.square(d);
    const w = batch.weights ? tf.tensor1d(batch.weights) : tf.onesLike(l);
    return tf.mean(tf.mul(l, w)) as import('@tensorflow/tfjs').Scalar;
  };
  const { value, grads } = tf.valueAndGrads(lossFn)(vars);
  const out = { loss: value.dataSync()[0] as number, grads: grads.map((g) => Float32Array.from(g.dataSync())) };
  tf.dispose([value, ...grads, ...vars]);
  return out;
}

describe('backend selection', () => {
  let auto: Awaited<ReturnType<typeof initBackend>>;
  beforeAll(async () => {
    auto = await initBackend('auto');
  });

  it('auto falls back to wasm when tfjs-node cannot load, and records the tfjs version', () => {
    expect(auto.backend).toBe('wasm');
    expect(auto.tfjsVersion).toMatch(/^4\.\d+\.\d+$/);
    expect(getTf().getBackend()).toBe('wasm');
  });

  it('an explicit tensorflow request fails with a TwinlabError naming the backend; wasm stays active', async () => {
    const error = await initBackend('tensorflow').catch((e: unknown) => e);
    expect(isTwinlabError(error)).toBe(true);
    expect((error as Error).message).toContain('"tensorflow"');
    expect(getTf().getBackend()).toBe('wasm');
    expect(await initBackend()).toEqual(auto);
  });

  it('validates backend names', async () => {
    expect(isBackendName('wasm')).toBe(true);
    expect(isBackendName('webgl')).toBe(false);
    await expect(initBackend('webgl' as never)).rejects.toThrow(/backend must be one of/);
  });
});

describe('QNetwork', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('initialises like PyTorch nn.Linear: U(±1/√fan_in) for weights and biases, reproducibly per seed', () => {
    const a = QNetwork.create(SPEC, Rng.fromSeed(1), ADAM);
    const b = QNetwork.create(SPEC, Rng.fromSeed(1), ADAM);
    const c = QNetwork.create(SPEC, Rng.fromSeed(2), ADAM);
    expect(a.weightsHash()).toBe(b.weightsHash());
    expect(a.weightsHash()).not.toBe(c.weightsHash());
    const fanIns = [4, 4, 16, 16, 8, 8];
    a.getWeights().forEach((w, i) => {
      const bound = 1 / Math.sqrt(fanIns[i] as number);
      const maxAbs = Math.max(...Array.from(w, Math.abs));
      expect(maxAbs).toBeLessThanOrEqual(bound);
      expect(maxAbs).toBeGreaterThan(0.5 * bound); // uses the range, not a tiny init
    });
  });

  it('same seed and batches give bit-identical weights after training; a different seed does not', () => {
    const run = (seed: number) => {
      const net = QNetwork.create(SPEC, Rng.fromSeed(seed), ADAM);
      const data = Rng.fromSeed(99);
      for (let i = 0; i < 20; i++) net.trainStep(randomBatch(data, SPEC, 32));
      const h = net.weightsHash();
      net.dispose();
      return h;
    };
    expect(run(5)).toBe(run(5));
    expect(run(5)).not.toBe(run(6));
  });

  for (const dueling of [false, true]) {
    for (const activation of ['relu', 'tanh'] as const) {
      it(`hand-written backward pass matches tfjs autodiff (dueling ${dueling}, ${activation}, importance weights)`, () => {
        const spec = { ...SPEC, dueling, activation };
        const net = QNetwork.create(spec, Rng.fromSeed(3), ADAM);
        const batch = randomBatch(Rng.fromSeed(4), spec, 32, true);
        for (const loss of ['huber', 'mse'] as const) {
          const ref = autodiffGradients(net, batch, loss);
          const mine = QNetwork.create(spec, Rng.fromSeed(3), { ...ADAM, loss }).gradients(batch);
          expect(mine.loss).toBeCloseTo(ref.loss, 5);
          mine.gradients.forEach((g, i) => {
            const scale = Math.max(1e-3, ...Array.from(ref.grads[i] as Float32Array, Math.abs));
            expect(maxAbsDiff(g, ref.grads[i] as Float32Array) / scale).toBeLessThan(1e-4);
          });
        }
      });
    }
  }

  it('TypeScript and tfjs forward passes agree within 1e-5 (plain, dueling, tanh)', () => {
    for (const spec of [SPEC, { ...SPEC, dueling: true }, { ...SPEC, activation: 'tanh' as const }, { ...SPEC, hidden: [64, 64] }]) {
      const net = QNetwork.create(spec, Rng.fromSeed(8), ADAM);
      const obs = randomBatch(Rng.fromSeed(9), spec, 50).observations;
      expect(maxAbsDiff(net.predictJs(obs, 50), net.predictTf(obs, 50))).toBeLessThan(1e-5);
      expect(maxAbsDiff(net.predictKernel(obs, 50), net.predictTf(obs, 50))).toBeLessThan(1e-5);
      expect(maxAbsDiff(net.predictKernel(obs.subarray(0, 4 * 7), 7), net.predictTf(obs, 7))).toBeLessThan(1e-5);
      expect(maxAbsDiff(net.predict(obs, 1), net.predictTf(obs, 1))).toBeLessThan(1e-5);
      net.trainStep(randomBatch(Rng.fromSeed(10), spec, 16)); // the JS copy follows the update
      expect(maxAbsDiff(net.predict(obs, 1), net.predictTf(obs, 1))).toBeLessThan(1e-5);
      net.dispose();
    }
  });

  it('kernel predict of a large ReLU batch (several 64-row chunks, 5 actions padded to 8) equals tfjs and the TS forward', () => {
    const spec: QNetworkSpec = { inputSize: 3, numActions: 5, hidden: [40, 24], dueling: false };
    const net = QNetwork.create(spec, Rng.fromSeed(30), ADAM);
    net.trainStep(randomBatch(Rng.fromSeed(31), spec, 80)); // a 80-row workspace, then weights change
    const obs = randomBatch(Rng.fromSeed(32), spec, 150).observations;
    const q = net.predict(obs, 150);
    expect(maxAbsDiff(q, net.predictTf(obs, 150))).toBeLessThan(1e-5);
    expect(maxAbsDiff(q, net.predictJs(obs, 150))).toBeLessThan(1e-5);
    expect(Array.from(net.predict(obs.subarray(3 * 149), 1))).toEqual(Array.from(q.subarray(5 * 149)));
    net.dispose();
  });

  it('trainStep reduces the loss on a fixed regression batch', () => {
    const net = QNetwork.create(SPEC, Rng.fromSeed(11), { ...ADAM, learningRate: 3e-3, loss: 'mse' });
    const batch = randomBatch(Rng.fromSeed(12), SPEC, 64);
    const x = batch.observations;
    for (let b = 0; b < 64; b++) batch.targets[b] = 2 * (x[4 * b] as number) - (x[4 * b + 1] as number) + 0.5; // learnable
    const first = net.trainStep(batch).loss;
    let last = first;
    for (let i = 0; i < 300; i++) last = net.trainStep(batch).loss;
    expect(last).toBeLessThan(0.2 * first);
  });

  it('Huber and MSE losses, TD errors and mean Q on a hand-computed batch', () => {
    // hidden [] → Q = W·x + b; W = 0, b = (1, 2): Q(s, ·) = (1, 2) for every s.
    const spec: QNetworkSpec = { inputSize: 2, numActions: 2, hidden: [], dueling: false };
    const batch: TrainBatch = {
      observations: new Float32Array([0.3, -1, 2, 0.5]),
      actions: new Int32Array([0, 1]),
      targets: new Float32Array([0.5, 5]), // δ = 0.5, −3
    };
    for (const [loss, expected] of [
      ['huber', (0.5 * 0.25 + (3 - 0.5)) / 2],
      ['mse', (0.25 + 9) / 2],
    ] as const) {
      const net = QNetwork.create(spec, Rng.fromSeed(1), { ...ADAM, loss });
      net.setWeights([new Float32Array(4), new Float32Array([1, 2])]);
      const r = net.trainStep(batch);
      expect(r.loss).toBeCloseTo(expected, 6);
      expect(Array.from(r.tdErrors)).toEqual([0.5, -3]);
      expect(r.meanQ).toBeCloseTo(1.5, 6);
    }
  });

  it('importance weights scale each sample’s loss and gradient', () => {
    const net = QNetwork.create(SPEC, Rng.fromSeed(13), ADAM);
    const batch = randomBatch(Rng.fromSeed(14), SPEC, 16);
    const plain = net.gradients(batch);
    const doubled = net.gradients({ ...batch, weights: new Float32Array(16).fill(2) });
    expect(doubled.loss).toBeCloseTo(2 * plain.loss, 6);
    expect(doubled.gradNorm).toBeCloseTo(2 * plain.gradNorm, 5);
    const onlyFirst = new Float32Array(16);
    onlyFirst[0] = 16;
    const d0 = plain.tdErrors[0] as number;
    const huber0 = Math.abs(d0) < 1 ? 0.5 * d0 * d0 : Math.abs(d0) - 0.5;
    expect(net.gradients({ ...batch, weights: onlyFirst }).loss).toBeCloseTo(huber0, 5);
  });

  it('global-norm clipping caps the first Adam update exactly as PyTorch clip_grad_norm_ + Adam', () => {
    // With a large Adam ε the first step is Δθ = −lr·g_c/(|g_c| + ε), g_c = g·min(1, max/(‖g‖ + 1e−6)).
    const eps = 1e3;
    const lr = 0.5;
    const batch = randomBatch(Rng.fromSeed(15), SPEC, 32);
    for (const maxGradNorm of [null, 1e-3]) {
      const net = QNetwork.create(SPEC, Rng.fromSeed(16), { ...ADAM, learningRate: lr, adamEpsilon: eps, maxGradNorm });
      const before = net.getWeights();
      const { gradients, gradNorm } = net.gradients(batch);
      net.trainStep(batch);
      const after = net.getWeights();
      const c = maxGradNorm === null ? 1 : Math.min(1, maxGradNorm / (gradNorm + 1e-6));
      if (maxGradNorm !== null) expect(c).toBeLessThan(0.1); // the test really clips
      let updateNorm = 0;
      before.forEach((w, i) => {
        for (let j = 0; j < w.length; j++) {
          const g = ((gradients[i] as Float32Array)[j] as number) * c;
          const expected = (w[j] as number) - (lr * g) / (Math.abs(g) + eps);
          expect(Math.abs(((after[i] as Float32Array)[j] as number) - expected)).toBeLessThan(1e-7 + 1e-6 * Math.abs(expected));
          updateNorm += (((after[i] as Float32Array)[j] as number) - (w[j] as number)) ** 2;
        }
      });
      const expectedNorm = ((lr / eps) * (maxGradNorm ?? gradNorm)) as number;
      expect(Math.sqrt(updateNorm) / expectedNorm).toBeCloseTo(1, 2);
    }
  });

  it('ten Adam steps follow tf.train.adam on the same gradients (β₁, β₂ and bias correction, not only step 1)', () => {
    // At step 1 bias correction makes the update −lr·g/(|g| + ε) whatever β₁, β₂ are; from step 2 on
    // the moments mix gradients of different batches, so a wrong β or bias correction shows.
    const tf = getTf();
    const steps = 10;
    const run = (beta1: number, beta2: number, refBeta1: number, refBeta2: number): number => {
      const lr = 1e-2;
      const eps = 1e-7;
      const net = QNetwork.create(SPEC, Rng.fromSeed(40), { ...ADAM, learningRate: lr, adamEpsilon: eps, maxGradNorm: null, beta1, beta2 });
      const vars = net.getWeights().map((w, i) => tf.variable(tf.tensor1d(w), true, `adam-ref-${beta1}-${refBeta1}-${i}`));
      const reference = tf.train.adam(lr, refBeta1, refBeta2, eps);
      let worst = 0;
      for (let t = 0; t < steps; t++) {
        const batch = randomBatch(Rng.fromSeed(41 + t), SPEC, 32);
        const { gradients } = net.gradients(batch);
        net.trainStep(batch);
        const named = vars.map((v, i) => ({ name: v.name, tensor: tf.tensor1d(gradients[i] as Float32Array) }));
        reference.applyGradients(named);
        tf.dispose(named.map((n) => n.tensor));
        const ours = net.getWeights();
        vars.forEach((v, i) => {
          const theirs = v.dataSync();
          const mine = ours[i] as Float32Array;
          for (let j = 0; j < mine.length; j++) worst = Math.max(worst, Math.abs((mine[j] as number) - (theirs[j] as number)));
        });
      }
      reference.dispose();
      tf.dispose(vars);
      net.dispose();
      return worst;
    };
    expect(run(0.9, 0.999, 0.9, 0.999)).toBeLessThan(2e-6);
    expect(run(0.5, 0.9, 0.5, 0.9)).toBeLessThan(2e-6);
    // The comparison has the power to see β: the same run against the wrong β's is far off.
    expect(run(0.5, 0.9, 0.9, 0.999)).toBeGreaterThan(1e-3);
  });

  it('dueling: Q = V + A − mean(A), and the folded single-Dense head gives the same Q-values', () => {
    const spec = { ...SPEC, dueling: true };
    const net = QNetwork.create(spec, Rng.fromSeed(17), ADAM);
    net.trainStep(randomBatch(Rng.fromSeed(18), spec, 16)); // the streams are not at their init
    const w = net.getWeights();
    const obs = randomBatch(Rng.fromSeed(19), spec, 10).observations;
    const q = net.predictJs(obs, 10);
    const trunk = new DenseStack([
      { inputSize: 4, outputSize: 16, kernel: w[0] as Float32Array, bias: w[1] as Float32Array, activation: 'relu' },
      { inputSize: 16, outputSize: 8, kernel: w[2] as Float32Array, bias: w[3] as Float32Array, activation: 'relu' },
    ]);
    const h = trunk.forward(obs, 10, new Float32Array(80));
    const value = new DenseStack([{ inputSize: 8, outputSize: 1, kernel: w[4] as Float32Array, bias: w[5] as Float32Array, activation: 'linear' }]).forward(
      h,
      10,
      new Float32Array(10),
    );
    const adv = new DenseStack([{ inputSize: 8, outputSize: 3, kernel: w[6] as Float32Array, bias: w[7] as Float32Array, activation: 'linear' }]).forward(
      h,
      10,
      new Float32Array(30),
    );
    for (let r = 0; r < 10; r++) {
      const mean = ((adv[3 * r] as number) + (adv[3 * r + 1] as number) + (adv[3 * r + 2] as number)) / 3;
      for (let a = 0; a < 3; a++) expect(Math.abs((q[3 * r + a] as number) - ((value[r] as number) + (adv[3 * r + a] as number) - mean))).toBeLessThan(1e-5);
    }
    const folded = net.toDenseLayers();
    expect(folded.map((l) => l.outputSize)).toEqual([16, 8, 3]);
    expect(maxAbsDiff(new DenseStack(folded).forward(obs, 10, new Float32Array(30)), q)).toBeLessThan(1e-5);
  });

  it('weights + optimizer state restore into a fresh network and resume exactly', () => {
    const data = (i: number) => randomBatch(Rng.fromSeed(`batch/${i}`), SPEC, 32);
    const uninterrupted = QNetwork.create(SPEC, Rng.fromSeed(20), ADAM);
    for (let i = 0; i < 10; i++) uninterrupted.trainStep(data(i));

    const first = QNetwork.create(SPEC, Rng.fromSeed(20), ADAM);
    for (let i = 0; i < 6; i++) first.trainStep(data(i));
    const weights = first.getWeights();
    const opt = JSON.parse(JSON.stringify({ step: first.getOptimizerState().step, tensors: first.getOptimizerState().tensors.map((t) => Array.from(t)) }));
    first.dispose();

    const resumed = QNetwork.create(SPEC, Rng.fromSeed(999), ADAM);
    resumed.setWeights(weights);
    resumed.setOptimizerState({ step: opt.step, tensors: opt.tensors.map((t: number[]) => Float32Array.from(t)) });
    expect(resumed.steps).toBe(6);
    for (let i = 6; i < 10; i++) resumed.trainStep(data(i));
    expect(resumed.weightsHash()).toBe(uninterrupted.weightsHash());

    const fresh = QNetwork.create(SPEC, Rng.fromSeed(20), ADAM); // without optimizer state: differs
    fresh.setWeights(weights);
    for (let i = 6; i < 10; i++) fresh.trainStep(data(i));
    expect(fresh.weightsHash()).not.toBe(uninterrupted.weightsHash());
  });

  it('copyTo is exact, polyakTo mixes θ_target ← τθ + (1 − τ)θ_target', () => {
    const online = QNetwork.create(SPEC, Rng.fromSeed(21), ADAM);
    const target = QNetwork.create(SPEC, Rng.fromSeed(22), ADAM);
    const before = target.getWeights();
    online.polyakTo(target, 0.25);
    const mixed = target.getWeights();
    online.getWeights().forEach((w, i) => {
      for (let j = 0; j < w.length; j++)
        expect((mixed[i] as Float32Array)[j]).toBeCloseTo(0.25 * (w[j] as number) + 0.75 * ((before[i] as Float32Array)[j] as number), 6);
    });
    online.copyTo(target);
    expect(target.weightsHash()).toBe(online.weightsHash());
    const obs = randomBatch(Rng.fromSeed(23), SPEC, 64).observations;
    expect(maxAbsDiff(target.predict(obs, 64), online.predict(obs, 64))).toBe(0);
    expect(() => online.polyakTo(target, 0)).toThrow(/tau must be in \(0, 1\]/);
  });

  it('rejects malformed batches and weights with messages naming the field', () => {
    const net = QNetwork.create(SPEC, Rng.fromSeed(24), ADAM);
    const batch = randomBatch(Rng.fromSeed(25), SPEC, 4);
    expect(() => net.trainStep({ ...batch, targets: new Float32Array(3) })).toThrow(/batch.targets has 3 values, expected 4/);
    expect(() => net.trainStep({ ...batch, actions: new Int32Array([0, 1, 2, 3]) })).toThrow(/batch.actions\[3\] = 3/);
    expect(() => net.setWeights([new Float32Array(3)])).toThrow(/expected 6 arrays/);
    expect(() => QNetwork.create({ ...SPEC, hidden: [0] }, Rng.fromSeed(1), ADAM)).toThrow(/hidden\[0\] must be a positive integer/);
  });
});
