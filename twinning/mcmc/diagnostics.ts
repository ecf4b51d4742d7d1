import { TwinlabError } from '../../engine/errors.js';
import { quantileSorted } from '../../engine/distributions.js';

/**
 * Convergence diagnostics for an ensemble chain stored step-major (kept × walkers × dim). The maths
 * and the choice of thresholds are in README.md; in short:
 *
 * - `tau`, `ess`: the integrated autocorrelation time τ of each parameter as emcee estimates it
 *   (walker-averaged autocorrelation, Sokal's window with c = 5) and ESS = kept·walkers/τ. This is the
 *   primary ESS — it is what the emcee documentation recommends for ensemble samplers, whose walkers
 *   are not independent chains.
 * - `rhat`: rank-normalised split-R̂ (Vehtari et al. 2021), max of the bulk and folded (tail) versions,
 *   treating each walker as a chain — a heuristic for ensembles (README.md).
 * - `essBulk`, `essTail`: Vehtari et al.'s rank-normalised bulk ESS and the tail ESS (5 % and 95 %
 *   quantiles), same walkers-as-chains heuristic; reported, not used by `ok`.
 * - `ok`: true when there is no warning: every R̂ < `rhatMax`, every τ-based ESS ≥ `essMin`, and
 *   the chain is at least `tauFactor`·τ steps long (else τ itself is unreliable, emcee's rule).
 */
export interface Diagnostics {
  /** Per parameter: rank-normalised split-R̂, max(bulk, folded), walkers as chains. */
  rhat: Float64Array;
  /** Per parameter: kept·walkers/τ (τ from `integratedAutocorrTime`). The ESS `ok` uses. */
  ess: Float64Array;
  /** Per parameter: integrated autocorrelation time in steps. */
  tau: Float64Array;
  /** Per parameter: rank-normalised bulk ESS (Vehtari et al. 2021), walkers as chains. */
  essBulk: Float64Array;
  /** Per parameter: tail ESS, min over the 5 % and 95 % quantile indicators. */
  essTail?: Float64Array;
  ok: boolean;
  warnings: string[];
}

export interface DiagnosticThresholds {
  /** R̂ must be below this (default 1.01, Vehtari et al. 2021). */
  rhatMax: number;
  /** τ-based ESS must reach this (default 400, Vehtari et al. 2021: 100 per chain for 4 chains). */
  essMin: number;
  /** kept must be at least tauFactor·τ for τ to be trusted (default 50, emcee's `tol`). */
  tauFactor: number;
}

export const DEFAULT_THRESHOLDS: DiagnosticThresholds = { rhatMax: 1.01, essMin: 400, tauFactor: 50 };

function checkShape(chain: Float64Array, kept: number, walkers: number, dim: number): void {
  for (const [name, v] of [
    ['kept', kept],
    ['walkers', walkers],
    ['dim', dim],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new TwinlabError('INVALID_ARGUMENT', `${name} must be an integer ≥ 1, got ${v}`, { field: name });
  }
  if (!(chain instanceof Float64Array) || chain.length !== kept * walkers * dim) {
    throw new TwinlabError('INVALID_ARGUMENT', `chain must be a Float64Array of kept×walkers×dim = ${kept * walkers * dim} values, got ${chain?.length}`, {
      field: 'chain',
    });
  }
}

/** Walker w's draws of parameter p, in step order. */
function walkerSeries(chain: Float64Array, kept: number, walkers: number, dim: number, w: number, p: number): Float64Array {
  const out = new Float64Array(kept);
  for (let t = 0; t < kept; t++) out[t] = chain[(t * walkers + w) * dim + p] as number;
  return out;
}

// ---------------------------------------------------------------------------------------------------
// FFT autocorrelation

/** Twiddle factors e^{−2πik/n}, k < n/2, per FFT size (computed once: exact, no recurrence drift). */
const twiddles = new Map<number, { cos: Float64Array; sin: Float64Array }>();

function twiddle(n: number): { cos: Float64Array; sin: Float64Array } {
  let t = twiddles.get(n);
  if (t === undefined) {
    const cos = new Float64Array(n >> 1);
    const sin = new Float64Array(n >> 1);
    for (let k = 0; k < n >> 1; k++) {
      cos[k] = Math.cos((2 * Math.PI * k) / n);
      sin[k] = -Math.sin((2 * Math.PI * k) / n);
    }
    t = { cos, sin };
    twiddles.set(n, t);
  }
  return t;
}

/** In-place iterative radix-2 FFT (length a power of two); `inverse` without the 1/n factor. */
function fft(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i] as number;
      re[i] = re[j] as number;
      re[j] = t;
      t = im[i] as number;
      im[i] = im[j] as number;
      im[j] = t;
    }
  }
  const { cos, sin } = twiddle(n);
  const sign = inverse ? -1 : 1;
  for (let len = 2; len <= n; len <<= 1) {
    const half = len >> 1;
    const stride = n / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < half; k++) {
        const cr = cos[k * stride] as number;
        const ci = sign * (sin[k * stride] as number);
        const a = i + k;
        const b = a + half;
        const br = re[b] as number;
        const bi = im[b] as number;
        const xr = br * cr - bi * ci;
        const xi = br * ci + bi * cr;
        const ar = re[a] as number;
        const ai = im[a] as number;
        re[b] = ar - xr;
        im[b] = ai - xi;
        re[a] = ar + xr;
        im[a] = ai + xi;
      }
    }
  }
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

/**
 * Biased autocovariances c_k = (1/N) Σ_{t<N−k} (x_t − x̄)(x_{t+k} − x̄), k = 0..N−1, of two real series of
 * equal length at the cost of one complex FFT pair: z = x + i·y is transformed (zero-padded to ≥ 2N, so
 * no circular wrap-around), X_k = (Z_k + conj Z_{m−k})/2 and Y_k = (Z_k − conj Z_{m−k})/(2i) separate
 * the two spectra, and the inverse transform of |X|² + i·|Y|² (both real) returns c^x in its real part
 * and c^y in its imaginary part (Wiener–Khinchin).
 */
function autocovariancePair(x: Float64Array, y: Float64Array | undefined): [Float64Array, Float64Array | undefined] {
  const n = x.length;
  const m = 2 * nextPow2(n);
  const re = new Float64Array(m);
  const im = new Float64Array(m);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) mx += x[i] as number;
  mx /= n;
  for (let i = 0; i < n; i++) re[i] = (x[i] as number) - mx;
  if (y !== undefined) {
    for (let i = 0; i < n; i++) my += y[i] as number;
    my /= n;
    for (let i = 0; i < n; i++) im[i] = (y[i] as number) - my;
  }
  fft(re, im, false);
  const px = new Float64Array(m);
  const py = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const j = (m - k) & (m - 1);
    const ar = re[k] as number;
    const ai = im[k] as number;
    const br = re[j] as number;
    const bi = -(im[j] as number);
    // X = (Z_k + conj Z_j)/2, Y = (Z_k − conj Z_j)/(2i)
    const xr = (ar + br) / 2;
    const xi = (ai + bi) / 2;
    const yr = (ai - bi) / 2;
    const yi = -(ar - br) / 2;
    px[k] = xr * xr + xi * xi;
    py[k] = yr * yr + yi * yi;
  }
  fft(px, py, true);
  const scale = 1 / (m * n);
  const cx = new Float64Array(n);
  for (let k = 0; k < n; k++) cx[k] = (px[k] as number) * scale;
  if (y === undefined) return [cx, undefined];
  const cy = new Float64Array(n);
  for (let k = 0; k < n; k++) cy[k] = (py[k] as number) * scale;
  return [cx, cy];
}

/** Biased autocovariance of one series (see `autocovariancePair`). */
export function autocovariance(x: Float64Array): Float64Array {
  return autocovariancePair(x, undefined)[0];
}

/** Autocovariances of many series of equal length, two per FFT. */
function autocovariances(series: Float64Array[]): Float64Array[] {
  const out: Float64Array[] = [];
  for (let i = 0; i < series.length; i += 2) {
    const [a, b] = autocovariancePair(series[i] as Float64Array, series[i + 1]);
    out.push(a);
    if (b !== undefined) out.push(b);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Integrated autocorrelation time (emcee)

/**
 * Integrated autocorrelation time per parameter, as emcee 3 estimates it (`emcee.autocorr.integrated_time`,
 * after Goodman & Weare 2010 and Sokal 1997): the normalised autocorrelation function ρ̂_w(k) of every
 * walker is averaged over walkers, τ̂(M) = 1 + 2 Σ_{k=1..M} ρ̄(k), and the window M is the smallest with
 * M ≥ c·τ̂(M) (c = 5), else the last lag. A walker that never moved has no defined ρ̂; it is counted as
 * ρ̂ ≡ 1 (fully correlated), so a stuck ensemble gets a large τ rather than NaN. Units: kept (thinned)
 * steps.
 */
export function integratedAutocorrTime(chain: Float64Array, kept: number, walkers: number, dim: number, c = 5): Float64Array {
  checkShape(chain, kept, walkers, dim);
  const tau = new Float64Array(dim);
  for (let p = 0; p < dim; p++) {
    const f = new Float64Array(kept);
    const acovs = autocovariances(Array.from({ length: walkers }, (_, w) => walkerSeries(chain, kept, walkers, dim, w, p)));
    for (const acov of acovs) {
      const c0 = acov[0] as number;
      if (c0 > 0) for (let k = 0; k < kept; k++) f[k] = (f[k] as number) + (acov[k] as number) / c0;
      else for (let k = 0; k < kept; k++) f[k] = (f[k] as number) + 1;
    }
    let sum = 0; // Σ_{k=0..M} ρ̄(k); τ̂(M) = 2·sum − 1
    let value = Number.NaN;
    for (let m = 0; m < kept; m++) {
      sum += (f[m] as number) / walkers;
      const taus = 2 * sum - 1;
      value = taus;
      if (m >= c * taus) break;
    }
    tau[p] = value;
  }
  return tau;
}

// ---------------------------------------------------------------------------------------------------
// Vehtari et al. (2021): rank normalisation, split-R̂, bulk and tail ESS

/**
 * Inverse standard normal CDF, Acklam's rational approximation (relative error < 1.2e-9), ample for
 * rank normalisation.
 */
export function normalQuantile(p: number): number {
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const cc = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo || p > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(p < lo ? p : 1 - p));
    const x = (((((cc[0]! * q + cc[1]!) * q + cc[2]!) * q + cc[3]!) * q + cc[4]!) * q + cc[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
    return p < lo ? x : -x;
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/**
 * Splits each walker's series into a first and a second half (the middle draw dropped when the
 * length is odd), as in Vehtari et al. 2021 and the `posterior` R package: 2·walkers chains.
 */
function splitChains(series: Float64Array[]): Float64Array[] {
  const out: Float64Array[] = [];
  for (const s of series) {
    const half = Math.floor(s.length / 2);
    out.push(s.subarray(0, half), s.subarray(s.length - half));
  }
  return out;
}

/**
 * z_i = Φ⁻¹((r_i − 3/8)/(S + 1/4)), r_i the average rank of draw i among all S pooled draws (`sorted`);
 * a tie block at sorted positions [i, j] shares the rank (i + j)/2 + 1.
 */
function rankNormalise(chains: Float64Array[], sorted: Float64Array): Float64Array[] {
  const total = sorted.length;
  const score = new Float64Array(total); // set at the first position of each tie block
  for (let i = 0; i < total; ) {
    let j = i;
    while (j + 1 < total && sorted[j + 1] === sorted[i]) j++;
    score[i] = normalQuantile(((i + j) / 2 + 1 - 0.375) / (total + 0.25));
    i = j + 1;
  }
  return chains.map((c) => {
    const out = new Float64Array(c.length);
    for (let k = 0; k < c.length; k++) {
      const v = c[k] as number;
      let lo = 0;
      let hi = total;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((sorted[mid] as number) < v) lo = mid + 1;
        else hi = mid;
      }
      out[k] = score[lo] as number;
    }
    return out;
  });
}

function meanVar(x: Float64Array): { mean: number; variance: number } {
  let mean = 0;
  let constant = true;
  for (let i = 0; i < x.length; i++) {
    mean += x[i] as number;
    constant &&= x[i] === x[0];
  }
  // A constant chain has variance exactly 0 (the rounded mean would leave a residue of ~1e-32).
  if (constant) return { mean: x[0] ?? Number.NaN, variance: 0 };
  mean /= x.length;
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += ((x[i] as number) - mean) ** 2;
  return { mean, variance: x.length > 1 ? ss / (x.length - 1) : 0 };
}

/**
 * Basic R̂ of M chains of length N (Gelman & Rubin 1992):
 * B = N/(M−1) Σ (θ̄_m − θ̄)², W = mean_m s_m², var⁺ = (N−1)/N·W + B/N, R̂ = √(var⁺/W).
 * NaN when every draw is identical; +Infinity when each chain is constant but they differ.
 */
function rhatBasic(chains: Float64Array[]): number {
  const m = chains.length;
  const n = chains[0]?.length ?? 0;
  if (m < 2 || n < 2) return Number.NaN;
  const stats = chains.map(meanVar);
  const grand = stats.reduce((s, x) => s + x.mean, 0) / m;
  const b = (n / (m - 1)) * stats.reduce((s, x) => s + (x.mean - grand) ** 2, 0);
  const w = stats.reduce((s, x) => s + x.variance, 0) / m;
  const varPlus = ((n - 1) / n) * w + b / n;
  if (w === 0) return b === 0 ? Number.NaN : Number.POSITIVE_INFINITY;
  return Math.sqrt(varPlus / w);
}

/**
 * ESS of M chains of length N with the multi-chain autocorrelation of Vehtari et al. 2021
 * and Geyer's initial monotone sequence (Geyer 1992), transcribed from `posterior::ess_rfun`:
 * ρ̂_t = 1 − (W − mean_m c_{m,t})/var⁺ with c_{m,t} chain m's biased autocovariance at lag t and W the
 * mean within-chain variance; pairs ρ̂_t + ρ̂_{t+1} are summed while positive and made monotone;
 * τ̂ = −1 + 2 Σ_{t<T} ρ̂_t + ρ̂_T, ESS = MN/max(τ̂, 1/log10(MN)).
 */
function essChains(chains: Float64Array[]): number {
  const m = chains.length;
  const n = chains[0]?.length ?? 0;
  if (m < 1 || n < 4) return Number.NaN;
  const acov = autocovariances(chains);
  const means = chains.map((c) => meanVar(c).mean);
  const chainVar = acov.map((a) => ((a[0] as number) * n) / (n - 1));
  const meanVarW = chainVar.reduce((s, v) => s + v, 0) / m;
  let varPlus = (meanVarW * (n - 1)) / n;
  if (m > 1) {
    const grand = means.reduce((s, v) => s + v, 0) / m;
    varPlus += means.reduce((s, v) => s + (v - grand) ** 2, 0) / (m - 1);
  }
  if (!(varPlus > 0)) return Number.NaN;
  const meanAcov = (t: number): number => {
    let s = 0;
    for (const a of acov) s += a[t] as number;
    return s / m;
  };
  const rho = new Float64Array(n);
  rho[0] = 1;
  let even = 1;
  let odd = 1 - (meanVarW - meanAcov(1)) / varPlus;
  rho[1] = odd;
  let t = 0;
  while (t < n - 5 && !Number.isNaN(even + odd) && even + odd > 0) {
    t += 2;
    even = 1 - (meanVarW - meanAcov(t)) / varPlus;
    odd = 1 - (meanVarW - meanAcov(t + 1)) / varPlus;
    if (even + odd >= 0) {
      rho[t] = even;
      rho[t + 1] = odd;
    }
  }
  const maxT = t;
  if (even > 0) rho[maxT] = even;
  for (let k = 2; k <= maxT - 2; k += 2) {
    const prev = (rho[k - 2] as number) + (rho[k - 1] as number);
    if ((rho[k] as number) + (rho[k + 1] as number) > prev) {
      rho[k] = prev / 2;
      rho[k + 1] = prev / 2;
    }
  }
  let sum = 0;
  for (let k = 0; k < maxT; k++) sum += rho[k] as number;
  const total = m * n;
  const tauHat = Math.max(-1 + 2 * sum + (rho[maxT] as number), 1 / Math.log10(total));
  return total / tauHat;
}

function pooledSorted(chains: Float64Array[]): Float64Array {
  const all = new Float64Array(chains.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chains) {
    all.set(c, o);
    o += c.length;
  }
  return all.sort();
}

/**
 * Vehtari et al. (2021) diagnostics of one parameter from its per-walker series: R̂ = max(bulk, tail)
 * where bulk is the rank-normalised split-R̂ of θ and tail that of the folded |θ − median θ|; bulk ESS
 * on the rank-normalised split chains; tail ESS = min over q ∈ {0.05, 0.95} of the ESS of the
 * indicator I(θ ≤ θ̂_q) on the split chains.
 */
export function vehtariDiagnostics(series: Float64Array[]): { rhat: number; essBulk: number; essTail: number } {
  const split = splitChains(series);
  const sorted = pooledSorted(split);
  const z = rankNormalise(split, sorted);
  const bulk = rhatBasic(z);
  const essBulk = essChains(z);
  const med = quantileSorted(sorted, 0.5);
  const folded = split.map((c) => c.map((v) => Math.abs(v - med)));
  const tail = rhatBasic(rankNormalise(folded, pooledSorted(folded)));
  const rhat = Number.isNaN(bulk) ? tail : Number.isNaN(tail) ? bulk : Math.max(bulk, tail);
  let essTail = Number.POSITIVE_INFINITY;
  for (const q of [0.05, 0.95]) {
    const cut = quantileSorted(sorted, q);
    essTail = Math.min(essTail, essChains(split.map((c) => c.map((v) => (v <= cut ? 1 : 0)))));
  }
  return { rhat, essBulk, essTail };
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3);
}

/**
 * Diagnoses a chain (kept × walkers × dim, step-major, as `sampleEnsemble` returns it). `names` label
 * the parameters in warnings ("parameter p" otherwise). See the `Diagnostics` fields for what is
 * computed and when `ok` holds.
 */
export function diagnose(
  chain: Float64Array,
  kept: number,
  walkers: number,
  dim: number,
  names?: string[],
  thresholds: Partial<DiagnosticThresholds> = {},
): Diagnostics {
  checkShape(chain, kept, walkers, dim);
  if (names !== undefined && names.length !== dim) {
    throw new TwinlabError('INVALID_ARGUMENT', `names has ${names.length} entries for ${dim} parameters`, { field: 'names' });
  }
  const th = { ...DEFAULT_THRESHOLDS, ...thresholds };
  const label = (p: number): string => names?.[p] ?? `parameter ${p}`;
  const rhat = new Float64Array(dim).fill(Number.NaN);
  const essBulk = new Float64Array(dim).fill(Number.NaN);
  const essTail = new Float64Array(dim).fill(Number.NaN);
  const warnings: string[] = [];
  if (kept < 4) {
    warnings.push(`too few kept steps (${kept} < 4) to compute split-R-hat and ESS`);
    const nan = new Float64Array(dim).fill(Number.NaN);
    return { rhat, ess: nan, tau: nan.slice(), essBulk, essTail, ok: false, warnings };
  }
  const tau = integratedAutocorrTime(chain, kept, walkers, dim);
  const ess = new Float64Array(dim);
  for (let p = 0; p < dim; p++) {
    const series = Array.from({ length: walkers }, (_, w) => walkerSeries(chain, kept, walkers, dim, w, p));
    const v = vehtariDiagnostics(series);
    rhat[p] = v.rhat;
    essBulk[p] = v.essBulk;
    essTail[p] = v.essTail;
    ess[p] = (kept * walkers) / (tau[p] as number);
    const r = rhat[p] as number;
    if (Number.isNaN(r)) warnings.push(`R-hat undefined for ${label(p)}: every draw is identical`);
    else if (!(r < th.rhatMax)) warnings.push(`R-hat ${fmt(r)} > ${th.rhatMax} for ${label(p)}`);
    const e = ess[p] as number;
    if (!(e >= th.essMin)) warnings.push(`ESS ${fmt(e)} < ${th.essMin} for ${label(p)} (τ = ${fmt(tau[p] as number)} steps)`);
    if (!(kept >= th.tauFactor * (tau[p] as number))) {
      warnings.push(
        `chain of ${kept} kept steps is shorter than ${th.tauFactor}·τ = ${fmt(th.tauFactor * (tau[p] as number))} for ${label(p)}: τ is unreliable`,
      );
    }
  }
  return { rhat, ess, tau, essBulk, essTail, ok: warnings.length === 0, warnings };
}
