import { existsSync, realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { TwinlabError } from '../engine/errors.js';
import { listSpecs, make } from '../engine/registry.js';
import { twinForEnv } from '../engine/twin.js';
import { type CurvePoint, drawnCurve } from '../experiments/curves.js';
import { isStreamingTrialSpec, PATIENT_PAGE_LIMIT, streamingPatients } from '../experiments/block-patients.js';
import { getDatasetRecord, importDatasetIntoStore, listDatasets } from '../experiments/dataset-store.js';
import { resolveDataPath, type Store } from '../experiments/store.js';
import { listPolicies } from '../policies/registry.js';
import { requireToken, restrictReads } from './auth.js';
import { errorHandler, zodToTwinlab } from './errors.js';
import { TwinService, twinRoutes } from './twins.js';

/**
 * The REST API under /api. Reads are open to loopback clients (or everyone with `publicReads`);
 * every mutating endpoint needs the bearer token. Bodies are validated with zod and errors name the
 * field; every error has the JSON shape `{ error: { code, message, details? } }`.
 */
export interface Lab {
  readonly store: Store;
  /** Validate and start an experiment in the shared worker pool; resolves once it is stored. */
  startExperiment(spec: unknown): Promise<{ id: string }>;
  cancelExperiment(id: string): boolean;
  /** Resume an interrupted/cancelled/failed experiment in the shared pool (CONFLICT while its owner lives). */
  resumeExperiment(id: string): Promise<{ id: string }>;
  verifyEpisode(jobId: string, key: string): Promise<unknown>;
  report(experimentId: string, format: 'md' | 'html' | 'json'): Promise<string>;
  readonly startedAt: number;
}

export interface AppOptions {
  lab: Lab;
  token: string;
  publicReads?: boolean;
  viewerDir?: string;
  version: string;
  /** Body size limit for JSON (default 1 MB). */
  bodyLimit?: string;
  /** Live personal twins (server/twins.ts); one without socket.io is made when absent. */
  twins?: TwinService;
}

const CreateExperimentBody = z.strictObject({
  spec: z.union([z.record(z.string(), z.unknown()), z.string().min(1).max(1_000_000)]),
});

/** A patient data file: CSV text, or FHIR Bundle / Nightscout entries as JSON (text or value); see datasets/README.md. */
const ImportDatasetBody = z.strictObject({
  format: z.enum(['csv', 'fhir', 'nightscout']).optional(),
  content: z.union([z.string().min(1), z.record(z.string(), z.unknown()), z.array(z.unknown()).min(1)]),
  treatments: z.union([z.string(), z.array(z.unknown())]).optional(),
  fileName: z.string().min(1).max(255).optional(),
  patientId: z.string().trim().min(1).max(128).optional(),
  bodyWeightKg: z.number().min(1).max(400).optional(),
  basalUPerH: z.number().min(0).max(30).optional(),
  deidentify: z.boolean().optional(),
});

const SeriesQuery = z.strictObject({
  maxPoints: z.coerce.number().int().min(10).max(100_000).optional(),
  from: z.coerce.number().optional(),
  to: z.coerce.number().optional(),
});

const CurveQuery = z.strictObject({
  ema: z.coerce.number().min(0).lt(1),
  maxPoints: z.coerce.number().int().min(1).max(100_000).default(1000),
});

const runList = z
  .string()
  .transform((v) => v.split(',').filter(Boolean))
  .pipe(z.array(z.string().min(1)).min(1).max(500));

const CurvesQuery = z.strictObject({
  metric: z.string().min(1),
  ema: z.coerce.number().min(0).lt(1),
  maxPoints: z.coerce.number().int().min(1).max(100_000).default(1000),
  runs: runList,
});

const RunsQuery = z.strictObject({ ids: runList });

interface SeriesRead {
  steps: Float64Array;
  values: Float64Array;
  throughSeq: number;
}

const RangeQuery = z.strictObject({
  from: z.coerce.number().int().min(0).optional(),
  to: z.coerce.number().int().min(0).optional(),
});

/** Jobs per page of a streaming trial's listing (GET /experiments/:id and /experiments/:id/jobs). */
const JOB_PAGE_LIMIT = 1000;

const PageQuery = (max: number) =>
  z.strictObject({
    offset: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(max).optional(),
  });

const EventsQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, root: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw zodToTwinlab(result.error, root);
  return result.data;
}

function param(req: Request, name: string): string {
  const value = req.params[name];
  if (typeof value !== 'string' || value.length === 0) throw new TwinlabError('INVALID_ARGUMENT', `path parameter ${name} is required`);
  return value;
}

/**
 * Errors express and its parsers raise for bad requests (an undecodable %-escape in the path, an
 * aborted or mis-encoded body) carry a 4xx `status`; they are the client's fault, not INTERNAL.
 */
function clientErrors(error: unknown, _req: Request, _res: Response, next: NextFunction): void {
  const e = error as { status?: unknown; type?: unknown; message?: unknown } | undefined;
  if (error instanceof TwinlabError || typeof e?.status !== 'number' || e.status < 400 || e.status >= 500 || e.type === 'entity.too.large' || e.type === 'entity.parse.failed') {
    next(error);
    return;
  }
  const what = error instanceof URIError ? 'path: malformed percent-encoding' : `request: ${typeof e.message === 'string' ? e.message : 'malformed'}`;
  next(new TwinlabError('INVALID_ARGUMENT', what, { status: e.status }));
}

export function createApp(options: AppOptions): express.Express {
  const { lab, token } = options;
  const store = lab.store;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  const auth = requireToken(token);
  const api = express.Router();
  api.use(restrictReads(token, options.publicReads ?? false));
  api.use(express.json({ limit: options.bodyLimit ?? '1mb' }));

  const experimentOr404 = (id: string) => {
    const experiment = store.getExperiment(id);
    if (!experiment) throw new TwinlabError('NOT_FOUND', `unknown experiment "${id}"`);
    return experiment;
  };
  const jobOr404 = (id: string) => {
    const job = store.getJob(id);
    if (!job) throw new TwinlabError('NOT_FOUND', `unknown run "${id}"`);
    return job;
  };

  api.get('/health', (_req, res) => {
    res.json({ ok: true, version: options.version, uptimeSeconds: Math.round((Date.now() - lab.startedAt) / 1000), experiments: store.listExperiments().length });
  });

  api.get('/envs', (_req, res) => {
    res.json(
      listSpecs().map((spec) => {
        const env = make(spec.id);
        const twin = twinForEnv(spec.id);
        const row = {
          id: spec.id,
          description: spec.description,
          observationSpace: env.observationSpace.toJSON(),
          actionSpace: env.actionSpace.toJSON(),
          maxEpisodeSteps: spec.maxEpisodeSteps ?? null,
          decisionInterval: spec.decisionInterval ?? null,
          reference: spec.reference ?? null,
          twin: twin ? { id: twin.id, title: twin.title, populations: twin.populations, endpoints: twin.endpoints.map(({ compute: _c, ...rest }) => rest), tracks: twin.tracks ?? null } : null,
          policies: listPolicies(spec.id).map((p) => ({ name: p.name, description: p.description })),
        };
        env.close?.();
        return row;
      }),
    );
  });

  api.get('/policies', (_req, res) => {
    const saved = store.listExperiments().flatMap((e) => store.listArtifacts(e.id).filter((a) => a.kind === 'policy'));
    res.json({ protocols: listPolicies().map((p) => ({ name: p.name, description: p.description, appliesTo: p.appliesTo })), saved });
  });

  api.get('/datasets', (_req, res) => {
    res.json(listDatasets(store));
  });

  api.post('/datasets', auth, (req, res) => {
    const { content, treatments, ...options } = parse(ImportDatasetBody, req.body, 'body');
    const bytes = (value: string | unknown[] | Record<string, unknown>) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
    const { record } = importDatasetIntoStore(store, bytes(content), { ...options, treatments: treatments === undefined ? undefined : bytes(treatments) });
    res.status(record.created ? 201 : 200).json({ ...record, url: `/api/datasets/${encodeURIComponent(record.id)}` });
  });

  api.get('/datasets/:id', (req, res) => {
    const record = getDatasetRecord(store, param(req, 'id'));
    if (!record) throw new TwinlabError('NOT_FOUND', `unknown dataset "${param(req, 'id')}"`);
    res.json(record);
  });

  api.get('/experiments', (_req, res) => {
    res.json(
      store.listExperiments().map((e) => {
        // ids and statuses only: a streaming trial's block results (its patients' values) are not read
        const jobs = store.jobStatuses(e.id);
        const count = (s: string) => jobs.filter((j) => j.status === s).length;
        // training: the share of env steps done over all runs (a finished run counts whole), so a list
        // shows movement before the first run ends
        const steps = (e.spec as { steps?: unknown } | undefined)?.steps;
        let progress: number | undefined;
        if (e.kind !== 'trial' && typeof steps === 'number' && steps > 0 && jobs.length > 0) {
          let done = 0;
          for (const j of jobs) done += j.status === 'finished' ? 1 : j.status === 'running' ? Math.min(1, (store.lastMetricStep(j.id, 'episode.return') ?? 0) / steps) : 0;
          progress = done / jobs.length;
        }
        return { ...e, spec: undefined, progress, jobs: { total: jobs.length, finished: count('finished'), failed: count('failed'), running: count('running') } };
      }),
    );
  });

  api.post('/experiments', auth, async (req, res) => {
    const body = parse(CreateExperimentBody, req.body, 'body');
    const { id } = await lab.startExperiment(body.spec);
    res.status(201).json({ id, url: `/api/experiments/${encodeURIComponent(id)}` });
  });

  // A streaming trial (spec `streaming`) has up to 100,000 block jobs whose results hold every patient's
  // values (≈ 70 bytes per patient): its detail lists the first page of job summaries (no per-patient
  // arrays, `Store.listJobSummaries`) with `jobsPage` and the patients done per status (`progress`); the
  // rest page through /jobs, the patients through /patients. Other experiments are listed whole, as before.
  api.get('/experiments/:id', (req, res) => {
    const experiment = experimentOr404(param(req, 'id'));
    if (isStreamingTrialSpec(experiment.spec)) {
      const progress = store.jobProgress(experiment.id);
      res.json({
        ...experiment,
        jobs: store.listJobSummaries(experiment.id, { limit: JOB_PAGE_LIMIT }),
        jobsPage: { offset: 0, limit: JOB_PAGE_LIMIT, total: progress.total },
        progress,
        lastSeq: store.lastSeq(experiment.id),
      });
      return;
    }
    res.json({ ...experiment, jobs: store.listJobs(experiment.id), lastSeq: store.lastSeq(experiment.id) });
  });

  api.get('/experiments/:id/jobs', (req, res) => {
    const experiment = experimentOr404(param(req, 'id'));
    const q = parse(PageQuery(JOB_PAGE_LIMIT), req.query, 'query');
    const offset = q.offset ?? 0;
    const limit = q.limit ?? JOB_PAGE_LIMIT;
    res.json({ offset, limit, total: store.jobProgress(experiment.id).total, jobs: store.listJobSummaries(experiment.id, { offset, limit }) });
  });

  api.get('/experiments/:id/patients', (req, res) => {
    const experiment = experimentOr404(param(req, 'id'));
    const q = parse(PageQuery(PATIENT_PAGE_LIMIT).extend({ sampled: z.enum(['0', '1', 'true', 'false']).optional() }), req.query, 'query');
    res.json(streamingPatients(store, experiment.id, { offset: q.offset, limit: q.limit, sampled: q.sampled === '1' || q.sampled === 'true' }));
  });

  api.post('/experiments/:id/cancel', auth, (req, res) => {
    const experiment = experimentOr404(param(req, 'id'));
    const cancelled = lab.cancelExperiment(experiment.id);
    res.json({ id: experiment.id, cancelled });
  });

  api.post('/experiments/:id/resume', auth, async (req, res) => {
    const experiment = experimentOr404(param(req, 'id'));
    const { id } = await lab.resumeExperiment(experiment.id);
    res.status(202).json({ id, resumed: true, url: `/api/experiments/${encodeURIComponent(id)}` });
  });

  api.get('/experiments/:id/events', (req, res) => {
    const experiment = experimentOr404(param(req, 'id'));
    const q = parse(EventsQuery, req.query, 'query');
    res.json({ events: store.eventsAfter(experiment.id, q.after ?? 0, q.limit ?? 1000), lastSeq: store.lastSeq(experiment.id) });
  });

  api.get('/experiments/:id/trial', (req, res) => {
    const experiment = experimentOr404(param(req, 'id'));
    const result = store.getTrialResult(experiment.id);
    if (result === undefined) throw new TwinlabError('NOT_FOUND', `experiment "${experiment.id}" has no trial result${experiment.kind === 'trial' ? ' yet' : ' (it is not a trial)'}`);
    res.json(result);
  });

  api.get('/experiments/:id/report', async (req, res) => {
    const experiment = experimentOr404(param(req, 'id'));
    const format = parse(z.strictObject({ format: z.enum(['md', 'html', 'json']).default('html') }), req.query, 'query').format;
    const text = await lab.report(experiment.id, format);
    res.type(format === 'html' ? 'html' : format === 'json' ? 'json' : 'text/markdown').send(text);
  });

  api.get('/runs/:jobId', (req, res) => {
    const job = jobOr404(param(req, 'jobId'));
    res.json({ ...job, episodes: store.listEpisodes(job.id), metrics: store.metricNames(job.id), artifacts: store.listArtifacts(job.id) });
  });

  api.get('/runs/:jobId/metrics', (req, res) => {
    const job = jobOr404(param(req, 'jobId'));
    res.json(store.metricNames(job.id));
  });

  // Every stored point (run comparison: smoothing is computed on the full series, experiments/curves.ts):
  // little-endian float64 steps then values; `x-points` and `x-through-seq` (the live stream goes on
  // after it). A metric the run does not have yet is an empty series, not a 404 (a live page asks early).
  // A finished run's series no longer changes: its points are kept (LRU, ≤ 64 MB) and served again
  // without reading SQLite; a run that is not finished (or resumed since) is always read afresh.
  const pointsCache = new Map<string, SeriesRead>();
  let pointsCacheBytes = 0;
  const readSeries = (job: { id: string; status: string }, name: string): SeriesRead => {
    const key = `${job.id}\u0000${name}`;
    const done = job.status === 'finished' || job.status === 'failed' || job.status === 'cancelled';
    let entry = pointsCache.get(key);
    if (entry && !done) {
      pointsCache.delete(key);
      pointsCacheBytes -= 16 * entry.steps.length;
      entry = undefined;
    }
    if (entry) {
      pointsCache.delete(key);
      pointsCache.set(key, entry); // most recently used last
      return entry;
    }
    const { steps, values, throughSeq } = store.metricPoints(job.id, name);
    entry = { steps, values, throughSeq };
    if (done && steps.length <= 1024 * 1024) {
      pointsCache.set(key, entry);
      pointsCacheBytes += 16 * steps.length;
      for (const [k, e] of pointsCache) {
        if (pointsCacheBytes <= 64 * 1024 * 1024) break;
        pointsCache.delete(k);
        pointsCacheBytes -= 16 * e.steps.length;
      }
    }
    return entry;
  };
  api.get('/runs/:jobId/metrics/:name/points', (req, res) => {
    const job = jobOr404(param(req, 'jobId'));
    parse(z.strictObject({}), req.query, 'query');
    const t0 = performance.now();
    const { steps, values, throughSeq } = readSeries(job, param(req, 'name'));
    const body = Buffer.allocUnsafe(16 * steps.length);
    Buffer.from(steps.buffer, steps.byteOffset, steps.byteLength).copy(body, 0);
    Buffer.from(values.buffer, values.byteOffset, values.byteLength).copy(body, 8 * steps.length);
    res
      .set({
        'content-type': 'application/octet-stream',
        'x-points': String(steps.length),
        'x-through-seq': String(throughSeq),
        'cache-control': 'no-store',
        'server-timing': `read;dur=${(performance.now() - t0).toFixed(2)}`,
      })
      .send(body);
  });

  // The curve a finished run is drawn with (run comparison, experiments/curves.ts `drawnCurve`): the EMA
  // over every stored point, then thinned to ≤ maxPoints (+1) — the same function the viewer applies to
  // the full series of a live run, so both give the same numbers. Little-endian float64 steps, smoothed
  // values, bucket minima, bucket maxima (`x-drawn` each); `x-points` the stored points, `x-last` the last
  // raw value, `x-through-seq` as above. Server-Timing: read (store or cache), curve (EMA + thinning).
  const curveOf = (job: { id: string; status: string }, name: string, ema: number, maxPoints: number) => {
    const t0 = performance.now();
    const { steps, values, throughSeq } = readSeries(job, name);
    const t1 = performance.now();
    const curve = drawnCurve(steps, values, ema, maxPoints);
    const m = curve.length;
    const data = new Float64Array(4 * m);
    for (let i = 0; i < m; i++) {
      const p = curve[i] as CurvePoint;
      data[i] = p.step;
      data[m + i] = p.value;
      data[2 * m + i] = p.min;
      data[3 * m + i] = p.max;
    }
    const last = values.length ? (values[values.length - 1] as number) : null;
    return { data, meta: { run: job.id, points: steps.length, drawn: m, last, throughSeq }, readMs: t1 - t0, curveMs: performance.now() - t1 };
  };
  api.get('/runs/:jobId/metrics/:name/curve', (req, res) => {
    const job = jobOr404(param(req, 'jobId'));
    const q = parse(CurveQuery, req.query, 'query');
    const c = curveOf(job, param(req, 'name'), q.ema, q.maxPoints);
    res
      .set({
        'content-type': 'application/octet-stream',
        'x-points': String(c.meta.points),
        'x-drawn': String(c.meta.drawn),
        'x-last': c.meta.last === null ? '' : String(c.meta.last),
        'x-through-seq': String(c.meta.throughSeq),
        'cache-control': 'no-store',
        'server-timing': `read;dur=${c.readMs.toFixed(2)}, curve;dur=${c.curveMs.toFixed(2)}`,
      })
      .send(Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength));
  });

  // The drawn curves of several runs in one response (a 20-run comparison: one request instead of 20,
  // which HTTP/1.1's six connections per host served in four waves): a little-endian uint32 byte length,
  // that many bytes of UTF-8 JSON — per run, in the order asked, { run, points, drawn, last, throughSeq }
  // as above —, zero padding to a multiple of 8 bytes, then each run's 4·drawn float64 (steps, smoothed
  // values, minima, maxima) one run after the other. An unknown run fails the whole request (404).
  api.get('/curves', (req, res) => {
    const q = parse(CurvesQuery, req.query, 'query');
    const jobs = q.runs.map(jobOr404);
    let readMs = 0;
    let curveMs = 0;
    const curves = jobs.map((job) => {
      const c = curveOf(job, q.metric, q.ema, q.maxPoints);
      readMs += c.readMs;
      curveMs += c.curveMs;
      return c;
    });
    const meta = Buffer.from(JSON.stringify(curves.map((c) => c.meta)), 'utf8');
    const head = 8 * Math.ceil((4 + meta.length) / 8);
    const body = Buffer.alloc(head + curves.reduce((a, c) => a + c.data.byteLength, 0));
    body.writeUInt32LE(meta.length, 0);
    meta.copy(body, 4);
    let at = head;
    for (const c of curves) {
      Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength).copy(body, at);
      at += c.data.byteLength;
    }
    res
      .set({
        'content-type': 'application/octet-stream',
        'cache-control': 'no-store',
        'server-timing': `read;dur=${readMs.toFixed(2)}, curve;dur=${curveMs.toFixed(2)}`,
      })
      .send(body);
  });

  // Several runs with their experiment's id and name, in the order asked (the runs page: one request
  // instead of one experiment detail per run); unknown runs are listed in `missing`.
  api.get('/runs', (req, res) => {
    const q = parse(RunsQuery, req.query, 'query');
    const runs: { experiment: { id: string; name: string }; job: unknown }[] = [];
    const missing: string[] = [];
    for (const id of q.ids) {
      const job = store.getJob(id);
      const experiment = job && store.getExperiment(job.experimentId);
      if (!job || !experiment) missing.push(id);
      else {
        const { result: _result, stack: _stack, ...summary } = job;
        runs.push({ experiment: { id: experiment.id, name: experiment.name }, job: summary });
      }
    }
    res.json({ runs, missing });
  });

  api.get('/runs/:jobId/metrics/:name', (req, res) => {
    const job = jobOr404(param(req, 'jobId'));
    const q = parse(SeriesQuery, req.query, 'query');
    const name = param(req, 'name');
    if (!store.metricNames(job.id).includes(name)) throw new TwinlabError('NOT_FOUND', `run "${job.id}" has no metric "${name}"`);
    const s = store.metricSeries(job.id, name, { maxPoints: q.maxPoints ?? 2000, fromStep: q.from, toStep: q.to });
    res.json({
      name,
      steps: Array.from(s.steps),
      values: Array.from(s.values),
      min: s.min ? Array.from(s.min) : undefined,
      max: s.max ? Array.from(s.max) : undefined,
      downsampled: s.downsampled,
      totalPoints: s.totalPoints,
    });
  });

  api.get('/runs/:jobId/episodes', (req, res) => {
    const job = jobOr404(param(req, 'jobId'));
    res.json(store.listEpisodes(job.id));
  });

  api.get('/runs/:jobId/episodes/:key', (req, res) => {
    const job = jobOr404(param(req, 'jobId'));
    const key = param(req, 'key');
    const q = parse(RangeQuery, req.query, 'query');
    const log = store.getEpisode(job.id, key);
    if (!log) throw new TwinlabError('NOT_FOUND', `run "${job.id}" has no episode "${key}"`);
    const from = q.from ?? 0;
    const to = q.to ?? log.length;
    // half-open [from, to); the store's range is inclusive
    const { steps, keyframe } = to > from ? store.getEpisodeRange(job.id, key, from, to - 1) : { steps: [], keyframe: undefined };
    res.json({ key, envId: log.envId, seed: log.seed, length: log.length, totalReward: log.totalReward, hash: log.hash, terminated: log.terminated, truncated: log.truncated, initialObservation: log.initialObservation, resetInfo: log.resetInfo, from, to, steps, keyframe });
  });

  api.post('/runs/:jobId/episodes/:key/verify', auth, async (req, res) => {
    const job = jobOr404(param(req, 'jobId'));
    const key = param(req, 'key');
    if (!store.getEpisode(job.id, key)) throw new TwinlabError('NOT_FOUND', `run "${job.id}" has no episode "${key}"`);
    res.json(await lab.verifyEpisode(job.id, key));
  });

  // Saved-policy files for the browser (`tf.loadLayersModel`): only artifacts the store knows, only inside the data dir.
  api.get('/runs/:jobId/artifacts/:kind/*file', (req, res) => {
    const job = jobOr404(param(req, 'jobId'));
    const kind = param(req, 'kind');
    const fileParam = (req.params as Record<string, unknown>).file;
    const file = Array.isArray(fileParam) ? fileParam.join('/') : String(fileParam ?? '');
    const artifact = store.listArtifacts(job.id).find((a) => a.kind === kind);
    if (!artifact) throw new TwinlabError('NOT_FOUND', `run "${job.id}" has no ${kind} artifact`);
    if (file.split('/').some((part) => part === '..' || part === '') || file.includes('\\') || file.includes('\0')) {
      throw new TwinlabError('INVALID_ARGUMENT', `file path "${file}" is not allowed`);
    }
    const { absolute } = resolveDataPath(store.dataDir, `${artifact.path}/${file}`);
    const missing = () => new TwinlabError('NOT_FOUND', `no file "${file}" in the ${kind} artifact of run "${job.id}"`);
    if (!existsSync(absolute)) throw missing();
    // Symlinks are resolved and the target must still lie inside the (resolved) data directory.
    const real = realpathSync(absolute);
    const root = realpathSync(store.dataDir);
    if (real !== root && !real.startsWith(`${root}${sep}`)) throw missing();
    if (!statSync(real).isFile()) throw missing();
    res.sendFile(real);
  });

  api.use(twinRoutes(options.twins ?? new TwinService(store), auth));

  api.use((_req: Request, _res: Response, next: NextFunction) => next(new TwinlabError('NOT_FOUND', 'no such API endpoint')));
  app.use('/api', api);

  if (options.viewerDir && existsSync(options.viewerDir)) {
    app.use(express.static(options.viewerDir, { index: 'index.html', maxAge: 0 }));
    app.get('/{*any}', (_req, res) => res.sendFile(join(options.viewerDir as string, 'index.html')));
  }
  app.use(clientErrors);
  app.use(errorHandler);
  return app;
}
