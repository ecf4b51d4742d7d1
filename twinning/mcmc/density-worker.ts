import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';

/**
 * Piscina worker of `workerDensity` (parallel.ts). The pool's workerData names a module and a factory
 * export; the first task builds the log density from it once, every task evaluates a chunk of points.
 */
export interface DensityWorkerData {
  module: string;
  exportName: string;
  init: unknown;
  dim: number;
}

export interface DensityTask {
  points: Float64Array;
  n: number;
}

type LogProb = (theta: Float64Array) => number;

let built: Promise<LogProb> | undefined;
let theta: Float64Array | undefined;

/**
 * Loads the user's module. Under Node 20 tsx's ESM hooks do not reach worker threads, so a .ts module
 * cannot be import()ed there; tsx's require hook (which loaded this file) can load it instead.
 */
async function loadModule(url: string): Promise<Record<string, unknown>> {
  if (/\.[cm]?ts$/.test(url)) return createRequire(import.meta.url)(fileURLToPath(url)) as Record<string, unknown>;
  return (await import(url)) as Record<string, unknown>;
}

async function build(data: DensityWorkerData): Promise<LogProb> {
  const mod = await loadModule(data.module);
  const factory = mod[data.exportName];
  if (typeof factory !== 'function') throw new Error(`${data.module} has no function export "${data.exportName}"`);
  const logProb = (factory as (init: unknown) => unknown)(data.init);
  if (typeof logProb !== 'function') throw new Error(`${data.exportName}(init) did not return a function (theta) => number`);
  return logProb as LogProb;
}

/** logProb of each of the n points, copied one at a time into `theta` (shared with inProcessDensity). */
export function evaluatePoints(logProb: (theta: Float64Array) => number, theta: Float64Array, points: Float64Array, n: number): Float64Array {
  const dim = theta.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < dim; p++) theta[p] = points[i * dim + p] as number;
    out[i] = logProb(theta);
  }
  return out;
}

export default async function evaluateChunk(task: DensityTask): Promise<unknown> {
  const data = Piscina.workerData as DensityWorkerData;
  built ??= build(data);
  const logProb = await built;
  theta ??= new Float64Array(data.dim);
  return Piscina.move(evaluatePoints(logProb, theta, task.points, task.n));
}
