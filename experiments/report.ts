import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { TwinlabError } from '../engine/errors.js';
import {
  type ArmBands,
  type CvgaPoint,
  cvgaSpec,
  endpointsInOrder,
  forestPlotSpec,
  forestRowsFromTrial,
  glucoseBandsSpec,
  type LearningSeries,
  learningCurveSpec,
} from './charts.js';
import { type SectionTable, type TrialSections, type TwinInfo, trialSections } from './report-trial.js';
import type { ExperimentRecord, JobRecord } from './store.js';
import { type EndpointAnalysis, type TrialAnalysis, withVerdicts } from './trial-analysis.js';

/**
 * Experiment reports in three formats:
 * - `json`: the raw analysis (experiment, jobs, trial analysis, chart data) — machine-readable;
 * - `html`: one self-contained page, charts embedded inline as SVG;
 * - `md`: Markdown; charts are inlined as `data:image/svg+xml;base64` images by default (so the
 *   report is one file and `renderReport` stays pure), or, with `options.chartDir`, written as SVG
 *   files into that directory and referenced by relative path (better for viewers that block data URIs).
 */

export type ReportFormat = 'md' | 'html' | 'json';
export const REPORT_FORMATS: readonly ReportFormat[] = ['md', 'html', 'json'];

export interface ReportInput {
  experiment: ExperimentRecord;
  jobs: JobRecord[];
  trial?: TrialAnalysis;
  /** Learning curves (train/sweep), one entry per metric. */
  series?: LearningSeries[];
  /** Glucose percentile bands by time of day, per arm. */
  bands?: ArmBands[];
  /** Per (patient, arm) minimum/maximum BG for the CVGA plot. */
  cvga?: CvgaPoint[];
  /** The trial's twin (title, env, endpoint labels) for the methods section; report-builder.ts fills it. */
  twin?: TwinInfo;
}

/** The spec's declared primary endpoint ids, in order (the first leads every table and the forest plot). */
function primaryOrder(input: ReportInput): string[] {
  return ((input.experiment.spec as { endpoints?: { primary?: string[] } } | undefined)?.endpoints?.primary ?? []).slice();
}

export interface ReportOptions {
  /** md only: write charts as `<chartPrefix>-<name>.svg` here and link them (relative to `mdDir`, default chartDir). */
  chartDir?: string;
  chartPrefix?: string;
  /** Directory the Markdown file will live in, for relative links (default: chartDir). */
  mdDir?: string;
  /**
   * md only: 'omit' lists the charts without rendering them (for a terminal: no base64 walls),
   * with `chartsHint` saying how to get them. Default: inline data URIs, or files with `chartDir`.
   */
  charts?: 'omit';
  chartsHint?: string;
}

/**
 * Vega-Lite warns that the forest plot's independent x scales union several fields (lower, upper,
 * estimate, 0) — intended, and harmless with a fixed width; every other warning still reaches stderr.
 */
const IGNORED_WARNINGS = ['faceted independent scales that union domain'];
const compileLogger = vega.logger(vega.Warn, undefined, (method, level, args) => {
  const text = args.map(String).join(' ');
  if (method === 'warn' && IGNORED_WARNINGS.some((w) => text.includes(w))) return;
  console[method](level, ...args);
});

/** Renders a Vega-Lite spec to an SVG string in Node (no canvas: the `none` renderer's `toSVG`). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec, { logger: compileLogger }).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface ReportChart {
  name: string;
  title: string;
  spec: TopLevelSpec;
}

/** The charts a report contains, in display order (also what the viewer shows for the experiment). */
export function reportCharts(input: ReportInput): ReportChart[] {
  const charts: ReportChart[] = [];
  if (input.trial) {
    const rows = forestRowsFromTrial(input.trial, primaryOrder(input));
    if (rows.length > 0) charts.push({ name: 'forest', title: 'Paired differences (forest plot)', spec: forestPlotSpec(rows, { level: input.trial.level }) });
  }
  if (input.bands && input.bands.length > 0) charts.push({ name: 'glucose-bands', title: 'Glucose by time of day', spec: glucoseBandsSpec(input.bands) });
  if (input.cvga && input.cvga.length > 0) charts.push({ name: 'cvga', title: 'Control-variability grid analysis', spec: cvgaSpec(input.cvga) });
  for (const [i, s] of (input.series ?? []).entries()) {
    if (s.runs.length > 0)
      charts.push({ name: `learning-${i}-${s.metric.replace(/[^A-Za-z0-9_.-]/g, '_')}`, title: `Learning curve: ${s.metric}`, spec: learningCurveSpec(s) });
  }
  return charts;
}

const DASH = '—';

/** Compact number formatting for tables: 4 significant digits, no exponent for ordinary magnitudes. */
export function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return DASH;
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(2);
  if (a >= 100) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return DASH;
  return p < 0.001 ? '<0.001' : p.toFixed(3);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
  return value;
}

/** Plain-table model shared by the md and html renderers. */
interface Table {
  head: string[];
  rows: string[][];
}

function statusTable(jobs: JobRecord[]): Table {
  const counts = new Map<string, number>();
  for (const job of jobs) counts.set(job.status, (counts.get(job.status) ?? 0) + 1);
  return { head: ['Status', 'Jobs'], rows: [...counts].map(([s, n]) => [s, String(n)]) };
}

function endpointTables(e: EndpointAnalysis, level: number): { arms: Table; comparisons: Table } {
  const binary = e.kind === 'binary';
  const arms: Table = {
    head: binary ? ['Arm', 'n', 'Proportion', 'Missing'] : ['Arm', 'n', 'Mean ± SD', 'Median [IQR]', 'Min – Max', 'Missing'],
    rows: e.arms.map((a) =>
      binary
        ? [a.arm, String(a.n), formatNumber(a.proportion), String(a.missing)]
        : [
            a.arm,
            String(a.n),
            `${formatNumber(a.mean)} ± ${formatNumber(a.sd)}`,
            `${formatNumber(a.median)} [${formatNumber(a.q1)}, ${formatNumber(a.q3)}]`,
            `${formatNumber(a.min)} – ${formatNumber(a.max)}`,
            String(a.missing),
          ],
    ),
  };
  const pct = Math.round(level * 100);
  const comparisons: Table = {
    head: [
      'Comparison',
      'Pairs',
      binary ? 'Risk difference' : 'Mean difference',
      `${pct}% CI (bootstrap)`,
      'Test',
      'p',
      'Effect size',
      'Favours (rule: CI excludes 0, declared direction)',
      'Hypothesis',
      'Verdict',
      'p (hypothesis)',
      'p (Holm)',
    ],
    rows: e.comparisons.map((c) => {
      const test =
        c.test.name === 'mcnemar'
          ? `McNemar (${c.test.method}, b=${c.test.b}, c=${c.test.c})`
          : `Wilcoxon (${c.test.method}, W+=${formatNumber(c.test.statistic)})`;
      const effect =
        c.effectSizes.riskDifference !== undefined
          ? `RD ${formatNumber(c.effectSizes.riskDifference)}`
          : `d_z ${formatNumber(c.effectSizes.cohensDz)}, r_rb ${formatNumber(c.effectSizes.rankBiserial)}`;
      const ci = c.ci === null ? DASH : `[${formatNumber(c.ci.lower)}, ${formatNumber(c.ci.upper)}]`;
      const h = c.hypothesis;
      return [
        `${c.arm} − ${c.reference}`,
        String(c.nPairs),
        formatNumber(c.meanDifference),
        ci,
        test,
        formatP(c.test.pValue),
        effect,
        c.note,
        hypothesisLabel(e),
        h ? h.note : DASH,
        formatP(h?.pValue),
        h?.pAdjusted === null || h?.pAdjusted === undefined ? (e.primary ? 'primary: not adjusted' : DASH) : `${formatP(h.pAdjusted)}${h.metAdjusted ? '' : h.met ? ' (not shown after adjustment)' : ''}`,
      ];
    }),
  };
  return { arms, comparisons };
}

/** "superiority", "non-inferiority, margin 0.02 N/N0", "equivalence, margin ±5 day". */
function hypothesisLabel(e: EndpointAnalysis): string {
  const type = e.hypothesis ?? 'superiority';
  if (type === 'superiority' || e.margin === null || e.margin === undefined) return type;
  return `${type}, margin ${type === 'equivalence' ? '±' : ''}${formatNumber(e.margin)}${e.unit ? ` ${e.unit}` : ''}`;
}

function endpointTitle(e: EndpointAnalysis): string {
  const tags = [e.safety ? 'safety' : '', e.primary ? 'primary' : '', hypothesisLabel(e)].filter(Boolean).join(', ');
  return `${e.label}${e.unit ? ` (${e.unit})` : ''}${tags ? ` — ${tags}` : ''}`;
}

// ---- markdown --------------------------------------------------------------------------------

const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function mdTable(t: Table): string {
  return [`| ${t.head.map(mdCell).join(' | ')} |`, `|${t.head.map(() => ' --- ').join('|')}|`, ...t.rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`)].join(
    '\n',
  );
}

function experimentHeader(input: ReportInput): { title: string; facts: [string, string][] } {
  const e = input.experiment;
  const facts: [string, string][] = [
    ['Experiment', e.id],
    ['Kind', e.kind],
    ['Status', e.status],
    ['Seed', String(e.seed)],
    ['Code version', e.codeVersion],
    ['Created', e.createdAt],
    ['Jobs', String(input.jobs.length)],
  ];
  if (e.error) facts.push(['Error', e.error]);
  return { title: e.name || e.id, facts };
}

function trialFacts(trial: TrialAnalysis): string {
  const pct = Math.round(trial.level * 100);
  // Streaming trials (streaming-trial.ts) say how their numbers were made.
  const streaming = (trial as { aggregation?: { mode?: string; sketchRelativeAccuracy?: number } }).aggregation;
  const bootstrap =
    streaming?.mode === 'streaming'
      ? `aggregated as results arrived: Poisson bootstrap, ${trial.resamples} replicates with Poisson(1) weights per patient (percentile, seed ${trial.seed}); means and SDs exact; medians, quartiles and Wilcoxon ranks from a sketch with relative accuracy ${streaming.sketchRelativeAccuracy}`
      : `bootstrap: ${trial.resamples} resamples of patients (percentile, seed ${trial.seed})`;
  return `Patients: ${trial.patients}; replicates per patient and arm: ${trial.replicates}; reference arm: ${trial.reference}; ${bootstrap}. Paired tests: Wilcoxon signed-rank (McNemar for binary endpoints). Primary endpoints first (in their declared order), then safety endpoints, then the rest. Favours: an arm is favoured when the ${pct}% CI of the paired difference excludes 0 on the side the endpoint declares better; "neither" when the CI covers 0; "n/a" for endpoints with no better direction (e.g. mean glucose). The test's p-value is given next to it, and a disagreement between CI and test is stated. Hypotheses (declared per endpoint in the spec, default superiority): superiority is shown when the arm is favoured; non-inferiority when the one-sided paired-t bound of the difference on the worse side lies beyond −Δ (lower-better endpoints: below Δ); equivalence when the (1 − 2α) paired-t CI lies inside (−Δ, Δ) (TOST). Secondary endpoints: p-values Holm-adjusted across the secondary endpoints of each arm (primary not adjusted), raw and adjusted both shown.`;
}

function reproducibilityLines(sections: TrialSections): string[] {
  const r = sections.reproducibility;
  return [`Spec SHA-256 (canonical JSON, keys sorted): \`${r.specSha256}\`; code version \`${r.codeVersion}\`.`, '', '```sh', ...r.commands, '```', '', 'The spec:', '', '```json', r.specJson, '```'];
}

async function renderMarkdown(input: ReportInput, options: ReportOptions): Promise<string> {
  const { title, facts } = experimentHeader(input);
  const out: string[] = [`# ${title}`, '', mdTable({ head: ['', ''], rows: facts }), '', '## Jobs', '', mdTable(statusTable(input.jobs)), ''];
  const failed = input.jobs.filter((j) => j.status === 'failed');
  if (failed.length > 0) {
    out.push('Failed jobs:', '');
    for (const j of failed) out.push(`- job ${j.index} (${j.id}): ${mdCell(j.error ?? 'unknown error')}`);
    out.push('');
  }
  if (input.trial || input.experiment.kind === 'trial') {
    const sections = trialSections(input.experiment, input.jobs, input.trial, input.twin);
    out.push('## Methods', '', mdTable({ head: ['', ''], rows: sections.methods }), '');
    out.push('## Participant flow', '', ...sections.flow.lines.flatMap((l) => [l, '']), mdTable(sections.flow.table), '');
    out.push('## Baseline characteristics by arm', '', sections.baseline.note, '');
    if (sections.baseline.table) out.push(mdTable(sections.baseline.table), '');
    out.push('## Multiplicity', '', sections.multiplicity, '');
    out.push('## Reproducibility', '', ...reproducibilityLines(sections).map((l) => l), '');
  }
  if (input.trial) {
    out.push('## Endpoints', '', trialFacts(input.trial), '');
    for (const e of endpointsInOrder(input.trial.endpoints, primaryOrder(input))) {
      const t = endpointTables(e, input.trial.level);
      out.push(`### ${endpointTitle(e)}`, '', mdTable(t.arms), '');
      if (t.comparisons.rows.length > 0) out.push(mdTable(t.comparisons), '');
    }
  }
  const charts = reportCharts(input);
  if (charts.length > 0) {
    out.push('## Charts', '');
    if (options.charts === 'omit') {
      out.push(`Not rendered here (${charts.map((c) => c.title).join('; ')}).${options.chartsHint ? ` ${options.chartsHint}` : ''}`, '');
      return out.join('\n');
    }
    if (options.chartDir) mkdirSync(options.chartDir, { recursive: true });
    for (const chart of charts) {
      const svg = await renderSvg(chart.spec);
      let src: string;
      if (options.chartDir) {
        const file = `${options.chartPrefix ?? input.experiment.id}-${chart.name}.svg`;
        writeFileSync(path.join(options.chartDir, file), svg);
        src =
          path
            .relative(options.mdDir ?? options.chartDir, path.join(options.chartDir, file))
            .split(path.sep)
            .join('/') || file;
      } else {
        src = `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
      }
      out.push(`### ${chart.title}`, '', `![${chart.title}](${src})`, '');
    }
  }
  return out.join('\n');
}

// ---- html ------------------------------------------------------------------------------------

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function htmlTable(t: Table | SectionTable, headless = false, id?: string): string {
  const head = headless ? '' : `<thead><tr>${t.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>`;
  return `<table${id ? ` id="${id}"` : ''}>${head}<tbody>${t.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

async function renderHtml(input: ReportInput): Promise<string> {
  const { title, facts } = experimentHeader(input);
  const body: string[] = [`<h1>${esc(title)}</h1>`, htmlTable({ head: [], rows: facts }, true), '<h2>Jobs</h2>', htmlTable(statusTable(input.jobs))];
  const failed = input.jobs.filter((j) => j.status === 'failed');
  if (failed.length > 0)
    body.push(`<ul class="failed">${failed.map((j) => `<li>job ${j.index} (${esc(j.id)}): ${esc(j.error ?? 'unknown error')}</li>`).join('')}</ul>`);
  if (input.trial || input.experiment.kind === 'trial') {
    const sections = trialSections(input.experiment, input.jobs, input.trial, input.twin);
    body.push('<h2 id="methods">Methods</h2>', htmlTable({ head: [], rows: sections.methods }, true));
    body.push('<h2 id="flow">Participant flow</h2>', ...sections.flow.lines.map((l) => `<p>${esc(l)}</p>`), htmlTable(sections.flow.table, false, 'flow-table'));
    body.push('<h2 id="baseline">Baseline characteristics by arm</h2>', `<p>${esc(sections.baseline.note)}</p>`);
    if (sections.baseline.table) body.push(htmlTable(sections.baseline.table, false, 'baseline-table'));
    body.push('<h2 id="multiplicity">Multiplicity</h2>', `<p>${esc(sections.multiplicity)}</p>`);
    const r = sections.reproducibility;
    body.push(
      `<h2 id="reproducibility">Reproducibility</h2><div class="repro"><p>Spec SHA-256 (canonical JSON, keys sorted): <code>${r.specSha256}</code><br>Code version: <code>${esc(r.codeVersion)}</code></p><pre>${esc(r.commands.join('\n'))}</pre><p>The spec (JSON):</p><pre class="spec">${esc(r.specJson)}</pre></div>`,
    );
  }
  if (input.trial) {
    body.push('<h2>Endpoints</h2>', `<p>${esc(trialFacts(input.trial))}</p>`);
    for (const e of endpointsInOrder(input.trial.endpoints, primaryOrder(input))) {
      const t = endpointTables(e, input.trial.level);
      body.push(`<h3 class="${e.safety ? 'safety' : ''}">${esc(endpointTitle(e))}</h3>`, htmlTable(t.arms));
      if (t.comparisons.rows.length > 0) body.push(htmlTable(t.comparisons));
    }
  }
  const charts = reportCharts(input);
  if (charts.length > 0) body.push('<h2>Charts</h2>');
  for (const chart of charts)
    body.push(`<figure id="chart-${esc(chart.name)}"><figcaption>${esc(chart.title)}</figcaption>${await renderSvg(chart.spec)}</figure>`);
  const css =
    'body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em}th{background:#f3f3f3}h3.safety{color:#b71c1c}figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}figure svg{max-width:100%;height:auto}.repro{border:1px solid #9ca3af;background:#f9fafb;padding:.5em 1em}pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85em}code{overflow-wrap:anywhere}' +
    '@media print{body{max-width:none;margin:0;font-size:10pt}h2{break-after:avoid}table,figure,.repro{break-inside:avoid}a{color:inherit}}';
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} — twinlab report</title><style>${css}</style></head><body>\n${body.join('\n')}\n</body></html>\n`;
}

// ---- entry point -----------------------------------------------------------------------------

/** Renders the report of an experiment (see the module comment for the three formats). */
export async function renderReport(given: ReportInput, format: ReportFormat, options: ReportOptions = {}): Promise<string> {
  const input: ReportInput = given.trial ? { ...given, trial: withVerdicts(given.trial) } : given;
  switch (format) {
    case 'json':
      return `${JSON.stringify(
        {
          version: 1,
          experiment: input.experiment,
          jobs: input.jobs,
          trial: input.trial ?? null,
          bands: input.bands ?? null,
          cvga: input.cvga ?? null,
          series: input.series ?? null,
          sections: input.experiment.kind === 'trial' ? trialSections(input.experiment, input.jobs, input.trial, input.twin) : null,
        },
        jsonReplacer,
        2,
      )}\n`;
    case 'md':
      return renderMarkdown(input, options);
    case 'html':
      return renderHtml(input);
    default:
      throw new TwinlabError('INVALID_ARGUMENT', `report format ${JSON.stringify(format)} is not one of ${REPORT_FORMATS.join(', ')}`);
  }
}
