import { TwinlabError } from '../../engine/errors.js';
import type { OdeRhs } from '../../engine/ode.js';

/**
 * Tumour–immune–normal-cell model with chemotherapy of
 * de Pillis LG & Radunskaya A, "The dynamics of an optimally controlled tumor model: a case study",
 * Mathematical and Computer Modelling 37 (2003) 1221–1244 — the model of the DTR-Bench
 * `AhnChemoEnv` (Luo et al. 2024, arXiv 2405.18610; Ahn & Park, BioSystems 106 (2011) 121–129).
 *
 * State y = (N, T, I, B, X): normal cells, tumour cells, immune effector cells (all normalised to
 * carrying capacity, dimensionless), drug concentration B, and X, a cumulative-exposure store used only
 * by the optional (synthetic) toxicity model; time in days.
 *
 *   K(B)  = 1 − exp(−B)                                  (fractional kill, saturates at 1)
 *   dN/dt = r2·N·(1 − b2·N) − c4·T·N − a3·K(B)·N
 *   dT/dt = r1·T·(1 − b1·T) − c2·I·T − c3·T·N − a2·K(B)·T
 *   dI/dt = s + ρ·I·T/(α + T) − c1·I·T − d1·I − a1·K(B)·I
 *   dB/dt = −d2·B + v(t)                                 (v = infusion rate, the control, in [0, 1])
 *
 * Optional cumulative-exposure toxicity (SYNTHETIC, not in the paper; off in the published model,
 * where toxEmax = 0): exposure X integrates the drug and decays slowly, and normal cells suffer an
 * extra kill that switches on steeply once X is high (a myelosuppression-like cumulative effect):
 *
 *   dX/dt = B − λX·X
 *   dN/dt += − toxEmax · X^h / (X50^h + X^h) · N
 *
 * With the published parameters the drug's normal-cell kill saturates at a3 = 0.1/day, so even
 * continuous maximal infusion never pushes N below 0.7·N0 (docs/MODELS.md §1, fact 3); this term creates
 * the dose–toxicity trade-off when asked for.
 */
export interface ChemoParams {
  /** Fractional immune-cell kill by drug (/day). */
  a1: number;
  /** Fractional tumour-cell kill by drug (/day). */
  a2: number;
  /** Fractional normal-cell kill by drug (/day). */
  a3: number;
  /** Reciprocal carrying capacity, tumour. */
  b1: number;
  /** Reciprocal carrying capacity, normal cells. */
  b2: number;
  /** Immune-cell inactivation by tumour. */
  c1: number;
  /** Tumour kill by immune cells. */
  c2: number;
  /** Tumour loss from competition with normal cells. */
  c3: number;
  /** Normal-cell loss from competition with tumour. */
  c4: number;
  /** Immune-cell death rate (/day). */
  d1: number;
  /** Drug decay rate (/day). */
  d2: number;
  /** Tumour per-capita growth rate (/day). */
  r1: number;
  /** Normal-cell per-capita growth rate (/day). */
  r2: number;
  /** Constant immune influx (/day). */
  s: number;
  /** Immune half-saturation threshold. */
  alpha: number;
  /** Immune recruitment rate (/day). */
  rho: number;
  /** Synthetic cumulative toxicity: maximal extra normal-cell kill (/day); 0 = published model. */
  toxEmax: number;
  /** Synthetic cumulative toxicity: exposure at half-maximal effect (drug·day). */
  toxX50: number;
  /** Synthetic cumulative toxicity: Hill coefficient. */
  toxHill: number;
  /** Synthetic cumulative toxicity: exposure decay rate λX (/day). */
  toxDecay: number;
}

/** de Pillis & Radunskaya 2003 parameter set; identical in DTR-Bench `DTRGym/ahn_chemo_env.py` (docs/MODELS.md §1). */
export const PUBLISHED_CHEMO_PARAMS: Readonly<ChemoParams> = Object.freeze({
  a1: 0.2,
  a2: 0.3,
  a3: 0.1,
  b1: 1.0,
  b2: 1.0,
  c1: 1.0,
  c2: 0.5,
  c3: 1.0,
  c4: 1.0,
  d1: 0.2,
  d2: 1.0,
  r1: 1.5,
  r2: 1.0,
  s: 0.33,
  alpha: 0.3,
  rho: 0.01,
  toxEmax: 0,
  toxX50: 24,
  toxHill: 6,
  toxDecay: 1 / 30,
});

export const CHEMO_PARAM_NAMES = Object.keys(PUBLISHED_CHEMO_PARAMS) as Array<keyof ChemoParams>;

/**
 * The `toxicity: 'cumulative'` option (SYNTHETIC, chosen by simulation here, not fitted): toxEmax = 0.5/day
 * with X50 = 24, h = 6, λX = 1/30 /day. From the DTR-Bench start, continuous maximal dosing then breaches
 * N < 0.7·N0 at about day 36, while maximal dosing for the first 15–25 days clears the tumour safely.
 * (A larger a3 alone does not give a usable trade-off: the tumour already pushes N to 0.708 at day 5, so
 * any a3 large enough to matter kills every schedule within days.)
 */
export const CUMULATIVE_TOXICITY: Readonly<Pick<ChemoParams, 'toxEmax' | 'toxX50' | 'toxHill' | 'toxDecay'>> = Object.freeze({
  toxEmax: 0.5,
  toxX50: 24,
  toxHill: 6,
  toxDecay: 1 / 30,
});

/** DTR-Bench default initial state (N0, T0, I0, B0) = (0.9, 0.2, 0.005, 0) ("case 2" of Ahn & Park 2011, unverified). */
export const DTR_BENCH_INITIAL = Object.freeze({ N: 0.9, T: 0.2, I: 0.005, B: 0 });

export const N_IDX = 0;
export const T_IDX = 1;
export const I_IDX = 2;
export const B_IDX = 3;
export const X_IDX = 4;
export const CHEMO_DIM = 5;

/** A right-hand side bound to a parameter set, with the infusion rate v as a mutable input (zero-order hold). */
export interface ChemoRhs {
  readonly f: OdeRhs;
  /** Current infusion rate v (read by f). */
  v: number;
}

/** Build the allocation-free RHS of the de Pillis–Radunskaya 2003 model (see the module comment). */
export function chemoRhs(p: Readonly<ChemoParams>): ChemoRhs {
  const { a1, a2, a3, b1, b2, c1, c2, c3, c4, d1, d2, r1, r2, s, alpha, rho, toxEmax, toxX50, toxHill, toxDecay } = p;
  const x50h = toxX50 ** toxHill;
  const holder: ChemoRhs = {
    v: 0,
    f: (_t, y, d) => {
      const N = y[0] as number;
      const T = y[1] as number;
      const I = y[2] as number;
      const B = y[3] as number;
      const X = y[4] as number;
      const kill = 1 - Math.exp(-B);
      let tox = 0;
      if (toxEmax > 0 && X > 0) {
        const xh = X ** toxHill;
        tox = (toxEmax * xh) / (x50h + xh);
      }
      d[0] = r2 * N * (1 - b2 * N) - c4 * T * N - a3 * kill * N - tox * N;
      d[1] = r1 * T * (1 - b1 * T) - c2 * I * T - c3 * T * N - a2 * kill * T;
      d[2] = s + (rho * I * T) / (alpha + T) - c1 * I * T - d1 * I - a1 * kill * I;
      d[3] = -d2 * B + holder.v;
      d[4] = B - toxDecay * X;
    },
  };
  return holder;
}

/** Merge overrides into the published parameters, checking each is a finite non-negative number. */
export function chemoParams(overrides: Partial<Record<string, unknown>> = {}): ChemoParams {
  const p: ChemoParams = { ...PUBLISHED_CHEMO_PARAMS };
  for (const name of CHEMO_PARAM_NAMES) {
    const value = overrides[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new TwinlabError('INVALID_ARGUMENT', `chemo parameter ${name} must be a finite number ≥ 0, got ${String(value)}`);
    }
    p[name] = value;
  }
  if (!(p.toxX50 > 0) || !(p.toxHill > 0)) {
    throw new TwinlabError('INVALID_ARGUMENT', `chemo parameters toxX50 and toxHill must be > 0, got ${p.toxX50} and ${p.toxHill}`);
  }
  return p;
}
