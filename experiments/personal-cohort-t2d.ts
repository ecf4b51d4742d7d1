import type { CohortMember } from '../engine/twin.js';
import { T2D_ENV_ID } from '../environments/glucose-t2d/env.js';
import { t2dNaturalValues, t2dPersonForTheta } from '../twinning/glucose-t2d/parameters.js';
import { parseT2DTwinFile, type T2DTwinFile } from '../twinning/glucose-t2d/twin-file.js';
import { fieldFailer, noPatientMessage, type PersonalCohortKind, type PersonalTwinAdapter, resolveTwinDraws, specPath } from './personal-cohort-core.js';

/**
 * Personal cohorts of a type 2 twin (twinning/glucose-t2d): the posterior draws of one person's fitted
 * twin as the patients of a trial on `glucose/t2d-nutrition-v1`, as experiments/personal-cohort.ts does
 * for the type 1 twin (the file, range and errors: personal-cohort-core.ts):
 *
 *   cohort: { twin: glucose-t2d, personal: DIR, draws: 40, offset: 0 }
 *
 * Member i is posterior draw `offset + i` of DIR/twin.json, turned into the person's model with
 * `t2dPersonForTheta(θ, twin.context)` and handed to the env by value (option `person`: the full
 * parameter set and basal state, so workers rebuild it from JSON). The CGM error parameters of a draw
 * play no part in the env (its CGM is the model's interstitial glucose plus the env's own noise option).
 * Training on personal draws is not available for this twin (the env has no per-reset patient pool).
 */
export const PERSONAL_T2D_ENV_IDS: readonly string[] = [T2D_ENV_ID];

export const T2D_TWIN_ADAPTER: PersonalTwinAdapter<T2DTwinFile> = {
  fitCommand: 'twinlab twin fit --twin glucose-t2d --out DIR',
  fileKind: 'type 2 twin file',
  parse: parseT2DTwinFile,
  draws: (twin) => twin.posterior.draws,
  patientId: (twin) => twin.patient.id,
  member(twin, theta, k, name, fail, file): CohortMember {
    const person = t2dPersonForTheta(theta as number[], twin.context);
    if (person === undefined) return fail('personal', noPatientMessage(k, file, theta));
    const natural = t2dNaturalValues(theta as number[]);
    return {
      index: k,
      patientId: name,
      envOptions: { person: { id: name, params: { ...person.params }, basal: { ...person.basal } }, patientId: name },
      covariates: {
        draw: k,
        bodyWeight: person.params.BW,
        fastingGlucose: person.basal.Gb,
        insulinSensitivity: natural.SI,
        betaCell: natural.beta,
        kabsScale: natural.kabsScale,
      },
    };
  },
};

/** A personal type 2 cohort cannot train (see above): the message spec validation gives. */
export const T2D_PERSONAL_TRAINING_MESSAGE =
  'a type 2 personal cohort is for trials only (glucose/t2d-nutrition-v1 has no per-reset patient pool); train on the generated T2D cohort';

export const T2D_PERSONAL_KIND: PersonalCohortKind = {
  twin: 'glucose-t2d',
  envIds: PERSONAL_T2D_ENV_IDS,
  label: 'a type 2 personal cohort',
  patientOptions: ['person', 'patientId', 'patient', 'cohortSeed', 'patientIndex'],
  trainingRefused: T2D_PERSONAL_TRAINING_MESSAGE,
  dataRefused: 'not used by a type 2 personal cohort (no therapy is read from the data); remove it',
  members: (cohort, { baseDir, prefix }) => resolveTwinDraws(T2D_TWIN_ADAPTER, cohort, specPath(cohort.personal, baseDir), fieldFailer(prefix)).members,
};
