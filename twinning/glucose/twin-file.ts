import { z } from 'zod';
import { GLUCOSE_TWIN_PARAMETERS } from './parameters.js';
import { jsonFileText, parseJsonFile } from '../json-file.js';

/**
 * `twin.json`, the saved personal glucose twin. Deterministic: no wall-clock time or host in it, so
 * the same (data, options, seed, code version) gives the same bytes; the store records when it was
 * made. Versioned by `format`.
 */
export const TWIN_FORMAT = 'twinlab.twin/1';

const finite = z.number().finite();
const prior = z.object({ mean: finite, sd: finite.positive() });
const summaryRow = z.object({
  name: z.string(),
  unit: z.string(),
  label: z.string(),
  mean: finite,
  sd: finite,
  q05: finite,
  q50: finite,
  q95: finite,
  map: finite,
});

export const glucoseTwinFileSchema = z.object({
  format: z.literal(TWIN_FORMAT),
  twin: z.literal('glucose'),
  codeVersion: z.string(),
  seed: z.number().int().min(0),
  method: z.enum(['map', 'mcmc']),
  patient: z.object({ id: z.string(), bodyWeightKg: finite.positive() }),
  context: z.object({ group: z.enum(['adult', 'adolescent', 'child']), bodyWeightKg: finite.positive(), basalUPerH: finite.positive() }),
  data: z.object({
    fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
    start: z.string(),
    end: z.string(),
    windowStart: z.string(),
    windowEnd: z.string(),
    usableReadings: z.number().int(),
    rules: z.array(z.string()),
  }),
  parameters: z.object({
    names: z.array(z.enum(GLUCOSE_TWIN_PARAMETERS)).length(GLUCOSE_TWIN_PARAMETERS.length),
    priors: z.array(prior),
    /** σ_c of the carb-counting error in the likelihood and filter; twins fitted before it existed had none (0). */
    carbCountSd: finite.min(0).max(1).default(0),
  }),
  map: z.object({ theta: z.array(finite), logPosterior: finite, evaluations: z.number().int(), perStart: z.array(z.number()) }),
  posterior: z.object({
    draws: z.array(z.array(finite)).min(1),
    summary: z.array(summaryRow),
    diagnostics: z
      .object({
        walkers: z.number().int(),
        steps: z.number().int(),
        burn: z.number().int(),
        acceptance: finite,
        rhat: z.array(z.number()),
        ess: z.array(z.number()),
        ok: z.boolean(),
        warnings: z.array(z.string()),
      })
      .optional(),
  }),
  filter: z.object({
    particles: z.number().int().min(1),
    processNoise: z.object({ glucose: finite.min(0), insulinSensitivity: finite.min(0) }),
    calibration: z.array(z.object({ glucose: finite, coverage60: finite })),
  }),
  fit: z.object({ rmse: finite, mard: finite, readings: z.number().int() }),
});

export type GlucoseTwinFile = z.infer<typeof glucoseTwinFileSchema>;

/** Parse and validate a twin.json text; errors name the file and the field. */
export function parseTwinFile(text: string, file: string): GlucoseTwinFile {
  return parseJsonFile(glucoseTwinFileSchema, text, file);
}

/** Canonical text of a twin file (2-space JSON, trailing newline). */
export function twinFileText(twin: GlucoseTwinFile): string {
  return jsonFileText(twin);
}
