import type { EpisodeLog } from '../engine/episode-log.js';
import { TwinlabError } from '../engine/errors.js';
import { type ArmBands, type CvgaPoint, type LearningSeries, percentileBands } from './charts.js';
import { type ReportFormat, type ReportOptions, renderReport } from './report.js';
import type { JobRecord, Store } from './store.js';
import type { TrialAnalysis } from './trial-analysis.js';

/**
 * Assembles a report from the store — the one function behind `twinlab report` and the server's
 * report endpoint. Train/sweep: learning curves of episode returns and greedy evaluations per run,
 * grouped by sweep point. Trials: the stored analysis plus, when episodes carry glucose (`info.bg`),
 * per-arm percentile bands of blood glucose by hour of day and the CVGA min/max points.
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
  const cvga: CvgaPoint[] = [];
  for (const job of jobs) {
    for (const { key } of store.listEpisodes(job.id)) {
      const log: EpisodeLog | undefined = store.getEpisode(job.id, key);
      if (!log) continue;
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (const step of log.steps) {
        const bg = step.info.bg;
        const minute = step.info.minute;
        if (typeof bg !== 'number' || typeof minute !== 'number') continue;
        samples.push({ arm: armName(job), hour: (minute / 60) % 24, value: bg });
        min = Math.min(min, bg);
        max = Math.max(max, bg);
      }
      if (Number.isFinite(min)) cvga.push({ arm: armName(job), patient: (job.config as TrialJobConfig).patientId ?? job.id, minBG: min, maxBG: max });
    }
  }
  return { bands: samples.length > 0 ? percentileBands(samples, 1) : [], cvga };
}

export async function buildReport(store: Store, experimentId: string, format: ReportFormat, options: ReportOptions = {}): Promise<string> {
  const experiment = store.getExperiment(experimentId);
  if (!experiment) throw new TwinlabError('NOT_FOUND', `no experiment ${experimentId} in ${store.path}`, { id: experimentId });
  const jobs = store.listJobs(experimentId);
  if (experiment.kind === 'trial') {
    const trial = store.getTrialResult(experimentId) as TrialAnalysis | undefined;
    const { bands, cvga } = glucoseTraces(store, jobs);
    return renderReport({ experiment, jobs, trial, bands: bands.length ? bands : undefined, cvga: cvga.length ? cvga : undefined }, format, options);
  }
  const series = ['episode.return', 'eval.meanReturn'].map((m) => learningSeries(store, jobs, m)).filter((s) => s.runs.length > 0);
  return renderReport({ experiment, jobs, series }, format, options);
}
