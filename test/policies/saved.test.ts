import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../agents/backend.js';
import { QNetwork, type QNetworkSpec } from '../../agents/q-network.js';
import { savePolicy } from '../../agents/save.js';
import type { Env } from '../../engine/env.js';
import { Rng } from '../../engine/random.js';
import { Box, Discrete } from '../../engine/spaces.js';
import { GreedyQPolicy } from '../../policies/greedy-q.js';
import { loadPolicy } from '../../policies/load.js';
import { loadSavedPolicy, type PolicyFile, readSavedPolicy } from '../../policies/saved.js';

const ADAM = { learningRate: 1e-3, adamEpsilon: 1e-8, maxGradNorm: 10, loss: 'huber' as const };
const PROVENANCE = { seed: 7, config: { hidden: [32, 16] }, codeVersion: 'test', trainedSteps: 3 };

function trainedNetwork(spec: QNetworkSpec, seed: number): QNetwork {
  const net = QNetwork.create(spec, Rng.fromSeed(seed), ADAM);
  const rng = Rng.fromSeed(seed + 1);
  for (let i = 0; i < 3; i++) {
    net.trainStep({
      observations: Float32Array.from({ length: 32 * spec.inputSize }, () => rng.normal()),
      actions: Int32Array.from({ length: 32 }, () => rng.integer(0, spec.numActions)),
      targets: Float32Array.from({ length: 32 }, () => rng.normal(0, 3)),
    });
  }
  return net;
}

function fakeEnv(obsSize: number, actions: number): Env {
  return { id: 'test/fake-v0', observationSpace: new Box(-10, 10, [obsSize]), actionSpace: new Discrete(actions) } as unknown as Env;
}

describe('saved learned policies', () => {
  let root: string;
  beforeAll(async () => {
    await initBackend('wasm');
    root = await mkdtemp(join(tmpdir(), 'twinlab-saved-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const observations = Float32Array.from({ length: 40 * 5 }, (_, i) => Math.sin(i * 1.7) * 3);

  for (const dueling of [false, true]) {
    it(`save → GreedyQPolicy.load reproduces the network's Q-values and greedy actions (dueling ${dueling})`, async () => {
      const spec: QNetworkSpec = { inputSize: 5, numActions: 4, hidden: [32, 16], dueling };
      const net = trainedNetwork(spec, dueling ? 2 : 1);
      const dir = join(root, `plain-${dueling}`);
      const written = await savePolicy(dir, net, {
        envId: 'test/fake-v0',
        envOptions: { scenario: 'a' },
        normalization: { kind: 'none' },
        provenance: PROVENANCE,
      });
      const onDisk = JSON.parse(await readFile(join(dir, 'policy.json'), 'utf8')) as PolicyFile;
      expect(onDisk).toEqual(written);
      expect(onDisk).toMatchObject({ format: 'twinlab-policy', version: 1, envId: 'test/fake-v0', observation: { size: 5 }, actions: { n: 4 } });
      expect(onDisk.provenance).toMatchObject({ seed: 7, backend: 'wasm', tfjsVersion: tf.version.tfjs, trainedSteps: 3 });

      const policy = await GreedyQPolicy.load(dir);
      expect(policy.kind).toBe('learned');
      const expected = net.predictJs(observations, 40);
      const actions = new Int32Array(40);
      policy.actBatch(observations, 40, Rng.fromSeed(0), actions);
      for (let r = 0; r < 40; r++) {
        const obs = observations.subarray(5 * r, 5 * r + 5);
        const a = policy.act(obs, Rng.fromSeed(0));
        const q = policy.lastQValues() as Float32Array;
        let best = 0;
        for (let k = 0; k < 4; k++) {
          expect(Math.abs((q[k] as number) - (expected[4 * r + k] as number))).toBeLessThan(1e-5);
          if ((expected[4 * r + k] as number) > (expected[4 * r + best] as number)) best = k;
        }
        expect(a).toBe(best);
        expect(actions[r]).toBe(best);
      }
    });
  }

  it('the files load with tf.loadLayersModel over HTTP semantics (as in the browser) and predict the same Q-values', async () => {
    const spec: QNetworkSpec = { inputSize: 5, numActions: 4, hidden: [32, 16], dueling: true };
    const net = trainedNetwork(spec, 3);
    const dir = join(root, 'browser');
    await savePolicy(dir, net, { envId: 'test/fake-v0', normalization: { kind: 'none' }, provenance: PROVENANCE });
    // A fetch that serves the directory, so tfjs's own http IOHandler resolves weight paths from model.json.
    const fetchFunc = (async (url: string | URL | Request) =>
      new Response(await readFile(join(dir, new URL(String(url)).pathname.split('/').pop() as string)))) as typeof fetch;
    const model = await tf.loadLayersModel('http://policies.test/browser/model.json', { fetchFunc });
    expect(model.layers.map((l) => l.getClassName())).toEqual(['Dense', 'Dense', 'Dense']);
    const q = tf.tidy(() => (model.predict(tf.tensor2d(observations, [40, 5])) as tf.Tensor).dataSync());
    const expected = net.predictJs(observations, 40);
    for (let i = 0; i < expected.length; i++) expect(Math.abs((q[i] as number) - (expected[i] as number))).toBeLessThan(1e-5);
    model.dispose();
  });

  it('applies the recorded normalisation inside the policy', async () => {
    const spec: QNetworkSpec = { inputSize: 5, numActions: 4, hidden: [8], dueling: false };
    const net = trainedNetwork(spec, 4);
    const dir = join(root, 'normalized');
    const low = [-10, -5, 0, -1, -Infinity];
    const high = [10, 5, 4, 1, Infinity];
    await savePolicy(dir, net, { envId: 'test/fake-v0', normalization: { kind: 'bounds', low, high }, provenance: PROVENANCE });
    const policy = await GreedyQPolicy.load(dir);
    const obs = new Float32Array([5, -5, 1, 0.5, 42]);
    const normalized = new Float32Array([0.5, -1, -0.5, 0.5, 42]); // infinite bounds pass through
    policy.act(obs, Rng.fromSeed(0));
    const expected = net.predictJs(normalized, 1);
    const q = policy.lastQValues() as Float32Array;
    for (let k = 0; k < 4; k++) expect(Math.abs((q[k] as number) - (expected[k] as number))).toBeLessThan(1e-5);
  });

  it('loadSavedPolicy / loadPolicy bind to a matching env and reject a mismatched one', async () => {
    const spec: QNetworkSpec = { inputSize: 5, numActions: 4, hidden: [8], dueling: false };
    const dir = join(root, 'handle');
    await savePolicy(dir, trainedNetwork(spec, 5), { envId: 'test/fake-v0', envOptions: { days: 2 }, normalization: { kind: 'none' }, provenance: PROVENANCE });
    const handle = await loadSavedPolicy(dir);
    expect(handle.envId).toBe('test/fake-v0');
    expect(handle.envOptions).toEqual({ days: 2 });
    const policy = handle.create(fakeEnv(5, 4));
    expect(policy.kind).toBe('learned');
    expect(() => handle.create(fakeEnv(6, 4))).toThrow(/observes 6 components, the saved policy expects 5/);
    expect(() => handle.create(fakeEnv(5, 3))).toThrow(/not Discrete\(4\)/);
    const viaLoad = await loadPolicy(dir, undefined);
    expect(viaLoad.envId).toBe('test/fake-v0');
    await expect(loadPolicy(dir, 'glucose/other-v1')).rejects.toThrow(/trained on test\/fake-v0/);
  });

  describe('integrity', () => {
    const spec: QNetworkSpec = { inputSize: 5, numActions: 4, hidden: [8], dueling: false };
    const sha = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
    const save = async (name: string) => {
      const dir = join(root, name);
      await savePolicy(dir, trainedNetwork(spec, 6), { envId: 'test/fake-v0', normalization: { kind: 'none' }, provenance: PROVENANCE });
      return dir;
    };

    it('policy.json records the SHA-256 of model.json and weights.bin', async () => {
      const dir = await save('hashes');
      const meta = JSON.parse(await readFile(join(dir, 'policy.json'), 'utf8')) as PolicyFile;
      expect(meta.integrity).toEqual({ 'model.json': sha(await readFile(join(dir, 'model.json'))), 'weights.bin': sha(await readFile(join(dir, 'weights.bin'))) });
      await expect(loadSavedPolicy(dir)).resolves.toMatchObject({ envId: 'test/fake-v0' });
    });

    it('weights.bin overwritten with random bytes of the same size is refused, naming the file', async () => {
      const dir = await save('tampered-weights');
      const size = (await readFile(join(dir, 'weights.bin'))).byteLength;
      const rng = Rng.fromSeed(99);
      await writeFile(join(dir, 'weights.bin'), Uint8Array.from({ length: size }, () => rng.integer(0, 256)));
      await expect(loadSavedPolicy(dir)).rejects.toMatchObject({ code: 'INVALID_SPEC', message: expect.stringMatching(/weights\.bin: SHA-256 .* does not match/) });
    });

    it('a changed or unparsable model.json is refused, naming the file', async () => {
      const dir = await save('tampered-model');
      const text = await readFile(join(dir, 'model.json'), 'utf8');
      await writeFile(join(dir, 'model.json'), text.replace('"relu"', '"tanh"'));
      await expect(readSavedPolicy(dir)).rejects.toThrow(/model\.json: SHA-256 .* does not match/);
      // without recorded hashes (an old policy), a garbled model.json still names the file
      const meta = JSON.parse(await readFile(join(dir, 'policy.json'), 'utf8')) as PolicyFile;
      delete meta.integrity;
      await writeFile(join(dir, 'policy.json'), JSON.stringify(meta));
      await writeFile(join(dir, 'model.json'), text.slice(0, 40));
      await expect(readSavedPolicy(dir)).rejects.toMatchObject({ code: 'INVALID_SPEC', message: expect.stringMatching(/model\.json: not valid JSON/) });
    });

    it('an old policy.json without hashes loads, with one warning', async () => {
      const dir = await save('old-format');
      const meta = JSON.parse(await readFile(join(dir, 'policy.json'), 'utf8')) as PolicyFile;
      delete meta.integrity;
      await writeFile(join(dir, 'policy.json'), JSON.stringify(meta));
      const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
      try {
        await expect(loadSavedPolicy(dir)).resolves.toMatchObject({ envId: 'test/fake-v0' });
        await loadSavedPolicy(dir);
        expect(warn).toHaveBeenCalledTimes(1);
        expect(String(warn.mock.calls[0]?.[0])).toMatch(/policy\.json records no integrity hashes/);
      } finally {
        warn.mockRestore();
      }
    });
  });
});
