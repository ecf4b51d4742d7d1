import { type ZodError, z } from 'zod';
import { datasetFingerprint } from '../datasets/codec.js';
import { LIMITS, STEP_MS } from '../datasets/grid.js';
import { formatIsoTime, parseIsoTime } from '../datasets/time.js';
import { GLUCOSE_STEP_MIN, type GlucoseDataset, slotTimeMs } from '../datasets/types.js';
import { mixtureQuantile } from '../engine/distributions.js';
import { TwinlabError } from '../engine/errors.js';
import { loadDataset } from '../experiments/dataset-store.js';
import type { Store } from '../experiments/store.js';
import type { TwinObservation, TwinRecord } from '../experiments/twin-store.js';
import { zodToTwinlab } from './errors.js';

/**
 * Pieces the twin routes of every kind share (server/twins.ts: type 1 glucose, server/twins-t2d.ts:
 * type 2, server/twins-vancomycin.ts): time formatting, query validation and error naming, the stored
 * dataset of a CGM twin, the fit band's mixture quantile and the posterior-beside-prior panels.
 */

export const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);
export const iso = (ms: number) => formatIsoTime(ms, 0);

/** Posterior draws the fit band is computed from (evenly spaced), bounding the work of `GET …/fit` on long windows. */
export const FIT_BAND_DRAWS = 50;
export const MAX_FORECAST_ORIGINS = 1000;

export const HorizonsParam = z
  .string()
  .regex(/^\d+(,\d+)*$/, 'must be comma-separated minutes, e.g. 30,60,120')
  .transform((s) => s.split(',').map(Number))
  .refine((hs) => hs.every((h) => h > 0 && h % 5 === 0 && h <= 720), 'every horizon must be a multiple of 5 in 5–720 minutes');

export const ForecastQuery = z.strictObject({
  from: z.string().min(1),
  to: z.string().min(1).optional(),
  horizons: HorizonsParam.optional(),
  every: z.coerce.number().int().min(5).max(1440).multipleOf(5).optional(),
});

export function queryTime(value: string, field: string): number {
  const t = parseIsoTime(value);
  if (typeof t === 'string') throw new TwinlabError('INVALID_ARGUMENT', `query.${field} ${t}, got ${JSON.stringify(value)}`, { field: `query.${field}` });
  return t.ms;
}

/** twinning/ words its errors for the CLI (`--from`); the API names the query field. */
export function asQueryError(error: unknown): unknown {
  if (error instanceof TwinlabError && typeof error.details?.field === 'string' && /^--?[a-z]/.test(error.message)) {
    return new TwinlabError(error.code, error.message.replace(/^--([a-z-]+)/, 'query.$1'), { ...error.details, field: `query.${error.details.field}` });
  }
  return error;
}

/** The stored dataset a CGM twin was fitted to (undefined: fitted to a file); CONFLICT when its fingerprint is not the twin's. */
export function storedDataset(store: Store, record: TwinRecord, fingerprint: string): GlucoseDataset | undefined {
  if (record.datasetId === null) return undefined;
  const dataset = loadDataset(store, record.datasetId);
  if (datasetFingerprint(dataset) !== fingerprint) {
    throw new TwinlabError('CONFLICT', `twin "${record.id}" was fitted to other data than dataset ${record.datasetId} holds (fingerprints differ)`);
  }
  return dataset;
}

/** The CGM bands' mixture quantile (engine/distributions.ts mixtureQuantile): a ±6 SD bracket halved to 0.01 mg/dL. */
const BAND_QUANTILE = { spread: 6, tolerance: 0.01, relativeTolerance: 0, maxIterations: Number.POSITIVE_INFINITY };

/**
 * The fit band of a CGM twin over n slots: for up to FIT_BAND_DRAWS posterior draws, evenly spread,
 * the model trajectory m_d (`predict`, skipped when it fails) with the draw's CGM error SD σ_d
 * (`sigmaOf`); per slot k the mean of m_d(k) and the 2.5 / 97.5 % quantiles of the mixture
 * Σ_d N(m_d(k), σ_d²)/D. Shared by the type 1 and type 2 twins' fit routes.
 */
export function posteriorBand(
  n: number,
  draws: readonly number[][],
  predict: (theta: number[], out: Float64Array) => boolean,
  sigmaOf: (theta: number[]) => number,
): { draws: number; mean: Float64Array; lo: Float64Array; hi: Float64Array } {
  const trajectories: { m: Float64Array; sigma: number }[] = [];
  const use = Math.min(draws.length, FIT_BAND_DRAWS);
  for (let j = 0; j < use; j++) {
    const d = draws[Math.floor(((j + 0.5) * draws.length) / use)] as number[];
    const m = new Float64Array(n);
    if (predict(d, m)) trajectories.push({ m, sigma: sigmaOf(d) });
  }
  const D = trajectories.length;
  const mu = new Float64Array(D);
  const sd = new Float64Array(D);
  const mean = new Float64Array(n);
  const lo = new Float64Array(n);
  const hi = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let m = 0;
    trajectories.forEach((tr, i) => {
      mu[i] = tr.m[k] as number;
      sd[i] = tr.sigma;
      m += (tr.m[k] as number) / D;
    });
    mean[k] = m;
    lo[k] = mixtureQuantile(mu, sd, 0.025, BAND_QUANTILE);
    hi[k] = mixtureQuantile(mu, sd, 0.975, BAND_QUANTILE);
  }
  return { draws: D, mean, lo, hi };
}

/** One natural-scale parameter: x = scale·exp(u) ('log') or sigmoid(u) ('logit') of the sampled u with prior N(mean, sd). */
export interface PanelParameter {
  name: string;
  label: string;
  unit: string;
  transform: 'log' | 'logit';
  /** x = scale·exp(u) for 'log' (1 unless the sampled coordinate is a log-ratio to a typical value). */
  scale?: number;
  prior: { mean: number; sd: number };
  map: number;
  draws: number[];
}

/**
 * A parameter's posterior draws on the natural scale beside its prior's density there: the prior is
 * normal on the sampled scale u, so for x = s·exp(u) its density is N(log(x/s); m, sd)/x and for
 * x = sigmoid(u) N(logit x; m, sd)/(x(1 − x)); 80 points over the prior's central 99.8 % and the draws' range.
 */
export function posteriorPanel(p: PanelParameter) {
  const { prior } = p;
  const logit = p.transform === 'logit';
  const s = p.scale ?? 1;
  const toNat = (u: number) => (logit ? 1 / (1 + Math.exp(-u)) : s * Math.exp(u));
  let lo = Math.min(toNat(prior.mean - 3.1 * prior.sd), ...p.draws);
  let hi = Math.max(toNat(prior.mean + 3.1 * prior.sd), ...p.draws);
  if (!(hi > lo)) [lo, hi] = [lo * 0.9, hi * 1.1];
  const priorDensity = Array.from({ length: 80 }, (_, j) => {
    const x = lo + ((hi - lo) * (j + 0.5)) / 80;
    const u = logit ? Math.log(x / (1 - x)) : Math.log(x / s);
    const jac = logit ? x * (1 - x) : x;
    const z = (u - prior.mean) / prior.sd;
    return { x, density: Math.exp(-0.5 * z * z) / (prior.sd * Math.sqrt(2 * Math.PI) * jac) };
  });
  return { name: p.name, label: p.label, unit: p.unit, transform: p.transform, prior, map: p.map, draws: p.draws, priorDensity };
}

/** Rows one POST may carry (one week of 5-min slots). */
export const MAX_OBSERVATION_ROWS = 2016;
/** A row may lie at most this far after the one before it (or the twin's end): a wrong year would otherwise allocate centuries of slots. */
export const MAX_GAP_DAYS = 7;

export function rowError(i: number, field: string, message: string): TwinlabError {
  return new TwinlabError('INVALID_ARGUMENT', `body.rows.${i}.${field}: ${message}`, { row: i, field });
}

/** A zod failure of a `{ rows: [...] }` body as one error naming the row and the field (an unknown key by its own name, not its object's). */
export function rowsZodError(error: ZodError): TwinlabError {
  const base = zodToTwinlab(error, 'body');
  const first = error.issues[0];
  const keys = first && 'keys' in first ? (first.keys as string[]) : [];
  const row = first?.path[0] === 'rows' && typeof first.path[1] === 'number' ? first.path[1] : undefined;
  const field = keys.length > 0 ? keys.join(', ') : first?.path.slice(2).map(String).join('.');
  return new TwinlabError('INVALID_ARGUMENT', base.message, { ...base.details, ...(row !== undefined ? { row } : {}), ...(field ? { field } : {}) });
}

/** `data` extended by `rows` (each strictly after its end, in order; gaps: missing CGM, the last basal, nothing else). */
export function extendDataset(data: GlucoseDataset | undefined, rows: readonly TwinObservation[], patientId: string): GlucoseDataset {
  const first = rows[0] as TwinObservation;
  const startMs = data?.startMs ?? first.timeMs;
  const old = data?.cgm.length ?? 0;
  let end = data === undefined ? first.timeMs - STEP_MS : slotTimeMs(data, old - 1);
  rows.forEach((r, i) => {
    if (r.timeMs <= end) {
      const what = i > 0 && r.timeMs <= (rows[i - 1] as TwinObservation).timeMs ? `rows must be in time order, strictly after row ${i - 1} (${iso((rows[i - 1] as TwinObservation).timeMs)})` : `must be after the twin's last slot ${iso(end)}`;
      throw rowError(i, 'time', `${iso(r.timeMs)}: ${what}`);
    }
    if (r.timeMs - end > MAX_GAP_DAYS * 86_400_000 && (i > 0 || data !== undefined)) {
      throw rowError(i, 'time', `${iso(r.timeMs)} is more than ${MAX_GAP_DAYS} days after ${i > 0 ? `row ${i - 1}` : "the twin's last slot"} (${iso(end)})`);
    }
    end = r.timeMs;
  });
  const n = Math.round((end - startMs) / STEP_MS) + 1;
  if (n > LIMITS.maxDays * 288) throw rowError(rows.length - 1, 'time', `the twin's data would span more than ${LIMITS.maxDays} days`);
  const grow = (a: Float64Array | undefined, fill: number) => {
    const out = new Float64Array(n).fill(fill);
    if (a) out.set(a);
    return out;
  };
  const next: GlucoseDataset = {
    ...(data ?? { kind: 'glucose', patientId, stepMin: GLUCOSE_STEP_MIN, warnings: [] }),
    startMs,
    cgm: grow(data?.cgm, Number.NaN),
    basalUPerH: grow(data?.basalUPerH, 0),
    bolusU: grow(data?.bolusU, 0),
    carbsG: grow(data?.carbsG, 0),
  };
  let k = old;
  let basal = old > 0 ? (next.basalUPerH[old - 1] as number) : first.basalUPerH;
  for (const r of rows) {
    const slot = Math.round((r.timeMs - startMs) / STEP_MS);
    for (; k < slot; k++) next.basalUPerH[k] = basal;
    next.cgm[slot] = r.cgm;
    next.basalUPerH[slot] = r.basalUPerH;
    next.bolusU[slot] = r.bolusU;
    next.carbsG[slot] = r.carbsG;
    basal = r.basalUPerH;
    k = slot + 1;
  }
  return next;
}


/** Live sessions kept in memory per kind; the least recently used is dropped (and rebuilt from the store on demand). */
export const MAX_SESSIONS = 32;

/** `map.get(key)` moved to the most recently used end, or undefined. */
export function touch<V>(map: Map<string, V>, key: string): V | undefined {
  const v = map.get(key);
  if (v !== undefined) {
    map.delete(key);
    map.set(key, v);
  }
  return v;
}

/** `map.set(key, value)`, then the least recently used entries beyond MAX_SESSIONS dropped. */
export function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > MAX_SESSIONS) map.delete(map.keys().next().value as string);
}
