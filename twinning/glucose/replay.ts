import { type GlucoseDataset, slotTimeMs } from '../../datasets/types.js';
import { TwinlabError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';
import { timeAbove180, timeBelow54, timeBelow70, timeInRange, meanGlucose } from '../../environments/glucose/endpoints.js';
import { steadyStateStart } from './data-rules.js';
import { GlucoseParticleFilter } from './filter.js';
import { type BandPoint, forecastAt, type ForecastPoint, GlucoseProjector } from './forecast.js';
import { applyTherapy, type Therapy, NO_CHANGE } from './therapy.js';
import type { GlucoseTwinFile } from './twin-file.js';

/**
 * A filter for `twin` over `data`, started at the data's first steady-state slot (a CGM reading ≥ 4 h
 * after any meal or bolus, data-rules.ts) at or before `beforeSlot`. Data that has none — a file that
 * opens in the middle of a meal — starts at its first CGM reading with the stomach taken as empty, and
 * `onWarning` says so: the filter then corrects the state from the readings that follow.
 */
export function livingProfile(
  twin: GlucoseTwinFile,
  data: GlucoseDataset,
  seed: number,
  beforeSlot: number,
  onWarning: (message: string) => void = () => {},
): GlucoseParticleFilter {
  const start = profileStart(data, beforeSlot, onWarning);
  return new GlucoseParticleFilter(
    { ctx: twin.context, draws: twin.posterior.draws, processNoise: twin.filter.processNoise, carbCountSd: twin.parameters.carbCountSd },
    data,
    start,
    twin.filter.particles,
    Rng.fromSeed(seed).fork('living-profile'),
  );
}

/**
 * Where a living profile starts (any CGM twin): the data's first steady-state slot (a CGM reading ≥ 4 h
 * after any meal or bolus, data-rules.ts) at or before `beforeSlot`, else — a file that opens in the
 * middle of a meal — its first CGM reading, with a warning saying so; no reading at all is an error
 * naming `from`.
 */
export function profileStart(data: GlucoseDataset, beforeSlot: number, onWarning: (message: string) => void = () => {}): number {
  let start = steadyStateStart(data, beforeSlot + 1);
  if (start >= 0) return start;
  for (let k = 0; k <= beforeSlot && start < 0; k++) if (Number.isFinite(data.cgm[k] as number)) start = k;
  if (start < 0) {
    throw new TwinlabError(
      'INVALID_ARGUMENT',
      `--from: the data has no CGM reading at or before ${new Date(slotTimeMs(data, beforeSlot)).toISOString()} to start the twin's state from`,
      {
        field: 'from',
      },
    );
  }
  onWarning(
    `no steady-state start (a CGM reading ≥ 4 h after a meal or bolus) before --from; the twin's state starts at the first reading, ${new Date(slotTimeMs(data, start)).toISOString()}, as if nothing had been eaten or injected before it`,
  );
  return start;
}

/** The slot of a time in `data` (must lie on or after its start); rounds down to the grid. */
export function slotAt(data: GlucoseDataset, ms: number, field: string): number {
  const k = Math.floor((ms - data.startMs) / (data.stepMin * 60_000));
  if (!(k >= 0 && k < data.cgm.length)) {
    throw new TwinlabError(
      'INVALID_ARGUMENT',
      `--${field} ${new Date(ms).toISOString()} is outside the data (${new Date(data.startMs).toISOString()} to ${new Date(slotTimeMs(data, data.cgm.length)).toISOString()})`,
      { field },
    );
  }
  return k;
}

export interface ForecastRow extends ForecastPoint {
  originMs: number;
}

/**
 * Forecasts at every origin from `fromMs` to the end of `data`, every `everyMin` minutes: the living
 * profile assimilates readings up to each origin and never past it (forecast.ts).
 */
export function forecastSeries(
  twin: GlucoseTwinFile,
  data: GlucoseDataset,
  fromMs: number,
  horizonsMin: number[],
  everyMin: number,
  seed: number,
  onRow: (row: ForecastRow) => void,
  onWarning?: (message: string) => void,
): void {
  const first = slotAt(data, fromMs, 'from');
  const filter = livingProfile(twin, data, seed, first, onWarning);
  const projector = new GlucoseProjector();
  const stride = Math.max(1, Math.round(everyMin / data.stepMin));
  const root = Rng.fromSeed(seed).fork('forecast');
  for (let k = first; k < data.cgm.length; k += stride) {
    filter.advanceTo(k);
    for (const p of forecastAt(filter, projector, horizonsMin, root.fork(`origin/${k}`))) onRow({ originMs: slotTimeMs(data, k), ...p });
  }
}

export interface ReplayResult {
  rows: Array<{ timeMs: number } & BandPoint>;
  /** Consensus endpoints of the replayed days: mean and 95 % interval over the particles. */
  endpoints: Record<string, { mean: number; lo: number; hi: number; unit: string }>;
}

/** Endpoints of a what-if replay, computed per particle on model glucose (any CGM twin's replay). */
export const REPLAY_ENDPOINTS = [
  { name: 'time_in_range_70_180', unit: '%', f: timeInRange },
  { name: 'time_below_70', unit: '%', f: timeBelow70 },
  { name: 'time_below_54', unit: '%', f: timeBelow54 },
  { name: 'time_above_180', unit: '%', f: timeAbove180 },
  { name: 'mean_glucose', unit: 'mg/dL', f: meanGlucose },
] as const;

/**
 * What-if replay: the twin's state at `fromMs` (filtered on data up to it), then the recorded basal,
 * boluses and carbohydrate after it — changed by `therapy` — with its CGM after `fromMs` ignored.
 * One row per 5 minutes after the origin; endpoints over the replayed span per particle.
 */
export function replay(
  twin: GlucoseTwinFile,
  data: GlucoseDataset,
  fromMs: number,
  therapy: Therapy = NO_CHANGE,
  seed = twin.seed,
  onWarning?: (message: string) => void,
): ReplayResult {
  const origin = slotAt(data, fromMs, 'from');
  const filter = livingProfile(twin, data, seed, origin, onWarning);
  filter.advanceTo(origin);
  const inputs = applyTherapy(data, origin, data.cgm.length, therapy);
  const slots = data.cgm.length - 1 - origin;
  const projector = new GlucoseProjector();
  const rows: ReplayResult['rows'] = [];
  const perParticle = Array.from({ length: filter.n }, () => new Float64Array(slots));
  projector.project(
    filter,
    slots,
    (s) => ({ insulin: (inputs.basalUPerH[s - 1] as number) / 60 + (inputs.bolusU[s - 1] as number) / 5, carbs: inputs.carbsG[s - 1] as number }),
    Rng.fromSeed(seed).fork('replay'),
    (s) => {
      rows.push({ timeMs: slotTimeMs(data, origin + s), ...projector.band() });
      // the model's guards stop glucose at 0; endpoints need a positive value (anything below 1 mg/dL is counted as < 54 either way)
      for (let i = 0; i < filter.n; i++) (perParticle[i] as Float64Array)[s - 1] = Math.max(1, projector.particleGlucose(i));
    },
  );
  const endpoints: ReplayResult['endpoints'] = {};
  for (const e of REPLAY_ENDPOINTS) {
    const values = perParticle.map((g) => e.f(g));
    endpoints[e.name] = { ...weightedSummary(values, filter.weights), unit: e.unit };
  }
  return { rows, endpoints };
}

/** Weighted mean and 2.5/97.5 % weighted quantiles of per-particle values (non-finite values skipped). */
export function weightedSummary(values: number[], weights: ArrayLike<number>): { mean: number; lo: number; hi: number } {
  const idx = values
    .map((_, i) => i)
    .filter((i) => Number.isFinite(values[i] as number))
    .sort((a, b) => (values[a] as number) - (values[b] as number));
  const total = idx.reduce((s, i) => s + (weights[i] as number), 0);
  let mean = 0;
  for (const i of idx) mean += ((weights[i] as number) * (values[i] as number)) / total;
  const q = (p: number) => {
    let c = 0;
    for (const i of idx) {
      c += (weights[i] as number) / total;
      if (c >= p) return values[i] as number;
    }
    return values[idx[idx.length - 1] as number] as number;
  };
  return { mean, lo: q(0.025), hi: q(0.975) };
}
