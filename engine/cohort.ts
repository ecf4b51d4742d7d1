import { CholeskyDecomposition, EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { TwinlabError } from './errors.js';
import { Rng } from './random.js';

/**
 * Virtual populations: log-normal inter-individual variability with full covariance, as in
 * population PK/PD (NONMEM's exponential ETA model):
 *
 *   θᵢ,ₖ = θ_pop,ₖ(covᵢ) · exp(ηᵢ,ₖ),   ηᵢ ~ N(0, Ω),   ηᵢ = L·zᵢ with Ω = L·Lᵀ (Cholesky), zᵢ ~ N(0, I).
 *
 * Patient i draws ONLY from the substream `Rng.fromSeed(seed).fork('patient/' + i)`, so patient i is
 * the same whatever the cohort size or the order in which patients are sampled. Inside it, each
 * covariate draws from its own substream `covariate/<name>` and the random effects from `eta`, so
 * adding a covariate never shifts another covariate's or η's draws. A rejected attempt (bounds or
 * `accept`) draws the next attempt from the same streams, so the accepted patient follows the joint
 * distribution conditioned on acceptance (covariates and η are redrawn together).
 *
 * Parameters with zero variance (a zero row and column in Ω) are fixed at θ_pop (η = 0, no draw);
 * the rest of Ω must be symmetric positive definite.
 *
 * A spec is treated as immutable: `compileCohort` validates it and factors Ω once, and
 * `samplePatient` / `sampleCohort` cache the compiled form per spec object.
 */

/** A covariate: a sampler over the patient stream, or a categorical distribution over numeric codes. */
export type CovariateSampler =
  | ((rng: Rng) => number)
  | {
      readonly type: 'categorical';
      /** Numeric codes (e.g. 0 = female, 1 = male). */
      readonly values: readonly number[];
      /** Non-negative weights, same length as values (need not sum to 1). */
      readonly weights: readonly number[];
    };

export interface CohortSpec {
  /** Parameter names; their order is the row/column order of omega and of `eta`. */
  parameters: readonly string[];
  /** Typical value per parameter: a constant, or a function of the patient's covariates (e.g. CL · (WT/70)^0.75). */
  thetaPop: Record<string, number | ((cov: Record<string, number>) => number)>;
  /** Covariance of η (log scale), parameters.length × parameters.length. */
  omega: number[][];
  covariates?: Record<string, CovariateSampler>;
  /** Inclusive [lo, hi] per parameter (or covariate); out-of-range attempts are resampled. */
  bounds?: Record<string, [number, number]>;
  /** Plausibility predicate: `true` accepts; `false` or a reason string rejects and resamples. */
  accept?: (p: VirtualPatient) => boolean | string;
  /** Attempts per patient before giving up (default 1000). */
  maxAttempts?: number;
}

export interface VirtualPatient {
  index: number;
  params: Record<string, number>;
  /** η on the log scale, in `spec.parameters` order. */
  eta: Float64Array;
  covariates: Record<string, number>;
  /** Attempts used (1 = accepted at the first draw). */
  attempts: number;
}

export interface CohortSample {
  patients: VirtualPatient[];
  /** Rejected attempts over the whole cohort. */
  rejected: number;
  /** Rejections by reason: `bounds:<name>` or `accept:<reason>` (`accept:rejected` for `false`). */
  rejectionReasons: Record<string, number>;
}

export interface CompiledCohort {
  readonly spec: CohortSpec;
  /** Lower-triangular Cholesky factor of Ω, row-major dim × dim (zero rows for fixed parameters). */
  readonly cholesky: Float64Array;
  sample(seed: number | string, index: number): VirtualPatient;
  sampleCohort(seed: number | string, size: number): CohortSample;
}

const DEFAULT_MAX_ATTEMPTS = 1000;

function specError(message: string, details?: Record<string, unknown>): TwinlabError {
  return new TwinlabError('INVALID_SPEC', `cohort spec: ${message}`, details);
}

/** Validate Ω and return its lower Cholesky factor (row-major), handling zero-variance parameters. */
function factorOmega(parameters: readonly string[], omega: number[][]): Float64Array {
  const dim = parameters.length;
  if (!Array.isArray(omega) || omega.length !== dim || omega.some((row) => !Array.isArray(row) || row.length !== dim)) {
    throw specError(`omega must be a ${dim}×${dim} matrix (one row and column per parameter: ${parameters.join(', ')})`);
  }
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j < dim; j++) {
      const v = omega[i]?.[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw specError(`omega[${i}][${j}] is not a finite number (${v})`);
    }
  }
  const at = (i: number, j: number): number => (omega[i] as number[])[j] as number;
  for (let i = 0; i < dim; i++) {
    if (at(i, i) < 0) {
      throw specError(`omega is not positive definite: variance omega[${i}][${i}] of '${parameters[i]}' is negative (${at(i, i)})`);
    }
    for (let j = 0; j < i; j++) {
      const a = at(i, j);
      const b = at(j, i);
      if (Math.abs(a - b) > 1e-12 * Math.max(1, Math.abs(a), Math.abs(b))) {
        throw specError(
          `omega is not symmetric: omega[${i}][${j}] = ${a} but omega[${j}][${i}] = ${b} ('${parameters[i]}' × '${parameters[j]}')`,
        );
      }
    }
  }
  // Zero-variance parameters: their whole row/column must be zero; they are left out of the factor.
  const random: number[] = [];
  for (let i = 0; i < dim; i++) {
    if (at(i, i) === 0) {
      for (let j = 0; j < dim; j++) {
        if (at(i, j) !== 0) {
          throw specError(
            `omega is not positive semi-definite: '${parameters[i]}' has zero variance but covariance omega[${i}][${j}] = ${at(i, j)}`,
          );
        }
      }
    } else {
      random.push(i);
    }
  }
  const L = new Float64Array(dim * dim);
  if (random.length === 0) return L;
  // Symmetrise exactly (ml-matrix requires exact symmetry) from the lower triangle.
  const sub = Matrix.zeros(random.length, random.length);
  for (let a = 0; a < random.length; a++) {
    for (let b = 0; b <= a; b++) {
      const v = at(random[a] as number, random[b] as number);
      sub.set(a, b, v);
      sub.set(b, a, v);
    }
  }
  const chol = new CholeskyDecomposition(sub);
  if (!chol.isPositiveDefinite()) {
    let detail = '';
    try {
      const eig = new EigenvalueDecomposition(sub, { assumeSymmetric: true });
      const minEig = Math.min(...eig.realEigenvalues);
      detail = ` (smallest eigenvalue ${minEig.toPrecision(4)}; check the correlations implied by the off-diagonal entries)`;
    } catch {
      // keep the plain message
    }
    throw specError(`omega is not symmetric positive definite${detail}`, {
      parameters: random.map((i) => parameters[i]),
    });
  }
  const lower = chol.lowerTriangularMatrix;
  for (let a = 0; a < random.length; a++) {
    for (let b = 0; b <= a; b++) {
      L[(random[a] as number) * dim + (random[b] as number)] = lower.get(a, b);
    }
  }
  return L;
}

function compileCovariate(name: string, sampler: CovariateSampler): (rng: Rng) => number {
  if (typeof sampler === 'function') {
    return (rng) => {
      const v = sampler(rng);
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw specError(`covariate '${name}' sampler returned a non-finite value (${v})`);
      }
      return v;
    };
  }
  if (sampler === null || typeof sampler !== 'object' || sampler.type !== 'categorical') {
    throw specError(`covariate '${name}' must be a function (rng) => number or { type: 'categorical', values, weights }`);
  }
  const values = [...sampler.values];
  const weights = [...sampler.weights];
  if (values.length === 0 || values.length !== weights.length) {
    throw specError(`categorical covariate '${name}' needs as many weights as values (got ${values.length} values, ${weights.length} weights)`);
  }
  if (values.some((v) => !Number.isFinite(v))) throw specError(`categorical covariate '${name}' has a non-finite value`);
  if (weights.some((w) => !(w >= 0) || !Number.isFinite(w))) {
    throw specError(`categorical covariate '${name}' has a negative or non-finite weight`);
  }
  const total = weights.reduce((s, w) => s + w, 0);
  if (!(total > 0)) throw specError(`categorical covariate '${name}' has weights summing to zero`);
  const cumulative = new Float64Array(weights.length);
  let acc = 0;
  for (let k = 0; k < weights.length; k++) {
    acc += weights[k] as number;
    cumulative[k] = acc / total;
  }
  return (rng) => {
    const u = rng.next();
    for (let k = 0; k < cumulative.length - 1; k++) {
      if (u < (cumulative[k] as number)) return values[k] as number;
    }
    return values[values.length - 1] as number;
  };
}

/** Validate a spec, factor Ω once, and return a sampler. */
export function compileCohort(spec: CohortSpec): CompiledCohort {
  const parameters = [...spec.parameters];
  const dim = parameters.length;
  if (dim === 0) throw specError('at least one parameter is needed');
  if (new Set(parameters).size !== dim) throw specError(`parameter names must be unique (${parameters.join(', ')})`);

  const thetaPop = parameters.map((p) => {
    const theta = spec.thetaPop[p];
    if (typeof theta === 'function') return theta;
    if (typeof theta !== 'number' || !Number.isFinite(theta)) {
      throw specError(`thetaPop['${p}'] must be a finite number or a function of covariates, got ${theta}`);
    }
    return theta;
  });
  for (const key of Object.keys(spec.thetaPop)) {
    if (!parameters.includes(key)) throw specError(`thetaPop has '${key}', which is not among the parameters (${parameters.join(', ')})`);
  }

  const L = factorOmega(parameters, spec.omega);
  const randomRows: number[] = [];
  for (let i = 0; i < dim; i++) if ((L[i * dim + i] as number) > 0) randomRows.push(i);

  const covariateNames = Object.keys(spec.covariates ?? {});
  const covariateSamplers = covariateNames.map((name) => compileCovariate(name, (spec.covariates as Record<string, CovariateSampler>)[name] as CovariateSampler));
  if (covariateNames.some((c) => parameters.includes(c))) {
    throw specError(`covariate names must differ from parameter names (${covariateNames.filter((c) => parameters.includes(c)).join(', ')})`);
  }

  const bounds: Array<{ name: string; lo: number; hi: number; param: number; covariate: boolean }> = [];
  for (const [name, range] of Object.entries(spec.bounds ?? {})) {
    const param = parameters.indexOf(name);
    const covariate = covariateNames.includes(name);
    if (param < 0 && !covariate) throw specError(`bounds for '${name}', which is neither a parameter nor a covariate`);
    if (!Array.isArray(range) || range.length !== 2) throw specError(`bounds['${name}'] must be [lo, hi]`);
    const [lo, hi] = range;
    if (Number.isNaN(lo) || Number.isNaN(hi) || !(lo <= hi)) throw specError(`bounds['${name}'] = [${lo}, ${hi}] is not an interval`);
    bounds.push({ name, lo, hi, param, covariate });
  }

  const maxAttempts = spec.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw specError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
  const accept = spec.accept;

  /** Draw patient `index`; rejections are tallied into `reasons`. */
  function draw(seed: number | string, index: number, reasons: Record<string, number>): VirtualPatient {
    if (!Number.isInteger(index) || index < 0) {
      throw new TwinlabError('INVALID_ARGUMENT', `patient index must be a non-negative integer, got ${index}`);
    }
    const patientRng = Rng.fromSeed(seed).fork(`patient/${index}`);
    const covariateRngs = covariateNames.map((name) => patientRng.fork(`covariate/${name}`));
    const etaRng = patientRng.fork('eta');
    const z = new Float64Array(dim);
    const local: Record<string, number> = {};
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const covariates: Record<string, number> = {};
      for (let c = 0; c < covariateNames.length; c++) {
        covariates[covariateNames[c] as string] = (covariateSamplers[c] as (rng: Rng) => number)(covariateRngs[c] as Rng);
      }
      for (const i of randomRows) z[i] = etaRng.normal();
      const eta = new Float64Array(dim);
      for (let i = 0; i < dim; i++) {
        let s = 0;
        for (let j = 0; j <= i; j++) s += (L[i * dim + j] as number) * (z[j] as number);
        eta[i] = s;
      }
      const params: Record<string, number> = {};
      for (let i = 0; i < dim; i++) {
        const theta = thetaPop[i] as number | ((cov: Record<string, number>) => number);
        const typical = typeof theta === 'function' ? theta({ ...covariates }) : theta;
        if (typeof typical !== 'number' || !Number.isFinite(typical)) {
          throw specError(`thetaPop['${parameters[i]}'] gave a non-finite value (${typical}) for patient ${index}`, {
            index,
            covariates,
          });
        }
        params[parameters[i] as string] = typical * Math.exp(eta[i] as number);
      }
      const patient: VirtualPatient = { index, params, eta, covariates, attempts: attempt };

      let reason: string | undefined;
      for (const b of bounds) {
        const v = b.param >= 0 ? (params[b.name] as number) : (covariates[b.name] as number);
        if (!(v >= b.lo && v <= b.hi)) {
          reason = `bounds:${b.name}`;
          break;
        }
      }
      if (reason === undefined && accept !== undefined) {
        const verdict = accept(patient);
        if (verdict !== true) reason = typeof verdict === 'string' && verdict.length > 0 ? `accept:${verdict}` : 'accept:rejected';
      }
      if (reason === undefined) {
        for (const [k, n] of Object.entries(local)) reasons[k] = (reasons[k] ?? 0) + n;
        return patient;
      }
      local[reason] = (local[reason] ?? 0) + 1;
    }
    throw new TwinlabError(
      'INVALID_SPEC',
      `cohort spec: patient ${index} was rejected ${maxAttempts} times (maxAttempts); bounds or accept are too strict — rejections: ${JSON.stringify(local)}`,
      { index, maxAttempts, rejectionReasons: local },
    );
  }

  return {
    spec,
    cholesky: L,
    sample(seed, index) {
      return draw(seed, index, {});
    },
    sampleCohort(seed, size) {
      if (!Number.isInteger(size) || size < 0) {
        throw new TwinlabError('INVALID_ARGUMENT', `cohort size must be a non-negative integer, got ${size}`);
      }
      const rejectionReasons: Record<string, number> = {};
      const patients: VirtualPatient[] = [];
      let rejected = 0;
      for (let i = 0; i < size; i++) {
        const p = draw(seed, i, rejectionReasons);
        rejected += p.attempts - 1;
        patients.push(p);
      }
      return { patients, rejected, rejectionReasons };
    },
  };
}

const compiledCache = new WeakMap<CohortSpec, CompiledCohort>();

function compiled(spec: CohortSpec): CompiledCohort {
  let c = compiledCache.get(spec);
  if (c === undefined) {
    c = compileCohort(spec);
    compiledCache.set(spec, c);
  }
  return c;
}

/** Patient `index` of the cohort (seed, spec): the same whatever the cohort size. */
export function samplePatient(spec: CohortSpec, seed: number | string, index: number): VirtualPatient {
  return compiled(spec).sample(seed, index);
}

/** Patients 0..size−1 with rejection statistics. */
export function sampleCohort(spec: CohortSpec, seed: number | string, size: number): CohortSample {
  return compiled(spec).sampleCohort(seed, size);
}
