import { z } from 'zod';
import { VANCO_TWIN_PARAMETERS } from './parameters.js';
import { jsonFileText, parseJsonFile } from '../json-file.js';

/**
 * `twin.json` of a personal vancomycin twin. Deterministic: no wall-clock time, so the same (data,
 * covariates, options, seed, code version) gives the same bytes.
 */
export const VANCO_TWIN_FORMAT = 'twinlab.vancomycin-twin/1';

const finite = z.number().finite();
const interval = z.object({ mean: finite, lo: finite, hi: finite });
const summaryRow = z.object({ name: z.string(), unit: z.string(), map: finite, mean: finite, sd: finite, q025: finite, q50: finite, q975: finite });

export const vancoTwinFileSchema = z.object({
  format: z.literal(VANCO_TWIN_FORMAT),
  twin: z.literal('vancomycin'),
  codeVersion: z.string(),
  seed: z.number().int().min(0),
  method: z.enum(['map', 'mcmc']),
  patient: z.object({ id: z.string() }),
  covariates: z.object({
    ageYears: finite,
    sex: z.enum(['F', 'M']),
    bodyWeightKg: finite.positive(),
    scrMgDl: finite.positive(),
    dialysis: z.boolean(),
    crclMlMin: finite.min(0),
  }),
  model: z.object({
    name: z.string(),
    typical: z.object({ cl: finite, v1: finite, v2: finite, q: finite }),
    residual: z.object({ proportional: finite, additiveMgL: finite }),
  }),
  parameters: z.object({
    names: z.array(z.enum(VANCO_TWIN_PARAMETERS)).length(VANCO_TWIN_PARAMETERS.length),
    priors: z.array(z.object({ mean: finite, sd: finite.positive() })),
  }),
  data: z.object({
    fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
    /** Fingerprint of what the posterior is conditioned on (levels used and the doses before them). */
    conditioning: z.string().regex(/^[0-9a-f]{64}$/),
    origin: z.string(),
    until: z.string().nullable(),
    doses: z.number().int(),
    levels: z.number().int(),
    levelsUsed: z.number().int(),
    notes: z.array(z.string()),
  }),
  sampler: z.object({ walkers: z.number().int(), steps: z.number().int(), burn: z.number().int(), draws: z.number().int() }),
  map: z.object({ theta: z.array(finite), logPosterior: finite, evaluations: z.number().int() }),
  posterior: z.object({
    draws: z.array(z.array(finite)).min(1),
    summary: z.array(summaryRow),
    diagnostics: z
      .object({ acceptance: finite, rhat: z.array(z.number()), ess: z.array(z.number()), ok: z.boolean(), warnings: z.array(z.string()) })
      .optional(),
  }),
  regimen: z.object({ amountMg: finite, intervalH: finite, durationH: finite, source: z.string() }),
  auc24: interval,
  trough: interval,
  fit: z.object({ levels: z.array(z.object({ time: z.string(), observed: finite, predicted: finite })) }),
});

export type VancoTwinFile = z.infer<typeof vancoTwinFileSchema>;

export function parseVancoTwinFile(text: string, file: string): VancoTwinFile {
  return parseJsonFile(vancoTwinFileSchema, text, file);
}

export function vancoTwinFileText(twin: VancoTwinFile): string {
  return jsonFileText(twin);
}
