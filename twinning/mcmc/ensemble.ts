import { z } from 'zod';
import { TwinlabError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';
import { DEFAULT_THRESHOLDS, type Diagnostics, type DiagnosticThresholds, diagnose } from './diagnostics.js';
import { fitTMixture, type TMixture } from './mixture.js';
import type { LogDensityBatch } from './parallel.js';

export interface EnsembleOptions {
  walkers: number;
  steps: number;
  /** Steps discarded before any is kept (0 ≤ burn < steps). */
  burn: number;
  /** Keep every thin-th step after burn-in, as emcee's get_chain(discard, thin): steps burn+thin−1, burn+2·thin−1, … */
  thin?: number;
  /** Stretch scale a > 1, default 2. */
  a?: number;
  /**
   * Probability that a half-step uses the differential-evolution move instead of the stretch move
   * (0 ≤ p ≤ 1, default 0: stretch only). See `DifferentialEvolutionMove`.
   */
  deProbability?: number;
  /**
   * After burn-in, the probability that a half-step uses the independence move, whose proposal is a
   * mixture of multivariate t distributions fitted to the second half of burn-in (0 ≤ p ≤ 1, default 0;
   * needs burn ≥ 2). See `IndependenceMove`. The other half-steps use the stretch / DE mixture above.
   */
  independenceProbability?: number;
  /** Components of the independence proposal's mixture (1–16, default 1: one t fitted by moments). */
  independenceComponents?: number;
  /** Initial positions, walkers×dim row-major; every walker needs a finite log density. */
  init: Float64Array;
  /** Every draw comes from this stream, which advances (pass `root.fork('mcmc')`). */
  rng: Rng;
  density: LogDensityBatch;
  /** After every step: steps done (1…steps) and the acceptance rate so far (burn-in included). */
  onProgress?: (step: number, acceptance: number) => void;
  /** Thresholds of `diagnostics.ok` (defaults: R-hat < 1.01, ESS ≥ 400, kept ≥ 50·τ). */
  thresholds?: Partial<DiagnosticThresholds>;
  /** Parameter names for diagnostic warnings. */
  names?: string[];
  /**
   * Sample in u = T(θ) instead of θ (see `Reparametrization`): `init`, the returned chain and the
   * diagnostics are in θ; the density is still a density of θ.
   */
  reparametrization?: Reparametrization;
}

/**
 * A smooth bijection u = T(θ) the walkers move in. The stretch and differential-evolution moves are
 * affine invariant, so a linear change of variables changes nothing; a nonlinear one that straightens
 * a curved ridge of the posterior shortens the autocorrelation time. The sampled density is
 * p_u(u) = p_θ(T⁻¹(u))·|det ∂T⁻¹/∂u|, so `logJacobian(u)` = log|det ∂θ/∂u| (omit it when 0).
 */
export interface Reparametrization {
  toSampling(theta: Float64Array, out: Float64Array): void;
  fromSampling(u: Float64Array, out: Float64Array): void;
  logJacobian?(u: Float64Array): number;
}

/** The density of u = T(θ) from a density of θ, mapping each batch back to θ before evaluating it. */
function densityInSamplingSpace(density: LogDensityBatch, t: Reparametrization, dim: number): LogDensityBatch {
  let buffer = new Float64Array(0);
  const u = new Float64Array(dim);
  const th = new Float64Array(dim);
  const toTheta = (points: Float64Array, n: number): Float64Array => {
    if (buffer.length < n * dim) buffer = new Float64Array(n * dim);
    for (let i = 0; i < n; i++) {
      u.set(points.subarray(i * dim, (i + 1) * dim));
      t.fromSampling(u, th);
      buffer.set(th, i * dim);
    }
    return buffer.subarray(0, n * dim);
  };
  const withJacobian = (lp: Float64Array, points: Float64Array, n: number): Float64Array => {
    if (t.logJacobian === undefined) return lp;
    const out = Float64Array.from(lp);
    for (let i = 0; i < n; i++) {
      u.set(points.subarray(i * dim, (i + 1) * dim));
      out[i] = (out[i] as number) + t.logJacobian(u);
    }
    return out;
  };
  const sync = density.evaluateSync;
  return {
    dim,
    evaluate: async (points, n) => withJacobian(await density.evaluate(toTheta(points, n), n), points, n),
    ...(sync ? { evaluateSync: (points: Float64Array, n: number) => withJacobian(sync.call(density, toTheta(points, n), n), points, n) } : {}),
    close: () => density.close(),
  };
}

export interface EnsembleResult {
  dim: number;
  walkers: number;
  /** Steps kept after burn-in and thinning. */
  kept: number;
  /** kept×walkers×dim, step-major: walker w's position at kept step t starts at (t·walkers + w)·dim. */
  chain: Float64Array;
  /** kept×walkers. */
  logProb: Float64Array;
  /** Accepted / proposed moves after burn-in, over all walkers. */
  acceptance: number;
  acceptancePerWalker: Float64Array;
  /**
   * `diagnose(chain, …)` plus a warning when acceptance is outside 0.15–0.6. Below 0.15 also sets
   * ok = false (walkers hardly move, so R-hat and τ may not see what they miss); above 0.6 is advisory
   * only: the stretch move accepts ~0.7 on a 2-D Gaussian, as its acceptance falls with dimension.
   */
  diagnostics: Diagnostics;
}

/**
 * Acceptance rates outside this band earn a warning (Foreman-Mackey et al. 2013 suggest 0.2–0.5;
 * the band is a little wider because in 1–3 dimensions the stretch move legitimately accepts more).
 */
export const ACCEPTANCE_BAND = [0.15, 0.6] as const;

const optionsSchema = z.object({
  walkers: z.number().int().min(2),
  steps: z.number().int().min(1),
  burn: z.number().int().min(0),
  thin: z.number().int().min(1).default(1),
  a: z.number().gt(1).finite().default(2),
  deProbability: z.number().min(0).max(1).default(0),
  independenceProbability: z.number().min(0).max(1).default(0),
  independenceComponents: z.number().int().min(1).max(16).default(1),
});

function invalid(field: string, message: string): TwinlabError {
  return new TwinlabError('INVALID_ARGUMENT', `${field}: ${message}`, { field });
}

interface ValidOptions {
  walkers: number;
  steps: number;
  burn: number;
  thin: number;
  a: number;
  deProbability: number;
  independenceProbability: number;
  independenceComponents: number;
  dim: number;
}

function validate(opts: EnsembleOptions): ValidOptions {
  const parsed = optionsSchema.safeParse({
    walkers: opts.walkers,
    steps: opts.steps,
    burn: opts.burn,
    thin: opts.thin,
    a: opts.a,
    deProbability: opts.deProbability,
    independenceProbability: opts.independenceProbability,
    independenceComponents: opts.independenceComponents,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(String(issue?.path[0] ?? 'options'), issue?.message ?? 'invalid');
  }
  const { walkers, steps, burn, thin, a, deProbability, independenceProbability, independenceComponents } = parsed.data;
  if (!(opts.rng instanceof Rng)) throw invalid('rng', 'must be an Rng from engine/random.ts');
  const density = opts.density;
  if (density === null || typeof density !== 'object' || typeof density.evaluate !== 'function') throw invalid('density', 'must be a LogDensityBatch');
  const dim = density.dim;
  if (!Number.isInteger(dim) || dim < 1) throw invalid('density.dim', `must be an integer ≥ 1, got ${dim}`);
  if (burn >= steps) throw invalid('burn', `must be < steps (${steps}), got ${burn}`);
  if (steps - burn < thin) throw invalid('thin', `${thin} keeps no step of the ${steps - burn} after burn-in`);
  if (walkers < 2 * dim) throw invalid('walkers', `need at least 2·dim = ${2 * dim} walkers for the stretch move (emcee's rule), got ${walkers}`);
  if (!(opts.init instanceof Float64Array) || opts.init.length !== walkers * dim) {
    throw invalid('init', `must be a Float64Array of walkers×dim = ${walkers * dim} values, got ${opts.init?.length}`);
  }
  for (let i = 0; i < opts.init.length; i++) {
    if (!Number.isFinite(opts.init[i])) throw invalid('init', `walker ${Math.floor(i / dim)}, parameter ${i % dim} is ${opts.init[i]}`);
  }
  if (opts.names !== undefined && opts.names.length !== dim) throw invalid('names', `has ${opts.names.length} entries for ${dim} parameters`);
  if (independenceProbability > 0 && burn < 2) throw invalid('independenceProbability', `the independence move fits its proposal to burn-in: needs burn ≥ 2, got ${burn}`);
  return { walkers, steps, burn, thin, a, deProbability, independenceProbability, independenceComponents, dim };
}

/**
 * Throws unless the initial walkers span all `dim` directions. Stretch moves keep every walker in the
 * affine hull of the ensemble, so a degenerate start (e.g. all walkers equal in one coordinate) can
 * never explore the rest of the space. Test: Cholesky of the walkers' correlation matrix.
 */
function checkSpan(init: Float64Array, walkers: number, dim: number): void {
  const mean = new Float64Array(dim);
  for (let w = 0; w < walkers; w++) for (let p = 0; p < dim; p++) mean[p] = (mean[p] as number) + (init[w * dim + p] as number) / walkers;
  const cov = new Float64Array(dim * dim);
  for (let w = 0; w < walkers; w++) {
    for (let p = 0; p < dim; p++) {
      const dp = (init[w * dim + p] as number) - (mean[p] as number);
      for (let q = 0; q <= p; q++) cov[p * dim + q] = (cov[p * dim + q] as number) + dp * ((init[w * dim + q] as number) - (mean[q] as number));
    }
  }
  for (let p = 0; p < dim; p++) {
    if (!((cov[p * dim + p] as number) > 0)) throw invalid('init', `all walkers have the same value of parameter ${p}: the ensemble must span every direction`);
  }
  // Correlation matrix, lower triangle, then in-place Cholesky.
  const corr = new Float64Array(dim * dim);
  for (let p = 0; p < dim; p++) {
    for (let q = 0; q <= p; q++) corr[p * dim + q] = (cov[p * dim + q] as number) / Math.sqrt((cov[p * dim + p] as number) * (cov[q * dim + q] as number));
  }
  for (let p = 0; p < dim; p++) {
    for (let q = 0; q <= p; q++) {
      let s = corr[p * dim + q] as number;
      for (let k = 0; k < q; k++) s -= (corr[p * dim + k] as number) * (corr[q * dim + k] as number);
      if (p === q) {
        if (!(s > 1e-10)) throw invalid('init', `the walkers are (nearly) linearly dependent: parameter ${p} is determined by the previous ones`);
        corr[p * dim + p] = Math.sqrt(s);
      } else corr[p * dim + q] = s / (corr[q * dim + q] as number);
    }
  }
}

/** The batch's log densities, checked: NaN or +Infinity is an error (−Infinity means "impossible"). */
function checkLogDensities(lp: Float64Array, density: LogDensityBatch, points: Float64Array, n: number, step: number): Float64Array {
  if (!(lp instanceof Float64Array) || lp.length !== n) {
    throw new TwinlabError('INVALID_STATE', `density.evaluate returned ${lp instanceof Float64Array ? lp.length : typeof lp} values for ${n} points`);
  }
  for (let i = 0; i < n; i++) {
    const v = lp[i] as number;
    if (Number.isNaN(v) || v === Number.POSITIVE_INFINITY) {
      const theta = Array.from(points.subarray(i * density.dim, (i + 1) * density.dim));
      throw new TwinlabError('INVALID_STATE', `log density is ${v} at step ${step}, point [${theta.join(', ')}]: return a finite number or −Infinity`, {
        step,
        theta,
      });
    }
  }
  return lp;
}

/**
 * What the three moves share: the red–black halves, a proposal buffer per half, and the accept test
 *   log U′ < log p(Y) − log p(X_k) + correction_k
 * with one U′ drawn per walker of the half in index order (drawn even when log p(Y) = −Infinity), so
 * each move only writes its proposals and says its log Hastings correction. Updates `pos` and `lp`
 * in place; kept out of the async loop so the hot code is plain synchronous code.
 */
abstract class HalfStepMove {
  protected readonly sets: ReadonlyArray<readonly [number, number]>;
  protected readonly proposals: Float64Array;
  private readonly batches: readonly [Float64Array, Float64Array];

  constructor(
    protected readonly pos: Float64Array,
    protected readonly lp: Float64Array,
    walkers: number,
    protected readonly dim: number,
    protected readonly rng: Rng,
  ) {
    const half = Math.floor(walkers / 2);
    this.sets = [
      [0, half],
      [half, walkers],
    ];
    this.proposals = new Float64Array((walkers - half) * dim);
    this.batches = [this.proposals.subarray(0, half * dim), this.proposals.subarray(0, (walkers - half) * dim)];
  }

  /** Writes the proposals of half h (drawing what the move needs) and returns them for one batch evaluation. */
  propose(h: 0 | 1): { batch: Float64Array; n: number } {
    const [lo, hi] = this.sets[h] as readonly [number, number];
    this.writeProposals(lo, hi, this.sets[1 - h] as readonly [number, number]);
    return { batch: this.batches[h], n: hi - lo };
  }

  protected abstract writeProposals(lo: number, hi: number, complement: readonly [number, number]): void;

  /** log of the Hastings factor of proposal k for walker w (0 for a symmetric proposal), read before w moves. */
  protected abstract logCorrection(k: number, w: number): number;

  /** Draws one U′ per walker of half h and applies the accept test; returns the number accepted. */
  accept(h: 0 | 1, lpY: Float64Array, counts: Float64Array | undefined): number {
    const { pos, lp, proposals, dim, rng } = this;
    const [lo, hi] = this.sets[h] as readonly [number, number];
    let accepted = 0;
    for (let k = 0; k < hi - lo; k++) {
      const w = lo + k;
      const logU = Math.log(rng.next());
      if (logU < this.logCorrection(k, w) + (lpY[k] as number) - (lp[w] as number)) {
        for (let p = 0; p < dim; p++) pos[w * dim + p] = proposals[k * dim + p] as number;
        lp[w] = lpY[k] as number;
        accepted++;
        if (counts !== undefined) counts[w] = (counts[w] as number) + 1;
      }
    }
    return accepted;
  }
}

/** The stretch move (maths in `sampleEnsemble`): Y = X_j + Z·(X_k − X_j); correction (d − 1)·log Z. */
class StretchMove extends HalfStepMove {
  private readonly zs: Float64Array;
  private readonly partners: Int32Array;

  constructor(pos: Float64Array, lp: Float64Array, walkers: number, dim: number, private readonly a: number, rng: Rng) {
    super(pos, lp, walkers, dim, rng);
    const maxHalf = walkers - Math.floor(walkers / 2);
    this.zs = new Float64Array(maxHalf);
    this.partners = new Int32Array(maxHalf);
  }

  /** Draws Z and the partners for the half (in that order) and writes its proposals Y. */
  protected writeProposals(lo: number, hi: number, [clo, chi]: readonly [number, number]): void {
    const { pos, proposals, zs, partners, dim, a, rng } = this;
    const n = hi - lo;
    for (let k = 0; k < n; k++) zs[k] = ((a - 1) * rng.next() + 1) ** 2 / a;
    for (let k = 0; k < n; k++) partners[k] = clo + Math.floor(rng.next() * (chi - clo));
    for (let k = 0; k < n; k++) {
      const xk = (lo + k) * dim;
      const xj = (partners[k] as number) * dim;
      const z = zs[k] as number;
      for (let p = 0; p < dim; p++) {
        const xjp = pos[xj + p] as number;
        proposals[k * dim + p] = xjp + z * ((pos[xk + p] as number) - xjp);
      }
    }
  }

  protected logCorrection(k: number): number {
    return (this.dim - 1) * Math.log(this.zs[k] as number);
  }
}

/**
 * Differential-evolution move (ter Braak 2006, "A Markov chain Monte Carlo version of the genetic
 * algorithm Differential Evolution", Stat. Comput. 16:239–249; ter Braak & Vrugt 2008; as emcee's
 * DEMove, Nelson et al. 2014, ApJS 210:11). Walker X_k of one half jumps along the difference of two
 * distinct walkers X_j1, X_j2 of the complementary half:
 *   Y = X_k + γ·(X_j1 − X_j2) + ε,  ε ~ N(0, b²·I),  b = 1e-5,
 * with γ = 2.38/√(2d) (the optimal scale for Gaussian targets, ter Braak 2006 §3), and γ = 1 on a tenth
 * of the half-steps so walkers can jump between modes. The proposal is symmetric (swapping j1 and j2
 * is as likely), so Y is accepted with probability min(1, p(Y)/p(X_k)). Like the stretch move it is
 * affine invariant up to ε, and on posteriors that are nearly Gaussian in 5–10 dimensions its
 * integrated autocorrelation time is several times shorter (measured: bench/mcmc.ts).
 *
 * Draws per half-step, in this order: one U for the γ = 1 choice, then per walker of the half j1, j2
 * and d normals for ε, then (after the evaluation) one U' per walker.
 */
class DifferentialEvolutionMove extends HalfStepMove {
  private readonly gamma0: number;

  constructor(pos: Float64Array, lp: Float64Array, walkers: number, dim: number, rng: Rng) {
    super(pos, lp, walkers, dim, rng);
    this.gamma0 = 2.38 / Math.sqrt(2 * dim);
  }

  protected writeProposals(lo: number, hi: number, [clo, chi]: readonly [number, number]): void {
    const { pos, proposals, dim, rng } = this;
    const nc = chi - clo;
    const gamma = rng.next() < 0.1 ? 1 : this.gamma0;
    for (let k = 0; k < hi - lo; k++) {
      const j1 = clo + Math.floor(rng.next() * nc);
      let j2 = clo + Math.floor(rng.next() * (nc - 1));
      if (j2 >= j1) j2++;
      const xk = (lo + k) * dim;
      for (let p = 0; p < dim; p++) {
        const diff = (pos[j1 * dim + p] as number) - (pos[j2 * dim + p] as number);
        proposals[k * dim + p] = (pos[xk + p] as number) + gamma * diff + 1e-5 * rng.normal();
      }
    }
  }

  protected logCorrection(): number {
    return 0;
  }
}

/**
 * The walkers' positions over the second half of burn-in, every stride-th step so that at most
 * `maxRows` positions are kept; the independence move's proposal is fitted to them.
 */
class BurnInSample {
  readonly stride: number;
  readonly points: Float64Array;
  rows = 0;

  constructor(
    readonly from: number,
    burn: number,
    private readonly walkers: number,
    private readonly dim: number,
    maxRows = 20_000,
  ) {
    const steps = burn - from;
    this.stride = Math.max(1, Math.ceil((steps * walkers) / maxRows));
    this.points = new Float64Array(Math.ceil(steps / this.stride) * walkers * dim);
  }

  add(step: number, pos: Float64Array): void {
    if (step < this.from || (step - this.from) % this.stride !== 0) return;
    this.points.set(pos.subarray(0, this.walkers * this.dim), this.rows * this.dim);
    this.rows += this.walkers;
  }
}

/**
 * Independence Metropolis–Hastings move (Tierney 1994, Ann. Stat. 22(4) §2.3.3) whose proposal q is a
 * mixture of multivariate t distributions fitted to the second half of burn-in (mixture.ts; the
 * ensemble analogue of emcee's KDEMove with a few broad components instead of a kernel per walker).
 * Every walker of a half proposes Y ~ q independently of where it is, and is accepted with
 * probability
 *   min(1, p(Y)·q(X_k) / (p(X_k)·q(Y))).
 * Why: on a posterior that is nearly Gaussian, or a few Gaussian lobes, the stretch and DE moves still
 * need tens of steps per independent draw in 9 dimensions, while an independence proposal that matches
 * the target accepts often and forgets the current state at once (autocorrelation time ≈ 2/acceptance
 * − 1). t tails heavier than the target's keep the ratio p/q bounded, which is what makes an
 * independence sampler uniformly ergodic (Mengersen & Tweedie 1996, Ann. Stat. 24(1), Thm 2.1). The
 * proposal is frozen at the end of burn-in and never changes afterwards, so the kept chain is an
 * ordinary Markov chain whose kernel — a state-independent mixture of this move with the stretch/DE
 * moves — leaves the target invariant.
 *
 * Draws per half-step: per walker of the half, the draws of `TMixture.sample`; after the evaluation,
 * one U' per walker.
 */
class IndependenceMove extends HalfStepMove {
  /** log q of each proposal of the current half. */
  private readonly logQ: Float64Array;

  constructor(pos: Float64Array, lp: Float64Array, walkers: number, dim: number, rng: Rng, private readonly proposal: TMixture) {
    super(pos, lp, walkers, dim, rng);
    this.logQ = new Float64Array(walkers - Math.floor(walkers / 2));
  }

  protected writeProposals(lo: number, hi: number): void {
    const { proposals, dim, rng, proposal } = this;
    for (let k = 0; k < hi - lo; k++) {
      proposal.sample(rng, proposals, k * dim);
      this.logQ[k] = proposal.logDensity(proposals, k * dim);
    }
  }

  protected logCorrection(k: number, w: number): number {
    return this.proposal.logDensity(this.pos, w * this.dim) - (this.logQ[k] as number);
  }
}

/** The independence move's proposal: t components with ν = 5, each covariance widened by 1.5² (heavier and wider than the target, so walkers seldom stick where p/q is large; IndependenceMove). */
export const INDEPENDENCE_PROPOSAL = { dof: 5, scale: 1.5 } as const;

/**
 * Affine-invariant ensemble sampler (Goodman & Weare 2010, "Ensemble samplers with affine invariance",
 * Comm. App. Math. Comp. Sci. 5(1):65–80) with the parallel red–black split of emcee (Foreman-Mackey
 * et al. 2013, PASP 125:306, Algorithm 3).
 *
 * Stretch move. Walker X_k moves along the line through a walker X_j of the complementary set:
 *   Y = X_j + Z·(X_k − X_j),  Z ~ g(z) ∝ 1/√z on [1/a, a]  (a = 2 by default),
 * drawn by inversion: G(z) = (√z − 1/√a)/(√a − 1/√a), so Z = ((a − 1)·U + 1)²/a with U ~ U(0,1).
 * g satisfies g(1/z) = z·g(z), which makes the move symmetric up to a Jacobian z^(d−1) in d
 * dimensions, so Y is accepted with probability
 *   min(1, Z^(d−1) · p(Y)/p(X_k))    — tested as  log U' < (d−1)·log Z + log p(Y) − log p(X_k).
 * The move commutes with every affine map of the parameter space, so its efficiency does not depend
 * on the scaling or linear correlations of the target.
 *
 * Red–black split. The walkers are split into S₀ = [0, ⌊W/2⌋) and S₁ = [⌊W/2⌋, W). Each step first
 * moves every walker of S₀ with partners drawn from S₁ (fixed during the half-step), then every walker
 * of S₁ with partners from the updated S₀. Within a half no proposal depends on another's outcome, so
 * a half's proposals are evaluated in ONE `density.evaluate` call (in parallel with `workerDensity`),
 * and the chain still satisfies detailed balance for each half-update (Foreman-Mackey et al. 2013).
 *
 * Move mixture (`deProbability` p > 0): each half-step first draws U (when 0 < p < 1) and uses the
 * differential-evolution move when U < p, the stretch move otherwise; each move leaves the target
 * invariant, so a state-independent random choice between them does too (Tierney 1994, Ann. Stat.
 * 22(4), §2.4). With `independenceProbability` q > 0, the walkers' positions are
 * collected over steps [⌊burn/2⌋, burn), and from step `burn` on each half-step first draws U
 * (when 0 < q < 1) and uses `IndependenceMove` when U < q, else the stretch/DE choice above. A
 * provisional proposal fitted at step ⌊burn/2⌋ to [⌊burn/4⌋, ⌊burn/2⌋) is used the same way for the
 * rest of burn-in, so the walkers already mix well when the final one is fitted. (Positions are
 * stored every stride-th step so that at most 20,000 per fit are kept.)
 *
 * Random draws, all from `rng`, in an order fixed by (walkers, steps) alone: per half-step, Z for each
 * walker of the half in index order, then the partner indices, then (after the evaluation) one U' per
 * walker — drawn even when the proposal has log density −Infinity. Hence the chain does not depend on
 * how the density is evaluated (in-process, 1 or n workers).
 *
 * Errors: INVALID_ARGUMENT for bad options (field named), or when the initial ensemble has a walker
 * with non-finite log density or does not span the space; INVALID_STATE when the density returns NaN
 * or +Infinity.
 */
/** Apply `f(row, out)` to each of `rows` rows of `dim` values, in place. */
function mapRows(values: Float64Array, rows: number, dim: number, f: (row: Float64Array, out: Float64Array) => void): void {
  const row = new Float64Array(dim);
  const out = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    row.set(values.subarray(r * dim, (r + 1) * dim));
    f(row, out);
    values.set(out, r * dim);
  }
}

export async function sampleEnsemble(opts: EnsembleOptions): Promise<EnsembleResult> {
  const { walkers, steps, burn, thin, a, deProbability, independenceProbability, independenceComponents, dim } = validate(opts);
  const { rng } = opts;
  checkSpan(opts.init, walkers, dim);
  const reparam = opts.reparametrization;
  const density = reparam === undefined ? opts.density : densityInSamplingSpace(opts.density, reparam, dim);

  const pos = Float64Array.from(opts.init);
  if (reparam !== undefined) mapRows(pos, walkers, dim, (a, b) => reparam.toSampling(a, b));
  const lp0 = density.evaluateSync?.(pos, walkers) ?? (await density.evaluate(pos, walkers));
  const lp = Float64Array.from(checkLogDensities(lp0, density, pos, walkers, 0));
  const bad: number[] = [];
  for (let w = 0; w < walkers; w++) if (!Number.isFinite(lp[w])) bad.push(w);
  if (bad.length > 0) {
    const shown = bad.slice(0, 10).join(', ') + (bad.length > 10 ? `, … (${bad.length} in all)` : '');
    throw new TwinlabError('INVALID_ARGUMENT', `init: the initial ensemble must have finite log density; walker(s) ${shown} have log density −Infinity`, {
      field: 'init',
      walkers: bad,
    });
  }

  const kept = Math.floor((steps - burn) / thin);
  const chain = new Float64Array(kept * walkers * dim);
  const logProb = new Float64Array(kept * walkers);
  const acceptedAfterBurn = new Float64Array(walkers);
  let acceptedAll = 0;

  const stretch = new StretchMove(pos, lp, walkers, dim, a, rng);
  const de = deProbability > 0 ? new DifferentialEvolutionMove(pos, lp, walkers, dim, rng) : undefined;
  // two fits: a provisional one at ⌊burn/2⌋ (from [⌊burn/4⌋, ⌊burn/2⌋)), used for the rest of burn-in so
  // the walkers mix before the final fit at `burn` (from [⌊burn/2⌋, burn)), which is then frozen
  const stages =
    independenceProbability > 0
      ? [
          { at: Math.floor(burn / 2), sample: new BurnInSample(Math.floor(burn / 4), Math.floor(burn / 2), walkers, dim) },
          { at: burn, sample: new BurnInSample(Math.floor(burn / 2), burn, walkers, dim) },
        ].filter((stage) => stage.at > stage.sample.from)
      : [];
  let independence: IndependenceMove | undefined;
  const fitWarnings: string[] = [];
  let next = 0; // index into the kept arrays
  for (let s = 0; s < steps; s++) {
    for (const { at, sample } of stages) {
      if (s !== at) continue;
      const proposal = fitTMixture(sample.points, sample.rows, dim, { components: independenceComponents, ...INDEPENDENCE_PROPOSAL });
      if (proposal !== undefined) independence = new IndependenceMove(pos, lp, walkers, dim, rng, proposal);
      else if (at === burn) {
        independence = undefined;
        fitWarnings.push('independence move not used: the burn-in covariance is not positive definite');
      }
    }
    for (let h = 0; h < 2; h++) {
      // the move's choice is drawn only for a mixture, so stretch-only chains keep their draws
      const move =
        independence !== undefined && (independenceProbability === 1 || rng.next() < independenceProbability)
          ? independence
          : de !== undefined && (deProbability === 1 || rng.next() < deProbability)
            ? de
            : stretch;
      const { batch, n } = move.propose(h as 0 | 1);
      // In-process densities skip the promise round trip (same values, same draws).
      const lpY = checkLogDensities(density.evaluateSync?.(batch, n) ?? (await density.evaluate(batch, n)), density, batch, n, s + 1);
      acceptedAll += move.accept(h as 0 | 1, lpY, s >= burn ? acceptedAfterBurn : undefined);
    }
    for (const { at, sample } of stages) if (s < at) sample.add(s, pos);
    if (s >= burn && (s - burn + 1) % thin === 0 && next < kept) {
      chain.set(pos, next * walkers * dim);
      logProb.set(lp, next * walkers);
      next++;
    }
    opts.onProgress?.(s + 1, acceptedAll / ((s + 1) * walkers));
  }

  const postBurn = steps - burn;
  const acceptancePerWalker = acceptedAfterBurn.map((c) => c / postBurn);
  const acceptance = acceptedAfterBurn.reduce((sum, c) => sum + c, 0) / (postBurn * walkers);
  if (reparam !== undefined) mapRows(chain, kept * walkers, dim, (a, b) => reparam.fromSampling(a, b));
  const diagnostics = diagnose(chain, kept, walkers, dim, opts.names, { ...DEFAULT_THRESHOLDS, ...opts.thresholds });
  diagnostics.warnings.push(...fitWarnings);
  if (!(acceptance >= ACCEPTANCE_BAND[0] && acceptance <= ACCEPTANCE_BAND[1])) {
    diagnostics.warnings.push(`acceptance ${acceptance.toFixed(3)} outside ${ACCEPTANCE_BAND[0]}–${ACCEPTANCE_BAND[1]}`);
    if (acceptance < ACCEPTANCE_BAND[0]) diagnostics.ok = false;
  }
  return { dim, walkers, kept, chain, logProb, acceptance, acceptancePerWalker, diagnostics };
}
