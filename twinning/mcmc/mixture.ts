import type { Rng } from '../../engine/random.js';

/**
 * A mixture of multivariate t distributions with a shared number of degrees of freedom ν,
 *   q(x) = Σ_k w_k · t_ν(x; μ_k, L_k L_kᵀ),
 * fitted by `fitTMixture` to points of a burn-in and used by the ensemble sampler's independence
 * move (ensemble.ts). Sampling and the log density allocate nothing.
 */
export class TMixture {
  private readonly z: Float64Array;
  private readonly terms: Float64Array;

  constructor(
    readonly dim: number,
    readonly dof: number,
    /** Mixing weights, summing to 1. */
    readonly weights: Float64Array,
    /** k×dim component locations. */
    readonly means: Float64Array,
    /** k×dim×dim Cholesky factors of the component scale matrices (lower triangle, row-major). */
    readonly chol: Float64Array,
  ) {
    this.z = new Float64Array(dim);
    this.terms = new Float64Array(weights.length);
  }

  get components(): number {
    return this.weights.length;
  }

  /**
   * One draw into out[offset…]: the component by inversion of the weights, then
   * μ_k + L_k·z/√(χ²_ν/ν). Draws, in order: one uniform, dim normals, ν normals (ν an integer).
   */
  sample(rng: Rng, out: Float64Array, offset: number): void {
    const { dim, dof, weights, means, chol, z } = this;
    let u = rng.next();
    let k = 0;
    while (k < weights.length - 1 && u >= (weights[k] as number)) {
      u -= weights[k] as number;
      k++;
    }
    for (let p = 0; p < dim; p++) z[p] = rng.normal();
    let chi2 = 0;
    for (let i = 0; i < dof; i++) {
      const g = rng.normal();
      chi2 += g * g;
    }
    const inv = 1 / Math.sqrt(chi2 / dof);
    const l = k * dim * dim;
    for (let p = 0; p < dim; p++) {
      let v = 0;
      for (let q = 0; q <= p; q++) v += (chol[l + p * dim + q] as number) * (z[q] as number);
      out[offset + p] = (means[k * dim + p] as number) + v * inv;
    }
  }

  /**
   * log q(x) up to a constant shared by every component:
   *   log Σ_k w_k · |L_k|⁻¹ · (1 + |L_k⁻¹(x − μ_k)|²/ν)^(−(ν + d)/2)   (log-sum-exp).
   */
  logDensity(x: Float64Array, offset: number): number {
    const { dim, dof, weights, means, chol, z, terms } = this;
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < weights.length; k++) {
      const l = k * dim * dim;
      let sq = 0;
      let logDet = 0;
      for (let p = 0; p < dim; p++) {
        let v = (x[offset + p] as number) - (means[k * dim + p] as number);
        for (let q = 0; q < p; q++) v -= (chol[l + p * dim + q] as number) * (z[q] as number);
        const diag = chol[l + p * dim + p] as number;
        z[p] = v / diag;
        sq += (z[p] as number) * (z[p] as number);
        logDet += Math.log(diag);
      }
      const t = Math.log(weights[k] as number) - logDet - ((dof + dim) / 2) * Math.log1p(sq / dof);
      terms[k] = t;
      if (t > max) max = t;
    }
    let s = 0;
    for (let k = 0; k < weights.length; k++) s += Math.exp((terms[k] as number) - max);
    return max + Math.log(s);
  }
}

/** In-place Cholesky of a symmetric dim×dim matrix given by its lower triangle; false if not positive definite. */
function choleskyInPlace(a: Float64Array, offset: number, dim: number): boolean {
  for (let p = 0; p < dim; p++) {
    for (let q = 0; q <= p; q++) {
      let v = a[offset + p * dim + q] as number;
      for (let k = 0; k < q; k++) v -= (a[offset + p * dim + k] as number) * (a[offset + q * dim + k] as number);
      if (p === q) {
        if (!(v > 0)) return false;
        a[offset + p * dim + p] = Math.sqrt(v);
      } else a[offset + p * dim + q] = v / (a[offset + q * dim + q] as number);
    }
    for (let q = p + 1; q < dim; q++) a[offset + p * dim + q] = 0;
  }
  return true;
}

export interface TMixtureFitOptions {
  components: number;
  dof: number;
  /** The proposal's covariance is scale² times the fitted component covariance (scale ≥ 1 widens it). */
  scale: number;
  iterations?: number;
}

/**
 * Fit a mixture of `components` Gaussians to n points (n×dim row-major) by expectation–maximisation
 * (Dempster, Laird & Rubin 1977; Bishop 2006, PRML §9.2.2), then turn each component into a t_ν
 * whose covariance is scale² times the Gaussian's: L L ᵀ = scale²·(ν − 2)/ν·Σ_k.
 *
 * Deterministic, no random draws: the points are first assigned to `components` equal groups by
 * their rank along the pooled covariance's leading eigenvector (power iteration from the all-ones
 * vector), which separates the lobes of a skewed or curved posterior. Each covariance gets a ridge of
 * 1e-6 times the pooled variances so a component never collapses. A component that ends with fewer
 * than 2·dim points' worth of responsibility makes the fit retry with one component fewer; with one
 * component this is the sample mean and covariance. Returns undefined when even that is singular.
 */
export function fitTMixture(points: Float64Array, n: number, dim: number, opts: TMixtureFitOptions): TMixture | undefined {
  for (let k = Math.max(1, Math.min(opts.components, Math.floor(n / (2 * dim)))); k >= 1; k--) {
    const fit = fitGaussianMixture(points, n, dim, k, opts.iterations ?? 50);
    if (fit === undefined) continue;
    const factor = Math.sqrt((opts.scale * opts.scale * (opts.dof - 2)) / opts.dof);
    for (let i = 0; i < fit.chol.length; i++) fit.chol[i] = (fit.chol[i] as number) * factor;
    return new TMixture(dim, opts.dof, fit.weights, fit.means, fit.chol);
  }
  return undefined;
}

function fitGaussianMixture(
  points: Float64Array,
  n: number,
  dim: number,
  k: number,
  iterations: number,
): { weights: Float64Array; means: Float64Array; chol: Float64Array } | undefined {
  const pooledMean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let p = 0; p < dim; p++) pooledMean[p] = (pooledMean[p] as number) + (points[i * dim + p] as number) / n;
  const pooledCov = new Float64Array(dim * dim);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < dim; p++) {
      const dp = (points[i * dim + p] as number) - (pooledMean[p] as number);
      for (let q = 0; q < dim; q++) pooledCov[p * dim + q] = (pooledCov[p * dim + q] as number) + (dp * ((points[i * dim + q] as number) - (pooledMean[q] as number))) / n;
    }
  }
  // responsibilities from the rank along the leading eigenvector
  const resp = new Float64Array(n * k);
  if (k === 1) resp.fill(1);
  else {
    let v = new Float64Array(dim).fill(1 / Math.sqrt(dim));
    for (let it = 0; it < 100; it++) {
      const next = new Float64Array(dim);
      for (let p = 0; p < dim; p++) for (let q = 0; q < dim; q++) next[p] = (next[p] as number) + (pooledCov[p * dim + q] as number) * (v[q] as number);
      const norm = Math.hypot(...next);
      if (!(norm > 0)) return undefined;
      v = next.map((x) => x / norm);
    }
    const projection = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let p = 0; p < dim; p++) s += ((points[i * dim + p] as number) - (pooledMean[p] as number)) * (v[p] as number);
      projection[i] = s;
    }
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (projection[a] as number) - (projection[b] as number) || a - b);
    order.forEach((i, rank) => {
      resp[i * k + Math.min(k - 1, Math.floor((rank * k) / n))] = 1;
    });
  }

  const weights = new Float64Array(k);
  const means = new Float64Array(k * dim);
  const chol = new Float64Array(k * dim * dim);
  const diff = new Float64Array(dim);
  const logTerms = new Float64Array(k);
  let previous = Number.NEGATIVE_INFINITY;
  for (let it = 0; it < iterations; it++) {
    // M step: weights, means, covariances (lower triangle) → Cholesky factors
    chol.fill(0);
    means.fill(0);
    for (let c = 0; c < k; c++) {
      let nc = 0;
      for (let i = 0; i < n; i++) {
        const r = resp[i * k + c] as number;
        nc += r;
        for (let p = 0; p < dim; p++) means[c * dim + p] = (means[c * dim + p] as number) + r * (points[i * dim + p] as number);
      }
      if (!(nc >= 2 * dim)) return undefined;
      for (let p = 0; p < dim; p++) means[c * dim + p] = (means[c * dim + p] as number) / nc;
      weights[c] = nc / n;
      const l = c * dim * dim;
      for (let i = 0; i < n; i++) {
        const r = resp[i * k + c] as number;
        if (r < 1e-12) continue;
        for (let p = 0; p < dim; p++) diff[p] = (points[i * dim + p] as number) - (means[c * dim + p] as number);
        for (let p = 0; p < dim; p++) for (let q = 0; q <= p; q++) chol[l + p * dim + q] = (chol[l + p * dim + q] as number) + (r * (diff[p] as number) * (diff[q] as number)) / nc;
      }
      for (let p = 0; p < dim; p++) chol[l + p * dim + p] = (chol[l + p * dim + p] as number) + 1e-6 * (pooledCov[p * dim + p] as number);
      if (!choleskyInPlace(chol, l, dim)) return undefined;
    }
    if (k === 1) break;
    // E step: responsibilities ∝ w_c N(x; μ_c, Σ_c); stop when the log likelihood stalls
    let loglik = 0;
    for (let i = 0; i < n; i++) {
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < k; c++) {
        const l = c * dim * dim;
        let sq = 0;
        let logDet = 0;
        for (let p = 0; p < dim; p++) {
          let v = (points[i * dim + p] as number) - (means[c * dim + p] as number);
          for (let q = 0; q < p; q++) v -= (chol[l + p * dim + q] as number) * (diff[q] as number);
          diff[p] = v / (chol[l + p * dim + p] as number);
          sq += (diff[p] as number) * (diff[p] as number);
          logDet += Math.log(chol[l + p * dim + p] as number);
        }
        const t = Math.log(weights[c] as number) - logDet - sq / 2;
        logTerms[c] = t;
        if (t > max) max = t;
      }
      let s = 0;
      for (let c = 0; c < k; c++) s += Math.exp((logTerms[c] as number) - max);
      for (let c = 0; c < k; c++) resp[i * k + c] = Math.exp((logTerms[c] as number) - max) / s;
      loglik += max + Math.log(s);
    }
    if (Math.abs(loglik - previous) < 1e-6 * n) break;
    previous = loglik;
  }
  return { weights, means, chol };
}
