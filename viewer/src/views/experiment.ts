import type { View } from 'vega';
import type { EventMessage } from '../../../server/protocol.js';
import { api, enc } from '../api.js';
import { type CurvePoint, insert, learningCurveSpec, mount, replace, seriesSpec } from '../charts.js';
import { fmt, h, link, statusPill } from '../dom.js';
import { followExperiment } from '../live.js';
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

function configGroup(job: JobRow): string {
  const c = (job.config ?? {}) as Record<string, unknown>;
  const label = c.gridPoint && typeof c.gridPoint === 'object' && Object.keys(c.gridPoint).length > 0 ? c.gridPoint : undefined;
  if (typeof label === 'string') return label;
  if (label && typeof label === 'object') return JSON.stringify(label);
  return String(c.envId ?? job.kind);
}

/**
 * Run/experiment page: live learning curves (episode returns and greedy evaluations streamed through
 * vega changesets; raw, smoothed, and mean ± sd across seeds grouped by config), a downsampled metric
 * series with its min/max envelope, and the job table with links to episodes.
 */
export async function renderExperiment(root: HTMLElement, state: ViewState, signal: AbortSignal): Promise<void> {
  const id = state.id as string;
  const detail = await api.get<ExperimentDetail>(`/api/experiments/${enc(id)}`);
  const smooth = state.smooth ?? 20;
  const by = state.group === 'run' ? 'run' : 'group';
  const groups = new Map(detail.jobs.map((j) => [j.id, configGroup(j)]));
  const label = (jobId: string | null) => (jobId ? `job ${jobId.split('/').pop()}` : 'experiment');

  const statusEl = h('span', { id: 'experiment-status' }, statusPill(detail.status));
  const controls = h('div', { class: 'controls' });
  const smoothInput = h('input', { type: 'number', min: 1, max: 500, value: smooth, style: 'width:5em', id: 'smooth' });
  const groupSelect = h('select', { id: 'group' }, h('option', { value: 'config', text: 'mean ± sd by config' }), h('option', { value: 'run', text: 'each run' }));
  groupSelect.value = by === 'run' ? 'run' : 'config';
  const seedsBox = h('input', { type: 'checkbox', id: 'seeds', checked: state.seeds === true });
  controls.append('smoothing (episodes) ', smoothInput, ' grouping ', groupSelect, h('label', {}, seedsBox, ' individual seeds'));
  const update = (patch: Partial<ViewState>) => {
    setState({ ...state, ...patch }, 'replace');
    window.dispatchEvent(new PopStateEvent('popstate'));
  };
  smoothInput.addEventListener('change', () => update({ smooth: Math.max(1, Number(smoothInput.value) || 1) }));
  groupSelect.addEventListener('change', () => update({ group: groupSelect.value as 'config' | 'run' }));
  seedsBox.addEventListener('change', () => update({ seeds: seedsBox.checked }));

  const returnsEl = h('div', { class: 'chart', id: 'chart-returns' });
  const evalEl = h('div', { class: 'chart', id: 'chart-eval' });
  const seriesEl = h('div', { class: 'chart', id: 'chart-series' });
  const metricSelect = h('select', { id: 'metric' });
  const counter = h('span', { class: 'muted', id: 'points-count', text: '0 points' });
  const jobsTable = h('table', { id: 'jobs' });
  root.replaceChildren(
    h('h1', {}, `${detail.name || detail.id} `, statusEl),
    h('p', { class: 'muted', text: `${detail.kind} · seed ${detail.seed} · ${detail.jobs.length} jobs · ${detail.id}` }),
    h('div', { class: 'card' }, h('h2', { text: 'Learning curves' }), controls, counter, returnsEl, evalEl),
    h('div', { class: 'card' }, h('h2', { text: 'Training metrics' }), h('div', { class: 'controls' }, 'metric ', metricSelect, ' (downsampled server-side, min/max envelope kept)'), seriesEl),
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
          h('td', { class: 'muted', text: configGroup(j) }),
          h('td', {}, result),
          h('td', {}, link('episodes', toSearch({ view: 'episode', id, run: j.id }))),
        );
      }),
    );
  };
  drawJobs(detail.jobs);

  const returns = await mount(returnsEl, learningCurveSpec('Episode return', 'return', smooth, state.seeds === true, by));
  const evals = await mount(evalEl, { ...learningCurveSpec('Greedy evaluation (mean return)', 'eval return', 1, state.seeds === true, by), height: 180 } as never);
  let points = 0;
  const count = (n: number) => {
    points += n;
    counter.textContent = `${points.toLocaleString('en-US')} points`;
    counter.dataset.points = String(points);
  };
  const onEvents = (messages: EventMessage[]) => {
    const ret: CurvePoint[] = [];
    const ev: CurvePoint[] = [];
    for (const m of messages) {
      const group = groups.get(m.jobId ?? '') ?? 'experiment';
      const run = label(m.jobId);
      if (m.event.type === 'episode.ended') ret.push({ run, group, step: m.event.step, value: m.event.data.return });
      else if (m.event.type === 'eval.completed') ev.push({ run, group, step: m.event.step, value: m.event.data.meanReturn });
    }
    insert(returns, 'points', ret);
    insert(evals, 'points', ev);
    count(ret.length + ev.length);
    window.dispatchEvent(new CustomEvent('twinlab:chart', { detail: messages }));
  };
  // History comes from the store's downsampled series (min/max envelope kept server-side), so a run
  // with a million points loads as a few thousand; live events continue from the seq read first.
  const { lastSeq } = await api.get<{ lastSeq: number }>(`/api/experiments/${enc(id)}`);
  for (const job of detail.jobs) {
    for (const [metric, view] of [['episode.return', returns], ['eval.meanReturn', evals]] as const) {
      const s = await api
        .get<{ steps: number[]; values: number[] }>(`/api/runs/${enc(job.id)}/metrics/${metric}?maxPoints=1000&to=${Number.MAX_SAFE_INTEGER}`)
        .catch(() => ({ steps: [] as number[], values: [] as number[] }));
      const rows = s.steps.map((step, i) => ({ run: label(job.id), group: groups.get(job.id) ?? 'experiment', step, value: s.values[i] as number }));
      insert(view, 'points', rows);
      count(rows.length);
    }
  }
  const sub = await followExperiment(
    id,
    onEvents,
    async (s) => {
      statusEl.replaceChildren(statusPill(s.status));
      const fresh = await api.get<ExperimentDetail>(`/api/experiments/${enc(id)}`);
      drawJobs(fresh.jobs);
    },
    { afterSeq: lastSeq },
  );
  signal.addEventListener('abort', () => sub.close());

  // Metric series (loss, mean Q, ε, …) of the first run with metrics, refreshed while running.
  const firstRun = detail.jobs[0]?.id;
  let seriesView: View | undefined;
  const loadSeries = async () => {
    if (!firstRun || signal.aborted) return;
    const names = await api.get<string[]>(`/api/runs/${enc(firstRun)}/metrics`);
    if (metricSelect.options.length !== names.length) {
      const current = metricSelect.value;
      metricSelect.replaceChildren(...names.map((n) => h('option', { value: n, text: n })));
      if (names.includes(current)) metricSelect.value = current;
      else if (names.includes('train.loss')) metricSelect.value = 'train.loss';
    }
    if (!metricSelect.value) return;
    const s = await api.get<{ steps: number[]; values: number[]; min?: number[]; max?: number[]; downsampled: boolean; totalPoints: number }>(
      `/api/runs/${enc(firstRun)}/metrics/${enc(metricSelect.value)}?maxPoints=800`,
    );
    const rows = s.steps.map((step, i) => ({ step, value: s.values[i], min: s.min?.[i] ?? s.values[i], max: s.max?.[i] ?? s.values[i] }));
    seriesView ??= await mount(seriesEl, seriesSpec(metricSelect.value));
    replace(seriesView, 'series', rows);
    seriesEl.dataset.totalPoints = String(s.totalPoints);
  };
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
