import { z } from 'zod';
import { jsonFileText, parseJsonFile } from '../json-file.js';
import { T2D_TWIN_PARAMETERS } from './parameters.js';

/**
 * `twin.json` of a personal type 2 diabetes twin. Deterministic: no wall-clock time or host, so the
 * same (data, options, seed, code version) gives the same bytes. Versioned by `format`.
 */
export const T2D_TWIN_FORMAT = 'twinlab.t2d-twin/1';

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

export const t2dTwinFileSchema = z.object({
  format: z.literal(T2D_TWIN_FORMAT),
  twin: z.literal('glucose-t2d'),
  codeVersion: z.string(),
  seed: z.number().int().min(0),
  method: z.enum(['map', 'mcmc']),
  patient: z.object({ id: z.string(), bodyWeightKg: finite.positive() }),
  context: z.object({ bodyWeightKg: finite.positive(), mealGi: finite.min(1).max(150) }),
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
    names: z.array(z.enum(T2D_TWIN_PARAMETERS)).length(T2D_TWIN_PARAMETERS.length),
    priors: z.array(prior).length(T2D_TWIN_PARAMETERS.length),
    carbCountSd: finite.min(0).max(1),
  }),
  map: z.object({ theta: z.array(finite), logPosterior: finite, evaluations: z.number().int(), perStart: z.array(z.number()) }),
  posterior: z.object({
    draws: z.array(z.array(finite).length(T2D_TWIN_PARAMETERS.length)).min(1),
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

export type T2DTwinFile = z.infer<typeof t2dTwinFileSchema>;

export function parseT2DTwinFile(text: string, file: string): T2DTwinFile {
  return parseJsonFile(t2dTwinFileSchema, text, file);
}

export function t2dTwinFileText(twin: T2DTwinFile): string {
  return jsonFileText(twin);
}
