import { isMainThread } from 'node:worker_threads';
import { Rng } from '../engine/random.js';
import { diagnose, inProcessDensity, type LogDensityBatch, sampleEnsemble, workerDensity } from '../twinning/mcmc/index.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * Ensemble MCMC (twinning/mcmc): sampler throughput with a cheap density, the fixed cost of one
 * `workerDensity` batch call (Piscina round trip per chunk), diagnostics time, and what 1 and 2
 * workers buy with a density that costs ≈ 0.2 ms per point (a stand-in for a model simulation).
 *
 * Run: `npm run bench -- mcmc` (or directly `npx tsx bench/mcmc.ts`).
 */

/** Worker factory: a correlated 2-D Gaussian (σ = (1, 2), ρ = 0.9). */
export function gaussian(): (theta: Float64Array) => number {
  return (t) => {
    const x = t[0] as number;
    const y = (t[1] as number) / 2;
    return -(x * x - 1.8 * x * y + y * y) / (2 * (1 - 0.81));
  };
}

/** Worker factory: a standard normal in `dim` dimensions that first burns `work` loop iterations. */
export function costly(init: { work: number }): (theta: Float64Array) => number {
  return (t) => {
    let s = 0;
    for (let k = 0; k < init.work; k++) s += Math.sin(k * 1e-3 + (t[0] as number));
    let q = 0;
    for (let i = 0; i < t.length; i++) q += (t[i] as number) ** 2;
    return -0.5 * q + s * 1e-300; // s keeps the loop alive, adds nothing measurable
  };
}

const HERE = import.meta.url;

function ball(rng: Rng, walkers: number, dim: number): Float64Array {
  return Float64Array.from({ length: walkers * dim }, () => 0.5 * rng.normal());
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function sampleRate(density: LogDensityBatch, walkers: number, steps: number, thin = 1): Promise<{ perSecond: number; seconds: number }> {
  const rng = Rng.fromSeed(1);
  const start = performance.now();
  await sampleEnsemble({ walkers, steps, burn: 0, thin, init: ball(rng.fork('init'), walkers, density.dim), rng: rng.fork('mcmc'), density });
  const seconds = (performance.now() - start) / 1000;
  return { perSecond: (walkers * steps) / seconds, seconds };
}

/** Median wall time of one evaluate() call of `n` points, over `calls` calls after a warm-up. */
async function callMicros(density: LogDensityBatch, n: number, calls: number): Promise<number> {
  const rng = Rng.fromSeed(2);
  const points = Float64Array.from({ length: n * density.dim }, () => rng.normal());
  for (let i = 0; i < 50; i++) await density.evaluate(points, n);
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await density.evaluate(points, n);
    times.push((performance.now() - t0) * 1000);
  }
  return median(times);
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];

  // 1. Sampler alone: a cheap density in process (the sync fast path), 32 walkers.
  await sampleRate(inProcessDensity(2, gaussian()), 32, 2_000, 10); // warm-up (JIT)
  const cpu0 = process.cpuUsage();
  const cheap = await sampleRate(inProcessDensity(2, gaussian()), 32, 50_000, 10);
  const cpu = process.cpuUsage(cpu0);
  results.push({
    name: 'mcmc.ensemble.gaussian2d.in-process',
    value: cheap.perSecond,
    unit: 'samples/s',
    note: `32 walkers × 50,000 steps (thin 10), one sample = one walker-step = one density call; ${((1e6 * cheap.seconds) / (32 * 50_000)).toFixed(2)} µs wall, ${((cpu.user + cpu.system) / (32 * 50_000)).toFixed(2)} µs CPU each, diagnostics of the 5,000 kept steps included`,
  });

  // 2. Diagnostics alone on a chain of 10,000 kept steps × 32 walkers × 2 parameters.
  {
    const rng = Rng.fromSeed(3);
    const chain = Float64Array.from({ length: 10_000 * 32 * 2 }, () => rng.normal());
    diagnose(chain.subarray(0, 1_000 * 32 * 2), 1_000, 32, 2);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    diagnose(chain, 10_000, 32, 2);
    const c = process.cpuUsage(c0);
    results.push({
      name: 'mcmc.diagnose.10k×32×2',
      value: performance.now() - t0,
      unit: 'ms',
      note: `wall; ${((c.user + c.system) / 1000).toFixed(0)} ms CPU; τ (FFT), split-R-hat, bulk and tail ESS`,
    });
  }

  // 3. Fixed cost of a batch call: 16 points (one half of 32 walkers) of a trivial density.
  const inProc = inProcessDensity(2, gaussian());
  results.push({ name: 'mcmc.batch-call.in-process (async)', value: await callMicros(inProc, 16, 2_000), unit: 'µs/call', note: '16 points, median' });
  for (const workers of [1, 2]) {
    const d = workerDensity({ dim: 2, module: HERE, exportName: 'gaussian', init: null, workers });
    try {
      results.push({
        name: `mcmc.batch-call.workerDensity(${workers})`,
        value: await callMicros(d, 16, 1_000),
        unit: 'µs/call',
        note: `16 points in ${workers} chunk(s), median; the overhead over in-process is the Piscina round trip`,
      });
    } finally {
      await d.close();
    }
  }

  // 4. A density worth parallelising: ≈ 0.2 ms per point (calibrated below), 32 walkers × 20 steps.
  const work = 20_000;
  const perPoint = await callMicros(inProcessDensity(4, costly({ work })), 1, 20); // also warms the JIT
  const steps = 20;
  const base = await sampleRate(inProcessDensity(4, costly({ work })), 32, steps);
  results.push({
    name: 'mcmc.ensemble.costly.in-process',
    value: base.perSecond,
    unit: 'samples/s',
    note: `${perPoint.toFixed(0)} µs per point, 32 walkers × ${steps} steps`,
  });
  for (const workers of [1, 2]) {
    const d = workerDensity({ dim: 4, module: HERE, exportName: 'costly', init: { work }, workers });
    try {
      await d.evaluate(new Float64Array(4 * workers), workers); // start the threads and load the module
      const r = await sampleRate(d, 32, steps);
      results.push({
        name: `mcmc.ensemble.costly.workerDensity(${workers})`,
        value: r.perSecond,
        unit: 'samples/s',
        note: `${((100 * r.perSecond) / base.perSecond).toFixed(0)} % of in-process throughput (2 cores shared with other work)`,
      });
    } finally {
      await d.close();
    }
  }
  return results;
}

if (isMainThread) runAsMain(import.meta.url, run);
