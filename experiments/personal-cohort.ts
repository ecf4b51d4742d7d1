import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { importDataset } from '../datasets/import.js';
import { type GlucoseDataset, slotTimeMs } from '../datasets/types.js';
import { quantileSorted } from '../engine/distributions.js';
import { describeValue, TwinlabError } from '../engine/errors.js';
import type { CohortMember } from '../engine/twin.js';
import type { ExplicitPatient } from '../environments/glucose/env.js';
import { PATIENT_COLUMNS } from '../environments/glucose/params.js';
import { GLUCOSE_ENV_ID, GLUCOSE_HCL_ENV_ID } from '../environments/glucose/twin.js';
import { naturalValues, patientForTheta } from '../twinning/glucose/parameters.js';
import { type GlucoseTwinFile, parseTwinFile } from '../twinning/glucose/twin-file.js';
import { PERSONAL_T2D_ENV_IDS, resolveT2DPersonalCohort, T2D_PERSONAL_TRAINING_MESSAGE } from './personal-cohort-t2d.js';

/**
 * Personal cohorts: the posterior draws of one person's fitted glucose twin (twinning/glucose,
 * `twinlab twin fit`) as the patients of a trial or the training population of a DQN.
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
  /** glucose (type 1, this module) or glucose-t2d (type 2: personal-cohort-t2d.ts). */
  twin: z.enum(['glucose', 'glucose-t2d']),
  /** Env id (default glucose/t1d-v1). */
  env: z.string().min(1).optional(),
  /** Directory of a fitted twin (holds twin.json). */
  personal: z.string().min(1),
  /** Posterior draws in the cohort. */
  draws: z.number().int().positive(),
  /** First posterior draw (0-based, file order). */
  offset: z.number().int().nonnegative().default(0),
  /** The person's data file (CSV / FHIR / Nightscout) the twin was fitted on: carb ratio and TDI come from it. */
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

/** Absolute path of a spec path (relative paths against the spec file's directory). */
export function specPath(path: string, baseDir: string | undefined): string {
  return isAbsolute(path) ? path : resolve(baseDir ?? process.cwd(), path);
}

/**
 * Read DIR/twin.json (and the data file, if given) and build the cohort's members. Throws one
 * TwinlabError('INVALID_SPEC') naming the field (`<prefix>.personal`, `<prefix>.draws`, `<prefix>.data`).
 */
export function resolvePersonalCohort(cohort: PersonalCohort, options: { baseDir?: string; prefix?: string } = {}): ResolvedPersonalCohort {
  const prefix = options.prefix ?? 'cohort';
  const fail = (field: string, message: string): never => {
    throw new TwinlabError('INVALID_SPEC', `invalid experiment spec:\n  - ${prefix}.${field}: ${message}`, {
      errors: [{ path: `${prefix}.${field}`, message }],
    });
  };
  if (cohort.twin === 'glucose-t2d') fail('twin', T2D_PERSONAL_TRAINING_MESSAGE);
  const dir = specPath(cohort.personal, options.baseDir);
  const file = existsSync(dir) && statSync(dir).isFile() ? dir : join(dir, 'twin.json');
  if (!existsSync(file)) fail('personal', `no twin file ${file} (make one with twinlab twin fit --out DIR)`);
  let twin: GlucoseTwinFile;
  try {
    twin = parseTwinFile(readFileSync(file, 'utf8'), file);
  } catch (error) {
    return fail('personal', `invalid twin file: ${(error as Error).message}`);
  }
  const available = twin.posterior.draws.length;
  if (cohort.offset + cohort.draws > available) {
    fail(
      'draws',
      `draws ${cohort.offset}–${cohort.offset + cohort.draws - 1} asked for, but ${file} holds ${available} posterior draw${available === 1 ? '' : 's'} (got draws ${cohort.draws}${cohort.offset > 0 ? `, offset ${cohort.offset}` : ''})`,
    );
  }
  let dataset: GlucoseDataset | undefined;
  if (cohort.data !== undefined) {
    const dataFile = specPath(cohort.data, options.baseDir);
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
  }
  const therapy = personalTherapy(twin, dataset);
  const members: CohortMember[] = [];
  for (let i = 0; i < cohort.draws; i++) {
    const k = cohort.offset + i;
    const theta = twin.posterior.draws[k] as number[];
    const name = `${twin.patient.id}#draw-${k}`;
    const p = patientForTheta(theta, twin.context, name);
    if (p === undefined) fail('personal', `posterior draw ${k} of ${file} gives no physiological steady state (${describeValue(theta)})`);
    const params = p as NonNullable<typeof p>;
    const patient: ExplicitPatient = {
      name,
      params: Object.fromEntries(PATIENT_COLUMNS.map((c) => [c, params[c]])),
      x0: Array.from(params.x0),
      therapy: { carbRatio: therapy.carbRatio, correctionFactor: therapy.correctionFactor, tdi: therapy.tdi },
    };
    const natural = naturalValues(theta);
    members.push({
      index: k,
      patientId: name,
      envOptions: { patient },
      covariates: {
        draw: k,
        bodyWeight: params.BW,
        basalGlucose: params.Gb,
        insulinSensitivity: natural.SI,
        carbRatio: therapy.carbRatio,
        correctionFactor: therapy.correctionFactor,
        tdi: therapy.tdi,
      },
    });
  }
  return { file, twin, therapy, members };
}

/** The members of a trial's personal cohort, of either twin (type 1 here, type 2: personal-cohort-t2d.ts). */
export function resolvePersonalMembers(cohort: PersonalCohort, options: { baseDir?: string; prefix?: string } = {}): CohortMember[] {
  if (cohort.twin !== 'glucose-t2d') return resolvePersonalCohort(cohort, options).members;
  const prefix = options.prefix ?? 'cohort';
  const fail = (field: string, message: string): never => {
    throw new TwinlabError('INVALID_SPEC', `invalid experiment spec:\n  - ${prefix}.${field}: ${message}`, { errors: [{ path: `${prefix}.${field}`, message }] });
  };
  if (cohort.data !== undefined) fail('data', 'not used by a type 2 personal cohort (no therapy is read from the data); remove it');
  return resolveT2DPersonalCohort(cohort, specPath(cohort.personal, options.baseDir), fail).members;
}

/**
 * Spec validation of a personal cohort: the env is a glucose env, the twin file and data resolve;
 * `cohort.personal` and `cohort.data` are made absolute (like saved-policy paths). Errors are pushed.
 */
export function checkPersonalCohort(
  cohort: PersonalCohort,
  envId: string,
  options: { baseDir?: string; prefix?: string; training?: boolean },
  errors: PersonalCohortError[],
): ResolvedPersonalCohort | undefined {
  const prefix = options.prefix ?? 'cohort';
  if (cohort.twin === 'glucose-t2d') {
    if (options.training) errors.push({ path: `${prefix}.twin`, message: T2D_PERSONAL_TRAINING_MESSAGE });
    else if (!PERSONAL_T2D_ENV_IDS.includes(envId)) {
      errors.push({ path: cohort.env !== undefined ? `${prefix}.env` : 'env', message: `a type 2 personal cohort runs on ${PERSONAL_T2D_ENV_IDS.join(' or ')} (got ${describeValue(envId)})` });
    } else {
      try {
        resolvePersonalMembers(cohort, options);
        cohort.personal = specPath(cohort.personal, options.baseDir);
      } catch (error) {
        const details = (error as TwinlabError).details as { errors?: PersonalCohortError[] } | undefined;
        if (details?.errors) errors.push(...details.errors);
        else errors.push({ path: `${prefix}.personal`, message: (error as Error).message });
      }
    }
    return undefined;
  }
  if (!PERSONAL_ENV_IDS.includes(envId)) {
    errors.push({
      path: cohort.env !== undefined ? `${prefix}.env` : 'env',
      message: `a personal glucose cohort runs on ${PERSONAL_ENV_IDS.join(' or ')} (got ${describeValue(envId)})`,
    });
    return undefined;
  }
  try {
    const resolved = resolvePersonalCohort(cohort, options);
    cohort.personal = specPath(cohort.personal, options.baseDir);
    if (cohort.data !== undefined) cohort.data = specPath(cohort.data, options.baseDir);
    return resolved;
  } catch (error) {
    const details = (error as TwinlabError).details as { errors?: PersonalCohortError[] } | undefined;
    if (details?.errors) errors.push(...details.errors);
    else errors.push({ path: `${prefix}.personal`, message: (error as Error).message });
    return undefined;
  }
}
