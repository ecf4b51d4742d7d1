import { normalCdf } from '../../engine/distributions.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';
import { GOTI, individualPk } from '../../environments/pkpd/vancomycin-model.js';
import type { Policy, PolicyContext } from '../policy.js';
import { LevelsSeen, readContext, TAU_H, type VancoContext } from './vancomycin-common.js';

/**
 * Bayesian AUC-guided dosing that re-estimates from the levels the env draws (model-informed precision
 * dosing, as recommended by Rybak MJ et al., Am J Health-Syst Pharm 2020;77:835–864), for
 * `pkpd/vancomycin-v1` and `pkpd/vancomycin-agents-v0`:
 *
 * - Prior: η = (ηCL, ηV1, ηV2) ~ N(`prior.mean`, `prior.cov`) — a personal twin's posterior moments
 *   (experiments/personal-cohort-vancomycin.ts `twinPrior`), or the Goti population (mean 0, Ω) —
 *   represented by `samples` (default 1,000) draws from stream `vancomycin-bayesian/prior` of `seed`;
 *   the covariates (weight, CrCL, dialysis) are the env's prescription and observation, the model the
 *   Goti 2018 two-compartment one the env simulates (environments/pkpd/vancomycin-model.ts).
 * - Each draw's amounts are carried through the doses this policy gave, exactly (the bi-exponential
 *   solution over each constant-rate piece: infusion max(1 h, dose/1 g·h⁻¹), then to the peak sample
 *   1 h later, then to the end of the 12-h interval), at the CrCL observed during that interval (the
 *   env measures it daily; after a kidney injury CL follows it).
 * - When a new set of levels (pre-dose, peak, trough) is first visible — at the next decision on v1, after
 *   the lab turnaround on the agent env — each draw's weight is multiplied by their likelihood, given the
 *   draw's predicted concentrations in the interval the set was drawn in (kept per interval until then),
 *   under Goti's residual error, N(y; C, (0.227·C)² + 3.4²) (a level the lab floored at 0 by
 *   Φ(−C/sd)): importance reweighting, i.e. Bayes' rule on the sample.
 * - Regimen: of every dose level and interval in `intervals` (default 12 and 24 h; multiples of 12), the
 *   one with the highest posterior probability that the steady-state AUC24 = 24·D/(τ·CL) lies in
 *   `targetAuc`·MIC (default 400–600), ties by the lower P(AUC24 > 600), then the smaller daily dose —
 *   the ranking of `twinlab twin dose`. Chosen at the start (from the prior) and again at every fresh
 *   set of levels; a new regimen starts with a dose now. An optional `loadingMg` is the first dose.
 *
 * The posterior's effective sample size is kept in `lastEss` (for inspection).
 */
export interface VancoBayesianOptions {
  prior: { mean: number[]; cov: number[][] };
  samples: number;
  seed: number;
  targetAuc: [number, number];
  intervals: number[];
  loadingMg?: number;
}

const NAME = 'pkpd/vancomycin-bayesian';

/**
 * Intervals whose predicted levels are kept while no set of levels drawn in them has been seen: 61
 * covers the longest lab turnaround of `pkpd/vancomycin-agents-v0` (30 days = 60 intervals) plus the
 * interval itself; a set seen later than that is ignored (the regimen is kept).
 */
const MAX_UNMATCHED_INTERVALS = 61;

function fail(message: string): never {
  throw new TwinlabError('INVALID_ARGUMENT', `${NAME}: ${message}`);
}

/** Lower Cholesky factor of a 3 × 3 covariance (row-major), or an error naming the option. */
function cholesky3(cov: number[][]): number[] {
  const a = (i: number, j: number) => (cov[i] as number[])[j] as number;
  const l = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a(i, j);
      for (let k = 0; k < j; k++) s -= (l[i * 3 + k] as number) * (l[j * 3 + k] as number);
      if (i === j) {
        if (!(s > 0)) fail(`option prior.cov must be a positive definite 3 × 3 matrix, got ${describeValue(cov)}`);
        l[i * 3 + i] = Math.sqrt(s);
      } else l[i * 3 + j] = s / (l[j * 3 + j] as number);
    }
  }
  return l;
}

export function checkBayesianOptions(o: Record<string, unknown>): VancoBayesianOptions {
  const prior = o.prior as { mean?: unknown; cov?: unknown } | undefined;
  const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  const mean = prior?.mean ?? [0, 0, 0];
  const cov = prior?.cov ?? [
    [Math.log(1 + GOTI.cv.cl ** 2), 0, 0],
    [0, Math.log(1 + GOTI.cv.v1 ** 2), 0],
    [0, 0, Math.log(1 + GOTI.cv.v2 ** 2)],
  ];
  if (!Array.isArray(mean) || mean.length !== 3 || !mean.every(finite)) fail(`option prior.mean must be 3 numbers (ηCL, ηV1, ηV2), got ${describeValue(mean)}`);
  if (!Array.isArray(cov) || cov.length !== 3 || !cov.every((r) => Array.isArray(r) && r.length === 3 && r.every(finite))) {
    fail(`option prior.cov must be a 3 × 3 matrix of numbers, got ${describeValue(cov)}`);
  }
  const samples = o.samples ?? 1000;
  if (!(Number.isInteger(samples) && (samples as number) >= 10 && (samples as number) <= 100_000)) fail(`option samples must be an integer in [10, 100000], got ${describeValue(samples)}`);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) fail(`option seed must be an integer, got ${describeValue(seed)}`);
  const target = o.targetAuc ?? [400, 600];
  if (!(Array.isArray(target) && target.length === 2 && target.every(finite) && (target[0] as number) > 0 && (target[1] as number) > (target[0] as number))) {
    fail(`option targetAuc must be [low, high] with 0 < low < high, got ${describeValue(target)}`);
  }
  const intervals = o.intervals ?? [12, 24];
  if (!(Array.isArray(intervals) && intervals.length > 0 && intervals.every((t) => Number.isInteger(t / TAU_H) && t >= TAU_H && t <= 8 * TAU_H))) {
    fail(`option intervals must be hours among 12, 24, … 96, got ${describeValue(intervals)}`);
  }
  const loading = o.loadingMg;
  if (loading !== undefined && !(finite(loading) && loading > 0)) fail(`option loadingMg must be a dose in mg > 0, got ${describeValue(loading)}`);
  return {
    prior: { mean: mean as number[], cov: cov as number[][] },
    samples: samples as number,
    seed: seed as number,
    targetAuc: target as [number, number],
    intervals: intervals as number[],
    ...(loading !== undefined ? { loadingMg: loading as number } : {}),
  };
}

/** Exact two-compartment step over `h` hours at infusion rate `rate` (mg/h): (a1, a2) of draw i updated in place. */
export function advance(a1: Float64Array, a2: Float64Array, i: number, cl: number, v1: number, v2: number, rate: number, h: number): void {
  if (!(h > 0)) return;
  const k10 = cl / v1;
  const k12 = GOTI.q / v1;
  const k21 = GOTI.q / v2;
  // K = [[−(k10 + k12), k21], [k12, −k21]]; eigenvalues λ1 > λ2 (both < 0)
  const tr = -(k10 + k12 + k21);
  const det = k10 * k21;
  const disc = Math.sqrt(tr * tr - 4 * det);
  const l1 = (tr + disc) / 2;
  const l2 = (tr - disc) / 2;
  const e1 = Math.exp(l1 * h);
  const e2 = Math.exp(l2 * h);
  // Sylvester: f(K) = [f(λ1)(K − λ2 I) − f(λ2)(K − λ1 I)]/(λ1 − λ2); exp for the state, (e^{λh} − 1)/λ for the input
  const apply = (f1: number, f2: number, x1: number, x2: number): [number, number] => {
    const c1 = f1 / (l1 - l2);
    const c2 = f2 / (l1 - l2);
    const m11 = c1 * (-(k10 + k12) - l2) - c2 * (-(k10 + k12) - l1);
    const m12 = (c1 - c2) * k21;
    const m21 = (c1 - c2) * k12;
    const m22 = c1 * (-k21 - l2) - c2 * (-k21 - l1);
    return [m11 * x1 + m12 * x2, m21 * x1 + m22 * x2];
  };
  const [s1, s2] = apply(e1, e2, a1[i] as number, a2[i] as number);
  const [u1, u2] = rate > 0 ? apply((e1 - 1) / l1, (e2 - 1) / l2, rate, 0) : [0, 0];
  a1[i] = s1 + u1;
  a2[i] = s2 + u2;
}

function logLevel(y: number, c: number): number {
  const sd = Math.sqrt((GOTI.residual.proportional * c) ** 2 + GOTI.residual.additive ** 2);
  if (y <= 0) return Math.log(Math.max(1e-300, normalCdf(-c / sd)));
  const z = (y - c) / sd;
  return -Math.log(sd) - 0.5 * z * z;
}

export class VancoBayesian implements Policy<number> {
  readonly name = NAME;
  readonly kind = 'protocol' as const;
  /** Effective sample size of the weights after the last update. */
  lastEss = 0;
  /** Regimen in force: dose (mg) and interval (h). */
  regimen = { doseMg: 0, intervalH: TAU_H };
  private readonly eta: Float64Array[];
  private readonly a1: Float64Array;
  private readonly a2: Float64Array;
  private readonly logw: Float64Array;
  private context: VancoContext | null = null;
  private crclIndex = -1;
  private dialysis = false;
  private crclPrev = 0;
  private lastDose = 0;
  private step = 0;
  private phase = 0;
  private action = -1;
  private intervalSteps = 1;
  private hold = -1;
  private readonly seen = new LevelsSeen();
  /** Per interval not yet matched by a set of levels (oldest first): each draw's predicted pre-dose, peak and trough, mg/L. */
  private readonly predicted: { interval: number; c: Float64Array }[] = [];
  private readonly spare: Float64Array[] = [];

  constructor(private readonly options: VancoBayesianOptions) {
    const n = options.samples;
    const l = cholesky3(options.prior.cov);
    const rng = Rng.fromSeed(options.seed).fork('vancomycin-bayesian').fork('prior');
    this.eta = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
    for (let i = 0; i < n; i++) {
      const z = [rng.normal(), rng.normal(), rng.normal()];
      for (let r = 0; r < 3; r++) {
        let v = options.prior.mean[r] as number;
        for (let c = 0; c <= r; c++) v += (l[r * 3 + c] as number) * (z[c] as number);
        (this.eta[r] as Float64Array)[i] = v;
      }
    }
    this.a1 = new Float64Array(n);
    this.a2 = new Float64Array(n);
    this.logw = new Float64Array(n);
  }

  reset(context: PolicyContext): void {
    const c = readContext(context, this.name);
    const prescription = context.resetInfo.prescription as { crclMlMin?: number };
    this.crclIndex = (context.observationSpace.labels ?? []).indexOf('crcl_ml_min');
    if (this.crclIndex < 0 || !(typeof prescription.crclMlMin === 'number')) {
      throw new TwinlabError('INVALID_STATE', `${this.name}: ${context.envId} gives no CrCL (prescription.crclMlMin and observation crcl_ml_min)`);
    }
    this.context = c;
    this.dialysis = context.resetInfo.dialysis === true;
    this.crclPrev = prescription.crclMlMin;
    this.hold = c.doses.indexOf(0);
    if (this.options.intervals.some((t) => t > TAU_H) && this.hold < 0) fail(`intervals beyond 12 h need a hold (0 mg) level in ${context.envId}`);
    if (this.options.loadingMg !== undefined && !c.doses.includes(this.options.loadingMg)) {
      fail(`option loadingMg ${this.options.loadingMg} mg is not a dose level of ${context.envId} (levels: ${c.doses.join(', ')} mg)`);
    }
    this.a1.fill(0);
    this.a2.fill(0);
    this.logw.fill(0);
    this.lastEss = this.logw.length;
    this.step = 0;
    this.lastDose = 0;
    this.seen.reset();
    while (this.predicted.length > 0) this.spare.push((this.predicted.pop() as { interval: number; c: Float64Array }).c);
    this.choose(this.crclPrev);
  }

  private pk(i: number, crcl: number) {
    return individualPk(crcl, (this.context as VancoContext).weight, this.dialysis, {
      cl: (this.eta[0] as Float64Array)[i] as number,
      v1: (this.eta[1] as Float64Array)[i] as number,
      v2: (this.eta[2] as Float64Array)[i] as number,
    });
  }

  /**
   * Carry every draw through the last interval `interval` (dose `lastDose` at `crclPrev`), keeping each
   * draw's predicted pre-dose, peak and trough concentrations of that interval until a set of levels
   * drawn in it (or a later one) is seen.
   */
  private update(interval: number): void {
    const dose = this.lastDose;
    const tInf = dose > 0 ? Math.max(1, dose / 1000) : 0;
    const rate = dose > 0 ? dose / tInf : 0;
    if (this.predicted.length >= MAX_UNMATCHED_INTERVALS) this.spare.push((this.predicted.shift() as { interval: number; c: Float64Array }).c);
    const c = this.spare.pop() ?? new Float64Array(3 * this.a1.length);
    for (let i = 0; i < this.a1.length; i++) {
      const pk = this.pk(i, this.crclPrev);
      c[3 * i] = (this.a1[i] as number) / pk.v1;
      advance(this.a1, this.a2, i, pk.cl, pk.v1, pk.v2, rate, tInf);
      advance(this.a1, this.a2, i, pk.cl, pk.v1, pk.v2, 0, 1);
      c[3 * i + 1] = (this.a1[i] as number) / pk.v1;
      advance(this.a1, this.a2, i, pk.cl, pk.v1, pk.v2, 0, TAU_H - tInf - 1);
      c[3 * i + 2] = (this.a1[i] as number) / pk.v1;
    }
    this.predicted.push({ interval, c });
  }

  /**
   * Reweight every draw by the likelihood of levels drawn in interval `k` (Bayes' rule on the sample);
   * false when that interval's predictions are no longer kept (more than MAX_UNMATCHED_INTERVALS ago).
   * Predictions of interval k and earlier are released: sets are reported in drawing order.
   */
  private reweight(k: number, levels: [number, number, number]): boolean {
    const entry = this.predicted.find((p) => p.interval === k);
    if (entry) {
      const c = entry.c;
      for (let i = 0; i < this.a1.length; i++) {
        let ll = 0;
        ll += logLevel(levels[0], c[3 * i] as number);
        ll += logLevel(levels[1], c[3 * i + 1] as number);
        ll += logLevel(levels[2], c[3 * i + 2] as number);
        this.logw[i] = (this.logw[i] as number) + ll;
      }
    }
    while (this.predicted.length > 0 && (this.predicted[0] as { interval: number }).interval <= k) this.spare.push((this.predicted.shift() as { interval: number; c: Float64Array }).c);
    return entry !== undefined;
  }

  private weights(): Float64Array {
    let max = Number.NEGATIVE_INFINITY;
    for (const v of this.logw) if (v > max) max = v;
    const w = new Float64Array(this.logw.length);
    let s = 0;
    for (let i = 0; i < w.length; i++) {
      w[i] = Math.exp((this.logw[i] as number) - max);
      s += w[i] as number;
    }
    let s2 = 0;
    for (let i = 0; i < w.length; i++) {
      w[i] = (w[i] as number) / s;
      s2 += (w[i] as number) ** 2;
    }
    this.lastEss = 1 / s2;
    return w;
  }

  /** The regimen with the highest posterior P(AUC24 in target) at CrCL `crcl` (ranking of module comment). */
  private choose(crcl: number): void {
    const c = this.context as VancoContext;
    const w = this.weights();
    const cls = new Float64Array(w.length);
    for (let i = 0; i < w.length; i++) cls[i] = this.pk(i, crcl).cl;
    const [lo, hi] = this.options.targetAuc;
    let best: { p: number; p600: number; daily: number; tau: number; action: number } | null = null;
    for (const tau of this.options.intervals) {
      for (let a = 0; a < c.doses.length; a++) {
        const d = c.doses[a] as number;
        if (!(d > 0)) continue;
        let p = 0;
        let p600 = 0;
        for (let i = 0; i < w.length; i++) {
          const auc = (24 * d) / (tau * (cls[i] as number));
          if (auc >= lo * c.mic && auc <= hi * c.mic) p += w[i] as number;
          if (auc > 600) p600 += w[i] as number;
        }
        const daily = (24 * d) / tau;
        const cand = { p, p600, daily, tau, action: a };
        const better =
          best === null ||
          p > best.p + 1e-12 ||
          (Math.abs(p - best.p) <= 1e-12 && (p600 < best.p600 - 1e-12 || (Math.abs(p600 - best.p600) <= 1e-12 && (daily < best.daily || (daily === best.daily && tau < best.tau)))));
        if (better) best = cand;
      }
    }
    const b = best as NonNullable<typeof best>;
    this.action = b.action;
    this.intervalSteps = b.tau / TAU_H;
    this.regimen = { doseMg: c.doses[b.action] as number, intervalH: b.tau };
    this.phase = 0;
  }

  act(observation: Float32Array): number {
    const c = this.context;
    if (!c) throw new TwinlabError('INVALID_STATE', `${this.name}: act() before reset()`);
    const at = (label: string): number => observation[c.idx[label] as number] as number;
    const crcl = observation[this.crclIndex] as number;
    if (this.step > 0) {
      this.update(this.step - 1);
      const k = this.seen.next(c, observation);
      if (k >= 0 && this.reweight(k, [at('level_predose_mg_l'), at('level_peak_mg_l'), at('level_trough_mg_l')])) this.choose(crcl);
    }
    this.crclPrev = crcl;
    let action: number;
    if (this.step === 0 && this.options.loadingMg !== undefined) {
      action = c.doses.indexOf(this.options.loadingMg);
      this.phase = 1; // the next maintenance dose one interval after the loading dose
    } else {
      action = this.phase % this.intervalSteps === 0 ? this.action : this.hold;
      this.phase++;
    }
    this.step++;
    this.lastDose = c.doses[action] as number;
    return action;
  }
}
