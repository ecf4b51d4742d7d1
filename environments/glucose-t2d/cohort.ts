import { type CohortSpec, samplePatient } from '../../engine/cohort.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { basalFromParams, DM2007_T2D, type DM2007Params, type T2DBasal, withBasal } from './model.js';

/**
 * Generated type 2 diabetes cohort (README "Cohort"): θ = θ_T2D·exp(η), η ~ N(0, diag(ω²)), around the
 * Table 1 T2D set. Spreads (sd of log):
 * - Vmx, kp3, kmax, kabs, p2U, EGPb, BW: the sample sd of the log-values of the 10 UVA/Padova S2008
 *   adults distributed with simglucose (environments/glucose/data/vpatient_params.csv; recomputed by
 *   test/environments/glucose-t2d/cohort.test.ts): 0.601, 0.492, 0.317, 1.053, 0.342, 0.130, 0.197.
 *   Those are type 1 adults; we borrow their spread of insulin action and absorption for lack of a
 *   published per-subject table of the T2D model.
 * - K, β, α (β-cell responsivity): 0.4 each — an assumption (no source found for this model).
 * - Gb (fasting glucose): median 159 mg/dL (the Table 1 T2D basal), sd(log) 0.15, kept in
 *   [126, 250] mg/dL (126 = the ADA fasting threshold for diabetes) — an assumption.
 * kmin and kgri move with kmax (ratios of Table 1 kept). Each draw is re-based on its own Gb and EGPb
 * (withBasal: kp1, Vm0 from the steady-state identities); draws without a basal state are redrawn.
 */
export const T2D_BASAL = basalFromParams(DM2007_T2D);

/** BW median of the generated cohort: 85 kg — an assumption (adults with T2D are mostly overweight). */
export const T2D_COHORT_BW_MEDIAN = 85;

export const T2D_COHORT_SD: Readonly<Record<string, number>> = Object.freeze({
  Vmx: 0.601,
  kp3: 0.492,
  kmax: 0.317,
  kabs: 1.053,
  p2U: 0.342,
  EGPb: 0.13,
  BW: 0.197,
  K: 0.4,
  beta: 0.4,
  alpha: 0.4,
  Gb: 0.15,
});

const PARAMS = Object.keys(T2D_COHORT_SD);

export const T2D_COHORT_SPEC: CohortSpec = {
  parameters: PARAMS,
  thetaPop: {
    Vmx: DM2007_T2D.Vmx,
    kp3: DM2007_T2D.kp3,
    kmax: DM2007_T2D.kmax,
    kabs: DM2007_T2D.kabs,
    p2U: DM2007_T2D.p2U,
    EGPb: T2D_BASAL.EGPb,
    BW: T2D_COHORT_BW_MEDIAN,
    K: DM2007_T2D.K,
    beta: DM2007_T2D.beta,
    alpha: DM2007_T2D.alpha,
    Gb: T2D_BASAL.Gb,
  },
  omega: PARAMS.map((a, i) => PARAMS.map((_b, j) => (i === j ? (T2D_COHORT_SD[a] as number) ** 2 : 0))),
  bounds: { Gb: [126, 250], BW: [50, 150], EGPb: [1.3, 3.5], kabs: [0.005, 0.2] },
  accept: (p) => {
    try {
      patientFromDraw(p.params);
      return true;
    } catch {
      return 'no-basal';
    }
  },
  maxAttempts: 1000,
};

export interface T2DPerson {
  id: string;
  params: DM2007Params;
  basal: T2DBasal;
}

function patientFromDraw(d: Record<string, number>): { params: DM2007Params; basal: T2DBasal } {
  const t = DM2007_T2D;
  const kmax = d.kmax as number;
  const p: DM2007Params = {
    ...t,
    Vmx: d.Vmx as number,
    kp3: d.kp3 as number,
    kmax,
    kmin: (t.kmin * kmax) / t.kmax,
    kgri: (t.kgri * kmax) / t.kmax,
    kabs: d.kabs as number,
    p2U: d.p2U as number,
    BW: d.BW as number,
    K: d.K as number,
    beta: d.beta as number,
    alpha: d.alpha as number,
  };
  return withBasal(p, d.Gb as number, d.EGPb as number);
}

/** Person `index` of the generated T2D cohort with seed `seed` (depends only on (seed, index)). */
export function generateT2DPerson(seed: number, index: number): T2DPerson {
  if (!Number.isInteger(seed) || !Number.isInteger(index) || index < 0) {
    throw new TwinlabError('INVALID_ARGUMENT', `generateT2DPerson: seed and index must be integers (index ≥ 0), got ${describeValue(seed)}, ${describeValue(index)}`);
  }
  const draw = samplePatient(T2D_COHORT_SPEC, `${seed}/glucose-t2d/t2d`, index);
  return { id: `t2d~s${seed}#${String(index).padStart(3, '0')}`, ...patientFromDraw(draw.params) };
}

/** The Table 1 T2D subject. */
export function referenceT2DPerson(): T2DPerson {
  return { id: 'dm2007-t2d', params: { ...DM2007_T2D }, basal: T2D_BASAL };
}
