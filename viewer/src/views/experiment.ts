import type { View } from 'vega';
import type { StatusMessage } from '../../../server/protocol.js';
import { api, enc } from '../api.js';
import { mount, replace, seriesSpec } from '../charts.js';
import { type Comparison, mountComparison, runInfo, runLabels } from '../compare.js';
import { fmt, h, link, statusPill } from '../dom.js';
import { setState, toSearch, type ViewState } from '../state.js';

interface JobRow {
  id: string;
  index: number;
  kind: string;
  status: string;
  seed: number;
  config: unknown;
  error?: string;
  result?: Record<string, unknown>;
}

interface ExperimentDetail {
  id: string;
  name: string;
  kind: string;
  status: string;
  seed: number;
  jobs: JobRow[];
}

/**
 * Run/experiment page: live learning curves through the run comparison (viewer/src/compare.ts: the full
 * stored series, EMA smoothing over every point, live events after the seq the series was read
 * through — so the live curve and the reloaded one are the same points), mean ± sd across seeds by
 * config or each run, a downsampled metric series of a chosen run with its min/max envelope, and the
 * run table with links to episodes and to the comparison page.
 */
export async function renderExperiment(root: HTMLElement, state: ViewState, signal: AbortSignal): Promise<void> {
  const id = state.id as string;
  const detail = await api.get<ExperimentDetail>(`/api/experiments/${enc(id)}`);
  const ema = Math.min(0.999, Math.max(0, state.ema ?? 0.6));
  const by = state.group === 'run' ? 'run' : 'group';
  const label = (jobId: string | null) => (jobId ? `run ${jobId.split('/').pop()?.replace(/^job-/, '')}` : 'experiment');

  const statusEl = h('span', { id: 'experiment-status' }, statusPill(detail.status));
  const controls = h('div', { class: 'controls' });
  const slider = h('input', { type: 'range', min: 0, max: 0.99, step: 0.01, value: ema, style: 'width:200px', id: 'ema' });
  const emaLabel = h('span', { id: 'ema-value', text: ema.toFixed(2) });
  const groupSelect = h(
    'select',
    { id: 'group' },
    h('option', { value: 'config', text: 'mean ± sd by config' }),
    h('option', { value: 'run', text: 'each run' }),
  );
  groupSelect.value = by === 'run' ? 'run' : 'config';
  const seedsBox = h('input', { type: 'checkbox', id: 'seeds', checked: state.seeds === true });
  const compareLink = link('compare these runs', toSearch({ view: 'runs', runs: detail.jobs.map((j) => j.id).join(',') }));
  compareLink.id = 'compare-runs';
  controls.append('EMA smoothing ', slider, emaLabel, ' grouping ', groupSelect, h('label', {}, seedsBox, ' individual seeds'), compareLink);
  const update = (patch: Partial<ViewState>) => {
    setState({ ...state, ...patch }, 'replace');
    window.dispatchEvent(new PopStateEvent('popstate'));
  };
  slider.addEventListener('input', () => {
    emaLabel.textContent = Number(slider.value).toFixed(2);
  });
  slider.addEventListener('change', () => update({ ema: Number(slider.value) }));
  groupSelect.addEventListener('change', () => update({ group: groupSelect.value as 'config' | 'run' }));
  seedsBox.addEventListener('change', () => update({ seeds: seedsBox.checked }));

  const returnsEl = h('div', { class: 'chart', id: 'chart-returns' });
  const evalEl = h('div', { class: 'chart', id: 'chart-eval' });
  const seriesEl = h('div', { class: 'chart', id: 'chart-series' });
  const metricSelect = h('select', { id: 'metric' });
  const runSelect = h('select', { id: 'series-run' }, ...detail.jobs.map((j) => h('option', { value: j.id, text: label(j.id) })));
  const counter = h('span', { class: 'muted', id: 'points-count', text: '0 points' });
  const jobsTable = h('table', { id: 'jobs' });
  root.replaceChildren(
    h('h1', {}, `${detail.name || detail.id} `, statusEl),
    h('p', { class: 'muted', text: `${detail.kind} · seed ${detail.seed} · ${detail.jobs.length} runs · ${detail.id}` }),
    h('div', { class: 'card' }, h('h2', { text: 'Learning curves' }), controls, counter, returnsEl, evalEl),
    h(
      'div',
      { class: 'card' },
      h('h2', { text: 'Training metrics' }),
      h('div', { class: 'controls' }, 'run ', runSelect, ' metric ', metricSelect, ' (downsampled server-side, min/max envelope kept)'),
      seriesEl,
    ),
    h('div', { class: 'card' }, h('h2', { text: 'Runs' }), jobsTable),
  );

  const drawJobs = (jobs: JobRow[]) => {
    jobsTable.replaceChildren(
      h('tr', {}, ...['run', 'status', 'seed', 'config', 'result / error', ''].map((c) => h('th', { text: c }))),
      ...jobs.map((j) => {
        const result = j.error ? h('span', { class: 'error', text: j.error }) : h('span', { text: j.result ? summarize(j.result) : '' });
        return h(
          'tr',
          { 'data-job': j.id },
          h('td', { text: label(j.id) }),
          h('td', {}, statusPill(j.status)),
          h('td', { class: 'num', text: String(j.seed) }),
          h('td', { class: 'muted', text: runLabels(infos).labels.get(j.id) ?? '' }),
          h('td', {}, result),
          h('td', {}, j.status === 'finished' ? link('episodes', toSearch({ view: 'episode', id, run: j.id })) : ''),
        );
      }),
    );
  };
  const infos = detail.jobs.map((j) => runInfo(detail, j));
  drawJobs(detail.jobs);

  const points = { returns: 0, evals: 0 };
  const count = () => {
    const n = points.returns + points.evals;
    counter.textContent = `${n.toLocaleString('en-US')} points`;
    counter.dataset.points = String(n);
  };
  const onStatus = async (m: StatusMessage) => {
    statusEl.replaceChildren(statusPill(m.status));
    drawJobs((await api.get<ExperimentDetail>(`/api/experiments/${enc(id)}`)).jobs);
  };
  const common = { groupBy: by === 'group' ? '*' : undefined, showRuns: state.seeds === true, maxPoints: 1000 };
  const returns = await mountComparison(
    returnsEl,
    infos,
    {
      ...common,
      metric: 'episode.return',
      ema,
      title: `Episode return${ema > 0 ? ` (EMA ${ema})` : ''}`,
      onPoints: (n) => {
        points.returns = n;
        count();
      },
      onStatus,
    },
    signal,
  );
  const evals = await mountComparison(
    evalEl,
    infos,
    {
      ...common,
      metric: 'eval.meanReturn',
      ema: 0,
      title: 'Greedy evaluation (mean return)',
      height: 180,
      onPoints: (n) => {
        points.evals = n;
        count();
      },
    },
    signal,
  );
  (window as unknown as { twinlabComparison?: Comparison; twinlabEvalComparison?: Comparison }).twinlabComparison = returns;
  (window as unknown as { twinlabEvalComparison?: Comparison }).twinlabEvalComparison = evals;
  returnsEl.dataset.ready = '1';

  // Metric series (loss, mean Q, ε, …) of the chosen run, refreshed while running.
  let seriesView: View | undefined;
  const loadSeries = async () => {
    const firstRun = runSelect.value;
    if (!firstRun || signal.aborted) return;
    const names = await api.get<string[]>(`/api/runs/${enc(firstRun)}/metrics`);
    if (metricSelect.options.length !== names.length) {
      const current = metricSelect.value;
      metricSelect.replaceChildren(...names.map((n) => h('option', { value: n, text: n })));
      if (names.includes(current)) metricSelect.value = current;
      else if (names.includes('train.loss')) metricSelect.value = 'train.loss';
    }
    if (!metricSelect.value) {
      seriesEl.replaceChildren(h('p', { class: 'muted', text: 'No training metrics yet.' }));
      seriesView = undefined;
      return;
    }
    const s = await api.get<{ steps: number[]; values: number[]; min?: number[]; max?: number[]; downsampled: boolean; totalPoints: number }>(
      `/api/runs/${enc(firstRun)}/metrics/${enc(metricSelect.value)}?maxPoints=800`,
    );
    const rows = s.steps.map((step, i) => ({ step, value: s.values[i], min: s.min?.[i] ?? s.values[i], max: s.max?.[i] ?? s.values[i] }));
    if (rows.length === 0) return;
    if (seriesView) replace(seriesView, 'series', rows);
    else seriesView = await mount(seriesEl, { ...seriesSpec(metricSelect.value), datasets: { series: rows } } as never);
    seriesEl.dataset.totalPoints = String(s.totalPoints);
  };
  runSelect.addEventListener('change', () => {
    seriesView = undefined;
    seriesEl.replaceChildren();
    void loadSeries();
  });
  metricSelect.addEventListener('change', () => {
    seriesView = undefined;
    seriesEl.replaceChildren();
    void loadSeries();
  });
  const timer = setInterval(() => void loadSeries().catch(() => undefined), 3000);
  signal.addEventListener('abort', () => clearInterval(timer));
  await loadSeries().catch(() => undefined);
}

function summarize(result: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(result)) {
    if (typeof v === 'number') parts.push(`${k} ${fmt(v)}`);
    else if (v && typeof v === 'object' && 'meanReturn' in (v as object)) parts.push(`${k} ${fmt((v as { meanReturn: number }).meanReturn)}`);
    if (parts.length >= 4) break;
  }
  return parts.join(' · ');
}
