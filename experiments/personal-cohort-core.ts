import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { describeValue, TwinlabError } from '../engine/errors.js';
import type { CohortMember } from '../engine/twin.js';

/**
 * What every personal cohort shares, whatever the twin (experiments/personal-cohort.ts dispatches on
 * `cohort.twin` to a `PersonalCohortKind`): find DIR/twin.json, parse it with the twin's own schema,
 * check that draws offset … offset + draws − 1 exist, and turn each draw into a cohort member with the
 * twin's adapter. Errors are one TwinlabError('INVALID_SPEC') naming the field (`cohort.personal`,
 * `cohort.draws`, …), with the file in the message.
 *
 * Twins: glucose (type 1, personal-cohort.ts), glucose-t2d (personal-cohort-t2d.ts), vancomycin
 * (personal-cohort-vancomycin.ts).
 */

/** Throws the spec error of one field (`<prefix>.<field>`). */
export type FieldFail = (field: string, message: string) => never;

export function fieldFailer(prefix = 'cohort'): FieldFail {
  return (field, message) => {
    throw new TwinlabError('INVALID_SPEC', `invalid experiment spec:\n  - ${prefix}.${field}: ${message}`, { errors: [{ path: `${prefix}.${field}`, message }] });
  };
}

/** Absolute path of a spec path (relative paths against the spec file's directory). */
export function specPath(path: string, baseDir: string | undefined): string {
  return isAbsolute(path) ? path : resolve(baseDir ?? process.cwd(), path);
}

/** The draws a personal cohort asks for: `draws` of them from `offset` (file order). */
export interface PersonalCohortRange {
  personal: string;
  draws: number;
  offset: number;
  data?: string;
}

/** How one twin's file is read and its draws become patients. */
export interface PersonalTwinAdapter<F> {
  /** The command that makes the file (said when it is missing). */
  fitCommand: string;
  /** What the file is, in a parse error: "twin file", "type 2 twin file", … */
  fileKind: string;
  parse(text: string, file: string): F;
  draws(twin: F): readonly (readonly number[])[];
  patientId(twin: F): string;
  /** Member for posterior draw k (θ) named `name`; `fail` for a draw that gives no patient. */
  member(twin: F, theta: readonly number[], k: number, name: string, fail: FieldFail, file: string): CohortMember;
}

export interface ResolvedTwin<F> {
  /** Absolute path of twin.json. */
  file: string;
  twin: F;
  members: CohortMember[];
}

/** Read `dir` (a twin directory or its twin.json) with the adapter's schema and check that the asked draws exist. */
export function readTwinFile<F>(adapter: PersonalTwinAdapter<F>, cohort: PersonalCohortRange, dir: string, fail: FieldFail): { file: string; twin: F } {
  const file = existsSync(dir) && statSync(dir).isFile() ? dir : join(dir, 'twin.json');
  if (!existsSync(file)) fail('personal', `no twin file ${file} (make one with ${adapter.fitCommand})`);
  let twin: F;
  try {
    twin = adapter.parse(readFileSync(file, 'utf8'), file);
  } catch (error) {
    return fail('personal', `invalid ${adapter.fileKind}: ${(error as Error).message}`);
  }
  const available = adapter.draws(twin).length;
  if (cohort.offset + cohort.draws > available) {
    fail(
      'draws',
      `draws ${cohort.offset}–${cohort.offset + cohort.draws - 1} asked for, but ${file} holds ${available} posterior draw${available === 1 ? '' : 's'} (got draws ${cohort.draws}${cohort.offset > 0 ? `, offset ${cohort.offset}` : ''})`,
    );
  }
  return { file, twin };
}

/** Members of draws offset … offset + draws − 1, named `<patient id>#draw-<k>`. */
export function drawMembers<F>(adapter: PersonalTwinAdapter<F>, source: { file: string; twin: F }, cohort: PersonalCohortRange, fail: FieldFail): CohortMember[] {
  const draws = adapter.draws(source.twin);
  const members: CohortMember[] = [];
  for (let i = 0; i < cohort.draws; i++) {
    const k = cohort.offset + i;
    members.push(adapter.member(source.twin, draws[k] as number[], k, `${adapter.patientId(source.twin)}#draw-${k}`, fail, source.file));
  }
  return members;
}

/** `readTwinFile` then `drawMembers`. */
export function resolveTwinDraws<F>(adapter: PersonalTwinAdapter<F>, cohort: PersonalCohortRange, dir: string, fail: FieldFail): ResolvedTwin<F> {
  const source = readTwinFile(adapter, cohort, dir, fail);
  return { ...source, members: drawMembers(adapter, source, cohort, fail) };
}

/** The message of a draw that gives no patient. */
export function noPatientMessage(k: number, file: string, theta: readonly number[], why = 'gives no physiological steady state'): string {
  return `posterior draw ${k} of ${file} ${why} (${describeValue(theta)})`;
}

/** One twin's personal cohorts: the envs they run on, training, the data file, members. */
export interface PersonalCohortKind {
  /** The cohort's `twin` value. */
  twin: string;
  /** Envs its members run on (the first is the default of a training spec's check message). */
  envIds: readonly string[];
  /** "a personal glucose cohort", for the env message. */
  label: string;
  /** Env options the cohort sets (a training spec's `envOptions` may not set them too). */
  patientOptions: readonly string[];
  /** Why a training spec is refused (undefined: it may train, with `trainingEnvOptions`). */
  trainingRefused?: string;
  /** Why `data` is refused (undefined: the kind reads it). */
  dataRefused?: string;
  /** The members; paths relative to `baseDir`; errors name `<prefix>.<field>` (prefix default `cohort`). */
  members(cohort: PersonalCohortRange, options: { baseDir?: string; prefix?: string }): CohortMember[];
  /** The env options a training job gets: the draws as the env's per-reset patient pool. */
  trainingEnvOptions?(members: CohortMember[]): Record<string, unknown>;
}
