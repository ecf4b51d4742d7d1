import { differingKeys } from '../../../experiments/curves.js';
import { api, enc } from '../api.js';
import { mount } from '../charts.js';
import { type Comparison, hparamTable, mountComparison, parallelSpec, RUNS_PER_REQUEST, type RunInfo, runInfo } from '../compare.js';
import { h, link } from '../dom.js';
import { setState, toSearch, type ViewState } from '../state.js';

interface ExperimentRow {
  id: string;
  name: string;
  kind: string;
  status: string;
}

interface JobSummary {
  id: string;
  index: number;
  kind: string;
  status: string;
  seed: number;
  config: unknown;
}

interface ExperimentDetail extends ExperimentRow {
  jobs: JobSummary[];
}

/**
 * Runs page: pick runs from any experiments (URL `runs=`), overlay one metric with an EMA slider
 * (`ema=`, computed on the full stored series, experiments/curves.ts), legends naming the differing
 * config keys, group by any config key (`by=`: mean ± sd across the runs sharing its value, `*` = every
 * differing key but the seed), a sortable hyperparameter table with final metrics (`sort=`) and a
 * parallel-coordinates plot. Live runs keep streaming.
 */
export async function renderRuns(root: HTMLElement, state: ViewState, signal: AbortSignal): Promise<void> {
  performance.mark('runs:render');
  const selected = (state.runs ?? '').split(',').filter(Boolean);
  const metric = state.metric ?? 'episode.return';
  const ema = Math.min(0.999, Math.max(0, state.ema ?? 0.6));
  const update = (patch: Partial<ViewState>, mode: 'push' | 'replace' = 'replace') => {
    setState({ ...state, ...patch }, mode);
    window.dispatchEvent(new PopStateEvent('popstate'));
  };
  const setRuns = (ids: string[]) => update({ runs: [...new Set(ids)].join(',') || undefined }, 'push');

  const experimentsRequest = api.get<ExperimentRow[]>('/api/experiments');
  const details = new Map<string, ExperimentDetail>();
  const detail = async (id: string) => {
    let d = details.get(id);
    if (!d) {
      d = await api.get<ExperimentDetail>(`/api/experiments/${enc(id)}`);
      details.set(id, d);
    }
    return d;
  };
  // the selected runs with their experiments' names, 100 per request (GET /api/runs?ids=; a comparison
  // of 20 runs of 20 experiments was 20 experiment details); the list of all experiments only fills
  // the picker, so the curves do not wait for it
  const chunks: string[][] = [];
  for (let i = 0; i < selected.length; i += RUNS_PER_REQUEST) chunks.push(selected.slice(i, i + RUNS_PER_REQUEST));
  const found = new Map<string, RunInfo>();
  for (const list of await Promise.all(
    chunks.map((chunk) => api.get<{ runs: { experiment: { id: string; name: string }; job: JobSummary }[] }>(`/api/runs?ids=${chunk.map(enc).join(',')}`)),
  ))
    for (const { experiment, job } of list.runs) found.set(job.id, runInfo(experiment, job));
  const runs: RunInfo[] = selected.flatMap((id) => found.get(id) ?? []);

  // picker: an experiment, then its runs
  const expSelect = h('select', { id: 'pick-experiment' }, h('option', { value: '', text: 'add runs from…' }));
  void experimentsRequest
    .then((experiments) => {
      if (signal.aborted) return;
      expSelect.append(
        ...experiments.filter((e) => e.kind !== 'trial').map((e) => h('option', { value: e.id, text: `${e.name || e.id} (${e.kind}, ${e.status})` })),
      );
      expSelect.dataset.ready = '1';
    })
    .catch(() => undefined);
  const jobList = h('div', { id: 'pick-runs', class: 'controls' });
  expSelect.addEventListener('change', async () => {
    if (!expSelect.value) return;
    const d = await detail(expSelect.value);
    const boxes = d.jobs.map((j) => {
      const box = h('input', { type: 'checkbox', value: j.id, checked: selected.includes(j.id) });
      box.addEventListener('change', () => setRuns(box.checked ? [...selected, j.id] : selected.filter((s) => s !== j.id)));
      return h('label', { 'data-pick': j.id }, box, ` run ${j.index} (seed ${j.seed})`);
    });
    const all = h('button', { id: 'pick-all', text: 'add all' });
    all.addEventListener('click', () => setRuns([...selected, ...d.jobs.map((j) => j.id)]));
    jobList.replaceChildren(all, ...boxes);
  });
  const chips = h(
    'div',
    { class: 'controls', id: 'selected-runs' },
    ...runs.map((r) => {
      const x = h('button', { title: 'remove', text: '×', 'data-remove': r.id });
      x.addEventListener('click', () => setRuns(selected.filter((s) => s !== r.id)));
      return h('span', { class: 'chip' }, link(r.experimentName, toSearch({ view: 'experiment', id: r.experimentId })), ` · run ${r.index} `, x);
    }),
  );

  const metricSelect = h('select', { id: 'metric' });
  const names = new Set<string>([metric]);
  const fillMetrics = () => {
    metricSelect.replaceChildren(...[...names].sort().map((n) => h('option', { value: n, text: n })));
    metricSelect.value = metric;
  };
  fillMetrics();
  // the other metrics of the runs fill the select when they arrive: asked for once the curves are drawn,
  // so their requests do not queue on the server between the point reads (≈ 0.1–0.3 s of a load)
  const loadMetricNames = () =>
    void Promise.all(runs.slice(0, 50).map((r) => api.get<string[]>(`/api/runs/${enc(r.id)}/metrics`).catch(() => [] as string[]))).then((lists) => {
      for (const list of lists) for (const n of list) names.add(n);
      if (!signal.aborted) fillMetrics();
    });
  metricSelect.addEventListener('change', () => update({ metric: metricSelect.value }));
  const slider = h('input', { type: 'range', id: 'ema', min: 0, max: 0.99, step: 0.01, value: ema, style: 'width:200px' });
  const emaLabel = h('span', { id: 'ema-value', class: 'num', text: ema.toFixed(2) });
  slider.addEventListener('input', () => {
    emaLabel.textContent = Number(slider.value).toFixed(2);
  });
  // another weight redraws the same chart in place (Comparison.setEma) and the URL keeps it
  slider.addEventListener('change', () => {
    const weight = Number(slider.value);
    if (!comparison) {
      update({ ema: weight });
      return;
    }
    state.ema = weight;
    setState(state, 'replace');
    chartEl.dataset.ema = String(weight);
    delete chartEl.dataset.drawn;
    void comparison
      .setEma(weight)
      .then(async () => {
        if (signal.aborted || state.ema !== weight) return;
        chartEl.dataset.drawn = '1';
        await drawTables();
      })
      .catch((error: unknown) => {
        if (!signal.aborted) console.error('twinlab: EMA change failed', error);
      });
  });
  const keys = differingKeys(runs.map((r) => r.config)).filter((k) => k !== 'seed');
  const groupSelect = h(
    'select',
    { id: 'group-by' },
    h('option', { value: '', text: 'each run' }),
    h('option', { value: '*', text: 'config (all differing keys but seed)' }),
    ...keys.map((k) => h('option', { value: k, text: k })),
  );
  groupSelect.value = state.by && (state.by === '*' || keys.includes(state.by)) ? state.by : '';
  groupSelect.addEventListener('change', () => update({ by: groupSelect.value || undefined }));
  const seedsBox = h('input', { type: 'checkbox', id: 'seeds', checked: state.seeds === true });
  seedsBox.addEventListener('change', () => update({ seeds: seedsBox.checked }));

  const chartEl = h('div', { class: 'chart', id: 'compare-chart' });
  const tableEl = h('div', { id: 'hparams-card', class: 'scroll' });
  const parallelEl = h('div', { class: 'chart', id: 'parallel' });
  root.replaceChildren(
    h('h1', { text: 'Compare runs' }),
    h('div', { class: 'card' }, h('div', { class: 'controls' }, expSelect, jobList), chips),
    h(
      'div',
      { class: 'card' },
      h(
        'div',
        { class: 'controls' },
        'metric ',
        metricSelect,
        ' EMA smoothing ',
        slider,
        emaLabel,
        ' group by ',
        groupSelect,
        h('label', {}, seedsBox, ' individual seeds'),
      ),
      chartEl,
    ),
    h('div', { class: 'card' }, h('h2', { text: 'Hyperparameters and final metrics' }), tableEl),
    h('div', { class: 'card' }, parallelEl),
  );
  if (runs.length === 0) {
    loadMetricNames();
    chartEl.append(h('p', { class: 'muted', text: 'Pick runs above (from any experiments), or open an experiment and use "compare these runs".' }));
    return;
  }

  let comparison: Comparison | undefined;
  let parallelDrawn = '';
  const drawTables = async () => {
    if (!comparison || signal.aborted) return;
    const summaries = comparison.summaries();
    tableEl.replaceChildren(hparamTable(summaries, comparison.keys, metric, state.sort, (sort) => update({ sort })));
    const spec = parallelSpec(summaries, comparison.keys, metric);
    const key = JSON.stringify(spec ?? null);
    if (spec && key !== parallelDrawn) {
      parallelDrawn = key;
      parallelEl.replaceChildren();
      await mount(parallelEl, spec);
    }
  };
  comparison = await mountComparison(
    chartEl,
    runs,
    {
      metric,
      ema,
      groupBy: groupSelect.value || undefined,
      showRuns: state.seeds === true,
      maxPoints: 600,
      onStatus: () => void drawTables().catch(() => undefined),
    },
    signal,
  );
  (window as unknown as { twinlabComparison?: Comparison }).twinlabComparison = comparison;
  chartEl.dataset.drawn = '1';
  chartEl.dataset.ema = String(ema);
  loadMetricNames();
  await drawTables();
  chartEl.dataset.ready = '1';
  if (runs.some((r) => r.status === 'running' || r.status === 'pending')) {
    const timer = setInterval(() => void drawTables().catch(() => undefined), 2000);
    signal.addEventListener('abort', () => clearInterval(timer));
  }
}
