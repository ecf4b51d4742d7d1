import { type CohortSpec, sampleCohort, samplePatient, type VirtualPatient } from '../../engine/cohort.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { type AgeGroup, basalRate, distributedPatient, distributedTherapy, isAgeGroup, type PatientParams, patientNames, type Therapy } from './params.js';
import { T1DPatient } from './patient.js';

/**
 * Generated virtual T1D patients around the 10 distributed patients of an age group.
 *
 * Variability model (log-normal, engine/cohort.ts): θᵢ = θ_pop·exp(ηᵢ), η ~ N(0, Ω), fitted per group:
 * - free parameters: the 25 "primary" physiological parameters of the UVA/Padova S2008 set (those the
 *   basal identities do not determine) plus the therapy settings CR and CF of Quest.csv; the fractions b
 *   and d of the gastric-emptying curve vary through their odds b/(1−b), d/(1−d), so they stay in (0, 1);
 * - θ_pop = geometric mean of the group (mean of the log-parameters);
 * - Ω = S·R*·S, S = diag of the sample SDs of the log-parameters (n − 1), R* = (1 − λ)·R + λ·I the
 *   sample correlation matrix shrunk towards the identity with the analytic intensity of Schäfer &
 *   Strimmer 2005 (Stat. Appl. Genet. Mol. Biol. 4:32, target "D": diagonal, unequal variances)
 *   λ* = Σ_{i≠j} Var̂(r_ij) / Σ_{i≠j} r_ij², clipped to [0, 1]. With 10 patients and 27 parameters the
 *   sample covariance has rank ≤ 9 (singular); shrinking only the correlations keeps each marginal
 *   spread as observed and makes Ω positive definite.
 * - parameters constant across the 30 patients (f, HEb, ke1, ke2, Fsnc, dosekempt) stay fixed; m5 (never
 *   read by the dynamics) is set to the group's geometric mean.
 *
 * Every accepted draw then gets its own basal steady state from the identities of data/README.md
 * (deriveBasal), and draws that are physiologically implausible are rejected (rejectionReason).
 * Therapy (physiologicalTherapy): the carb ratio and the correction factor are derived from the
 * patient's own physiology — CF = the fall of plasma glucose per 1 U given at the basal steady state,
 * CR = 50 g over the bolus that brings a 50 g meal back to the basal glucose 4 h later — because that
 * is how the Quest.csv values of the named adolescents and adults relate to their parameters (README
 * "Therapy"). CR and CF stay in the joint draw (so the physiology drawn for patient i does not depend
 * on this choice) but are no longer the therapy: after the correlation shrinkage they are nearly
 * independent of the physiology. TDI = 1440·basal + 200/CR, the identity every Quest.csv row obeys
 * (basal U/day plus meal insulin for 200 g CHO/day); age uniform over the group's Quest ages.
 * Rejection rules: rejectionReason; counts by reason come back from generateCohort.
 */

const FREE = [
  'BW',
  'EGPb',
  'Gb',
  'Ib',
  'kabs',
  'kmax',
  'kmin',
  'bOdds',
  'dOdds',
  'Vg',
  'Vi',
  'Vmx',
  'Km0',
  'k2',
  'k1',
  'p2u',
  'm1',
  'ki',
  'kp2',
  'kp3',
  'kd',
  'ksc',
  'ka1',
  'ka2',
  'u2ss',
  'CR',
  'CF',
] as const;

/** Plausible body weight per group, kg: about the 3rd–97th percentiles of CDC growth charts for the ages of the group (children 7–12, adolescents 14–19), WHO adult range for adults. */
export const BW_RANGE: Record<AgeGroup, [number, number]> = { child: [20, 60], adolescent: [30, 100], adult: [45, 150] };
/**
 * Plausible resting (basal steady-state) plasma glucose for a T1D virtual subject, mg/dL. The 30 S2008
 * patients rest at 133–153. Below 100 (upper limit of normal fasting glucose, ADA) a T1D subject on
 * basal alone would sit at normoglycaemia; above 200 the basal state is frank hyperglycaemia, i.e. an
 * inadequately titrated basal. Both lie outside the population the simulator set represents.
 */
export const GB_RANGE: [number, number] = [100, 200];

export interface GeneratedPatient {
  params: PatientParams;
  therapy: Therapy;
  /** Draws used (1 = accepted at the first draw). */
  attempts: number;
}

export interface GeneratedCohort {
  patients: GeneratedPatient[];
  /** Rejected draws over the whole cohort. */
  rejected: number;
  /** Rejections by reason (e.g. `Gtb<=0`, `BW`). */
  reasons: Record<string, number>;
}

export interface GroupFit {
  group: AgeGroup;
  parameters: readonly string[];
  thetaPop: Record<string, number>;
  omega: number[][];
  /** Shrinkage intensity λ applied to the correlations. */
  lambda: number;
  ageRange: [number, number];
  /** Values of the non-free parameters. */
  fixed: { f: number; HEb: number; ke1: number; ke2: number; Fsnc: number; dosekempt: number; m5: number };
}

function logFree(p: PatientParams, t: Therapy, name: (typeof FREE)[number]): number {
  switch (name) {
    case 'bOdds':
      return Math.log(p.b / (1 - p.b));
    case 'dOdds':
      return Math.log(p.d / (1 - p.d));
    case 'CR':
      return Math.log(t.carbRatio);
    case 'CF':
      return Math.log(t.correctionFactor);
    default:
      return Math.log(p[name]);
  }
}

/**
 * Schäfer–Strimmer (2005) shrinkage of the correlation matrix towards the identity for data X
 * (n rows × p columns). Returns the log-mean, the SDs, the shrunk correlation and λ.
 */
export function shrinkCorrelation(X: number[][]): { mean: number[]; sd: number[]; corr: number[][]; lambda: number } {
  const n = X.length;
  const p = (X[0] as number[]).length;
  const mean = Array.from({ length: p }, (_, j) => X.reduce((s, r) => s + (r[j] as number), 0) / n);
  const sd = Array.from({ length: p }, (_, j) => Math.sqrt(X.reduce((s, r) => s + ((r[j] as number) - (mean[j] as number)) ** 2, 0) / (n - 1)));
  const Z = X.map((r) => r.map((v, j) => (v - (mean[j] as number)) / (sd[j] as number)));
  const corr: number[][] = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  let num = 0;
  let den = 0;
  for (let i = 0; i < p; i++) {
    (corr[i] as number[])[i] = 1;
    for (let j = 0; j < i; j++) {
      const w = Z.map((z) => (z[i] as number) * (z[j] as number));
      const wbar = w.reduce((s, v) => s + v, 0) / n;
      const r = (n / (n - 1)) * wbar;
      const varR = (n / (n - 1) ** 3) * w.reduce((s, v) => s + (v - wbar) ** 2, 0);
      num += 2 * varR;
      den += 2 * r * r;
      (corr[i] as number[])[j] = r;
      (corr[j] as number[])[i] = r;
    }
  }
  const lambda = den > 0 ? Math.min(1, Math.max(0, num / den)) : 1;
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < p; j++) if (i !== j) (corr[i] as number[])[j] = (1 - lambda) * ((corr[i] as number[])[j] as number);
  }
  return { mean, sd, corr, lambda };
}

const fits = new Map<AgeGroup, { fit: GroupFit; spec: CohortSpec }>();

function checkGroup(group: unknown): asserts group is AgeGroup {
  if (!isAgeGroup(group)) {
    throw new TwinlabError('INVALID_ARGUMENT', `age group must be one of adolescent, adult, child, got ${describeValue(group)}`);
  }
}

/** The log-normal fit of an age group (cached). */
export function groupFit(group: AgeGroup): GroupFit {
  return groupModel(group).fit;
}

function groupModel(group: AgeGroup): { fit: GroupFit; spec: CohortSpec } {
  checkGroup(group);
  const cached = fits.get(group);
  if (cached !== undefined) return cached;
  const names = patientNames(group);
  const ps = names.map((n) => distributedPatient(n) as PatientParams); // names come from patientNames
  const ts = names.map((n) => distributedTherapy(n) as Therapy);
  const X = ps.map((p, k) => FREE.map((name) => logFree(p, ts[k] as Therapy, name)));
  const { mean, sd, corr, lambda } = shrinkCorrelation(X);
  const thetaPop: Record<string, number> = {};
  FREE.forEach((name, j) => {
    thetaPop[name] = Math.exp(mean[j] as number);
  });
  const omega = FREE.map((_, i) =>
    FREE.map((__, j) => {
      const [a, c] = i >= j ? [i, j] : [j, i]; // same operand order on both sides: Ω exactly symmetric
      return ((corr[a] as number[])[c] as number) * (sd[a] as number) * (sd[c] as number);
    }),
  );
  const ages = ts.map((t) => t.age);
  const p0 = ps[0] as PatientParams;
  const fit: GroupFit = {
    group,
    parameters: FREE,
    thetaPop,
    omega,
    lambda,
    ageRange: [Math.min(...ages), Math.max(...ages)],
    fixed: {
      f: p0.f,
      HEb: p0.HEb,
      ke1: p0.ke1,
      ke2: p0.ke2,
      Fsnc: p0.Fsnc,
      dosekempt: p0.dosekempt,
      m5: Math.exp(ps.reduce((s, p) => s + Math.log(p.m5), 0) / ps.length),
    },
  };
  const [ageLo, ageHi] = fit.ageRange;
  const spec: CohortSpec = {
    parameters: FREE,
    thetaPop,
    omega,
    covariates: { age: (rng) => rng.integer(ageLo, ageHi + 1) },
    bounds: { BW: BW_RANGE[group], Gb: GB_RANGE },
    accept: (vp) => {
      const p = deriveBasal(fromDraw(vp, fit, ''));
      const structural = rejectionReason(p);
      if (structural !== undefined) return structural;
      const therapy = physiologicalTherapyOrReason(p);
      if (typeof therapy === 'string') return therapy;
      titrated.set(vp.params, therapy);
      return rejectionReason(p, therapy.carbRatio) ?? true;
    },
    maxAttempts: 1000,
  };
  const model = { fit, spec };
  fits.set(group, model);
  return model;
}

/** Therapy derived during acceptance, handed to build() for the same draw (keyed by its params object). */
const titrated = new WeakMap<Record<string, number>, PhysiologicalTherapy>();

/** A PatientParams (basal fields not yet derived) from a cohort draw. */
function fromDraw(vp: VirtualPatient, fit: GroupFit, name: string): PatientParams {
  const q = vp.params;
  const v = (k: string): number => q[k] as number;
  const b = v('bOdds') / (1 + v('bOdds'));
  const d = v('dOdds') / (1 + v('dOdds'));
  const p = {
    name,
    x0: new Float64Array(13),
    BW: v('BW'),
    EGPb: v('EGPb'),
    Gb: v('Gb'),
    Ib: v('Ib'),
    kabs: v('kabs'),
    kmax: v('kmax'),
    kmin: v('kmin'),
    b,
    d,
    Vg: v('Vg'),
    Vi: v('Vi'),
    Vmx: v('Vmx'),
    Km0: v('Km0'),
    k2: v('k2'),
    k1: v('k1'),
    p2u: v('p2u'),
    m1: v('m1'),
    ki: v('ki'),
    kp2: v('kp2'),
    kp3: v('kp3'),
    kd: v('kd'),
    ksc: v('ksc'),
    ka1: v('ka1'),
    ka2: v('ka2'),
    u2ss: v('u2ss'),
    ...fit.fixed,
    // derived below
    Ipb: 0,
    CL: 0,
    m2: 0,
    m4: 0,
    m30: 0,
    Ilb: 0,
    Gpb: 0,
    Gtb: 0,
    Vm0: 0,
    Rdb: 0,
    PCRb: 0,
    isc1ss: 0,
    isc2ss: 0,
    kp1: 0,
  } satisfies PatientParams;
  return p;
}

/**
 * Re-derive the basal steady state (data/glucose/README.md identities) in place and return p:
 * Gpb = Gb·Vg; Gtb = (Fsnc − EGPb + k1·Gpb)/k2; Vm0 = (EGPb − Fsnc)(Km0 + Gtb)/Gtb;
 * kp1 = EGPb + kp2·Gpb + kp3·Ib; Ipb = Ib·Vi; CL = u2ss·BW/Ib; m2 = 0.6·CL/(HEb·Vi·BW);
 * m4 = 0.4·CL/(Vi·BW); m30 = HEb·m1/(1−HEb); Ilb = m2·Ipb/(m1+m30); isc1ss = u2ss/(ka1+kd);
 * isc2ss = kd·isc1ss/ka2; Rdb = EGPb; PCRb = Rdb/Gb;
 * x0 = [0, 0, 0, Gpb, Gtb, Ipb, 0, Ib, Ib, Ilb, isc1ss, isc2ss, Gpb].
 */
export function deriveBasal(p: PatientParams): PatientParams {
  p.Gpb = p.Gb * p.Vg;
  p.Gtb = (p.Fsnc - p.EGPb + p.k1 * p.Gpb) / p.k2;
  p.Vm0 = ((p.EGPb - p.Fsnc) * (p.Km0 + p.Gtb)) / p.Gtb;
  p.kp1 = p.EGPb + p.kp2 * p.Gpb + p.kp3 * p.Ib;
  p.Ipb = p.Ib * p.Vi;
  p.CL = (p.u2ss * p.BW) / p.Ib;
  p.m2 = (0.6 * p.CL) / (p.HEb * p.Vi * p.BW);
  p.m4 = (0.4 * p.CL) / (p.Vi * p.BW);
  p.m30 = (p.HEb * p.m1) / (1 - p.HEb);
  p.Ilb = (p.m2 * p.Ipb) / (p.m1 + p.m30);
  p.isc1ss = p.u2ss / (p.ka1 + p.kd);
  p.isc2ss = (p.kd * p.isc1ss) / p.ka2;
  p.Rdb = p.EGPb;
  p.PCRb = p.Rdb / p.Gb;
  p.x0 = new Float64Array([0, 0, 0, p.Gpb, p.Gtb, p.Ipb, 0, p.Ib, p.Ib, p.Ilb, p.isc1ss, p.isc2ss, p.Gpb]);
  return p;
}

/** Meal-test limits (plasma glucose, mg/dL); the 30 distributed patients span 49–392 on this test. */
export const MEAL_TEST = { grams: 50, minutes: 480, nadirMin: 40, peakMax: 400 } as const;

/**
 * Standard meal test: from the basal steady state, 50 g announced at minute 0 with a bolus of
 * 50/CR units in the same minute, on basal, for 8 h (generated patients: CR = their physiological carb ratio). Returns the plasma-glucose nadir and peak.
 */
export function mealTest(p: PatientParams, carbRatio: number): { nadir: number; peak: number } {
  const sim = new T1DPatient(p);
  const basal = basalRate(p);
  let nadir = sim.plasmaGlucose;
  let peak = nadir;
  for (let t = 0; t < MEAL_TEST.minutes; t++) {
    sim.step(basal + (t === 0 ? MEAL_TEST.grams / carbRatio : 0), t === 0 ? MEAL_TEST.grams : 0);
    const g = sim.plasmaGlucose;
    if (g < nadir) nadir = g;
    if (g > peak) peak = g;
  }
  return { nadir, peak };
}

/**
 * The titration a clinician does with a patient, done on the model (physiologicalTherapy):
 * a 50 g meal with its bolus at the meal, on basal, is checked 4 h later (a carb ratio is right when
 * glucose is back at its pre-meal level about 4 h after the meal: Walsh & Roberts, *Pumping Insulin*,
 * 4th ed. 2006, ch. on testing the carb factor); the correction factor is the fall of glucose per unit,
 * read as the nadir within 8 h of 1 U given at the basal steady state (the definition of a correction
 * factor; the same book). `tolerance`: |G(4 h) − Gb| at which the carb-ratio search stops, mg/dL.
 */
export const TITRATION = { grams: 50, checkMinute: 240, correctionMinutes: 480, tolerance: 0.5, maxIterations: 40 } as const;

export interface PhysiologicalTherapy {
  /** g/U: 50 g over the bolus that returns plasma glucose to Gb 4 h after a 50 g meal. */
  carbRatio: number;
  /** mg/dL/U: Gb minus the plasma-glucose nadir within 8 h of 1 U given at the basal steady state. */
  correctionFactor: number;
}

/** Plasma glucose `checkMinute` minutes after `carbs` g and `bolus` U at minute 0 on basal, and the nadir over `minutes`. */
function challenge(p: PatientParams, bolus: number, carbs: number, minutes: number): { at: number; nadir: number } {
  const sim = new T1DPatient(p);
  const basal = basalRate(p);
  let nadir = sim.plasmaGlucose;
  let at = Number.NaN;
  for (let t = 0; t < minutes; t++) {
    sim.step(basal + (t === 0 ? bolus : 0), t === 0 ? carbs : 0);
    const g = sim.plasmaGlucose;
    if (g < nadir) nadir = g;
    if (t + 1 === TITRATION.checkMinute) at = g;
  }
  return { at, nadir };
}

/**
 * The carb ratio and correction factor this patient's physiology implies (TITRATION), or the reason
 * there is none: `therapy:no-bolus-needed` (glucose is back at Gb 4 h after 50 g without insulin),
 * `therapy:correction` (1 U does not lower glucose), `therapy:no-convergence`,
 * `therapy:integration-failed` (the integrator cannot follow the tests). The carb-ratio bolus is found
 * by regula falsi (Illinois variant) on f(B) = G(4 h; B) − Gb, which falls monotonically with B;
 * ≈ 7 simulated tests per patient.
 */
function physiologicalTherapyOrReason(p: PatientParams): PhysiologicalTherapy | string {
  try {
    const unit = challenge(p, 1, 0, TITRATION.correctionMinutes);
    const correctionFactor = p.Gb - unit.nadir;
    if (!(correctionFactor > 0) || !Number.isFinite(correctionFactor)) return 'therapy:correction';
    const f = (b: number) => challenge(p, b, TITRATION.grams, TITRATION.checkMinute).at - p.Gb;
    let lo = 0;
    let flo = f(0);
    if (!(flo > TITRATION.tolerance)) return 'therapy:no-bolus-needed';
    // first guess: the meal's excess at 4 h over the 4-h effect of 1 U (linear response), doubled to bracket
    const perUnit = p.Gb - unit.at;
    let hi = perUnit > 0 ? (2 * flo) / perUnit : 1;
    let fhi = f(hi);
    let n = 2;
    while (fhi > 0 && n < TITRATION.maxIterations) {
      lo = hi;
      flo = fhi;
      hi *= 2;
      fhi = f(hi);
      n++;
    }
    if (fhi > 0) return 'therapy:no-convergence';
    let side = 0;
    for (; n < TITRATION.maxIterations; n++) {
      const b = (lo * fhi - hi * flo) / (fhi - flo);
      const fb = f(b);
      if (Math.abs(fb) <= TITRATION.tolerance) return { carbRatio: TITRATION.grams / b, correctionFactor };
      if (fb > 0) {
        lo = b;
        flo = fb;
        if (side === 1) fhi /= 2;
        side = 1;
      } else {
        hi = b;
        fhi = fb;
        if (side === -1) flo /= 2;
        side = -1;
      }
    }
    return 'therapy:no-convergence';
  } catch (e) {
    if (e instanceof TwinlabError && e.code === 'INTEGRATION_FAILED') return 'therapy:integration-failed';
    throw e;
  }
}

/**
 * The therapy a patient's physiology implies (TITRATION): carb ratio and correction factor. Applied to
 * the named adolescents and adults it reproduces Quest.csv (README "Therapy"); generated patients get it.
 * Throws INVALID_ARGUMENT naming the reason when the patient has none.
 */
export function physiologicalTherapy(p: PatientParams): PhysiologicalTherapy {
  const t = physiologicalTherapyOrReason(p);
  if (typeof t === 'string') throw new TwinlabError('INVALID_ARGUMENT', `patient ${p.name}: no physiological therapy (${t})`);
  return t;
}

/**
 * Why a derived patient is implausible, or undefined if it is accepted. Rules, in order: the basal
 * steady state must exist (Gtb > 0, Vm0 > 0, i.e. EGPb > Fsnc) with no renal excretion at basal
 * (Gpb < ke2); the emptying curve must be ordered (kmin < kmax, d < b); and, given its carb ratio, the
 * standard meal test (mealTest) must stay within [40, 400] mg/dL — a draw whose own titrated
 * carb-ratio bolus still drives it to severe hypoglycaemia or to the renal-glycosuria/DKA range after
 * a 50 g meal is not a plausible patient, nor
 * is one whose meal test the integrator cannot follow (`meal-test:integration-failed`). BW and
 * Gb ranges are cohort bounds (reasons `bounds:BW`, `bounds:Gb`).
 */
export function rejectionReason(p: PatientParams, carbRatio?: number): string | undefined {
  if (!(p.Gtb > 0)) return 'Gtb<=0';
  if (!(p.Vm0 > 0)) return 'Vm0<=0';
  if (!(p.Gpb < p.ke2)) return 'Gpb>=ke2';
  if (!(p.kmin < p.kmax)) return 'kmin>=kmax';
  if (!(p.d < p.b)) return 'd>=b';
  if (carbRatio !== undefined) {
    let test: { nadir: number; peak: number };
    try {
      test = mealTest(p, carbRatio);
    } catch (e) {
      // A draw whose meal test the integrator cannot follow (a state becomes non-finite) is no
      // plausible patient either; before this it aborted the whole cohort (adult, seed 15, index 7482).
      if (e instanceof TwinlabError && e.code === 'INTEGRATION_FAILED') return 'meal-test:integration-failed';
      throw e;
    }
    const { nadir, peak } = test;
    if (!(nadir >= MEAL_TEST.nadirMin)) return 'meal-test:nadir<40';
    if (!(peak <= MEAL_TEST.peakMax)) return 'meal-test:peak>400';
  }
  return undefined;
}

/** `adult~s42#007`: generated patient of group adult, cohort seed 42, index 7. */
export function generatedName(group: AgeGroup, seed: number, index: number): string {
  return `${group}~s${seed}#${String(index).padStart(3, '0')}`;
}

const NAME_RE = /^(adolescent|adult|child)~s(-?\d+(?:\.\d+)?)#(\d+)$/;

export function isGeneratedName(name: string): boolean {
  return NAME_RE.test(name);
}

function build(group: AgeGroup, seed: number, vp: VirtualPatient): GeneratedPatient {
  const { fit } = groupModel(group);
  const params = deriveBasal(fromDraw(vp, fit, generatedName(group, seed, vp.index)));
  const derived = titrated.get(vp.params) ?? physiologicalTherapy(params);
  const carbRatio = derived.carbRatio;
  const basalPerDay = ((params.u2ss * params.BW) / 6000) * 1440;
  const therapy: Therapy = {
    carbRatio,
    correctionFactor: derived.correctionFactor,
    age: vp.covariates.age as number,
    tdi: basalPerDay + 200 / carbRatio,
  };
  return { params, therapy, attempts: vp.attempts };
}

function checkSeedIndex(seed: number, index?: number): void {
  if (!Number.isFinite(seed)) throw new TwinlabError('INVALID_ARGUMENT', `seed must be a finite number, got ${describeValue(seed)}`);
  if (index !== undefined && (!Number.isInteger(index) || index < 0)) {
    throw new TwinlabError('INVALID_ARGUMENT', `patient index must be a non-negative integer, got ${describeValue(index)}`);
  }
}

/** Patient `index` of the generated cohort (group, seed); the same whatever the cohort size. */
/**
 * Generated patients are a pure function of (group, seed, index) but costly to draw (each accepted
 * draw passes a simulated meal test), and a trial asks for the same patient several times (cohort
 * enrolment, then the env of every arm), so recent ones are memoised. Callers must not mutate them.
 */
const generatedCache = new Map<string, GeneratedPatient>();
const GENERATED_CACHE_SIZE = 2048;

export function generatePatient(group: AgeGroup, seed: number, index: number): GeneratedPatient {
  checkGroup(group);
  checkSeedIndex(seed, index);
  const key = `${group}|${seed}|${index}`;
  const cached = generatedCache.get(key);
  if (cached) return cached;
  const patient = build(group, seed, samplePatient(groupModel(group).spec, seed, index));
  if (generatedCache.size >= GENERATED_CACHE_SIZE) generatedCache.delete(generatedCache.keys().next().value as string);
  generatedCache.set(key, patient);
  return patient;
}

/** Patients 0…size−1 of the generated cohort (group, seed), with rejection counts by reason. */
export function generateCohort(group: AgeGroup, seed: number, size: number): GeneratedCohort {
  checkGroup(group);
  checkSeedIndex(seed);
  const sample = sampleCohort(groupModel(group).spec, seed, size);
  const reasons: Record<string, number> = {};
  for (const [k, n] of Object.entries(sample.rejectionReasons)) reasons[k.replace(/^accept:/, '')] = n;
  return { patients: sample.patients.map((vp) => build(group, seed, vp)), rejected: sample.rejected, reasons };
}

function parseName(name: string): { group: AgeGroup; seed: number; index: number } {
  const m = NAME_RE.exec(name);
  if (m === null) throw new TwinlabError('NOT_FOUND', `'${name}' is not a generated patient name (group~s<seed>#<index>)`);
  return { group: m[1] as AgeGroup, seed: Number(m[2]), index: Number(m[3]) };
}

/** Parameters of a generated patient by name (used by patients.getPatient). */
export function generatedPatientByName(name: string): PatientParams {
  const { group, seed, index } = parseName(name);
  return generatePatient(group, seed, index).params;
}

/** Therapy of a generated patient by name (used by patients.getTherapy). */
export function generatedTherapyByName(name: string): Therapy {
  const { group, seed, index } = parseName(name);
  return generatePatient(group, seed, index).therapy;
}

/**
 * A patient of age group `group` from values of the group's free parameters (GroupFit.parameters:
 * `bOdds`/`dOdds` for b and d; CR and CF are ignored), fixed parameters from the group and the basal
 * steady state derived. Used by personal twins, whose parameters are the group's population values
 * with a few replaced by the person's estimates.
 */
export function patientFromFreeValues(values: Readonly<Record<string, number>>, group: AgeGroup, name: string): PatientParams {
  const fit = groupFit(group);
  return deriveBasal(fromDraw({ params: { ...values } } as unknown as VirtualPatient, fit, name));
}
