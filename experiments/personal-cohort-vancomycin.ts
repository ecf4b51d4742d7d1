import { describeValue, TwinlabError } from '../engine/errors.js';
import type { CohortMember } from '../engine/twin.js';
import { VANCO_DEFAULT_DOSES, VANCO_ENV_ID, VANCO_STEP_HOURS, type VancoPatient } from '../environments/pkpd/vancomycin-env.js';
import { renalStratum } from '../environments/pkpd/vancomycin-twin.js';
import { type DoseRecommendation, type RegimenRow, recommendDoses } from '../twinning/vancomycin/dose.js';
import { pkAt } from '../twinning/vancomycin/parameters.js';
import { parseVancoTwinFile, type VancoTwinFile } from '../twinning/vancomycin/twin-file.js';
import { fieldFailer, type PersonalCohortKind, type PersonalTwinAdapter, resolveTwinDraws, specPath } from './personal-cohort-core.js';

/**
 * Personal cohorts of a vancomycin twin (twinning/vancomycin, `twinlab twin fit --twin vancomycin`):
 * the posterior draws of one patient's fitted twin as the patients of `pkpd/vancomycin-v1` — trials
 * and DQN training (the file, range and errors: personal-cohort-core.ts):
 *
 *   cohort: { twin: vancomycin, personal: DIR, draws: 100, offset: 100 }
 *
 * Member i is posterior draw k = offset + i, θ = (ηCL, ηV1, ηV2), with the person's covariates from
 * twin.json (weight, Cockcroft–Gault CrCL, dialysis): env options { patientId, weight, crcl, dialysis,
 * etaCl, etaV1, etaV2 }, so the env's CL, V1, V2 are exactly the twin's `pkAt(covariates, θ)` (Q stays
 * at Goti's 6.5 L/h). Training: the env's `patients` pool is the draws (one drawn per reset).
 * The env's own assay error and synthetic kidney-injury model apply to every draw.
 */
export const VANCO_TWIN_ADAPTER: PersonalTwinAdapter<VancoTwinFile> = {
  fitCommand: 'twinlab twin fit --twin vancomycin --out DIR',
  fileKind: 'vancomycin twin file',
  parse: parseVancoTwinFile,
  draws: (twin) => twin.posterior.draws,
  patientId: (twin) => twin.patient.id,
  member(twin, theta, k, name, fail, file): CohortMember {
    const cov = twin.covariates;
    if (!(cov.crclMlMin >= 1)) fail('personal', `${file}: CrCL ${describeValue(cov.crclMlMin)} mL/min is below the env's 1 mL/min (posterior draw ${k})`);
    const pk = pkAt(cov, theta);
    const patient: Required<VancoPatient> = {
      patientId: name,
      weight: cov.bodyWeightKg,
      crcl: cov.crclMlMin,
      dialysis: cov.dialysis,
      etaCl: theta[0] as number,
      etaV1: theta[1] as number,
      etaV2: theta[2] as number,
    };
    return {
      index: k,
      patientId: name,
      envOptions: { ...patient },
      covariates: {
        draw: k,
        age: cov.ageYears,
        sex: cov.sex,
        weight: cov.bodyWeightKg,
        scr: cov.scrMgDl,
        crcl: cov.crclMlMin,
        renalStratum: renalStratum(cov.crclMlMin),
        CL: pk.cl,
        V1: pk.v1,
        V2: pk.v2,
      },
    };
  },
};

export const VANCO_PERSONAL_KIND: PersonalCohortKind = {
  twin: 'vancomycin',
  envIds: [VANCO_ENV_ID],
  label: 'a personal vancomycin cohort',
  patientOptions: ['patients', 'patientId', 'weight', 'crcl', 'dialysis', 'etaCl', 'etaV1', 'etaV2'],
  dataRefused: 'not used by a vancomycin personal cohort (twin.json holds the covariates and the posterior); remove it',
  members: (cohort, { baseDir, prefix }) => resolveTwinDraws(VANCO_TWIN_ADAPTER, cohort, specPath(cohort.personal, baseDir), fieldFailer(prefix)).members,
  trainingEnvOptions: (members) => ({ patients: members.map((m) => m.envOptions) }),
};

export interface BayesianRegimen {
  /** Options of `pkpd/vancomycin-regimen`. */
  options: { doseMg: number; intervalH: number; loadingMg?: number };
  /** The `twinlab twin dose` row chosen (the best one the env can give). */
  row: RegimenRow;
  loadingDose: DoseRecommendation['loadingDose'];
}

/**
 * The regimen `twinlab twin dose` recommends for the twin, restricted to what `pkpd/vancomycin-v1` can
 * give: of `twin dose`'s default intervals (8, 12, 24 h) the multiples of its 12-h decision interval —
 * 12 and 24 h (`intervals` to widen it, e.g. with 36 and 48 h) — and doses that are its dose levels
 * (`doseLevels`, default 0, 500, …, 2000, 2500 mg); the first row of the ranking
 * (P(AUC24/MIC in target) descending, then P(AUC24 > 600) ascending, then the smaller daily dose) that
 * qualifies. The loading dose is `twin dose`'s (25 mg/kg, ≤ 3,000 mg, Rybak 2020) moved to the nearest
 * non-zero level; it is left out when it is not larger than the maintenance dose.
 */
export function bayesianRegimen(
  twin: VancoTwinFile,
  options: { doseLevels?: readonly number[]; mic?: number; targetAuc?: [number, number]; intervals?: number[] } = {},
): BayesianRegimen {
  const levels = options.doseLevels ?? VANCO_DEFAULT_DOSES;
  const intervals = options.intervals ?? [12, 24];
  const rec = recommendDoses(twin, { targetAuc: options.targetAuc ?? [400, 600], intervals, mic: options.mic ?? 1, top: Number.MAX_SAFE_INTEGER });
  const row = rec.regimens.find((r) => r.intervalH % VANCO_STEP_HOURS === 0 && levels.includes(r.doseMg));
  if (row === undefined) throw new TwinlabError('INVALID_ARGUMENT', `no regimen of twin dose fits the env's dose levels ${levels.join(', ')} mg at intervals ${intervals.join(', ')} h`);
  const nonZero = levels.filter((d) => d > 0);
  const loading = nonZero.reduce((best, d) => (Math.abs(d - rec.loadingDose.mg) < Math.abs(best - rec.loadingDose.mg) ? d : best), nonZero[0] as number);
  return {
    options: { doseMg: row.doseMg, intervalH: row.intervalH, ...(loading > row.doseMg ? { loadingMg: loading } : {}) },
    row,
    loadingDose: rec.loadingDose,
  };
}

/**
 * The twin's posterior of η = (ηCL, ηV1, ηV2) as the Gaussian prior of `pkpd/vancomycin-bayesian`: the
 * mean and the covariance (n − 1 denominator) of its posterior draws. With it the policy starts from
 * what the person's earlier levels taught and re-estimates from the levels the trial's env draws.
 */
export function twinPrior(twin: VancoTwinFile): { mean: number[]; cov: number[][] } {
  const draws = twin.posterior.draws;
  const n = draws.length;
  if (n < 2) throw new TwinlabError('INVALID_ARGUMENT', `a twin prior needs at least 2 posterior draws, the twin has ${n}`);
  const mean = [0, 1, 2].map((j) => draws.reduce((s, d) => s + (d[j] as number), 0) / n);
  const cov = [0, 1, 2].map((a) =>
    [0, 1, 2].map((b) => draws.reduce((s, d) => s + ((d[a] as number) - (mean[a] as number)) * ((d[b] as number) - (mean[b] as number)), 0) / (n - 1)),
  );
  return { mean, cov };
}
