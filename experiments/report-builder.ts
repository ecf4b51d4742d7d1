import '../environments/index.js';
import type { EpisodeLog } from '../engine/episode-log.js';
import { TwinlabError } from '../engine/errors.js';
import { twinForEnv } from '../engine/twin.js';
import { ambulatoryGlucoseProfile, type GlucoseReading } from './agp.js';
import { type ArmBands, type CvgaPoint, type LearningSeries, percentileBands, stepClockMinute, trackValue } from './charts.js';
import { type ReportFormat, type ReportOptions, renderReport } from './report.js';
import type { TwinInfo } from './report-trial.js';
import type { JobRecord, Store } from './store.js';
import type { TrialAnalysis } from './trial-analysis.js';

/**
 * Assembles a report from the store — the one function behind `twinlab report` and the server's
 * report endpoint. Train/sweep: learning curves of episode returns and greedy evaluations per run,
 * grouped by sweep point. Trials: the stored analysis plus, when the twin declares a glucose track for
 * profiles (`tracks.glucoseProfile`, with its clock), per arm the ambulatory glucose profile
 * (experiments/agp.ts: 15-min bins, unsmoothed) and the CVGA min/max points.
 */
interface TrialJobConfig {
  kind?: string;
  patientId?: string;
  arm?: { name?: string } | string;
  gridPoint?: unknown;
}

export function armName(job: JobRecord): string {
  const arm = (job.config as TrialJobConfig | undefined)?.arm;
  return typeof arm === 'string' ? arm : (arm?.name ?? 'arm');
}

function group(job: JobRecord): string {
  const point = (job.config as TrialJobConfig | undefined)?.gridPoint;
  return point && typeof point === 'object' && Object.keys(point).length > 0 ? JSON.stringify(point) : 'config';
}

function learningSeries(store: Store, jobs: JobRecord[], metric: string): LearningSeries {
  return {
    metric,
    runs: jobs
      .filter((j) => store.metricNames(j.id).includes(metric))
      .map((j) => {
        const s = store.metricSeries(j.id, metric, { maxPoints: 400 });
        return { id: j.id.split('/').pop() ?? j.id, group: group(j), steps: s.steps, values: s.values };
      }),
  };
}

function glucoseTraces(store: Store, jobs: JobRecord[]): { bands: ArmBands[]; cvga: CvgaPoint[] } {
  const samples: { arm: string; hour: number; value: number }[] = [];
  const readings = new Map<string, GlucoseReading[]>();
  const cvga: CvgaPoint[] = [];
  for (const job of jobs) {
    // a twin that declares no glucose profile has nothing to draw here: skip decoding its episodes
    const envId = (job.config as { envId?: string } | undefined)?.envId;
    if (envId !== undefined && !twinForEnv(envId)?.tracks?.glucoseProfile) continue;
    for (const { key } of store.listEpisodes(job.id)) {
      const log: EpisodeLog | undefined = store.getEpisode(job.id, key);
      if (!log) continue;
      const declared = twinForEnv(log.envId)?.tracks;
      const field = declared?.glucoseProfile;
      if (!field || !declared?.clock) continue;
      const arm = armName(job);
      let armReadings = readings.get(arm);
      if (!armReadings) {
        armReadings = [];
        readings.set(arm, armReadings);
      }
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (const step of log.steps) {
        const value = trackValue(step, field);
        if (value === null) continue;
        const minute = stepClockMinute(declared.clock, step);
        samples.push({ arm, hour: (minute / 60) % 24, value });
        armReadings.push({ minute, value });
        min = Math.min(min, value);
        max = Math.max(max, value);
      }
      if (Number.isFinite(min)) cvga.push({ arm, patient: (job.config as TrialJobConfig).patientId ?? job.id, minBG: min, maxBG: max });
    }
  }
  const bands = samples.length > 0 ? percentileBands(samples, 1) : [];
  for (const b of bands) b.agp = ambulatoryGlucoseProfile(readings.get(b.arm) ?? []);
  return { bands, cvga };
}

/** The trial's twin for the report's methods: title, env and endpoint labels (from the first job's env). */
function twinInfo(jobs: JobRecord[]): TwinInfo | undefined {
  const config = jobs[0]?.config as { envId?: string; shape?: { envId?: string } } | undefined;
  const envId = config?.envId ?? config?.shape?.envId;
  const twin = envId ? twinForEnv(envId) : undefined;
  if (!twin || !envId) return undefined;
  return {
    id: twin.id,
    title: twin.title,
    envId,
    endpointLabels: Object.fromEntries(twin.endpoints.map((e) => [e.id, `${e.label}${e.unit ? ` (${e.unit})` : ''}`])),
    covariates: twin.covariates ? Object.fromEntries(twin.covariates.map((c) => [c.key, { label: c.label, unit: c.unit }])) : undefined,
  };
}

export async function buildReport(store: Store, experimentId: string, format: ReportFormat, options: ReportOptions = {}): Promise<string> {
  const experiment = store.getExperiment(experimentId);
  if (!experiment) throw new TwinlabError('NOT_FOUND', `no experiment ${experimentId} in ${store.path}`, { id: experimentId });
  const jobs = store.listJobs(experimentId);
  if (experiment.kind === 'trial') {
    const trial = store.getTrialResult(experimentId) as TrialAnalysis | undefined;
    const { bands, cvga } = glucoseTraces(store, jobs);
    return renderReport({ experiment, jobs, trial, twin: twinInfo(jobs), bands: bands.length ? bands : undefined, cvga: cvga.length ? cvga : undefined }, format, options);
  }
  // Constrained training (agent config `constraint`) adds λ and the constraint violation (mean episode cost − budget).
  const series = ['episode.return', 'eval.meanReturn', 'train.lambda', 'train.constraintViolation', 'train.shieldInterventions']
    .map((m) => learningSeries(store, jobs, m))
    .filter((s) => s.runs.length > 0);
  return renderReport({ experiment, jobs, series }, format, options);
}
