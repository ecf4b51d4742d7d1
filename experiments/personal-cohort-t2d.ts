import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeValue, TwinlabError } from '../engine/errors.js';
import type { CohortMember } from '../engine/twin.js';
import { T2D_ENV_ID } from '../environments/glucose-t2d/env.js';
import { t2dNaturalValues, t2dPersonForTheta } from '../twinning/glucose-t2d/parameters.js';
import { parseT2DTwinFile, type T2DTwinFile } from '../twinning/glucose-t2d/twin-file.js';

/**
 * Personal cohorts of a type 2 twin (twinning/glucose-t2d): the posterior draws of one person's fitted
 * twin as the patients of a trial on `glucose/t2d-nutrition-v1`, as experiments/personal-cohort.ts does
 * for the type 1 twin:
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

export interface ResolvedT2DPersonalCohort {
  file: string;
  twin: T2DTwinFile;
  members: CohortMember[];
}

export function resolveT2DPersonalCohort(
  cohort: { personal: string; draws: number; offset: number },
  dir: string,
  fail: (field: string, message: string) => never,
): ResolvedT2DPersonalCohort {
  const file = existsSync(dir) && statSync(dir).isFile() ? dir : join(dir, 'twin.json');
  if (!existsSync(file)) fail('personal', `no twin file ${file} (make one with twinlab twin fit --twin glucose-t2d --out DIR)`);
  let twin: T2DTwinFile;
  try {
    twin = parseT2DTwinFile(readFileSync(file, 'utf8'), file);
  } catch (error) {
    return fail('personal', `invalid type 2 twin file: ${(error as Error).message}`);
  }
  const available = twin.posterior.draws.length;
  if (cohort.offset + cohort.draws > available) {
    fail(
      'draws',
      `draws ${cohort.offset}–${cohort.offset + cohort.draws - 1} asked for, but ${file} holds ${available} posterior draw${available === 1 ? '' : 's'} (got draws ${cohort.draws}${cohort.offset > 0 ? `, offset ${cohort.offset}` : ''})`,
    );
  }
  const members: CohortMember[] = [];
  for (let i = 0; i < cohort.draws; i++) {
    const k = cohort.offset + i;
    const theta = twin.posterior.draws[k] as number[];
    const name = `${twin.patient.id}#draw-${k}`;
    const person = t2dPersonForTheta(theta, twin.context);
    if (person === undefined) fail('personal', `posterior draw ${k} of ${file} gives no physiological steady state (${describeValue(theta)})`);
    const p = person as NonNullable<typeof person>;
    const natural = t2dNaturalValues(theta);
    members.push({
      index: k,
      patientId: name,
      envOptions: { person: { id: name, params: { ...p.params }, basal: { ...p.basal } }, patientId: name },
      covariates: {
        draw: k,
        bodyWeight: p.params.BW,
        fastingGlucose: p.basal.Gb,
        insulinSensitivity: natural.SI,
        betaCell: natural.beta,
        kabsScale: natural.kabsScale,
      },
    });
  }
  return { file, twin, members };
}

/** A personal type 2 cohort cannot train (see above): the message spec validation gives. */
export const T2D_PERSONAL_TRAINING_MESSAGE =
  'a type 2 personal cohort is for trials only (glucose/t2d-nutrition-v1 has no per-reset patient pool); train on the generated T2D cohort';

export { TwinlabError };
