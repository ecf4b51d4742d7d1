import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import express, { type Request } from 'express';
import type { Server, Socket } from 'socket.io';
import { z } from 'zod';
import { LIMITS, STEP_MS } from '../datasets/grid.js';
import { parseIsoTime } from '../datasets/time.js';
import { GLUCOSE_STEP_MIN, type GlucoseDataset, slotTimeMs } from '../datasets/types.js';
import { TwinlabError } from '../engine/errors.js';
import { Rng } from '../engine/random.js';
import type { Store } from '../experiments/store.js';
import {
  appendTwinObservations,
  getTwinRecord,
  listTwinObservations,
  listTwinRecords,
  type TwinObservation,
  type TwinRecord,
} from '../experiments/twin-store.js';
import { steadyStateStart } from '../twinning/glucose/data-rules.js';
import type { GlucoseParticleFilter } from '../twinning/glucose/filter.js';
import { forecastAt, GlucoseProjector } from '../twinning/glucose/forecast.js';
import { prepareFitData, predictWindow } from '../twinning/glucose/likelihood.js';
import { NATURAL_PARAMETERS, naturalValues } from '../twinning/glucose/parameters.js';
import { livingProfile, replay } from '../twinning/glucose/replay.js';
import { parseTherapy } from '../twinning/glucose/therapy.js';
import { type GlucoseTwinFile, parseTwinFile } from '../twinning/glucose/twin-file.js';
import { zodToTwinlab } from './errors.js';
import {
  asQueryError,
  ForecastQuery,
  finiteOrNull,
  iso,
  MAX_FORECAST_ORIGINS,
  posteriorBand,
  posteriorPanel,
  queryTime,
  extendDataset,
  MAX_GAP_DAYS,
  MAX_OBSERVATION_ROWS,
  rowError,
  rowsZodError,
  storedDataset,
} from './twin-common.js';

export { MAX_GAP_DAYS, MAX_OBSERVATION_ROWS };
import { T2DTwins } from './twins-t2d.js';
import { type VancoLiveState, VancomycinTwins } from './twins-vancomycin.js';
import { type HypoRisk, SOCKET_MESSAGES, type TwinLiveState, type TwinStateMessage, twinRoom } from './protocol.js';

/**
 * Stored personal twins over HTTP and socket.io, kept live (issue #12, deliverables 4 and 7).
 *
 * A live session per twin holds its data (the dataset it was fitted to, then every row appended
 * through `POST /api/twins/:id/observations`) and a living profile (twinning/glucose/replay.ts
 * `livingProfile`: the particle filter) advanced to the last slot. New rows make a longer copy of the
 * data, the filter continues on it (`extendData`, `advanceTo`), and the update forecasts 30/60/120 min
 * ahead with forecastAt's bands and estimates the risk of hypoglycaemia (`liveForecast`). Every update draws from
 * `Rng.fromSeed(twin.seed).fork('live/<slot>')` and the filter's own streams, so the state after a
 * set of rows does not depend on how they were batched — and a restarted server, which replays the
 * stored rows in one batch, resumes with the same state.
 *
 * Socket reads pass the server's read rule at connect (server/index.ts: loopback, token or
 * --public-reads, after the Host/Origin checks of server/access.ts), so `subscribe-twin` needs no
 * check of its own.
 */

/**
 * A hypoglycaemia alert is raised when the posterior probability that model glucose falls below
 * HYPO_LEVEL_MG_DL within 60 min exceeds this. 70 mg/dL is the level-1 hypoglycaemia threshold of
 * the International Hypoglycaemia Study Group (Diabetes Care 40(1), 2017); 0.2 is a product choice
 * (an alert about one time in five it fires on a particle cloud that mostly stays above 70), not a
 * clinically validated cut-off.
 */
export const HYPO_RISK_THRESHOLD = 0.2;
export const HYPO_LEVEL_MG_DL = 70;
/** Slots (5 min) of the hypoglycaemia projection: 60 min; the 30-min risk reads its first 6. */
const HYPO_SLOTS = 12;
const LIVE_HORIZONS = [30, 60, 120] as const;
/** Slots of recent CGM in a state (12 h), for a client that starts drawing the live stream. */
const RECENT_SLOTS = 144;
/** Sessions kept in memory; the least recently used is dropped (and rebuilt from the store on demand). */
const MAX_SESSIONS = 32;

/** Body of POST /api/twins/:id/observations; the limits are the importers' (datasets/grid.ts LIMITS). */
const ObservationRowSchema = z.strictObject({
  time: z.string().min(1).max(64),
  cgm_mg_dl: z.number().min(LIMITS.cgmMin).max(LIMITS.cgmMax).nullable().optional(),
  basal_u_per_h: z.number().min(0).max(LIMITS.basalMax),
  bolus_u: z.number().min(0).max(LIMITS.bolusMax).optional(),
  carbs_g: z.number().min(0).max(LIMITS.carbsMax).optional(),
});
const ObservationsBody = z.strictObject({ rows: z.array(ObservationRowSchema).min(1).max(MAX_OBSERVATION_ROWS) });

const SubscribeTwinSchema = z.strictObject({ twinId: z.string().min(1).max(200) });

function parseObservations(body: unknown): TwinObservation[] {
  const parsed = ObservationsBody.safeParse(body);
  if (!parsed.success) throw rowsZodError(parsed.error);
  return parsed.data.rows.map((r, i) => {
    const t = parseIsoTime(r.time);
    if (typeof t === 'string') throw rowError(i, 'time', `${t}, got ${JSON.stringify(r.time)}`);
    if (t.ms % STEP_MS !== 0) throw rowError(i, 'time', `${r.time} is not on the 5-minute grid (minutes a multiple of 5, seconds 0)`);
    return { timeMs: t.ms, cgm: r.cgm_mg_dl ?? Number.NaN, basalUPerH: r.basal_u_per_h, bolusU: r.bolus_u ?? 0, carbsG: r.carbs_g ?? 0 };
  });
}

/**
 * The live forecast and hypoglycaemia risk from the filter's current slot, in one projection: every
 * particle simulated through forecastAt's schedule (the origin row's bolus and carbohydrate, then its
 * basal rate, nothing else; twinning/glucose/forecast.ts) for max(horizons, 60 min). The bands are
 * read where forecastAt reads them, from the same draws, so `forecast` equals
 * `forecastAt(filter, projector, horizons, rng)` (tested); the risk within 30 / 60 min is the weight
 * of the particles whose model glucose (`particleGlucose`, no sensor error) drops below 70 mg/dL at
 * some slot up to the horizon. One projection instead of two saves a third of an update's work.
 *
 * The risk is about the twin's glucose, not its CGM: a reading that stays off the model is taken as
 * sensor error, which decays by φ per slot in the CGM forecast but not here. With φ near 1 a CGM that
 * drifts down while insulin and meals do not explain it moves the CGM forecast below 70 before the
 * risk rises; the page and the state show both.
 */
export function liveForecast(
  filter: GlucoseParticleFilter,
  projector: GlucoseProjector,
  horizonsMin: readonly number[],
  rng: Rng,
): { forecast: TwinLiveState['forecast']; hypo: HypoRisk } {
  const data = filter.data;
  const origin = filter.slot;
  const last = data.cgm.length - 1;
  const basal = (data.basalUPerH[Math.min(origin, last)] as number) / 60;
  const originBolus = origin <= last ? (data.bolusU[origin] as number) / 5 : 0;
  const originCarbs = origin <= last ? (data.carbsG[origin] as number) : 0;
  const wanted = new Set(horizonsMin.map((h) => Math.round(h / 5)));
  const bands = new Map<number, { mean: number; lo: number; hi: number }>();
  const n = filter.n;
  const below = new Uint8Array(n);
  let p30 = 0;
  let p60 = 0;
  projector.project(
    filter,
    Math.max(HYPO_SLOTS, ...wanted),
    (s) => (s === 1 ? { insulin: basal + originBolus, carbs: originCarbs } : { insulin: basal, carbs: 0 }),
    rng,
    (s) => {
      if (wanted.has(s)) bands.set(s, projector.band());
      if (s > HYPO_SLOTS) return;
      for (let i = 0; i < n; i++) if (below[i] === 0 && projector.particleGlucose(i) < HYPO_LEVEL_MG_DL) below[i] = 1;
      if (s === HYPO_SLOTS / 2) p30 = weightOf(filter.weights, below);
      if (s === HYPO_SLOTS) p60 = weightOf(filter.weights, below);
    },
  );
  const forecast = horizonsMin.map((h) => ({ horizonMin: h, ...(bands.get(Math.round(h / 5)) as { mean: number; lo: number; hi: number }) }));
  return { forecast, hypo: { within30: p30, within60: p60, threshold: HYPO_RISK_THRESHOLD, flag: p60 > HYPO_RISK_THRESHOLD } };
}

function weightOf(w: ArrayLike<number>, mask: Uint8Array): number {
  let total = 0;
  let hit = 0;
  for (let i = 0; i < mask.length; i++) {
    total += w[i] as number;
    if (mask[i] === 1) hit += w[i] as number;
  }
  return total > 0 ? hit / total : 0;
}

interface Session {
  twinId: string;
  twin: GlucoseTwinFile;
  data: GlucoseDataset | undefined;
  filter: GlucoseParticleFilter | undefined;
  appended: number;
  state: TwinLiveState;
}

const ReplayQuery = z.strictObject({ from: z.string().min(1), therapy: z.string().max(200).optional() });

export type TwinKind = 'glucose' | 'glucose-t2d' | 'vancomycin';

export class TwinService {
  private readonly sessions = new Map<string, Session>();
  private readonly files = new Map<string, GlucoseTwinFile>();
  private readonly fits = new Map<string, unknown>();
  private readonly projector = new GlucoseProjector();
  private readonly t2d: T2DTwins;
  private readonly vancomycin: VancomycinTwins;
  private io: Server | undefined;

  constructor(private readonly store: Store) {
    this.t2d = new T2DTwins(store);
    this.vancomycin = new VancomycinTwins(store);
  }

  /** Stream updates over socket.io: `subscribe-twin { twinId }` joins room `twin:<id>` and acks with the current state. */
  attach(io: Server): void {
    this.io = io;
    io.on('connection', (socket: Socket) => {
      socket.on(SOCKET_MESSAGES.subscribeTwin, (raw: unknown, ack?: unknown) => {
        const reply = typeof ack === 'function' ? (ack as (r: unknown) => void) : undefined;
        const parsed = SubscribeTwinSchema.safeParse(raw);
        if (!parsed.success) {
          const message = parsed.error.issues.map((i) => `${['subscribe-twin', ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
          socket.emit(SOCKET_MESSAGES.error, { message });
          reply?.({ ok: false, error: message });
          return;
        }
        const { twinId } = parsed.data;
        try {
          const state = this.liveState(twinId);
          // joined in the same tick as the state is read: every later update reaches this socket
          void socket.join(twinRoom(twinId));
          reply?.({ ok: true, state });
        } catch (error) {
          reply?.({ ok: false, error: error instanceof Error ? error.message : String(error) });
        }
      });
      socket.on(SOCKET_MESSAGES.unsubscribeTwin, (raw: unknown) => {
        const parsed = SubscribeTwinSchema.safeParse(raw);
        if (parsed.success) void socket.leave(twinRoom(parsed.data.twinId));
      });
    });
  }

  record(id: string): TwinRecord {
    const record = getTwinRecord(this.store, id);
    if (!record) throw new TwinlabError('NOT_FOUND', `unknown twin "${id}"`, { field: 'id' });
    return record;
  }

  twinFile(record: TwinRecord): GlucoseTwinFile {
    let twin = this.files.get(record.id);
    if (!twin) {
      const file = join(record.dir, 'twin.json');
      if (!existsSync(file)) throw new TwinlabError('NOT_FOUND', `twin "${record.id}": its twin.json is gone (${record.dir})`, { field: 'id' });
      twin = parseTwinFile(readFileSync(file, 'utf8'), file);
      this.files.set(record.id, twin);
    }
    return twin;
  }

  /** The dataset the twin was fitted to, or undefined when it was fitted to a file outside the store. */
  fittedDataset(record: TwinRecord, twin: GlucoseTwinFile): GlucoseDataset | undefined {
    return storedDataset(this.store, record, twin.data.fingerprint);
  }

  /** The twin's kind: `glucose` (type 1, live), `glucose-t2d` or `vancomycin` (the `twins.twin` column). */
  kind(record: TwinRecord): TwinKind {
    if (record.twin === 'glucose' || record.twin === 'glucose-t2d' || record.twin === 'vancomycin') return record.twin;
    throw new TwinlabError('CONFLICT', `twin "${record.id}" is of kind "${record.twin}", which the server does not know`);
  }

  /** A type 1 twin's record; other kinds are refused naming what they offer instead. */
  private glucoseRecord(id: string, what: string): TwinRecord {
    const record = this.record(id);
    const kind = this.kind(record);
    if (kind !== 'glucose') {
      throw new TwinlabError('CONFLICT', `twin "${id}" is a ${kind} twin: ${what} is for type 1 glucose twins only${kind === 'vancomycin' ? ' (see /curve and /dose)' : ''}`, { field: 'id', kind });
    }
    return record;
  }

  list(): unknown[] {
    return listTwinRecords(this.store).map((r) => ({ ...r, kind: r.twin, url: `/api/twins/${encodeURIComponent(r.id)}` }));
  }

  summary(id: string): unknown {
    const record = this.record(id);
    const kind = this.kind(record);
    if (kind === 'glucose-t2d') return this.t2d.summary(record);
    if (kind === 'vancomycin') return this.vancomycin.summary(record);
    const t = this.twinFile(record);
    return {
      id: record.id,
      kind,
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
      },
      diagnostics: t.posterior.diagnostics ?? null,
      map: { logPosterior: t.map.logPosterior, evaluations: t.map.evaluations },
      fit: t.fit,
      filter: t.filter,
      live: true,
    };
  }

  /** Posterior draws on the natural scale beside each prior's density there (twin-common.ts `posteriorPanel`). */
  posterior(id: string): unknown {
    const record = this.record(id);
    const kind = this.kind(record);
    if (kind === 'glucose-t2d') return this.t2d.posterior(record);
    if (kind === 'vancomycin') return this.vancomycin.posterior(record);
    const t = this.twinFile(record);
    const draws = t.posterior.draws.map((d) => naturalValues(d));
    const mapNat = naturalValues(t.map.theta);
    return {
      parameters: NATURAL_PARAMETERS.map((p) => {
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
   * Experiments whose patients are this twin's posterior draws: trial and training specs whose
   * `cohort.personal` (made absolute when the spec is validated, experiments/personal-cohort.ts) is the
   * twin's directory — the issue's last step, a trial on the personal twin, reachable from its page.
   */
  experiments(id: string): unknown[] {
    const record = this.record(id);
    const dir = resolve(record.dir);
    return this.store.listExperiments().flatMap((e) => {
      const cohort = (e.spec as { cohort?: { personal?: unknown; draws?: unknown; offset?: unknown } } | null)?.cohort;
      if (typeof cohort?.personal !== 'string' || resolve(cohort.personal) !== dir) return [];
      return [{ id: e.id, kind: e.kind, name: e.name, status: e.status, createdAt: e.createdAt, draws: cohort.draws ?? null, offset: cohort.offset ?? 0, url: `/api/experiments/${encodeURIComponent(e.id)}` }];
    });
  }

  /** The concentration–time curve of a vancomycin twin (server/twins-vancomycin.ts). */
  curve(id: string, query: unknown): unknown {
    return this.vancomycin.curve(this.vancomycinRecord(id, 'the concentration curve'), query);
  }

  /** The dose table of a vancomycin twin (`twinlab twin dose`). */
  dose(id: string, query: unknown): unknown {
    return this.vancomycin.dose(this.vancomycinRecord(id, 'the dose table'), query);
  }

  private vancomycinRecord(id: string, what: string): TwinRecord {
    const record = this.record(id);
    const kind = this.kind(record);
    if (kind !== 'vancomycin') throw new TwinlabError('CONFLICT', `twin "${id}" is a ${kind} twin: ${what} is for vancomycin twins only`, { field: 'id', kind });
    return record;
  }

  /**
   * The fit over its window: per slot the CGM, the MAP trajectory and a 95 % band — the equal-weight
   * mixture over the posterior draws (at most FIT_BAND_DRAWS, evenly spaced) of N(m_d(k), σ_d²), each draw's model glucose from
   * `predictWindow` plus its CGM error's marginal SD √(σ_sensor² + σ_model²) (not conditioned on
   * earlier residuals).
   */
  fit(id: string): unknown {
    const cached = this.fits.get(id);
    if (cached) return cached;
    const record = this.record(id);
    const kind = this.kind(record);
    if (kind === 'glucose-t2d') return this.t2d.fit(record);
    if (kind === 'vancomycin') throw new TwinlabError('CONFLICT', `twin "${id}" is a vancomycin twin: its fit is drawn by /curve (levels against the curve)`, { field: 'id', kind });
    const t = this.twinFile(record);
    const dataset = this.fittedDataset(record, t);
    if (!dataset) throw new TwinlabError('NOT_FOUND', `twin "${id}" was fitted to a file, not a stored dataset: no data to draw the fit against`);
    const from = Math.round((Date.parse(t.data.windowStart) - dataset.startMs) / STEP_MS);
    const to = Math.round((Date.parse(t.data.windowEnd) - dataset.startMs) / STEP_MS);
    const data = prepareFitData(dataset, from, to, new Uint8Array(to - from), t.context);
    const map = new Float64Array(data.n);
    if (!predictWindow(t.map.theta, data, map)) throw new TwinlabError('INTEGRATION_FAILED', `twin "${id}": the MAP trajectory cannot be simulated`);
    const band = posteriorBand(data.n, t.posterior.draws, (d, m) => predictWindow(d, data, m), (d) => {
      const nat = naturalValues(d);
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
        bolus: data.bolusU[k] as number,
        carbs: data.carbsG[k] as number,
      });
    }
    const result = { twinId: id, windowStart: t.data.windowStart, windowEnd: t.data.windowEnd, draws: D, rmse: t.fit.rmse, mard: t.fit.mard, rows };
    this.fits.set(id, result);
    return result;
  }

  /** The twin's live session, built on first use from twin.json, its dataset and the stored rows. */
  session(id: string): Session {
    const existing = this.sessions.get(id);
    if (existing) {
      // most recently used last
      this.sessions.delete(id);
      this.sessions.set(id, existing);
      return existing;
    }
    const record = this.glucoseRecord(id, 'live recalibration');
    const twin = this.twinFile(record);
    const session: Session = { twinId: id, twin, data: this.fittedDataset(record, twin), filter: undefined, appended: 0, state: emptyState(id) };
    const stored = listTwinObservations(this.store, id);
    if (stored.length > 0) this.advance(session, stored);
    else if (session.data) this.advance(session, []);
    this.sessions.set(id, session);
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
    return session;
  }

  state(id: string): TwinLiveState {
    return this.session(id).state;
  }

  /** The live state of a type 1 twin (TwinLiveState) or a vancomycin twin (twins-vancomycin.ts VancoLiveState); a type 2 twin has none (409). */
  liveState(id: string): TwinLiveState | VancoLiveState {
    const record = this.record(id);
    const kind = this.kind(record);
    if (kind === 'vancomycin') return this.vancomycin.state(record);
    if (kind === 'glucose-t2d') return this.t2d.state(record);
    return this.state(id);
  }

  /** GET …/state: the live state, with the last 12 h of CGM for the CGM twins. */
  stateWithRecent(id: string): unknown {
    const record = this.record(id);
    const kind = this.kind(record);
    if (kind === 'vancomycin') return this.vancomycin.state(record);
    if (kind === 'glucose-t2d') return { ...this.t2d.state(record), recent: this.t2d.recent(record) };
    return { ...this.state(id), recent: this.recent(id) };
  }

  /** Recent CGM of the live data (the last 12 h), for clients that start drawing the stream. */
  recent(id: string): { time: string; cgm: number | null }[] {
    const data = this.session(id).data;
    if (!data) return [];
    const out = [];
    for (let k = Math.max(0, data.cgm.length - RECENT_SLOTS); k < data.cgm.length; k++) out.push({ time: iso(slotTimeMs(data, k)), cgm: finiteOrNull(data.cgm[k] as number) });
    return out;
  }

  /**
   * Append validated rows to the session: a longer copy of the data, the filter continued on it, a
   * new forecast and hypoglycaemia risk. Throws (leaving the session as it was) when the rows do not
   * fit; `advance` mutates the filter, so a failure there drops the session (rebuilt from the store).
   */
  private advance(session: Session, rows: readonly TwinObservation[]): void {
    const next = rows.length > 0 ? extendDataset(session.data, rows, session.twin.patient.id) : (session.data as GlucoseDataset);
    const last = next.cgm.length - 1;
    let filter = session.filter;
    if (filter === undefined) {
      if (steadyStateStart(next, last + 1) < 0) {
        throw rowError(
          0,
          'cgm_mg_dl',
          'a twin without data starts at steady state: the first rows need a CGM reading with no bolus or carbohydrate in it or in the 4 h before it',
        );
      }
      filter = livingProfile(session.twin, next, session.twin.seed, last);
    } else filter.extendData(next);
    filter.advanceTo(last);
    const { forecast, hypo } = liveForecast(filter, this.projector, LIVE_HORIZONS, Rng.fromSeed(session.twin.seed).fork(`live/${last}`));
    session.data = next;
    session.filter = filter;
    session.appended += rows.length;
    session.state = {
      twinId: session.twinId,
      status: 'live',
      lastSlotTime: iso(slotTimeMs(next, last)),
      slots: next.cgm.length,
      appended: session.appended,
      readings: filter.readings,
      forecast,
      hypo,
    };
  }

  /** POST /api/twins/:id/observations: validate, advance the live session, persist, broadcast. */
  observe(id: string, body: unknown): TwinLiveState | VancoLiveState {
    const record = this.record(id);
    if (this.kind(record) === 'vancomycin') {
      const { state, rows } = this.vancomycin.observe(record, body);
      const message = { twinId: id, kind: 'vancomycin', state, rows: rows.map((r) => ({ ...r, time: iso(r.timeMs) })) };
      this.io?.to(twinRoom(id)).emit(SOCKET_MESSAGES.twinUpdate, message);
      return state;
    }
    if (this.kind(record) === 'glucose-t2d') {
      const { state, rows } = this.t2d.observe(record, body);
      const message: TwinStateMessage = { twinId: id, state, rows: rows.map((r) => ({ time: iso(r.timeMs), cgm: finiteOrNull(r.cgm), basal: 0, bolus: 0, carbs: r.carbsG })) };
      this.io?.to(twinRoom(id)).emit(SOCKET_MESSAGES.twinUpdate, message);
      return state;
    }
    const rows = parseObservations(body);
    const session = this.session(id);
    try {
      this.advance(session, rows);
    } catch (error) {
      if (error instanceof TwinlabError && error.code === 'INVALID_ARGUMENT') throw error;
      this.sessions.delete(id);
      if (error instanceof TwinlabError && error.code === 'INTEGRATION_FAILED') {
        throw new TwinlabError('INVALID_ARGUMENT', `body.rows: ${error.message}`, { field: 'cgm_mg_dl' });
      }
      throw error;
    }
    try {
      appendTwinObservations(this.store, id, rows);
    } catch (error) {
      this.sessions.delete(id);
      throw error;
    }
    const message: TwinStateMessage = {
      twinId: id,
      state: session.state,
      rows: rows.map((r) => ({ time: iso(r.timeMs), cgm: finiteOrNull(r.cgm), basal: r.basalUPerH, bolus: r.bolusU, carbs: r.carbsG })),
    };
    this.io?.to(twinRoom(id)).emit(SOCKET_MESSAGES.twinUpdate, message);
    return session.state;
  }

  /** Forecast rows (like `twinlab twin forecast`) at every `every` minutes from `from` to `to` (default: the end of the live data). */
  forecast(id: string, query: unknown): unknown {
    const record = this.record(id);
    const kind = this.kind(record);
    if (kind === 'glucose-t2d') return this.t2d.forecast(record, query);
    if (kind === 'vancomycin') throw new TwinlabError('CONFLICT', `twin "${id}" is a vancomycin twin: its forecast is /curve`, { field: 'id', kind });
    const q = ForecastQuery.safeParse(query);
    if (!q.success) throw zodToTwinlab(q.error, 'query');
    const session = this.session(id);
    const data = session.data;
    if (!data) throw new TwinlabError('NOT_FOUND', `twin "${id}" has no data yet`);
    const horizons = q.data.horizons ?? [...LIVE_HORIZONS];
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
    const seed = session.twin.seed;
    let filter: GlucoseParticleFilter;
    try {
      filter = livingProfile(session.twin, data, seed, first);
    } catch (error) {
      throw asQueryError(error);
    }
    if (filter.slot > first) {
      throw new TwinlabError('INVALID_ARGUMENT', `query.from must be at or after the twin's steady-state start in this data (${iso(slotTimeMs(data, filter.slot))})`, { field: 'query.from' });
    }
    // the same streams as twinning/glucose/replay.ts forecastSeries, so the rows equal the CLI's
    const root = Rng.fromSeed(seed).fork('forecast');
    const projector = new GlucoseProjector();
    const rows = [];
    for (let k = first; k <= lastSlot; k += stride) {
      filter.advanceTo(k);
      for (const p of forecastAt(filter, projector, horizons, root.fork(`origin/${k}`))) {
        rows.push({ origin: iso(slotTimeMs(data, k)), horizonMin: p.horizonMin, mean: finiteOrNull(p.mean), lo: finiteOrNull(p.lo), hi: finiteOrNull(p.hi) });
      }
    }
    return { twinId: id, horizons, every, rows };
  }

  /** What-if replay (like `twinlab twin replay --json`) on the live data from `from`. */
  replay(id: string, query: unknown): unknown {
    const record = this.record(id);
    const kind = this.kind(record);
    if (kind === 'glucose-t2d') return this.t2d.replay(record, query);
    if (kind === 'vancomycin') throw new TwinlabError('CONFLICT', `twin "${id}" is a vancomycin twin: its what-if is /curve with a proposed regimen`, { field: 'id', kind });
    const q = ReplayQuery.safeParse(query);
    if (!q.success) throw zodToTwinlab(q.error, 'query');
    const session = this.session(id);
    if (!session.data) throw new TwinlabError('NOT_FOUND', `twin "${id}" has no data yet`);
    const fromMs = queryTime(q.data.from, 'from');
    try {
      const therapy = parseTherapy(q.data.therapy);
      const result = replay(session.twin, session.data, fromMs, therapy, session.twin.seed);
      return {
        twinId: id,
        from: iso(fromMs),
        therapy,
        endpoints: result.endpoints,
        rows: result.rows.map((r) => ({ time: iso(r.timeMs), mean: finiteOrNull(r.mean), lo: finiteOrNull(r.lo), hi: finiteOrNull(r.hi) })),
      };
    } catch (error) {
      throw asQueryError(error);
    }
  }
}

function emptyState(twinId: string): TwinLiveState {
  return { twinId, status: 'empty', lastSlotTime: null, slots: 0, appended: 0, readings: 0, forecast: [], hypo: null };
}

function idParam(req: Request): string {
  const value = req.params.id;
  if (typeof value !== 'string' || value.length === 0) throw new TwinlabError('INVALID_ARGUMENT', 'path parameter id is required');
  return value;
}

/** The /api/twins routes; `auth` guards the one mutation. */
export function twinRoutes(twins: TwinService, auth: express.RequestHandler): express.Router {
  const r = express.Router();
  r.get('/twins', (_req, res) => {
    res.json(twins.list());
  });
  r.get('/twins/:id', (req, res) => {
    res.json(twins.summary(idParam(req)));
  });
  r.get('/twins/:id/state', (req, res) => {
    const id = idParam(req);
    res.json(twins.stateWithRecent(id));
  });
  r.get('/twins/:id/posterior', (req, res) => {
    res.json(twins.posterior(idParam(req)));
  });
  r.get('/twins/:id/fit', (req, res) => {
    res.json(twins.fit(idParam(req)));
  });
  r.get('/twins/:id/forecast', (req, res) => {
    res.json(twins.forecast(idParam(req), req.query));
  });
  r.get('/twins/:id/replay', (req, res) => {
    res.json(twins.replay(idParam(req), req.query));
  });
  r.get('/twins/:id/experiments', (req, res) => {
    res.json(twins.experiments(idParam(req)));
  });
  r.get('/twins/:id/curve', (req, res) => {
    res.json(twins.curve(idParam(req), req.query));
  });
  r.get('/twins/:id/dose', (req, res) => {
    res.json(twins.dose(idParam(req), req.query));
  });
  r.post('/twins/:id/observations', auth, (req, res) => {
    const id = idParam(req);
    twins.record(id);
    res.json(twins.observe(id, req.body));
  });
  return r;
}
