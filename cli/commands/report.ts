import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Command, Option } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import type { LearningSeries } from '../../experiments/charts.js';
import { REPORT_FORMATS, type ReportFormat, type ReportInput, type ReportOptions, renderReport } from '../../experiments/report.js';
import { buildReport } from '../../experiments/report-builder.js';
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
      .addOption(new Option('--format <format>', 'output format (pdf: the html printed by Chromium, needs --out)').choices([...REPORT_FORMATS, 'pdf']).default('md'))
      .option('--out <file>', 'write to a file (md: charts go next to it as SVG files)'),
  ).action(async (id: string, options: { data: string; format: ReportFormat | 'pdf'; out?: string }) => {
    const out = options.out ? resolve(options.out) : undefined;
    if (options.format === 'pdf' && !out) throw new TwinlabError('INVALID_ARGUMENT', '--format pdf needs --out FILE.pdf (a PDF is not written to a terminal)');
    const store = openExistingStore(options.data);
    try {
      // md to stdout (a terminal or a pipe): no inline base64 SVGs, which would be tens of kB of noise.
      const renderOptions: ReportOptions = out
        ? { chartDir: dirname(out), mdDir: dirname(out), chartPrefix: id.replace(/[^a-zA-Z0-9-]+/g, '_') }
        : { charts: 'omit', chartsHint: `Get them as SVG files with \`twinlab report ${id} --out report.md\`, or inline with \`--format html --out report.html\`.` };
      const format = options.format === 'pdf' ? 'html' : options.format;
      // a trial's report is the server's (buildReport: the twin's methods, AGP and CVGA per arm); others read their curves here
      const text =
        store.getExperiment(id)?.kind === 'trial' ? await buildReport(store, id, format, renderOptions) : await renderReport(reportInput(store, id), format, renderOptions);
      if (options.format === 'pdf') {
        printPdf(text, out as string);
        process.stderr.write(`wrote ${out}\n`);
      } else if (out) {
        writeFileSync(out, text);
        process.stderr.write(`wrote ${out}\n`);
      } else process.stdout.write(text);
    } finally {
      store.close();
    }
  });
}

/** Chromium for --format pdf: $TWINLAB_CHROMIUM, else Debian's /usr/bin/chromium. */
function chromiumPath(): string {
  const path = process.env.TWINLAB_CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(path))
    throw new TwinlabError('INVALID_ARGUMENT', `--format pdf needs Chromium at ${path} (set TWINLAB_CHROMIUM, or install Debian's chromium); --format html writes the same report`);
  return path;
}

/** Prints the html report to `out` with headless Chromium (the report's print CSS applies). */
function printPdf(html: string, out: string): void {
  const chromium = chromiumPath();
  const dir = mkdtempSync(join(tmpdir(), 'twinlab-report-pdf-'));
  try {
    const page = join(dir, 'report.html');
    writeFileSync(page, html);
    rmSync(out, { force: true });
    const r = spawnSync(
      chromium,
      ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${join(dir, 'profile')}`, '--no-pdf-header-footer', `--print-to-pdf=${out}`, pathToFileURL(page).href],
      { encoding: 'utf8', timeout: 120_000 },
    );
    if (r.status !== 0 || !existsSync(out)) throw new TwinlabError('INTERNAL', `Chromium could not print the report (exit ${r.status ?? r.signal}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
