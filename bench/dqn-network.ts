import { pathToFileURL } from 'node:url';
import { type BackendName, initBackend } from '../agents/backend.js';
import { QNetwork, type QNetworkSpec } from '../agents/q-network.js';
import { Rng } from '../engine/random.js';
import type { BenchResult } from './types.js';

/**
 * Q-network speed on one core: a DQN gradient step (target-network forward on the next observations
 * + one `trainStep`, batch 64, CartPole-sized input 4 / 2 actions) for hidden [64, 64] and
 * [256, 256], on `wasm` and `cpu`; and the latency of one greedy forward pass (the acting path).
 *
 * Run directly: `npx tsx bench/dqn-network.ts [wasm|cpu|tensorflow …]`.
 * Timings drift ±20–40 % on shared machines: compare figures measured back to back.
 */
const INPUT = 4;
const ACTIONS = 2;
const BATCH = 64;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/**
 * Median over `reps` rounds of the time per call of `body`: process CPU time (user + system; robust
 * when other jobs share the cores) and wall time. Both in ms.
 */
function timePerCall(body: () => void, reps = 5, ms = 400): { cpu: number; wall: number } {
  for (let i = 0; i < 20; i++) body(); // warm-up: JIT, XNNPACK operator caches, tensor pools
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let r = 0; r < reps; r++) {
    let calls = 0;
    const c0 = process.cpuUsage();
    const start = performance.now();
    let elapsed = 0;
    do {
      body();
      calls++;
      elapsed = performance.now() - start;
    } while (elapsed < ms);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000 / calls);
    wall.push(elapsed / calls);
  }
  return { cpu: median(cpu), wall: median(wall) };
}

function figure(name: string, t: { cpu: number; wall: number }, note?: string): BenchResult {
  const wallNote = `wall ${(t.wall * 1000).toFixed(0)} µs`;
  return { name, value: t.cpu * 1000, unit: 'µs cpu', note: note ? `${note}; ${wallNote}` : wallNote };
}

function makeBatch(rng: Rng): { obs: Float32Array; next: Float32Array; actions: Int32Array; rewards: Float32Array } {
  const obs = new Float32Array(BATCH * INPUT).map(() => rng.normal());
  const next = new Float32Array(BATCH * INPUT).map(() => rng.normal());
  const actions = new Int32Array(BATCH).map(() => rng.integer(0, ACTIONS));
  const rewards = new Float32Array(BATCH).fill(1);
  return { obs, next, actions, rewards };
}

export async function benchBackend(backend: BackendName): Promise<BenchResult[]> {
  await initBackend(backend);
  const results: BenchResult[] = [];
  for (const hidden of [
    [64, 64],
    [256, 256],
  ]) {
    const spec: QNetworkSpec = { inputSize: INPUT, numActions: ACTIONS, hidden, dueling: false };
    const rng = Rng.fromSeed(7);
    const online = QNetwork.create(spec, rng.fork('online'), { learningRate: 1e-4, adamEpsilon: 1e-8, maxGradNorm: 10, loss: 'huber' });
    const target = QNetwork.create(spec, rng.fork('target'), { learningRate: 1e-4, adamEpsilon: 1e-8, maxGradNorm: 10, loss: 'huber' });
    online.copyTo(target);
    const batches = Array.from({ length: 8 }, () => makeBatch(rng.fork('data')));
    const targets = new Float32Array(BATCH);
    let k = 0;
    const fullStep = (): void => {
      const b = batches[k++ % batches.length] as ReturnType<typeof makeBatch>;
      const qNext = target.predict(b.next, BATCH);
      for (let i = 0; i < BATCH; i++) {
        const q0 = qNext[i * ACTIONS] as number;
        const q1 = qNext[i * ACTIONS + 1] as number;
        targets[i] = (b.rewards[i] as number) + 0.99 * (q0 > q1 ? q0 : q1);
      }
      online.trainStep({ observations: b.obs, actions: b.actions, targets });
    };
    const tag = `${hidden.join('x')}`;
    const step = timePerCall(fullStep);
    results.push(figure(`dqn.${backend}.${tag}.grad-step`, step, 'target forward on next obs + trainStep, batch 64'));
    results.push({ name: `dqn.${backend}.${tag}.grad-steps-per-cpu-s`, value: 1000 / step.cpu, unit: 'steps/s' });
    const b0 = batches[0] as ReturnType<typeof makeBatch>;
    results.push(
      figure(
        `dqn.${backend}.${tag}.trainStep`,
        timePerCall(() => {
          for (let i = 0; i < BATCH; i++) targets[i] = 1;
          online.trainStep({ observations: b0.obs, actions: b0.actions, targets });
        }),
      ),
    );
    results.push(
      figure(
        `dqn.${backend}.${tag}.predict64`,
        timePerCall(() => target.predict(b0.next, BATCH)),
        'fixed (target) weights',
      ),
    );
    const one = b0.obs.subarray(0, INPUT);
    results.push(
      figure(
        `dqn.${backend}.${tag}.act1.js`,
        timePerCall(() => online.predictJs(one, 1), 5, 200),
        'single observation, TypeScript forward',
      ),
    );
    results.push(
      figure(
        `dqn.${backend}.${tag}.act1.tfjs`,
        timePerCall(() => online.predictTf(one, 1), 5, 200),
        'single observation, tfjs forward',
      ),
    );
    online.dispose();
    target.dispose();
  }
  return results;
}

export async function run(): Promise<BenchResult[]> {
  return [...(await benchBackend('wasm')), ...(await benchBackend('cpu'))];
}

function format(results: readonly BenchResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length)) + 2;
  return results
    .map((r) => `${r.name.padEnd(width)}${r.value.toFixed(r.value < 100 ? 1 : 0).padStart(10)} ${r.unit}${r.note ? `   (${r.note})` : ''}`)
    .join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const requested = process.argv.slice(2) as BackendName[];
  (async () => {
    const results: BenchResult[] = [];
    if (requested.length === 0) results.push(...(await run()));
    for (const b of requested) results.push(...(await benchBackend(b)));
    console.log(format(results));
  })().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
