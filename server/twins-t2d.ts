import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { STEP_MS } from '../datasets/grid.js';
import { parseIsoTime } from '../datasets/time.js';
import { GLUCOSE_STEP_MIN, type GlucoseDataset, slotTimeMs } from '../datasets/types.js';
import { TwinlabError } from '../engine/errors.js';
import { Rng } from '../engine/random.js';
import type { Store } from '../experiments/store.js';
import type { TwinRecord } from '../experiments/twin-store.js';
import { predictT2DWindow, prepareT2DFitData } from '../twinning/glucose-t2d/likelihood.js';
import { T2D_NATURAL_PARAMETERS, t2dNaturalValues } from '../twinning/glucose-t2d/parameters.js';
import { t2dForecastAt, t2dLivingProfile, t2dReplay } from '../twinning/glucose-t2d/replay.js';
import { parseSwap, parseT2DTherapy } from '../twinning/glucose-t2d/therapy.js';
import { parseT2DTwinFile, type T2DTwinFile } from '../twinning/glucose-t2d/twin-file.js';
import { zodToTwinlab } from './errors.js';
import {
  asQueryError,
  FIT_BAND_DRAWS,
  ForecastQuery,
  finiteOrNull,
  iso,
  MAX_FORECAST_ORIGINS,
  mixtureQuantile,
  posteriorPanel,
  queryTime,
  storedDataset,
} from './twin-common.js';

/**
 * Stored personal type 2 diabetes twins (`twin fit --twin glucose-t2d`, twinning/glucose-t2d/) over
 * HTTP: summary, data against the fit with its posterior band, posteriors beside priors, forecasts
 * and what-if replays by the CLI's grammar (`therapy` = `--therapy`, `swap` = `--swap`, repeatable).
 * Every number comes from twinning/glucose-t2d with the streams the CLI uses, so a route's rows equal
 * `twinlab twin forecast|replay --twin DIR` on the same data. The data is the stored dataset the twin
 * was fitted to; live recalibration (POST observations) is for type 1 twins only (server/twins.ts).
 */
const ReplayQuery = z.strictObject({
  from: z.string().min(1),
  therapy: z.string().max(200).optional(),
  swap: z.union([z.string().max(200), z.array(z.string().max(200)).max(20)]).optional(),
});

export class T2DTwins {
  private readonly files = new Map<string, T2DTwinFile>();
  private readonly fits = new Map<string, unknown>();

  constructor(private readonly store: Store) {}

  twinFile(record: TwinRecord): T2DTwinFile {
    let twin = this.files.get(record.id);
    if (!twin) {
      const file = join(record.dir, 'twin.json');
      if (!existsSync(file)) throw new TwinlabError('NOT_FOUND', `twin "${record.id}": its twin.json is gone (${record.dir})`, { field: 'id' });
      twin = parseT2DTwinFile(readFileSync(file, 'utf8'), file);
      this.files.set(record.id, twin);
    }
    return twin;
  }

  private data(record: TwinRecord): { twin: T2DTwinFile; data: GlucoseDataset } {
    const twin = this.twinFile(record);
    const data = storedDataset(this.store, record, twin.data.fingerprint);
    if (!data) throw new TwinlabError('NOT_FOUND', `twin "${record.id}" was fitted to a file, not a stored dataset: no data to draw against`);
    return { twin, data };
  }

  summary(record: TwinRecord): unknown {
    const t = this.twinFile(record);
    return {
      id: record.id,
      kind: 'glucose-t2d',
      twin: record.twin,
      datasetId: record.datasetId,
      createdAt: record.createdAt,
      format: t.format,
      codeVersion: t.codeVersion,
      seed: t.seed,
      method: t.method,
      patient: t.patient,
      context: t.context,
      data: t.data,
      parameters: {
        names: t.parameters.names,
        priors: t.parameters.priors.map((p, i) => ({ name: t.parameters.names[i], ...p })),
        summary: t.posterior.summary,
        draws: t.posterior.draws.length,
        carbCountSd: t.parameters.carbCountSd,
      },
      diagnostics: t.posterior.diagnostics ?? null,
      map: { logPosterior: t.map.logPosterior, evaluations: t.map.evaluations },
      fit: t.fit,
      filter: t.filter,
      live: false,
    };
  }

  posterior(record: TwinRecord): unknown {
    const t = this.twinFile(record);
    const draws = t.posterior.draws.map((d) => t2dNaturalValues(d));
    const mapNat = t2dNaturalValues(t.map.theta);
    return {
      parameters: T2D_NATURAL_PARAMETERS.map((p) => {
        const index = t.parameters.names.indexOf(p.from);
        return posteriorPanel({
          name: p.name,
          label: p.label,
          unit: p.unit,
          transform: p.from === 'logitPhi' ? 'logit' : 'log',
          prior: t.parameters.priors[index] as { mean: number; sd: number },
          map: mapNat[p.name],
          draws: draws.map((d) => d[p.name]),
        });
      }),
    };
  }

  /**
   * The fit over its window, as the type 1 twin's (server/twins.ts `fit`): CGM, MAP trajectory and the
   * 95 % band of the mixture over ≤ FIT_BAND_DRAWS posterior draws of N(m_d(k), σ_sensor² + σ_model²),
   * with the logged carbohydrate per slot.
   */
  fit(record: TwinRecord): unknown {
    const cached = this.fits.get(record.id);
    if (cached) return cached;
    const { twin: t, data: dataset } = this.data(record);
    const from = Math.round((Date.parse(t.data.windowStart) - dataset.startMs) / STEP_MS);
    const to = Math.round((Date.parse(t.data.windowEnd) - dataset.startMs) / STEP_MS);
    const data = prepareT2DFitData(dataset, from, to, new Uint8Array(to - from), t.context, t.parameters.carbCountSd);
    const map = new Float64Array(data.n);
    if (!predictT2DWindow(t.map.theta, data, map)) throw new TwinlabError('INTEGRATION_FAILED', `twin "${record.id}": the MAP trajectory cannot be simulated`);
    const trajectories: { m: Float64Array; sigma: number }[] = [];
    const all = t.posterior.draws;
    const use = Math.min(all.length, FIT_BAND_DRAWS);
    for (let j = 0; j < use; j++) {
      const d = all[Math.floor(((j + 0.5) * all.length) / use)] as number[];
      const m = new Float64Array(data.n);
      const nat = t2dNaturalValues(d);
      if (predictT2DWindow(d, data, m)) trajectories.push({ m, sigma: Math.hypot(nat.sigma, nat.sigmaModel) });
    }
    const D = trajectories.length;
    const mu = new Float64Array(D);
    const sd = new Float64Array(D);
    const rows = [];
    for (let k = 0; k < data.n; k++) {
      let mean = 0;
      trajectories.forEach((tr, i) => {
        mu[i] = tr.m[k] as number;
        sd[i] = tr.sigma;
        mean += (tr.m[k] as number) / D;
      });
      rows.push({
        time: iso(slotTimeMs(dataset, from + k)),
        cgm: finiteOrNull(data.cgm[k] as number),
        map: map[k] as number,
        mean,
        lo: mixtureQuantile(mu, sd, 0.025),
        hi: mixtureQuantile(mu, sd, 0.975),
        carbs: data.carbsG[k] as number,
      });
    }
    const result = { twinId: record.id, windowStart: t.data.windowStart, windowEnd: t.data.windowEnd, draws: D, rmse: t.fit.rmse, mard: t.fit.mard, rows };
    this.fits.set(record.id, result);
    return result;
  }

  /** Forecast rows at every `every` minutes from `from` to `to`, from data at or before each origin (t2dForecastSeries's streams). */
  forecast(record: TwinRecord, query: unknown): unknown {
    const q = ForecastQuery.safeParse(query);
    if (!q.success) throw zodToTwinlab(q.error, 'query');
    const { twin, data } = this.data(record);
    const horizons = q.data.horizons ?? [30, 60, 120];
    const every = q.data.every ?? 5;
    const fromMs = queryTime(q.data.from, 'from');
    const toMs = q.data.to === undefined ? slotTimeMs(data, data.cgm.length - 1) : queryTime(q.data.to, 'to');
    const first = Math.floor((fromMs - data.startMs) / STEP_MS);
    const lastSlot = Math.min(data.cgm.length - 1, Math.floor((toMs - data.startMs) / STEP_MS));
    if (first < 0 || first >= data.cgm.length) {
      throw new TwinlabError('INVALID_ARGUMENT', `query.from ${iso(fromMs)} is outside the data (${iso(data.startMs)} to ${iso(slotTimeMs(data, data.cgm.length - 1))})`, { field: 'query.from' });
    }
    if (lastSlot < first) throw new TwinlabError('INVALID_ARGUMENT', 'query.to must not be before query.from', { field: 'query.to' });
    const stride = every / GLUCOSE_STEP_MIN;
    if (Math.floor((lastSlot - first) / stride) + 1 > MAX_FORECAST_ORIGINS) {
      throw new TwinlabError('INVALID_ARGUMENT', `query: at most ${MAX_FORECAST_ORIGINS} origins per request; narrow from/to or raise every`, { field: 'query.every' });
    }
    let filter: ReturnType<typeof t2dLivingProfile>;
    try {
      filter = t2dLivingProfile(twin, data, twin.seed, first);
    } catch (error) {
      throw asQueryError(error);
    }
    const root = Rng.fromSeed(twin.seed).fork('forecast');
    const rows = [];
    for (let k = first; k <= lastSlot; k += stride) {
      filter.advanceTo(k);
      for (const p of t2dForecastAt(filter, horizons, root.fork(`origin/${k}`))) {
        rows.push({ origin: iso(slotTimeMs(data, k)), horizonMin: p.horizonMin, mean: finiteOrNull(p.mean), lo: finiteOrNull(p.lo), hi: finiteOrNull(p.hi) });
      }
    }
    return { twinId: record.id, horizons, every, rows };
  }

  /** What-if replay (like `twinlab twin replay --twin DIR --json`): `therapy` in the type 2 grammar, `swap` TIME=FOOD[:SERVINGS] (repeatable). */
  replay(record: TwinRecord, query: unknown): unknown {
    const q = ReplayQuery.safeParse(query);
    if (!q.success) throw zodToTwinlab(q.error, 'query');
    const { twin, data } = this.data(record);
    const fromMs = queryTime(q.data.from, 'from');
    const swapTexts = q.data.swap === undefined ? [] : Array.isArray(q.data.swap) ? q.data.swap : [q.data.swap];
    try {
      const { therapy, gi } = parseT2DTherapy(q.data.therapy);
      const swaps = swapTexts.map((s) =>
        parseSwap(s, (text) => {
          const t = parseIsoTime(text);
          return typeof t === 'string' ? t : t.ms;
        }),
      );
      const whatIf = { therapy, ...(gi === undefined ? {} : { gi }), swaps };
      const result = t2dReplay(twin, data, fromMs, whatIf, twin.seed);
      return {
        twinId: record.id,
        from: iso(fromMs),
        whatIf,
        endpoints: result.endpoints,
        rows: result.rows.map((r) => ({ time: iso(r.timeMs), mean: finiteOrNull(r.mean), lo: finiteOrNull(r.lo), hi: finiteOrNull(r.hi) })),
      };
    } catch (error) {
      throw asQueryError(error);
    }
  }
}
