import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { LIMITS, STEP_MS } from '../datasets/grid.js';
import { parseIsoTime } from '../datasets/time.js';
import { GLUCOSE_STEP_MIN, type GlucoseDataset, slotTimeMs } from '../datasets/types.js';
import { TwinlabError } from '../engine/errors.js';
import { Rng } from '../engine/random.js';
import type { Store } from '../experiments/store.js';
import { appendTwinObservations, listTwinObservations, type TwinObservation, type TwinRecord } from '../experiments/twin-store.js';
import type { T2DParticleFilter } from '../twinning/glucose-t2d/filter.js';
import { predictT2DWindow, prepareT2DFitData } from '../twinning/glucose-t2d/likelihood.js';
import { T2D_NATURAL_PARAMETERS, t2dNaturalValues } from '../twinning/glucose-t2d/parameters.js';
import { t2dForecastAt, t2dLivingProfile, t2dReplay } from '../twinning/glucose-t2d/replay.js';
import { parseSwap, parseT2DTherapy } from '../twinning/glucose-t2d/therapy.js';
import { parseT2DTwinFile, type T2DTwinFile } from '../twinning/glucose-t2d/twin-file.js';
import { zodToTwinlab } from './errors.js';
import type { TwinLiveState } from './protocol.js';
import {
  asQueryError,
  extendDataset,
  ForecastQuery,
  finiteOrNull,
  iso,
  MAX_FORECAST_ORIGINS,
  MAX_OBSERVATION_ROWS,
  posteriorBand,
  posteriorPanel,
  queryTime,
  rowError,
  remember,
  rowsZodError,
  storedDataset,
  touch,
} from './twin-common.js';

/**
 * Stored personal type 2 diabetes twins (`twin fit --twin glucose-t2d`, twinning/glucose-t2d/) over
 * HTTP: summary, data against the fit with its posterior band, posteriors beside priors, forecasts
 * and what-if replays by the CLI's grammar (`therapy` = `--therapy`, `swap` = `--swap`, repeatable).
 * Every number comes from twinning/glucose-t2d with the streams the CLI uses, so a route's rows equal
 * `twinlab twin forecast|replay --twin DIR` on the same data. The data is the stored dataset the twin
 * was fitted to plus the rows posted since (live recalibration, as the type 1 twin's in server/twins.ts):
 * `POST …/observations` rows `{ time, cgm_mg_dl?, carbs_g? }` (no insulin keys) extend the data, the
 * living profile (T2DParticleFilter) continues on it, and the state forecasts 30/60/120 min ahead with
 * `t2dForecastAt` on the stream `live/<slot>` of the twin's seed; rows are kept in twin_observations
 * (basal and bolus 0), so a restarted server rebuilds the same state. No hypoglycaemia risk: the model
 * has no insulin or secretagogue input (`hypo: null`).
 */
const T2DRowSchema = z.strictObject({
  time: z.string().min(1).max(64),
  cgm_mg_dl: z.number().min(LIMITS.cgmMin).max(LIMITS.cgmMax).nullable().optional(),
  carbs_g: z.number().min(0).max(LIMITS.carbsMax).optional(),
});
const T2DRowsBody = z.strictObject({ rows: z.array(T2DRowSchema).min(1).max(MAX_OBSERVATION_ROWS) });
const LIVE_HORIZONS = [30, 60, 120] as const;
const RECENT_SLOTS = 144;

function parseT2DRows(body: unknown): TwinObservation[] {
  const parsed = T2DRowsBody.safeParse(body);
  if (!parsed.success) throw rowsZodError(parsed.error);
  return parsed.data.rows.map((r, i) => {
    const t = parseIsoTime(r.time);
    if (typeof t === 'string') throw rowError(i, 'time', `${t}, got ${JSON.stringify(r.time)}`);
    if (t.ms % STEP_MS !== 0) throw rowError(i, 'time', `${r.time} is not on the 5-minute grid (minutes a multiple of 5, seconds 0)`);
    return { timeMs: t.ms, cgm: r.cgm_mg_dl ?? Number.NaN, basalUPerH: 0, bolusU: 0, carbsG: r.carbs_g ?? 0 };
  });
}

interface T2DSession {
  twin: T2DTwinFile;
  data: GlucoseDataset;
  filter: T2DParticleFilter;
  appended: number;
  state: TwinLiveState;
}
const ReplayQuery = z.strictObject({
  from: z.string().min(1),
  therapy: z.string().max(200).optional(),
  swap: z.union([z.string().max(200), z.array(z.string().max(200)).max(20)]).optional(),
});

export class T2DTwins {
  private readonly files = new Map<string, T2DTwinFile>();
  private readonly fits = new Map<string, unknown>();
  private readonly sessions = new Map<string, T2DSession>();

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

  private fitted(record: TwinRecord): { twin: T2DTwinFile; data: GlucoseDataset } {
    const twin = this.twinFile(record);
    const data = storedDataset(this.store, record, twin.data.fingerprint);
    if (!data) throw new TwinlabError('NOT_FOUND', `twin "${record.id}" was fitted to a file, not a stored dataset: no data to draw against`);
    return { twin, data };
  }

  /** The live data: the fitted dataset plus every posted row. */
  private data(record: TwinRecord): { twin: T2DTwinFile; data: GlucoseDataset } {
    const s = this.session(record);
    return { twin: s.twin, data: s.data };
  }

  /** The twin's live session, built on first use from twin.json, its dataset and the stored rows. */
  session(record: TwinRecord): T2DSession {
    const existing = touch(this.sessions, record.id);
    if (existing) return existing;
    const { twin, data } = this.fitted(record);
    const last = data.cgm.length - 1;
    const filter = t2dLivingProfile(twin, data, twin.seed, last);
    const session: T2DSession = { twin, data, filter, appended: 0, state: this.advanceState(record.id, twin, data, filter, 0) };
    const stored = listTwinObservations(this.store, record.id);
    if (stored.length > 0) this.advance(record.id, session, stored);
    remember(this.sessions, record.id, session);
    return session;
  }

  private advanceState(id: string, twin: T2DTwinFile, data: GlucoseDataset, filter: T2DParticleFilter, appended: number): TwinLiveState {
    const last = data.cgm.length - 1;
    filter.advanceTo(last);
    const forecast = t2dForecastAt(filter, LIVE_HORIZONS, Rng.fromSeed(twin.seed).fork(`live/${last}`)).map((p) => ({ horizonMin: p.horizonMin, mean: p.mean, lo: p.lo, hi: p.hi }));
    return { twinId: id, status: 'live', lastSlotTime: iso(slotTimeMs(data, last)), slots: data.cgm.length, appended, readings: filter.readings, forecast, hypo: null };
  }

  /** Rows appended: a longer copy of the data, the filter continued on it, a new forecast (mutates the filter: a failure drops the session). */
  private advance(id: string, session: T2DSession, rows: readonly TwinObservation[]): void {
    const next = extendDataset(session.data, rows, session.twin.patient.id);
    session.filter.extendData(next);
    const state = this.advanceState(id, session.twin, next, session.filter, session.appended + rows.length);
    session.data = next;
    session.appended += rows.length;
    session.state = state;
  }

  state(record: TwinRecord): TwinLiveState {
    return this.session(record).state;
  }

  /** Recent CGM of the live data (the last 12 h). */
  recent(record: TwinRecord): { time: string; cgm: number | null }[] {
    const data = this.session(record).data;
    const out = [];
    for (let k = Math.max(0, data.cgm.length - RECENT_SLOTS); k < data.cgm.length; k++) out.push({ time: iso(slotTimeMs(data, k)), cgm: finiteOrNull(data.cgm[k] as number) });
    return out;
  }

  /** POST …/observations of a type 2 twin: validate, advance the living profile, persist; the new state and the rows. */
  observe(record: TwinRecord, body: unknown): { state: TwinLiveState; rows: TwinObservation[] } {
    const rows = parseT2DRows(body);
    const session = this.session(record);
    try {
      this.advance(record.id, session, rows);
    } catch (error) {
      if (error instanceof TwinlabError && error.code === 'INVALID_ARGUMENT') throw error;
      this.sessions.delete(record.id);
      throw error;
    }
    try {
      appendTwinObservations(this.store, record.id, rows);
    } catch (error) {
      this.sessions.delete(record.id);
      throw error;
    }
    return { state: session.state, rows };
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
      live: true,
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
    const { twin: t, data: dataset } = this.fitted(record);
    const from = Math.round((Date.parse(t.data.windowStart) - dataset.startMs) / STEP_MS);
    const to = Math.round((Date.parse(t.data.windowEnd) - dataset.startMs) / STEP_MS);
    const data = prepareT2DFitData(dataset, from, to, new Uint8Array(to - from), t.context, t.parameters.carbCountSd);
    const map = new Float64Array(data.n);
    if (!predictT2DWindow(t.map.theta, data, map)) throw new TwinlabError('INTEGRATION_FAILED', `twin "${record.id}": the MAP trajectory cannot be simulated`);
    const band = posteriorBand(data.n, t.posterior.draws, (d, m) => predictT2DWindow(d, data, m), (d) => {
      const nat = t2dNaturalValues(d);
      return Math.hypot(nat.sigma, nat.sigmaModel);
    });
    const D = band.draws;
    const rows = [];
    for (let k = 0; k < data.n; k++) {
      rows.push({
        time: iso(slotTimeMs(dataset, from + k)),
        cgm: finiteOrNull(data.cgm[k] as number),
        map: map[k] as number,
        mean: band.mean[k] as number,
        lo: band.lo[k] as number,
        hi: band.hi[k] as number,
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
