import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseIsoTime } from '../datasets/time.js';
import { importVancomycin, VANCO_LIMITS, type VancomycinDataset } from '../datasets/vancomycin.js';
import { TwinlabError } from '../engine/errors.js';
import type { Store } from '../experiments/store.js';
import { appendTwinEvents, listTwinEvents, type TwinEvent, type TwinRecord } from '../experiments/twin-store.js';
import { infusionDurationH, MAX_MAINTENANCE_DOSE_MG, recommendDoses } from '../twinning/vancomycin/dose.js';
import { interval95, regimenOf } from '../twinning/vancomycin/fit.js';
import { conditioningFingerprint, fitMap, prepareFitData } from '../twinning/vancomycin/likelihood.js';
import { kinetics, steadyState } from '../twinning/vancomycin/model.js';
import { pkAt, typicalPk } from '../twinning/vancomycin/parameters.js';
import { predictLevels } from '../twinning/vancomycin/replay.js';
import { parseVancoTwinFile, type VancoTwinFile } from '../twinning/vancomycin/twin-file.js';
import { zodToTwinlab } from './errors.js';
import { iso, posteriorPanel, queryTime, remember, rowError, rowsZodError, touch } from './twin-common.js';

/**
 * Stored personal vancomycin twins (`twin fit --twin vancomycin --out DIR`, twinning/vancomycin/) over
 * HTTP: the summary (covariates, CL and V with 95 % intervals, AUC24 of the data's regimen), the
 * posteriors of CL, V1, V2 beside their Goti priors, the concentration–time curve (posterior
 * predictive mean and 95 % band of a measured level, twinning/vancomycin/replay.ts `predictLevels`)
 * through the recorded doses with the measured levels and, optionally, a proposed regimen continued
 * after them, and the dose table of `twin dose` (twinning/vancomycin/dose.ts `recommendDoses`).
 *
 * The doses and levels are `DIR/data.csv`, which `twin fit` writes beside twin.json (the import's
 * normalised events, datasets/vancomycin.ts `vancomycinToCsv`); the server checks that the levels and
 * doses the twin's posterior is conditioned on are those of the file (`data.conditioning`).
 */
export const VANCO_DATA_FILE = 'data.csv';
const HOUR = 3_600_000;
/**
 * The curve's band is computed from at most CURVE_DRAWS posterior draws (evenly spaced) at ≤
 * MAX_CURVE_POINTS times, its quantiles to CURVE_TOL_MG_L: the mixture quantiles are ≈ 97 % of the
 * work. On two synthetic Goti patients 200 of the 400 draws moved the band by ≤ 1.7 mg/L (≤ 4 % of its
 * width) against all 400, 100 draws by up to 6.6 mg/L (13 %); all 400 took 2× as long again.
 */
const CURVE_DRAWS = 200;
const MAX_CURVE_POINTS = 300;
const CURVE_TOL_MG_L = 0.01;

const DoseQuery = z.strictObject({
  targetAuc: z
    .string()
    .regex(/^\d+(\.\d+)?-\d+(\.\d+)?$/, 'must be LOW-HIGH in mg·h/L per mg/L of MIC, e.g. 400-600')
    .transform((s) => s.split('-').map(Number) as [number, number])
    .refine(([lo, hi]) => lo > 0 && hi > lo && hi <= 5000, 'must have 0 < LOW < HIGH ≤ 5000')
    .optional(),
  intervals: z
    .string()
    .regex(/^\d+(\.\d+)?(,\d+(\.\d+)?)*$/, 'must be comma-separated hours, e.g. 8,12,24')
    .transform((s) => s.split(',').map(Number))
    .refine((xs) => xs.length <= 8 && xs.every((x) => x > 0 && x <= 72), 'must be at most 8 intervals, each in (0, 72] hours')
    .optional(),
  mic: z.coerce.number().gt(0).max(64).optional(),
  top: z.coerce.number().int().min(1).max(200).optional(),
});

const CurveQuery = z.strictObject({
  dose: z.coerce.number().int().min(250).max(MAX_MAINTENANCE_DOSE_MG).multipleOf(250).optional(),
  interval: z.coerce.number().gt(0).max(72).optional(),
  start: z.string().min(1).max(64).optional(),
  hours: z.coerce.number().gt(0).max(168).optional(),
});

/** Rows of POST /api/twins/:id/observations for a vancomycin twin: the import's CSV columns, limits as datasets/vancomycin.ts. */
const EventRowSchema = z.strictObject({
  time: z.string().min(1).max(64),
  event: z.enum(['dose', 'level']),
  amount_mg: z.number().gt(0).max(VANCO_LIMITS.doseMaxMg).optional(),
  duration_h: z.number().min(0).max(VANCO_LIMITS.durationMaxH).optional(),
  conc_mg_l: z.number().min(0).max(VANCO_LIMITS.concMaxMgL).optional(),
});
const EventsBody = z.strictObject({ rows: z.array(EventRowSchema).min(1).max(200) });
/** A row may lie at most this far after the one before it (or the twin's last event). */
const MAX_EVENT_GAP_DAYS = 7;

function parseEvents(body: unknown): TwinEvent[] {
  const parsed = EventsBody.safeParse(body);
  if (!parsed.success) throw rowsZodError(parsed.error);
  return parsed.data.rows.map((r, i): TwinEvent => {
    const t = parseIsoTime(r.time);
    if (typeof t === 'string') throw rowError(i, 'time', `${t}, got ${JSON.stringify(r.time)}`);
    if (r.event === 'dose') {
      if (r.amount_mg === undefined) throw rowError(i, 'amount_mg', 'a dose needs amount_mg');
      if (r.duration_h === undefined) throw rowError(i, 'duration_h', 'a dose needs duration_h (0 = bolus)');
      if (r.conc_mg_l !== undefined) throw rowError(i, 'conc_mg_l', 'a dose has no concentration');
      return { timeMs: t.ms, event: 'dose', amountMg: r.amount_mg, durationH: r.duration_h };
    }
    if (r.conc_mg_l === undefined) throw rowError(i, 'conc_mg_l', 'a level needs conc_mg_l');
    if (r.amount_mg !== undefined || r.duration_h !== undefined) throw rowError(i, r.amount_mg !== undefined ? 'amount_mg' : 'duration_h', 'a level has no dose');
    return { timeMs: t.ms, event: 'level', concMgL: r.conc_mg_l };
  });
}

/** The data with appended events (each after the data's last event, in order). */
function withEvents(data: VancomycinDataset, events: readonly TwinEvent[]): VancomycinDataset {
  if (events.length === 0) return data;
  return {
    ...data,
    doses: [...data.doses, ...events.flatMap((e) => (e.event === 'dose' ? [{ timeMs: e.timeMs, amountMg: e.amountMg, durationH: e.durationH }] : []))],
    levels: [...data.levels, ...events.flatMap((e) => (e.event === 'level' ? [{ timeMs: e.timeMs, concMgL: e.concMgL }] : []))],
  };
}

function lastEventMs(data: VancomycinDataset): number {
  return Math.max((data.doses[data.doses.length - 1] as { timeMs: number }).timeMs, ...data.levels.map((l) => l.timeMs));
}

/**
 * The live state of a vancomycin twin: its data plus the rows posted since the fit, and the MAP
 * re-fitted to every level (fitMap, ≈ 10–20 ms) — CL, V1, V2 and, for the regimen the live data ends
 * with, steady-state AUC24 and trough at the MAP. The posterior draws (curve band, dose table) stay
 * the fitted ones until the twin is re-fitted; each appended level carries its prediction from them
 * (mean and 95 % band, made before it was known).
 */
export interface VancoLiveState {
  twinId: string;
  kind: 'vancomycin';
  status: 'live';
  lastEventTime: string;
  appended: number;
  doses: number;
  levels: number;
  levelsInPosterior: number;
  map: { CL: number; V1: number; V2: number; logPosterior: number; evaluations: number };
  regimen: { amountMg: number; intervalH: number; durationH: number; source: string } | null;
  atMap: { auc24: number; trough: number } | null;
  newLevels: { time: string; observed: number; mean: number; lo: number; hi: number }[];
}

interface Loaded {
  twin: VancoTwinFile;
  data: VancomycinDataset;
}

interface Live extends Loaded {
  base: VancomycinDataset;
  appended: number;
  state: VancoLiveState;
}

export class VancomycinTwins {
  private readonly loaded = new Map<string, Loaded>();
  private readonly lives = new Map<string, Live>();

  constructor(private readonly store: Store) {}

  /** twin.json and the data it was fitted to, plus every row appended since (the live data). */
  live(record: TwinRecord): Live {
    const cached = touch(this.lives, record.id);
    if (cached) return cached;
    const { twin, data: base } = this.load(record);
    const events = listTwinEvents(this.store, record.id);
    const live = this.liveOf(record.id, twin, base, withEvents(base, events), events.length);
    remember(this.lives, record.id, live);
    return live;
  }

  /** `known`: predictions of appended levels already made (a later dose cannot change an earlier level's), reused. */
  private liveOf(id: string, twin: VancoTwinFile, base: VancomycinDataset, data: VancomycinDataset, appended: number, known: VancoLiveState['newLevels'] = []): Live {
    const cov = twin.covariates;
    const map = fitMap(prepareFitData(data, cov));
    const pk = pkAt(cov, map.theta);
    let regimen: VancoLiveState['regimen'] = null;
    let atMap: VancoLiveState['atMap'] = null;
    try {
      regimen = regimenOf(data, data.doses.length === 1 ? twin.regimen.intervalH : undefined);
      const ss = steadyState(kinetics(pk), regimen.amountMg, regimen.intervalH, regimen.durationH);
      atMap = { auc24: ss.auc24, trough: ss.trough };
    } catch (error) {
      if (!(error instanceof TwinlabError)) throw error;
    }
    const fresh = data.levels.slice(base.levels.length + known.length);
    const preds = predictLevels(
      cov,
      twin.posterior.draws,
      data,
      fresh.map((l) => l.timeMs),
      CURVE_TOL_MG_L,
    );
    const state: VancoLiveState = {
      twinId: id,
      kind: 'vancomycin',
      status: 'live',
      lastEventTime: iso(lastEventMs(data)),
      appended,
      doses: data.doses.length,
      levels: data.levels.length,
      levelsInPosterior: twin.data.levelsUsed,
      map: { CL: pk.cl, V1: pk.v1, V2: pk.v2, logPosterior: map.logPosterior, evaluations: map.evaluations },
      regimen,
      atMap,
      newLevels: [...known, ...fresh.map((l, i) => ({ time: iso(l.timeMs), observed: l.concMgL, ...(preds[i] as { mean: number; lo: number; hi: number }) }))],
    };
    return { twin, base, data, appended, state };
  }

  state(record: TwinRecord): VancoLiveState {
    return this.live(record).state;
  }

  /** POST …/observations of a vancomycin twin: validate the rows, store them, re-fit the MAP; the new state. */
  observe(record: TwinRecord, body: unknown): { state: VancoLiveState; rows: TwinEvent[] } {
    const rows = parseEvents(body);
    const live = this.live(record);
    let end = lastEventMs(live.data);
    rows.forEach((r, i) => {
      if (r.timeMs <= end) throw rowError(i, 'time', `${iso(r.timeMs)} must be after ${i > 0 ? `row ${i - 1}` : "the twin's last event"} (${iso(end)})`);
      if (r.timeMs - end > MAX_EVENT_GAP_DAYS * 86_400_000) throw rowError(i, 'time', `${iso(r.timeMs)} is more than ${MAX_EVENT_GAP_DAYS} days after ${i > 0 ? `row ${i - 1}` : "the twin's last event"} (${iso(end)})`);
      end = r.timeMs;
    });
    const next = this.liveOf(record.id, live.twin, live.base, withEvents(live.data, rows), live.appended + rows.length, live.state.newLevels);
    appendTwinEvents(this.store, record.id, rows);
    remember(this.lives, record.id, next);
    return { state: next.state, rows };
  }

  load(record: TwinRecord): Loaded {
    const cached = touch(this.loaded, record.id);
    if (cached) return cached;
    const file = join(record.dir, 'twin.json');
    if (!existsSync(file)) throw new TwinlabError('NOT_FOUND', `twin "${record.id}": its twin.json is gone (${record.dir})`, { field: 'id' });
    const twin = parseVancoTwinFile(readFileSync(file, 'utf8'), file);
    const dataFile = join(record.dir, VANCO_DATA_FILE);
    if (!existsSync(dataFile)) {
      throw new TwinlabError('NOT_FOUND', `twin "${record.id}": no ${VANCO_DATA_FILE} beside its twin.json (${record.dir}); re-fit it with twinlab twin fit --twin vancomycin`, { field: 'id' });
    }
    const data = importVancomycin(dataFile, { format: 'csv', patientId: twin.patient.id });
    const until = twin.data.until === null ? undefined : Date.parse(twin.data.until);
    if (conditioningFingerprint(prepareFitData(data, twin.covariates, until)) !== twin.data.conditioning || data.doses.length !== twin.data.doses) {
      throw new TwinlabError('CONFLICT', `twin "${record.id}": ${VANCO_DATA_FILE} holds other doses or levels than the twin was fitted to`);
    }
    const loaded = { twin, data };
    remember(this.loaded, record.id, loaded);
    return loaded;
  }

  summary(record: TwinRecord): unknown {
    const { twin: t, data } = this.load(record);
    const live = this.live(record).state;
    const pick = (name: string) => {
      const r = t.posterior.summary.find((s) => s.name === name);
      return r ? { unit: r.unit, map: r.map, mean: r.mean, lo: r.q025, hi: r.q975 } : null;
    };
    return {
      id: record.id,
      kind: 'vancomycin',
      twin: record.twin,
      datasetId: record.datasetId,
      createdAt: record.createdAt,
      format: t.format,
      codeVersion: t.codeVersion,
      seed: t.seed,
      method: t.method,
      patient: t.patient,
      covariates: t.covariates,
      model: t.model,
      data: { ...t.data, first: iso(data.doses[0]?.timeMs ?? 0), utcOffsetMin: data.utcOffsetMin ?? 0 },
      parameters: { CL: pick('CL'), V1: pick('V1'), V2: pick('V2'), Vss: pick('Vss'), draws: t.posterior.draws.length },
      regimen: t.regimen,
      auc24: t.auc24,
      trough: t.trough,
      diagnostics: t.posterior.diagnostics ?? null,
      map: t.map,
      fit: t.fit,
      live: true,
      state: live,
    };
  }

  /** CL, V1 and V2: x = typical(covariates)·exp(η) with η ~ N(0, ω²), so the prior is log-normal around the typical value. */
  posterior(record: TwinRecord): unknown {
    const { twin: t } = this.load(record);
    const typical = typicalPk(t.covariates);
    const pks = t.posterior.draws.map((d) => pkAt(t.covariates, d));
    const mapPk = pkAt(t.covariates, t.map.theta);
    const defs = [
      { name: 'CL', key: 'cl', unit: 'L/h', label: 'clearance', i: 0 },
      { name: 'V1', key: 'v1', unit: 'L', label: 'central volume', i: 1 },
      { name: 'V2', key: 'v2', unit: 'L', label: 'peripheral volume', i: 2 },
    ] as const;
    return {
      parameters: defs.map((p) =>
        posteriorPanel({
          name: p.name,
          label: p.label,
          unit: p.unit,
          transform: 'log',
          scale: typical[p.key],
          prior: t.parameters.priors[p.i] as { mean: number; sd: number },
          map: mapPk[p.key],
          draws: pks.map((k) => k[p.key]),
        }),
      ),
    };
  }

  /**
   * The concentration–time curve: the recorded doses, then (with `dose`) `dose` mg every `interval` h
   * (default: the data's regimen interval) from `start` (default: one interval after the last
   * recorded dose) for `hours` (default 48), infused over max(1 h, dose / 1 g·h⁻¹) as `twin dose`
   * proposes. Per grid time the posterior predictive mean and 95 % band of a measured level; the
   * measured levels (used: conditioned on by the twin's posterior); the proposed regimen's
   * steady-state AUC24 and trough (mean and 95 % interval over all the posterior draws, as the dose table).
   */
  curve(record: TwinRecord, query: unknown): unknown {
    const q = CurveQuery.safeParse(query);
    if (!q.success) throw zodToTwinlab(q.error, 'query');
    const { twin: t, data, base } = this.live(record);
    if (q.data.dose === undefined && (q.data.interval !== undefined || q.data.start !== undefined)) {
      throw new TwinlabError('INVALID_ARGUMENT', 'query.dose: required with interval or start (the proposed regimen)', { field: 'query.dose' });
    }
    const doses = data.doses.map((d) => ({ ...d, proposed: false }));
    const lastDose = doses[doses.length - 1] as { timeMs: number };
    let proposed: unknown = null;
    let endMs = Math.max(lastDose.timeMs + 12 * HOUR, ...data.levels.map((l) => l.timeMs + 2 * HOUR));
    const all = t.posterior.draws;
    const use = Math.min(all.length, CURVE_DRAWS);
    const draws = Array.from({ length: use }, (_, j) => all[Math.floor(((j + 0.5) * all.length) / use)] as number[]);
    if (q.data.dose !== undefined) {
      const tau = q.data.interval ?? t.regimen.intervalH;
      const startMs = q.data.start === undefined ? lastDose.timeMs + t.regimen.intervalH * HOUR : queryTime(q.data.start, 'start');
      if (startMs <= lastDose.timeMs) {
        throw new TwinlabError('INVALID_ARGUMENT', `query.start must be after the last recorded dose (${iso(lastDose.timeMs)})`, { field: 'query.start' });
      }
      if (startMs > lastDose.timeMs + 7 * 24 * HOUR) {
        throw new TwinlabError('INVALID_ARGUMENT', `query.start must be within 7 days of the last recorded dose (${iso(lastDose.timeMs)})`, { field: 'query.start' });
      }
      const hours = q.data.hours ?? 48;
      const infusionH = Math.min(infusionDurationH(q.data.dose), tau);
      for (let k = 0; k * tau < hours; k++) doses.push({ timeMs: startMs + k * tau * HOUR, amountMg: q.data.dose, durationH: infusionH, proposed: true });
      endMs = startMs + hours * HOUR;
      // over every posterior draw, as the dose table computes them (same numbers for the same regimen)
      const aucs = new Float64Array(all.length);
      const troughs = new Float64Array(all.length);
      all.forEach((d, i) => {
        const ss = steadyState(kinetics(pkAt(t.covariates, d)), q.data.dose as number, tau, infusionH);
        aucs[i] = ss.auc24;
        troughs[i] = ss.trough;
      });
      proposed = { doseMg: q.data.dose, intervalH: tau, infusionH, start: iso(startMs), hours, doses: doses.length - data.doses.length, auc24: interval95(aucs), trough: interval95(troughs) };
    }
    const firstMs = (doses[0] as { timeMs: number }).timeMs;
    const span = endMs - firstMs;
    const stepMin = Math.max(10, Math.ceil(span / 60_000 / MAX_CURVE_POINTS / 5) * 5);
    const times: number[] = [];
    for (let tm = firstMs; tm <= endMs; tm += stepMin * 60_000) times.push(tm);
    const bands = predictLevels(t.covariates, draws, { doses }, times, CURVE_TOL_MG_L);
    const untilMs = t.data.until === null ? Number.POSITIVE_INFINITY : Date.parse(t.data.until);
    const levelBands = predictLevels(
      t.covariates,
      draws,
      { doses },
      data.levels.map((l) => l.timeMs),
      CURVE_TOL_MG_L,
    );
    return {
      twinId: record.id,
      stepMin,
      draws: draws.length,
      rows: times.map((tm, i) => {
        const b = bands[i] as { mean: number; lo: number; hi: number };
        return { time: iso(tm), mean: b.mean, lo: b.lo, hi: b.hi };
      }),
      // used: conditioned on by the posterior (the fitted data's levels up to --until; not the rows posted since)
      levels: data.levels.map((l, i) => ({ time: iso(l.timeMs), observed: l.concMgL, used: i < base.levels.length && l.timeMs <= untilMs, ...(levelBands[i] as { mean: number; lo: number; hi: number }) })),
      doses: doses.map((d) => ({ time: iso(d.timeMs), amountMg: d.amountMg, durationH: d.durationH, proposed: d.proposed })),
      proposed,
    };
  }

  /** The dose table of `twinlab twin dose --json` (same function, same defaults). */
  dose(record: TwinRecord, query: unknown): unknown {
    const q = DoseQuery.safeParse(query);
    if (!q.success) throw zodToTwinlab(q.error, 'query');
    const { twin } = this.load(record);
    return { twinId: record.id, ...recommendDoses(twin, { targetAuc: q.data.targetAuc ?? [400, 600], intervals: q.data.intervals ?? [8, 12, 24], mic: q.data.mic ?? 1, top: q.data.top ?? 10 }) };
  }
}
