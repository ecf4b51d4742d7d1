import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TwinlabError } from '../../../engine/errors.js';
import { Rng } from '../../../engine/random.js';
import { type LogDensityBatch, inProcessDensity, sampleEnsemble, workerDensity } from '../../../twinning/mcmc/index.js';
import { chunkRanges } from '../../../twinning/mcmc/parallel.js';
import { gaussian2d, wiggly } from './densities.js';

const MODULE = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'densities.ts')).href;

const open: LogDensityBatch[] = [];
function track(d: LogDensityBatch): LogDensityBatch {
  open.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

function same(a: Float64Array, b: Float64Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('workerDensity', () => {
  it('returns in-process values bit for bit, in point order, over uneven chunks', async () => {
    const dim = 3;
    const n = 101;
    const rng = Rng.fromSeed(1);
    const points = Float64Array.from({ length: n * dim }, () => rng.uniform(-4, 4)); // some |θ0| > 3 → −Infinity
    const local = await inProcessDensity(dim, wiggly({ scale: 2.7 })).evaluate(points, n);
    const pooled = await track(workerDensity({ dim, module: MODULE, exportName: 'wiggly', init: { scale: 2.7 }, workers: 2 })).evaluate(points, n);
    expect(same(local, pooled)).toBe(true);
    expect(local.some((v) => v === Number.NEGATIVE_INFINITY)).toBe(true);
  });

  it('1 worker and 2 workers give the same chain as in-process evaluation', async () => {
    const run = async (density: LogDensityBatch) => {
      const rng = Rng.fromSeed(77);
      const ir = rng.fork('init');
      const init = Float64Array.from({ length: 16 * 2 }, () => 0.3 * ir.normal());
      return sampleEnsemble({ walkers: 16, steps: 150, burn: 50, init, rng: rng.fork('mcmc'), density });
    };
    const init = { sx: 1, sy: 2, rho: 0.9 };
    const inProcess = await run(inProcessDensity(2, gaussian2d(init)));
    const one = await run(track(workerDensity({ dim: 2, module: MODULE, exportName: 'gaussian2d', init, workers: 1 })));
    const two = await run(track(workerDensity({ dim: 2, module: MODULE, exportName: 'gaussian2d', init, workers: 2 })));
    expect(one.kept).toBe(100);
    expect(same(one.chain, two.chain)).toBe(true);
    expect(same(one.logProb, two.logProb)).toBe(true);
    expect(same(inProcess.chain, one.chain)).toBe(true);
    expect(one.acceptance).toBe(two.acceptance);
  });

  it('reports a module without the factory, or a factory that returns no function, as an error', async () => {
    const missing = track(workerDensity({ dim: 1, module: MODULE, exportName: 'noSuchExport', init: null, workers: 1 }));
    await expect(missing.evaluate(new Float64Array([0]), 1)).rejects.toThrow(/density worker failed on points 0–0: .*no function export "noSuchExport"/);
    const notFactory = track(workerDensity({ dim: 1, module: MODULE, exportName: 'notAFactory', init: null, workers: 1 }));
    await expect(notFactory.evaluate(new Float64Array([0]), 1)).rejects.toThrow(/notAFactory\(init\) did not return a function/);
  });

  it('validates its options and refuses work after close()', async () => {
    const ok = { dim: 2, module: MODULE, exportName: 'gaussian2d', init: {}, workers: 1 };
    expect(() => workerDensity({ ...ok, module: '/abs/path.ts' })).toThrow(/^module: must be a file URL/);
    expect(() => workerDensity({ ...ok, workers: 0 })).toThrow(/^workers:/);
    expect(() => workerDensity({ ...ok, dim: 1.5 })).toThrow(/^dim:/);
    const d = workerDensity({ ...ok, init: { sx: 1, sy: 1, rho: 0 } });
    expect((await d.evaluate(new Float64Array([0, 0]), 1))[0]).toBe(-0);
    await d.close();
    const error = await d.evaluate(new Float64Array([0, 0]), 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TwinlabError);
    expect((error as TwinlabError).code).toBe('INVALID_STATE');
  });

  it('chunkRanges: contiguous, covering, one per worker at most, sizes differ by ≤ 1', () => {
    expect(chunkRanges(7, 2)).toEqual([
      [0, 4],
      [4, 7],
    ]);
    expect(chunkRanges(2, 4)).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(chunkRanges(0, 3)).toEqual([[0, 0]]);
  });
});

describe('inProcessDensity', () => {
  it('evaluates each point with a reused scratch vector and checks the batch size', async () => {
    const seen: number[][] = [];
    const d = inProcessDensity(2, (t) => {
      seen.push(Array.from(t));
      return (t[0] as number) + 10 * (t[1] as number);
    });
    expect(Array.from(await d.evaluate(new Float64Array([1, 2, 3, 4]), 2))).toEqual([21, 43]);
    expect(seen).toEqual([
      [1, 2],
      [3, 4],
    ]);
    await expect(d.evaluate(new Float64Array(3), 2)).rejects.toThrow(/n = 2 needs 2×2 values, points has 3/);
  });
});
