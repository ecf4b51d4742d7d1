import { availableParallelism } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { z } from 'zod';
import { TwinlabError } from '../../engine/errors.js';
import { type DensityTask, type DensityWorkerData, evaluatePoints } from './density-worker.js';

/**
 * Batch log-density: evaluates n points (row-major n×dim) and returns n log densities (−Infinity
 * allowed). `points` may be a view into the sampler's buffers: an implementation must not keep it
 * after the returned promise settles. `evaluateSync`, when present, must return exactly what
 * `evaluate` would; the sampler then skips the promise round trip (in-process densities only).
 */
export interface LogDensityBatch {
  readonly dim: number;
  evaluate(points: Float64Array, n: number): Promise<Float64Array>;
  evaluateSync?(points: Float64Array, n: number): Float64Array;
  close(): Promise<void>;
}

function checkBatch(dim: number, points: Float64Array, n: number): void {
  if (!Number.isInteger(n) || n < 0 || points.length < n * dim) {
    throw new TwinlabError('INVALID_ARGUMENT', `evaluate(points, n): n = ${n} needs ${n}×${dim} values, points has ${points.length}`);
  }
}

const dimSchema = z.number().int().min(1);

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join('.') : what;
    throw new TwinlabError('INVALID_ARGUMENT', `${field}: ${issue?.message ?? 'invalid'}`, { field });
  }
  return parsed.data;
}

/**
 * Evaluates `logProb` on the calling thread, one point after another. `theta` is a scratch buffer
 * reused for every point: copy it if `logProb` needs to keep it.
 */
export function inProcessDensity(dim: number, logProb: (theta: Float64Array) => number): LogDensityBatch {
  parseOrThrow(dimSchema, dim, 'dim');
  if (typeof logProb !== 'function') throw new TwinlabError('INVALID_ARGUMENT', 'logProb must be a function', { field: 'logProb' });
  const theta = new Float64Array(dim);
  const evaluateSync = (points: Float64Array, n: number): Float64Array => {
    checkBatch(dim, points, n);
    return evaluatePoints(logProb, theta, points, n);
  };
  return {
    dim,
    evaluateSync,
    evaluate: async (points: Float64Array, n: number): Promise<Float64Array> => evaluateSync(points, n),
    async close(): Promise<void> {},
  };
}

const workerOptionsSchema = z.object({
  dim: dimSchema,
  module: z.string().startsWith('file:', { message: 'must be a file URL (pathToFileURL(path).href)' }),
  exportName: z.string().min(1),
  init: z.unknown(),
  workers: z.number().int().min(1).max(Math.max(64, availableParallelism())),
});

export interface WorkerDensityOptions {
  dim: number;
  /** File URL of an ES module (.js, or .ts when running under tsx). */
  module: string;
  /** Its export: a factory `(init) => (theta) => logDensity`, called once per worker. */
  exportName: string;
  /** Structured-clonable argument of the factory, sent once to each worker when it starts. */
  init: unknown;
  workers: number;
}

/** The worker entry next to this file, with this file's extension (.ts under tsx, .js when compiled). */
function workerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return join(dirname(here), `density-worker${extname(here)}`);
}

/**
 * Contiguous chunks of [0, n), one per worker (at most n): the first `n mod k` chunks hold one point
 * more. Which worker evaluates which point never changes a value — each point is a pure function of
 * (module, init, theta) — so results equal in-process evaluation bit for bit.
 */
export function chunkRanges(n: number, workers: number): Array<[number, number]> {
  const k = Math.max(1, Math.min(workers, n));
  const base = Math.floor(n / k);
  const extra = n % k;
  const ranges: Array<[number, number]> = [];
  let start = 0;
  for (let c = 0; c < k; c++) {
    const size = base + (c < extra ? 1 : 0);
    ranges.push([start, start + size]);
    start += size;
  }
  return ranges;
}

/**
 * Evaluates the density in a Piscina pool of `workers` threads. Every worker imports `module` and
 * calls its factory `exportName` with `init` once (handed over as the pool's workerData); each
 * `evaluate` call splits the points into contiguous chunks, one per worker, and runs them at the same
 * time. Cost per call ≈ one task round trip per chunk (see `npm run bench -- mcmc`), so this pays off
 * when a point costs far more than that (a multi-day glucose simulation), not for cheap densities.
 * `close()` stops the threads.
 */
export function workerDensity(opts: WorkerDensityOptions): LogDensityBatch {
  const { dim, module, exportName, init, workers } = parseOrThrow(workerOptionsSchema, opts, 'options');
  const workerData: DensityWorkerData = { module, exportName, init, dim };
  let pool: Piscina | undefined = new Piscina({
    filename: workerEntry(),
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 60_000,
    concurrentTasksPerWorker: 1,
    workerData,
  });
  return {
    dim,
    async evaluate(points: Float64Array, n: number): Promise<Float64Array> {
      checkBatch(dim, points, n);
      if (pool === undefined) throw new TwinlabError('INVALID_STATE', 'workerDensity: evaluate() after close()');
      const out = new Float64Array(n);
      if (n === 0) return out;
      const running = pool;
      const parts = chunkRanges(n, workers).map(async ([lo, hi]) => {
        const chunk = points.slice(lo * dim, hi * dim);
        const task: DensityTask = { points: chunk, n: hi - lo };
        let values: Float64Array;
        try {
          values = (await running.run(task, { transferList: [chunk.buffer] })) as Float64Array;
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          throw new TwinlabError('INTERNAL', `density worker failed on points ${lo}–${hi - 1}: ${message}`, { module, exportName });
        }
        if (!(values instanceof Float64Array) || values.length !== hi - lo) {
          throw new TwinlabError('INTERNAL', `density worker returned ${describeLength(values)} values for ${hi - lo} points`, { module, exportName });
        }
        out.set(values, lo);
      });
      await Promise.all(parts);
      return out;
    },
    async close(): Promise<void> {
      const p = pool;
      pool = undefined;
      if (p !== undefined) await p.destroy();
    },
  };
}

function describeLength(values: unknown): string {
  return values instanceof Float64Array ? String(values.length) : `a non-Float64Array (${typeof values})`;
}
