import { z } from 'zod';
import { importDataset } from '../datasets/import.js';
import { type GlucoseDataset, slotTimeMs } from '../datasets/types.js';
import { quantileSorted } from '../engine/distributions.js';
import { describeValue, type TwinlabError } from '../engine/errors.js';
import type { CohortMember } from '../engine/twin.js';
import type { ExplicitPatient } from '../environments/glucose/env.js';
import { PATIENT_COLUMNS } from '../environments/glucose/params.js';
import { GLUCOSE_ENV_ID, GLUCOSE_HCL_ENV_ID } from '../environments/glucose/twin.js';
import { naturalValues, patientForTheta } from '../twinning/glucose/parameters.js';
import { type GlucoseTwinFile, parseTwinFile } from '../twinning/glucose/twin-file.js';
import { drawMembers, type FieldFail, fieldFailer, noPatientMessage, type PersonalCohortKind, type PersonalTwinAdapter, readTwinFile, specPath } from './personal-cohort-core.js';
import { T2D_PERSONAL_KIND } from './personal-cohort-t2d.js';
import { VANCO_PERSONAL_KIND } from './personal-cohort-vancomycin.js';

export { specPath } from './personal-cohort-core.js';

/**
 * Personal cohorts: the posterior draws of one person's fitted twin (`twinlab twin fit`) as the
 * patients of a trial or the training population of a DQN. This module holds the spec schema, the
 * dispatch on `cohort.twin` (PERSONAL_COHORT_KINDS) and the type 1 glucose twin (twinning/glucose);
 * the shared file/range/member plumbing is personal-cohort-core.ts, the type 2 twin
 * personal-cohort-t2d.ts, the vancomycin twin personal-cohort-vancomycin.ts.
 *
 *   cohort: { twin: glucose, personal: DIR, draws: 50, offset: 50, data: person.csv }
 *
 * Member i is posterior draw `offset + i` of DIR/twin.json in file order (draws are thinned evenly
 * over the kept chain, so consecutive draws are not neighbours of one walker). A training spec uses
 * draws [offset, offset + draws) (offset defaults to 0); a trial on held-out draws gives an offset
 * past them — the split is explicit in the specs, not hidden in code.
 *
 * Each draw θ becomes the person's UVA/Padova parameters with `patientForTheta(θ, twin.context)`
 * (the group's typical values, the person's weight and basal, the estimated parameters) and is
 * handed to the env by value (`ExplicitPatient`), so workers build it from JSON. Its therapy is the
 * person's own (`personalTherapy`).
 */

/** Paths are resolved against the spec file's directory, like saved policy directories. */
export const PersonalCohortSchema = z.strictObject({
  /** glucose (type 1, this module), glucose-t2d (type 2: personal-cohort-t2d.ts) or vancomycin (personal-cohort-vancomycin.ts). */
  twin: z.enum(['glucose', 'glucose-t2d', 'vancomycin']),
  /** Env id (default: the twin's default env). */
  env: z.string().min(1).optional(),
  /** Directory of a fitted twin (holds twin.json). */
  personal: z.string().min(1),
  /** Posterior draws in the cohort. */
  draws: z.number().int().positive(),
  /** First posterior draw (0-based, file order). */
  offset: z.number().int().nonnegative().default(0),
  /** Type 1 glucose only: the person's data file (CSV / FHIR / Nightscout) the twin was fitted on: carb ratio and TDI come from it. */
  data: z.string().min(1).optional(),
});

export type PersonalCohort = z.output<typeof PersonalCohortSchema>;

export function isPersonalCohort(cohort: unknown): cohort is PersonalCohort {
  return cohort !== null && typeof cohort === 'object' && 'personal' in cohort;
}

/** Glucose envs a personal cohort may run on. */
export const PERSONAL_ENV_IDS: readonly string[] = [GLUCOSE_ENV_ID, GLUCOSE_HCL_ENV_ID];

/**
 * Rule-of-thumb constants (Walsh & Roberts, Pumping Insulin, 4th ed., 2006): carb ratio = 500/TDI
 * g/U, correction factor = 1800/TDI mg/dL/U for rapid-acting analogues, and basal ≈ 50 % of the
 * total daily insulin (TDI) when TDI is not known.
 */
export const CARB_RULE = 500;
export const CORRECTION_RULE = 1800;
export const BASAL_SHARE = 0.5;
/** A bolus within this many 5-min slots of a logged meal (before or after) is that meal's bolus (twinning/glucose/therapy.ts uses 3 too). */
export const MEAL_BOLUS_SLOTS = 3;

export interface PersonalTherapy {
  basalUPerH: number;
  /** g/U */
  carbRatio: number;
  /** mg/dL/U */
  correctionFactor: number;
  /** U/day */
  tdi: number;
  /** Where CR and TDI came from. */
  source: 'dataset' | 'rules';
  /** Meals with a bolus that the carb ratio is the median over (dataset only). */
  meals: number;
}

/**
 * The person's therapy: basal = twin.context.basalUPerH (the rate the fit found the person at steady
 * state on). With the dataset: CR = 1 / median over logged meals of (bolus within ±15 min / carbs),
 * TDI = mean daily insulin (basal over every slot + all boluses), CF = 1800/TDI. Without it (or when
 * no meal has a bolus): TDI = 24·basal / 0.5, CR = 500/TDI, CF = 1800/TDI.
 */
export function personalTherapy(twin: GlucoseTwinFile, dataset?: GlucoseDataset): PersonalTherapy {
  const basalUPerH = twin.context.basalUPerH;
  const rules = (tdi: number, source: PersonalTherapy['source'], meals: number, carbRatio = CARB_RULE / tdi): PersonalTherapy => ({
    basalUPerH,
    carbRatio,
    correctionFactor: CORRECTION_RULE / tdi,
    tdi,
    source,
    meals,
  });
  if (dataset === undefined) return rules((24 * basalUPerH) / BASAL_SHARE, 'rules', 0);
  const n = dataset.cgm.length;
  const ratios: number[] = [];
  const used = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const carbs = dataset.carbsG[k] as number;
    if (!(carbs > 0)) continue;
    let bolus = 0;
    for (let j = Math.max(0, k - MEAL_BOLUS_SLOTS); j <= Math.min(n - 1, k + MEAL_BOLUS_SLOTS); j++) {
      if (used[j] === 1 || !((dataset.bolusU[j] as number) > 0)) continue;
      bolus += dataset.bolusU[j] as number;
      used[j] = 1;
    }
    if (bolus > 0) ratios.push(bolus / carbs);
  }
  let insulin = 0;
  for (let k = 0; k < n; k++) insulin += ((dataset.basalUPerH[k] as number) * dataset.stepMin) / 60 + (dataset.bolusU[k] as number);
  const days = (n * dataset.stepMin) / 1440;
  const tdi = insulin / days;
  if (ratios.length === 0 || !(tdi > 0)) return rules(tdi > 0 ? tdi : (24 * basalUPerH) / BASAL_SHARE, 'rules', 0);
  ratios.sort((a, b) => a - b);
  return rules(tdi, 'dataset', ratios.length, 1 / quantileSorted(ratios, 0.5));
}

export interface ResolvedPersonalCohort {
  /** Absolute path of twin.json. */
  file: string;
  twin: GlucoseTwinFile;
  therapy: PersonalTherapy;
  members: CohortMember[];
}

export interface PersonalCohortError {
  path: string;
  message: string;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** The type 1 twin's file and the member of a draw with the person's therapy (the same for every draw; none when only reading the file). */
function glucoseAdapter(therapy?: PersonalTherapy): PersonalTwinAdapter<GlucoseTwinFile> {
  return {
    fitCommand: 'twinlab twin fit --out DIR',
    fileKind: 'twin file',
    parse: parseTwinFile,
    draws: (twin) => twin.posterior.draws,
    patientId: (twin) => twin.patient.id,
    member(twin, theta, k, name, fail, file): CohortMember {
      const p = patientForTheta(theta as number[], twin.context, name);
      if (p === undefined) return fail('personal', noPatientMessage(k, file, theta));
      const t = therapy as PersonalTherapy;
      const patient: ExplicitPatient = {
        name,
        params: Object.fromEntries(PATIENT_COLUMNS.map((c) => [c, p[c]])),
        x0: Array.from(p.x0),
        therapy: { carbRatio: t.carbRatio, correctionFactor: t.correctionFactor, tdi: t.tdi },
      };
      const natural = naturalValues(theta as number[]);
      return {
        index: k,
        patientId: name,
        envOptions: { patient },
        covariates: {
          draw: k,
          bodyWeight: p.BW,
          basalGlucose: p.Gb,
          insulinSensitivity: natural.SI,
          carbRatio: t.carbRatio,
          correctionFactor: t.correctionFactor,
          tdi: t.tdi,
        },
      };
    },
  };
}

/**
 * Read DIR/twin.json of a type 1 twin (and the data file, if given) and build the cohort's members.
 * Throws one TwinlabError('INVALID_SPEC') naming the field (`<prefix>.personal`, `<prefix>.draws`, `<prefix>.data`).
 */
export function resolvePersonalCohort(cohort: PersonalCohort, options: { baseDir?: string; prefix?: string } = {}): ResolvedPersonalCohort {
  const fail = fieldFailer(options.prefix);
  if (cohort.twin !== 'glucose') fail('twin', `this resolves a type 1 glucose cohort (got ${describeValue(cohort.twin)})`);
  const source = readTwinFile(glucoseAdapter(), cohort, specPath(cohort.personal, options.baseDir), fail);
  const therapy = glucoseTherapy(cohort, source, options.baseDir, fail);
  return { ...source, therapy, members: drawMembers(glucoseAdapter(therapy), source, cohort, fail) };
}

function glucoseTherapy(cohort: PersonalCohort, source: { twin: GlucoseTwinFile; file: string }, baseDir: string | undefined, fail: FieldFail): PersonalTherapy {
  const { twin, file } = source;
  if (cohort.data === undefined) return personalTherapy(twin);
  const dataFile = specPath(cohort.data, baseDir);
  let dataset: GlucoseDataset;
  try {
    // importedAt only fills the provenance; a fixed value keeps resolution free of wall-clock reads.
    dataset = importDataset(dataFile, { patientId: twin.patient.id, bodyWeightKg: twin.patient.bodyWeightKg, importedAt: twin.data.end });
  } catch (error) {
    return fail('data', `cannot read ${dataFile}: ${(error as Error).message}`);
  }
  const span = `${iso(dataset.startMs)}–${iso(slotTimeMs(dataset, dataset.cgm.length))}`;
  if (span !== `${twin.data.start}–${twin.data.end}`) {
    fail('data', `${dataFile} covers ${span}, but ${file} was fitted on ${twin.data.start}–${twin.data.end} (give the data the twin was fitted on)`);
  }
  return personalTherapy(twin, dataset);
}

/** The type 1 glucose twin's personal cohorts (this module). */
export const GLUCOSE_PERSONAL_KIND: PersonalCohortKind = {
  twin: 'glucose',
  envIds: PERSONAL_ENV_IDS,
  label: 'a personal glucose cohort',
  patientOptions: ['patient', 'patients', 'cohort'],
  members: (cohort, options) => resolvePersonalCohort({ ...cohort, twin: 'glucose' }, options).members,
  // The glucose env's `patients` pool takes explicit patients (ExplicitPatient) by value.
  trainingEnvOptions: (members) => ({ patients: members.map((m) => m.envOptions.patient) }),
};

/** Every twin with personal cohorts, by `cohort.twin`. */
export const PERSONAL_COHORT_KINDS: Readonly<Record<PersonalCohort['twin'], PersonalCohortKind>> = Object.freeze({
  glucose: GLUCOSE_PERSONAL_KIND,
  'glucose-t2d': T2D_PERSONAL_KIND,
  vancomycin: VANCO_PERSONAL_KIND,
});

/** The members of a personal cohort, of any twin. */
export function resolvePersonalMembers(cohort: PersonalCohort, options: { baseDir?: string; prefix?: string } = {}): CohortMember[] {
  const kind = PERSONAL_COHORT_KINDS[cohort.twin];
  if (cohort.data !== undefined && kind.dataRefused !== undefined) fieldFailer(options.prefix)('data', kind.dataRefused);
  return kind.members(cohort, options);
}

/** Env options a personal cohort sets (the spec's `envOptions` may not set them too). */
export function personalPatientOptions(cohort: PersonalCohort): readonly string[] {
  return PERSONAL_COHORT_KINDS[cohort.twin].patientOptions;
}

/** The env options of a training job on a personal cohort: the draws as the env's per-reset patient pool. */
export function personalTrainingEnvOptions(cohort: PersonalCohort, options: { baseDir?: string } = {}): Record<string, unknown> {
  const kind = PERSONAL_COHORT_KINDS[cohort.twin];
  if (kind.trainingEnvOptions === undefined) return fieldFailer()('twin', kind.trainingRefused ?? `twin ${cohort.twin} cannot train`);
  return kind.trainingEnvOptions(resolvePersonalMembers(cohort, options));
}

/**
 * Spec validation of a personal cohort: the env is one of the twin's, training is allowed, the twin
 * file (and data) resolve; `cohort.personal` and `cohort.data` are made absolute (like saved-policy
 * paths). Errors are pushed.
 */
export function checkPersonalCohort(cohort: PersonalCohort, envId: string, options: { baseDir?: string; prefix?: string; training?: boolean }, errors: PersonalCohortError[]): void {
  const prefix = options.prefix ?? 'cohort';
  const kind = PERSONAL_COHORT_KINDS[cohort.twin];
  if (options.training && kind.trainingEnvOptions === undefined) {
    errors.push({ path: `${prefix}.twin`, message: kind.trainingRefused ?? `twin ${cohort.twin} cannot train` });
    return;
  }
  if (!kind.envIds.includes(envId)) {
    errors.push({ path: cohort.env !== undefined ? `${prefix}.env` : 'env', message: `${kind.label} runs on ${kind.envIds.join(' or ')} (got ${describeValue(envId)})` });
    return;
  }
  try {
    resolvePersonalMembers(cohort, options);
    cohort.personal = specPath(cohort.personal, options.baseDir);
    if (cohort.data !== undefined) cohort.data = specPath(cohort.data, options.baseDir);
  } catch (error) {
    const details = (error as TwinlabError).details as { errors?: PersonalCohortError[] } | undefined;
    if (details?.errors) errors.push(...details.errors);
    else errors.push({ path: `${prefix}.personal`, message: (error as Error).message });
  }
}
