import { DormandPrince, type OdeRhs, Rk4 } from '../engine/ode.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * ODE integrator throughput on one core: a 13-state linear system dy/dt = A·y, A a fixed, stable
 * tridiagonal compartment chain (forward transfer k_i, back-flow b_i, elimination e_i from every
 * compartment), the size of a mid-sized physiology model.
 *
 * Run directly: `npx tsx bench/engine.ts`.
 */

const DIM = 13;

/** Tridiagonal A: y_i' = k_{i−1}·y_{i−1} + b_{i+1}·y_{i+1} − (k_i + b_i + e_i)·y_i. */
function chain(): { rhs: OdeRhs; y0: () => Float64Array } {
  const k = new Float64Array(DIM);
  const b = new Float64Array(DIM);
  const e = new Float64Array(DIM);
  for (let i = 0; i < DIM; i++) {
    k[i] = i < DIM - 1 ? 0.05 + 0.01 * (i % 4) : 0; // forward transfer (1/min)
    b[i] = i > 0 ? 0.01 + 0.002 * (i % 3) : 0; // back-flow to the previous compartment
    e[i] = 0.001 * (1 + (i % 5)); // elimination
  }
  const diag = new Float64Array(DIM);
  for (let i = 0; i < DIM; i++) diag[i] = -((k[i] as number) + (b[i] as number) + (e[i] as number));
  const rhs: OdeRhs = (_t, y, d) => {
    d[0] = (diag[0] as number) * (y[0] as number) + (b[1] as number) * (y[1] as number);
    for (let i = 1; i < DIM - 1; i++) {
      d[i] = (k[i - 1] as number) * (y[i - 1] as number) + (diag[i] as number) * (y[i] as number) + (b[i + 1] as number) * (y[i + 1] as number);
    }
    const n = DIM - 1;
    d[n] = (k[n - 1] as number) * (y[n - 1] as number) + (diag[n] as number) * (y[n] as number);
  };
  const y0 = (): Float64Array => {
    const y = new Float64Array(DIM);
    y[0] = 100; // a dose in the first compartment
    return y;
  };
  return { rhs, y0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Runs `body` (which returns the work count) repeatedly for ≈ `ms`; returns the median rate per second. */
function rate(body: () => number, reps = 7, ms = 150): number {
  body(); // warm-up (JIT)
  body();
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    let work = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      work += body();
      elapsed = performance.now() - start;
    } while (elapsed < ms);
    rates.push((work / elapsed) * 1000);
  }
  return median(rates);
}

let sink = 0; // keeps results observable so nothing is optimised away

export async function benchOde(): Promise<BenchResult[]> {
  const { rhs, y0 } = chain();
  const results: BenchResult[] = [];

  const rk4 = new Rk4(DIM);
  const rk4Rate = rate(() => {
    const y = y0();
    const n = rk4.integrate(rhs, y, 0, 100, 0.01); // 10,000 steps
    sink += y[DIM - 1] as number;
    return n;
  });
  results.push({ name: 'ode.rk4.13state', value: rk4Rate, unit: 'steps/s', note: 'h = 0.01, 4 rhs evaluations per step' });

  for (const rtol of [1e-6, 1e-9]) {
    const dp = new DormandPrince(DIM, { rtol, atol: 1e-9 });
    let evals = 0;
    let stepsRun = 0;
    const dpRate = rate(() => {
      const y = y0();
      const before = dp.stats.evaluations;
      const n = dp.integrate(rhs, y, 0, 2000);
      evals += dp.stats.evaluations - before;
      stepsRun += n;
      sink += y[DIM - 1] as number;
      return n;
    });
    const tag = rtol === 1e-6 ? '' : `.rtol${rtol.toExponential(0).replace('-0', '-')}`;
    results.push({
      name: `ode.dopri5.13state${tag}`,
      value: dpRate,
      unit: 'steps/s',
      note: `rtol ${rtol.toExponential(0)}, atol 1e-9, one call over [0, 2000]; ${(evals / stepsRun).toFixed(2)} rhs evaluations per accepted step`,
    });
  }

  // As a Simulation drives it: one call per 5-minute decision interval (restart cost: f(t0) + step heuristic).
  const dpCalls = new DormandPrince(DIM, { rtol: 1e-6, atol: 1e-9 });
  const callRate = rate(() => {
    const y = y0();
    for (let t = 0; t < 2000; t += 5) dpCalls.integrate(rhs, y, t, t + 5);
    sink += y[DIM - 1] as number;
    return 400;
  });
  results.push({
    name: 'ode.dopri5.13state.5min-calls',
    value: callRate,
    unit: 'intervals/s',
    note: 'integrate() once per 5-minute interval, rtol 1e-6',
  });

  if (!Number.isFinite(sink)) throw new Error('benchmark produced a non-finite state');
  return results;
}

runAsMain(import.meta.url, benchOde);
