/**
 * Log densities used by the MCMC tests, written as `workerDensity` factories: `(init) => (theta) => log p`.
 * Not a test file itself (no .test.ts): vitest skips it, the worker threads import it.
 */

/** Bivariate normal, mean 0, standard deviations (sx, sy), correlation rho. */
export function gaussian2d(init: { sx: number; sy: number; rho: number }): (theta: Float64Array) => number {
  const { sx, sy, rho } = init;
  const k = 1 / (2 * (1 - rho * rho));
  return (theta) => {
    const x = (theta[0] as number) / sx;
    const y = (theta[1] as number) / sy;
    return -k * (x * x - 2 * rho * x * y + y * y);
  };
}

/** The "banana" Rosenbrock density of Goodman & Weare 2010 / emcee: log p = −(100(y−x²)² + (1−x)²)/20. */
export function rosenbrock(): (theta: Float64Array) => number {
  return (theta) => {
    const x = theta[0] as number;
    const y = theta[1] as number;
    return -(100 * (y - x * x) ** 2 + (1 - x) ** 2) / 20;
  };
}

/**
 * A density whose value exercises transcendental functions (so a bit-for-bit comparison between
 * threads means something) and a region of −Infinity (|θ_0| > 3).
 */
export function wiggly(init: { scale: number }): (theta: Float64Array) => number {
  return (theta) => {
    if (Math.abs(theta[0] as number) > 3) return Number.NEGATIVE_INFINITY;
    let s = 0;
    for (let i = 0; i < theta.length; i++) {
      const v = theta[i] as number;
      s += -0.5 * v * v + 0.1 * Math.sin(init.scale * v) + 0.01 * Math.log1p(Math.exp(v));
    }
    return s;
  };
}

export function notAFactory(): number {
  return 3;
}

export const NOT_A_FUNCTION = 42;
