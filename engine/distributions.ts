/** Numerical facts about distributions shared by every layer (statistics, twins' forecast bands). */

/**
 * Sample quantile by linear interpolation between order statistics (Hyndman & Fan 1996, type 7 —
 * R's default): h = (n−1)·p, Q(p) = x₍⌊h⌋₎ + (h−⌊h⌋)·(x₍⌊h⌋+1₎ − x₍⌊h⌋₎), x sorted ascending.
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, p));
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return (sorted[lo] as number) + (h - lo) * ((sorted[hi] as number) - (sorted[lo] as number));
}

/**
 * Complementary error function erfc(x), double precision. For |x| < 2.5 the everywhere-positive series
 * erf(x) = (2/√π)·e^{−x²}·Σₖ 2ᵏx^{2k+1}/(1·3·…·(2k+1)) (Abramowitz & Stegun 7.1.6); for x ≥ 2.5 the
 * continued fraction erfc(x) = (e^{−x²}/√π)·1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) (A&S 7.1.14),
 * evaluated by the modified Lentz method (Press et al., *Numerical Recipes* 3rd ed. §5.2).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) {
    let term = x;
    let sum = x;
    for (let k = 1; k < 200; k++) {
      term *= (2 * x * x) / (2 * k + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  // Lentz on f = x + a1/(x + a2/(x + …)), a_k = k/2.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    d = d === 0 ? tiny : d;
    c = x + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/** Standard normal CDF Φ(z) = erfc(−z/√2)/2. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

export interface MixtureQuantileOptions {
  /** Half-width of the starting bracket around the components, in their SDs (default 8). */
  spread?: number;
  /** Stop once the bracket is this narrow, in the data's unit (default 0). */
  tolerance?: number;
  /** …or this narrow relative to max(1, |upper end|) (default 1e-9). */
  relativeTolerance?: number;
  /** At most this many halvings (default 80). */
  maxIterations?: number;
  /** The quantile is at least this (default −∞; 0 for a quantity that cannot be negative). */
  floor?: number;
}

/**
 * Quantile p of the equal-weight normal mixture (1/n)·Σ N(mᵢ, sᵢ²) by bisection on its CDF, from the
 * bracket [min(mᵢ − spread·sᵢ), max(mᵢ + spread·sᵢ)] until it is narrower than
 * max(tolerance, relativeTolerance·max(1, |upper end|)); the midpoint, at least `floor`. Used by the
 * forecast and fit bands of the CGM twins (server/twin-common.ts: spread 6, to 0.01 mg/dL) and the
 * vancomycin predictive band (twinning/vancomycin/replay.ts: floored at 0 mg/L).
 */
export function mixtureQuantile(means: ArrayLike<number>, sds: ArrayLike<number>, p: number, options: MixtureQuantileOptions = {}): number {
  const spread = options.spread ?? 8;
  const tolerance = options.tolerance ?? 0;
  const relative = options.relativeTolerance ?? 1e-9;
  const maxIterations = options.maxIterations ?? 80;
  const n = means.length;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, (means[i] as number) - spread * (sds[i] as number));
    hi = Math.max(hi, (means[i] as number) + spread * (sds[i] as number));
  }
  for (let it = 0; it < maxIterations && hi - lo > Math.max(tolerance, relative * Math.max(1, Math.abs(hi))); it++) {
    const mid = (lo + hi) / 2;
    let s = 0;
    for (let i = 0; i < n; i++) s += normalCdf((mid - (means[i] as number)) / (sds[i] as number));
    if (s / n < p) lo = mid;
    else hi = mid;
  }
  return Math.max(options.floor ?? Number.NEGATIVE_INFINITY, (lo + hi) / 2);
}
