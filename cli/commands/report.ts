import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import type { LearningSeries } from '../../experiments/charts.js';
import { REPORT_FORMATS, type ReportFormat, type ReportInput, renderReport } from '../../experiments/report.js';
import type { Store } from '../../experiments/store.js';
import type { TrialAnalysis } from '../../experiments/trial-analysis.js';
import { addDataOption, openExistingStore } from './run.js';

/** `twinlab report EXPERIMENT`: the experiment's report (trial tables and plots, learning curves). */
export function registerReportCommand(program: Command): void {
  addDataOption(
    program
      .command('report')
      .description('render the report of an experiment')
      .argument('<experiment>', 'experiment id')
      .addOption(new Option('--format <format>', 'output format').choices([...REPORT_FORMATS]).default('md'))
      .option('--out <file>', 'write to a file (md: charts go next to it as SVG files)'),
  ).action(async (id: string, options: { data: string; format: ReportFormat; out?: string }) => {
    const store = openExistingStore(options.data);
    try {
      const input = reportInput(store, id);
      const out = options.out ? resolve(options.out) : undefined;
      // md to stdout (a terminal or a pipe): no inline base64 SVGs, which would be tens of kB of noise.
      const text = await renderReport(
        input,
        options.format,
        out
          ? { chartDir: dirname(out), mdDir: dirname(out), chartPrefix: id.replace(/[^a-zA-Z0-9-]+/g, '_') }
          : { charts: 'omit', chartsHint: `Get them as SVG files with \`twinlab report ${id} --out report.md\`, or inline with \`--format html --out report.html\`.` },
      );
      if (out) {
        writeFileSync(out, text);
        process.stderr.write(`wrote ${out}\n`);
      } else process.stdout.write(text);
    } finally {
      store.close();
    }
  });
}

const CURVE_METRICS = ['episode.return', 'eval.meanReturn', 'train.loss'];

/** Everything the report needs, read from the store. */
export function reportInput(store: Store, id: string): ReportInput {
  const experiment = store.getExperiment(id);
  if (!experiment) throw new TwinlabError('NOT_FOUND', `no experiment ${id} in ${store.path}`);
  const jobs = store.listJobs(id);
  const input: ReportInput = { experiment, jobs };
  const trial = store.getTrialResult(id) as TrialAnalysis | undefined;
  if (trial) input.trial = trial;
  if (experiment.kind !== 'trial') {
    const series: LearningSeries[] = [];
    for (const metric of CURVE_METRICS) {
      const runs = jobs
        .map((job) => {
          const s = store.metricSeries(job.id, metric, { maxPoints: 400 });
          const point = (job.config as { gridPoint?: Record<string, unknown> }).gridPoint ?? {};
          const group = Object.keys(point).length > 0 ? Object.entries(point).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ') : 'all';
          return { id: job.id, group, steps: s.steps, values: s.values };
        })
        .filter((r) => r.steps.length > 0);
      if (runs.length > 0) series.push({ metric, runs });
    }
    if (series.length > 0) input.series = series;
  }
  return input;
}
