import { TwinlabError } from '../../engine/errors.js';
import type { OdeRhs } from '../../engine/ode.js';

/**
 * HIV infection dynamics under reverse-transcriptase (RTI) and protease (PI) inhibitors, the six-state
 * model of Adams BM, Banks HT, Kwon H-D, Tran HT, "Dynamic multidrug therapies for HIV: optimal and STI
 * control approaches", Math Biosci Eng 1(2) (2004) 223–241, as used for RL by Ernst D, Stan G-B,
 * Gonçalves J, Wehenkel L, "Clinical data based optimal STI strategies for HIV: a reinforcement learning
 * approach", Proc. 45th IEEE CDC (2006). Parameter values as in RLPy `HIVTreatment` and the gymnasium
 * `HIVPatient` env (identical; docs/MODELS.md §3).
 *
 * State y = (T1, T1*, T2, T2*, V, E) per mL, time in days; ε1 = RTI efficacy, ε2 = PI efficacy, I = T1* + T2*:
 *
 *   dT1/dt  = λ1 − d1·T1 − (1 − ε1)·k1·V·T1
 *   dT2/dt  = λ2 − d2·T2 − (1 − f·ε1)·k2·V·T2
 *   d(T1*)/dt= (1 − ε1)·k1·V·T1 − δ·T1* − m1·E·T1*
 *   d(T2*)/dt= (1 − f·ε1)·k2·V·T2 − δ·T2* − m2·E·T2*
 *   dV/dt   = (1 − ε2)·N_T·δ·I − c·V − [(1 − ε1)·ρ1·k1·T1 + (1 − f·ε1)·ρ2·k2·T2]·V
 *   dE/dt   = λE + bE·I/(I + Kb)·E − dE·I/(I + Kd)·E − δE·E
 *
 * Note the state order here is (T1, T1*, T2, T2*, V, E), as the steady-state table of docs/MODELS.md §3.
 */
export interface HivParams {
  lambda1: number;
  d1: number;
  k1: number;
  lambda2: number;
  d2: number;
  k2: number;
  f: number;
  delta: number;
  m1: number;
  m2: number;
  NT: number;
  c: number;
  rho1: number;
  rho2: number;
  lambdaE: number;
  bE: number;
  Kb: number;
  dE: number;
  Kd: number;
  deltaE: number;
}

/** Adams et al. 2004 values (RLPy HIVTreatment / gymnasium HIVPatient; docs/MODELS.md §3 table). */
export const ADAMS_PARAMS: Readonly<HivParams> = Object.freeze({
  lambda1: 1e4, // cells/mL/day, T1 production
  d1: 0.01, // /day, T1 death
  k1: 8e-7, // mL/(virion·day), T1 infection rate
  lambda2: 31.98, // cells/mL/day, T2 production
  d2: 0.01, // /day
  k2: 1e-4, // mL/(virion·day)
  f: 0.34, // relative RTI efficacy in macrophages
  delta: 0.7, // /day, infected-cell death
  m1: 1e-5, // mL/(cell·day), CTL killing
  m2: 1e-5,
  NT: 100, // virions per infected cell
  c: 13, // /day, virion clearance
  rho1: 1, // virions absorbed per infection
  rho2: 1,
  lambdaE: 1, // cells/mL/day, CTL source
  bE: 0.3, // /day, max CTL proliferation
  Kb: 100, // cells/mL
  dE: 0.25, // /day, max CTL exhaustion death
  Kd: 500, // cells/mL
  deltaE: 0.1, // /day, CTL natural death
});

export const HIV_PARAM_NAMES = Object.keys(ADAMS_PARAMS) as Array<keyof HivParams>;
export const HIV_DIM = 6;
export const HIV_STATE_NAMES = ['T1', 'T1*', 'T2', 'T2*', 'V', 'E'] as const;

/** Steady states of docs/MODELS.md §3 (rounded code values), order (T1, T1*, T2, T2*, V, E). */
export const HIV_STEADY_STATES = Object.freeze({
  unhealthy: Object.freeze([163573, 11945, 5, 46, 63919, 24]),
  healthy: Object.freeze([967839, 76, 621, 6, 415, 353108]),
  uninfected: Object.freeze([1e6, 0, 3198, 0, 0, 10]),
});

/** Drug efficacies per action, RLPy order (pinned): 0 none, 1 RTI, 2 PI, 3 both. */
export const HIV_ACTIONS: ReadonlyArray<{ label: string; eps1: number; eps2: number }> = Object.freeze([
  { label: 'none', eps1: 0, eps2: 0 },
  { label: 'RTI', eps1: 0.7, eps2: 0 },
  { label: 'PI', eps1: 0, eps2: 0.3 },
  { label: 'RTI+PI', eps1: 0.7, eps2: 0.3 },
]);

export interface HivRhs {
  readonly f: OdeRhs;
  eps1: number;
  eps2: number;
}

/** Allocation-free right-hand side of the Adams et al. 2004 model; ε1, ε2 are held by the caller. */
export function hivRhs(p: Readonly<HivParams>): HivRhs {
  const { lambda1, d1, k1, lambda2, d2, k2, f, delta, m1, m2, NT, c, rho1, rho2, lambdaE, bE, Kb, dE, Kd, deltaE } = p;
  const holder: HivRhs = {
    eps1: 0,
    eps2: 0,
    f: (_t, y, d) => {
      const T1 = y[0] as number;
      const T1s = y[1] as number;
      const T2 = y[2] as number;
      const T2s = y[3] as number;
      const V = y[4] as number;
      const E = y[5] as number;
      const e1 = holder.eps1;
      const e2 = holder.eps2;
      const inf1 = (1 - e1) * k1 * V * T1;
      const inf2 = (1 - f * e1) * k2 * V * T2;
      const I = T1s + T2s;
      d[0] = lambda1 - d1 * T1 - inf1;
      d[1] = inf1 - delta * T1s - m1 * E * T1s;
      d[2] = lambda2 - d2 * T2 - inf2;
      d[3] = inf2 - delta * T2s - m2 * E * T2s;
      d[4] = (1 - e2) * NT * delta * I - c * V - ((1 - e1) * rho1 * k1 * T1 + (1 - f * e1) * rho2 * k2 * T2) * V;
      d[5] = lambdaE + ((bE * I) / (I + Kb)) * E - ((dE * I) / (I + Kd)) * E - deltaE * E;
    },
  };
  return holder;
}

export function hivParams(overrides: Partial<Record<string, unknown>> = {}): HivParams {
  const p: HivParams = { ...ADAMS_PARAMS };
  for (const name of HIV_PARAM_NAMES) {
    const value = overrides[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new TwinlabError('INVALID_ARGUMENT', `HIV parameter ${name} must be a finite number ≥ 0, got ${String(value)}`);
    }
    p[name] = value;
  }
  return p;
}
