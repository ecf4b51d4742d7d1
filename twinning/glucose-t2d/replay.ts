import { type GlucoseDataset, slotTimeMs } from '../../datasets/types.js';
import { Rng } from '../../engine/random.js';
import { absorptionForGi } from '../../environments/glucose-t2d/foods.js';
import type { ForecastPoint } from '../glucose/forecast.js';
import { type ForecastRow, profileStart, REPLAY_ENDPOINTS, type ReplayResult, slotAt, weightedSummary } from '../glucose/replay.js';
import { T2DParticleFilter } from './filter.js';
import { applyT2DWhatIf, type T2DWhatIf } from './therapy.js';
import type { T2DTwinFile } from './twin-file.js';

/**
 * Forecasts and what-if replays of a personal type 2 twin, as the type 1 twin's (twinning/glucose/
 * replay.ts): the living profile starts at the data's first steady-state slot at or before the origin
 * and assimilates readings up to it, never past it.
 */
export function t2dLivingProfile(
  twin: T2DTwinFile,
  data: GlucoseDataset,
  seed: number,
  beforeSlot: number,
  onWarning: (m: string) => void = () => {},
): T2DParticleFilter {
  const start = profileStart(data, beforeSlot, onWarning);
  return new T2DParticleFilter(
    { ctx: twin.context, draws: twin.posterior.draws, processNoise: twin.filter.processNoise, carbCountSd: twin.parameters.carbCountSd },
    data,
    start,
    twin.filter.particles,
    Rng.fromSeed(seed).fork('living-profile'),
  );
}

/**
 * CGM forecasts at `horizonsMin` from the filter's current slot, from data at or before it only: the
 * meal logged at the origin (at the twin's meal GI), nothing after it.
 */
export function t2dForecastAt(filter: T2DParticleFilter, horizonsMin: readonly number[], rng: Rng): ForecastPoint[] {
  const origin = filter.slot;
  const data = filter.data;
  const carbs = origin < data.cgm.length ? (data.carbsG[origin] as number) : 0;
  const slots = Math.max(...horizonsMin.map((h) => Math.round(h / 5)));
  const wanted = new Set(horizonsMin.map((h) => Math.round(h / 5)));
  const bySlot = new Map<number, ForecastPoint>();
  filter.project(
    slots,
    (s) => (s === 1 ? { carbs, absorption: filter.loggedAbsorption } : { carbs: 0, absorption: filter.loggedAbsorption }),
    rng,
    (s, view) => {
      if (wanted.has(s)) bySlot.set(s, { horizonMin: 5 * s, ...view.band() });
    },
  );
  return horizonsMin.map((h) => ({ ...(bySlot.get(Math.round(h / 5)) as ForecastPoint), horizonMin: h }));
}

export function t2dForecastSeries(
  twin: T2DTwinFile,
  data: GlucoseDataset,
  fromMs: number,
  horizonsMin: number[],
  everyMin: number,
  seed: number,
  onRow: (row: ForecastRow) => void,
  onWarning?: (m: string) => void,
): void {
  const first = slotAt(data, fromMs, 'from');
  const filter = t2dLivingProfile(twin, data, seed, first, onWarning);
  const stride = Math.max(1, Math.round(everyMin / data.stepMin));
  const root = Rng.fromSeed(seed).fork('forecast');
  for (let k = first; k < data.cgm.length; k += stride) {
    filter.advanceTo(k);
    for (const p of t2dForecastAt(filter, horizonsMin, root.fork(`origin/${k}`))) onRow({ originMs: slotTimeMs(data, k), ...p });
  }
}

/**
 * What-if replay: the twin's state at `fromMs`, then the logged meals after it as `whatIf` changes
 * them, CGM after `fromMs` ignored; rows every 5 min and endpoints per particle on model glucose with
 * 95 % intervals (the type 1 replay's endpoints).
 */
export function t2dReplay(
  twin: T2DTwinFile,
  data: GlucoseDataset,
  fromMs: number,
  whatIf: T2DWhatIf,
  seed = twin.seed,
  onWarning?: (m: string) => void,
): ReplayResult {
  const origin = slotAt(data, fromMs, 'from');
  const swapSlots = whatIf.swaps.map((s) => Math.floor((s.timeMs - data.startMs) / (data.stepMin * 60_000)));
  const meals = applyT2DWhatIf(data.carbsG, origin, data.cgm.length, twin.context.mealGi, whatIf, swapSlots);
  const filter = t2dLivingProfile(twin, data, seed, origin, onWarning);
  filter.advanceTo(origin);
  const slots = data.cgm.length - 1 - origin;
  const rows: ReplayResult['rows'] = [];
  const perParticle = Array.from({ length: filter.n }, () => new Float64Array(slots));
  filter.project(
    slots,
    (s) => {
      const c = meals.carbsG[s - 1] as number;
      return { carbs: c, absorption: c > 0 ? absorptionForGi(meals.gi[s - 1] as number) : filter.loggedAbsorption };
    },
    Rng.fromSeed(seed).fork('replay'),
    (s, view) => {
      rows.push({ timeMs: slotTimeMs(data, origin + s), ...view.band() });
      for (let i = 0; i < filter.n; i++) (perParticle[i] as Float64Array)[s - 1] = Math.max(1, view.particleGlucose(i));
    },
  );
  const endpoints: ReplayResult['endpoints'] = {};
  for (const e of REPLAY_ENDPOINTS) {
    endpoints[e.name] = {
      ...weightedSummary(
        perParticle.map((g) => e.f(g)),
        filter.weights,
      ),
      unit: e.unit,
    };
  }
  return { rows, endpoints };
}
