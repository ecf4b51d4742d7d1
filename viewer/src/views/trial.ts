import type { AgpProfile } from '../../../experiments/agp.js';
import { agpSpec, endpointsInOrder, forestPlotSpec, forestRowsFromTrial } from '../../../experiments/charts.js';
import type { TrialAnalysis } from '../../../experiments/trial-analysis.js';
import { api, enc } from '../api.js';
import { mount } from '../charts.js';
import { fmt, h, link, statusPill } from '../dom.js';
import { followExperiment } from '../live.js';
import { setState, toSearch, type ViewState } from '../state.js';

/** Loosely typed view of experiments/trial-analysis.ts's result (the viewer reads what it needs). */
type Json = Record<string, unknown>;

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** The analysis's endpoints, primary first (in the spec's declared order), then the rest as analysed. */
function endpointsPrimaryFirst(analysis: Json, primaryOrder: readonly string[]): Json[] {
  const endpoints = Array.isArray(analysis.endpoints) ? (analysis.endpoints as (Json & { id: string; primary: boolean })[]) : [];
  return endpointsInOrder(endpoints, primaryOrder);
}

/** "Time in range 70–180 mg/dL (%) [primary]": the endpoint's label, unit and role. */
function endpointLabel(e: Json): string {
  const tags = [e.primary ? 'primary' : '', e.safety ? 'safety' : ''].filter(Boolean).join(', ');
  return `${String(e.label ?? e.id)}${e.unit ? ` (${String(e.unit)})` : ''}${tags ? ` [${tags}]` : ''}`;
}

/**
 * Trial page: endpoint table with CIs and paired tests, forest plot of paired differences, per arm the
 * ambulatory glucose profile when the twin declares a glucose track for it (from the JSON report's
 * `bands[].agp`, experiments/agp.ts), and the server-rendered report (AGP, CVGA) embedded below. Patients link to the
 * episode viewer with two arms side by side.
 */
export async function renderTrial(root: HTMLElement, state: ViewState, signal: AbortSignal): Promise<void> {
  const id = state.id as string;
  const getDetail = () => api.get<TrialDetail>(`/api/experiments/${enc(id)}`);
  const detail = await getDetail();
  const statusEl = h('span', { id: 'experiment-status' }, statusPill(detail.status));
  const progressCard = h('div', { class: 'card', id: 'trial-progress' });
  const tableCard = h('div', { class: 'card', id: 'trial-table', style: 'display:none' });
  const forestEl = h('div', { class: 'chart', id: 'forest' });
  const agpCard = h('div', { class: 'card', id: 'agp-card', style: 'display:none' }, h('h2', { text: 'Ambulatory glucose profile by arm' }));
  const agpEl = h('div', { class: 'chart', id: 'agp' });
  agpCard.append(agpEl);
  const reportFrame = h('iframe', { id: 'report', style: 'width:100%;height:900px;border:1px solid #e4e7ec;background:#fff', title: 'trial report' });
  const forestCard = h('div', { class: 'card scroll', style: 'display:none' }, forestEl);
  const reportCard = h('div', { class: 'card', style: 'display:none' }, h('h2', { text: 'Report' }), reportFrame);
  const patients = h('div', { class: 'card scroll', id: 'patients-card' });
  root.replaceChildren(h('h1', {}, `${detail.name || id} `, statusEl), progressCard, tableCard, forestCard, agpCard, patients, reportCard);

  const spec = (detail.spec ?? {}) as { endpoints?: { primary?: string[] }; reference?: string; streaming?: unknown; cohort?: { size?: number }; arms?: { name: string }[] };
  const primary = spec.endpoints?.primary?.[0];
  // A streaming trial (spec `streaming`): blocks of patients, progress from the block counts, patients
  // paged from /patients (the job listing carries no per-patient values).
  const streamed = spec.streaming !== undefined && spec.streaming !== null;
  const pager = streamed ? streamingPatientsCard(patients, id, state, primary, signal) : undefined;
  const draw = (d: TrialDetail) => {
    if (pager) {
      drawBlockProgress(progressCard, (spec.arms ?? []).map((a) => a.name), spec.cohort?.size ?? 0, d.progress, d.status);
      void pager.refresh();
      return;
    }
    const grid = patientGrid(d.jobs);
    drawProgress(progressCard, grid, d.status);
    drawPatients(patients, grid, id, primary, state.sort, (sort) => {
      setState({ ...state, sort }, 'replace');
      state.sort = sort;
      draw(d);
    });
  };
  draw(detail);

  const load = async () => {
    let analysis: Json;
    try {
      analysis = await api.get<Json>(`/api/experiments/${enc(id)}/trial`);
    } catch {
      return false;
    }
    const endpoints = endpointsPrimaryFirst(analysis, spec.endpoints?.primary ?? []);
    const table = h('table', { id: 'endpoints' });
    table.append(h('tr', {}, ...['endpoint', 'arm', 'mean', 'sd', 'median', 'n'].map((c) => h('th', { text: c }))));
    for (const e of endpoints) {
      const perArm = (e.arms ?? []) as Json[];
      for (const a of Array.isArray(perArm) ? perArm : []) {
        const s = (a.summary ?? a) as Json;
        table.append(
          h(
            'tr',
            {},
            h('td', { text: endpointLabel(e) }),
            h('td', { text: String(a.arm ?? a.name) }),
            h('td', { class: 'num', text: fmt(e.kind === 'binary' ? (s.proportion ?? s.mean) : s.mean) }),
            h('td', { class: 'num', text: fmt(s.sd) }),
            h('td', { class: 'num', text: fmt(s.median) }),
            h('td', { class: 'num', text: fmt(s.n) }),
          ),
        );
      }
    }
    // the same rows and spec as the reports (experiments/charts.ts): primary first, full labels, one
    // panel per unit with the unit in the x title, coloured by the favours rule
    const rows = forestRowsFromTrial({ ...analysis, endpoints } as unknown as TrialAnalysis);
    const diffTable = h('table', { id: 'differences' }, h('tr', {}, ...['endpoint', 'comparison', 'difference', '95% CI', 'test', 'p', 'favours'].map((c) => h('th', { text: c }))));
    for (const e of endpoints) {
      for (const c of (e.comparisons ?? []) as Json[]) {
        const ci = (c.ci ?? null) as Json | null;
        const test = (c.test ?? {}) as Json;
        diffTable.append(
          h(
            'tr',
            {},
            h('td', { text: endpointLabel(e) }),
            h('td', { text: `${String(c.arm)} − ${String(c.reference)}` }),
            h('td', { class: 'num', text: fmt(c.meanDifference) }),
            h('td', { class: 'num', text: ci ? `[${fmt(ci.lower)}, ${fmt(ci.upper)}]` : '—' }),
            h('td', { text: test.name === 'mcnemar' ? 'McNemar' : test.name ? 'Wilcoxon signed-rank' : '' }),
            h('td', { class: 'num', text: fmt(test.pValue) }),
            h('td', { text: String(c.note ?? c.favours ?? '') }),
          ),
        );
      }
    }
    tableCard.replaceChildren(h('h2', { text: 'Endpoints by arm' }), table, h('h2', { text: 'Paired differences' }), diffTable);
    tableCard.style.display = '';
    reportCard.style.display = '';
    if (rows.length > 0) {
      forestCard.style.display = '';
      await mount(forestEl, forestPlotSpec(rows, { level: num(analysis.level) }));
    }
    const report = await api.get<{ bands?: { arm: string; agp?: AgpProfile }[] | null }>(`/api/experiments/${enc(id)}/report?format=json`).catch(() => undefined);
    const profiles = (report?.bands ?? []).flatMap((b) => (b.agp && b.agp.readings > 0 ? [{ name: b.arm, profile: b.agp }] : []));
    if (profiles.length > 0) {
      agpCard.style.display = '';
      await mount(agpEl, agpSpec(profiles, { width: 520 }));
    }
    reportFrame.setAttribute('src', `/api/experiments/${enc(id)}/report?format=html`);
    return true;
  };
  // the analysis exists once the trial has finished (asking earlier would log a 404 on a live page)
  if (!(detail.status === 'finished' && (await load()))) {
    // running: progress per arm and the patients' outcomes as their jobs end (job statuses come with
    // every status message; results are re-read at most once a second)
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      if (timer || signal.aborted) return;
      timer = setTimeout(async () => {
        timer = undefined;
        const fresh = await getDetail().catch(() => undefined);
        if (fresh && !signal.aborted) draw(fresh);
      }, 1000);
    };
    const sub = await followExperiment(
      id,
      () => undefined,
      async (s) => {
        statusEl.replaceChildren(statusPill(s.status));
        if (pager && s.progress) drawBlockProgress(progressCard, (spec.arms ?? []).map((a) => a.name), spec.cohort?.size ?? 0, s.progress, s.status);
        refresh();
        if (['finished', 'failed', 'cancelled'].includes(s.status)) {
          const fresh = await getDetail();
          draw(fresh);
          await load();
        }
      },
      { afterSeq: Number.MAX_SAFE_INTEGER - 1 },
    );
    signal.addEventListener('abort', () => {
      sub.close();
      if (timer) clearTimeout(timer);
    });
  }
}

interface TrialJob {
  id: string;
  status: string;
  config: Json;
  result?: Json;
}

interface TrialDetail {
  id: string;
  name: string;
  status: string;
  spec?: unknown;
  jobs: TrialJob[];
  /** Streaming trials: jobs and patients per status (server: Store.jobProgress). */
  progress?: BlockProgress;
}

interface BlockProgress {
  total: number;
  patients: number;
  byStatus: Record<string, { jobs: number; patients: number }>;
}

/** Streaming trial: per arm the patients of finished blocks (a block runs every arm of its patients). */
function drawBlockProgress(card: HTMLElement, arms: readonly string[], size: number, progress: BlockProgress | undefined, status: string): void {
  const of = (s: string) => progress?.byStatus[s] ?? { jobs: 0, patients: 0 };
  const done = of('finished').patients + of('failed').patients + of('cancelled').patients;
  const failed = of('failed').patients;
  const total = size || (progress?.patients ?? 0);
  const pct = total ? Math.round((100 * done) / total) : 0;
  const items = arms.map((arm) =>
    h(
      'div',
      { class: 'arm-progress', 'data-arm': arm, 'data-done': done, 'data-total': total },
      h('strong', { text: arm }),
      ' ',
      h('span', { class: 'progress', title: `${done}/${total} patients` }, h('span', { style: `width:${pct}%` })),
      ` ${fmt(done)}/${fmt(total)} patients${failed ? ` (${fmt(failed)} in failed blocks)` : ''}`,
    ),
  );
  const blocks = progress ? `${fmt(of('finished').jobs)} of ${fmt(progress.total)} blocks finished` : '';
  const title = DONE.has(status) ? 'Patients by arm' : 'Progress by arm (the analysis appears when every block is done)';
  card.replaceChildren(h('h2', { text: title }), ...items, h('p', { class: 'muted', id: 'block-progress', text: `Streaming trial: results aggregated as blocks arrive. ${blocks}` }));
}

interface PatientsPage {
  total: number;
  offset: number;
  limit: number;
  sampled: boolean;
  keepEvery: number;
  arms: string[];
  endpoints: string[];
  rows: { position: number; patient: string | null; run: string; status: string; values: Record<string, Record<string, number | null>>; episodes: Record<string, string> }[];
}

const PAGE_SIZE = 100;

/**
 * A streaming trial's patients, a page at a time from GET /experiments/:id/patients: by default only the
 * sampled patients (`keepEpisodes.every`), the ones with episodes; "all patients" lists every one (values
 * only). Episode links only where the store has the episode; the other arm's episode of the same patient
 * is opened side by side. Sorting (sort= in the URL) orders the rows of the page shown.
 */
function streamingPatientsCard(card: HTMLElement, id: string, state: ViewState, endpoint: string | undefined, signal: AbortSignal): { refresh: () => Promise<void> } {
  const all = state.all === true;
  const page = Math.max(0, Math.floor(state.page ?? 0));
  let busy = false;
  const refresh = async () => {
    if (busy || signal.aborted) return;
    busy = true;
    try {
      const p = await api.get<PatientsPage>(`/api/experiments/${enc(id)}/patients?offset=${page * PAGE_SIZE}&limit=${PAGE_SIZE}&sampled=${all ? 0 : 1}`);
      if (!signal.aborted) drawPage(p);
    } finally {
      busy = false;
    }
  };
  const go = (next: Partial<ViewState>) => {
    setState({ ...state, ...next }, 'push');
    window.dispatchEvent(new PopStateEvent('popstate'));
  };
  const drawPage = (p: PatientsPage) => {
    const ep = endpoint ?? p.endpoints[0] ?? '';
    const cols = ['patient', ...p.arms];
    const desc = state.sort?.startsWith('-') ?? false;
    const by = state.sort?.replace(/^-/, '');
    const rows = [...p.rows];
    if (by && p.arms.includes(by)) {
      rows.sort((a, b) => {
        const x = a.values[ep]?.[by] ?? null;
        const y = b.values[ep]?.[by] ?? null;
        if (x === null) return y === null ? a.position - b.position : 1;
        if (y === null) return -1;
        return (desc ? y - x : x - y) || a.position - b.position;
      });
    } else if (by === 'patient' && desc) rows.reverse();
    const head = h(
      'tr',
      {},
      ...cols.map((c) => {
        const th = h('th', { class: 'sortable', 'data-col': c, title: 'sort this page' }, c === 'patient' ? 'patient' : `${c}${ep ? ` · ${ep}` : ''}`, c === by ? (desc ? ' ▼' : ' ▲') : '');
        th.addEventListener('click', () => {
          setState({ ...state, sort: c === by && !desc ? `-${c}` : c }, 'replace');
          state.sort = c === by && !desc ? `-${c}` : c;
          drawPage(p);
        });
        return th;
      }),
    );
    const body = rows.map((r) =>
      h(
        'tr',
        { 'data-patient': r.patient ?? `#${r.position}`, 'data-position': r.position },
        h('td', { text: `${r.patient ?? '—'} (#${r.position})` }),
        ...p.arms.map((arm) => {
          if (r.status !== 'finished') return h('td', {}, statusPill(r.status));
          const v = r.values[ep]?.[arm] ?? null;
          const key = r.episodes[arm];
          const otherArm = p.arms.find((a) => a !== arm && r.episodes[a] !== undefined);
          return h(
            'td',
            { class: 'num', 'data-value': v ?? '' },
            `${fmt(v)} `,
            key ? link('▶ episode', toSearch({ view: 'episode', id, run: r.run, episode: key, compare: otherArm ? `${r.run}|${r.episodes[otherArm]}` : undefined })) : '',
          );
        }),
      ),
    );
    const pages = Math.max(1, Math.ceil(p.total / PAGE_SIZE));
    const prev = h('button', { id: 'patients-prev', text: '◀ previous', disabled: page === 0 });
    const next = h('button', { id: 'patients-next', text: 'next ▶', disabled: page + 1 >= pages });
    prev.addEventListener('click', () => go({ page: page - 1 || undefined }));
    next.addEventListener('click', () => go({ page: page + 1 }));
    const toggle = h('button', { id: 'patients-all', text: all ? `only patients with episodes (every ${p.keepEvery})` : 'all patients (values only)' });
    toggle.addEventListener('click', () => go({ all: !all || undefined, page: undefined, sort: undefined }));
    const what = all ? `${fmt(p.total)} patients` : `${fmt(p.total)} sampled patients (every ${fmt(p.keepEvery)}th: their episodes are stored)`;
    card.replaceChildren(
      h('h2', { text: `Patients (${what})` }),
      h('div', { class: 'controls' }, prev, h('span', { id: 'patients-page', text: `page ${page + 1} of ${fmt(pages)}` }), next, toggle),
      h('table', { id: 'patients' }, head, ...body),
    );
  };
  return { refresh };
}

interface PatientGrid {
  arms: string[];
  /** Patients in enrolment order, each with its job per arm. */
  rows: { patient: string; index: number; jobs: Map<string, TrialJob> }[];
}

function patientGrid(jobs: readonly TrialJob[]): PatientGrid {
  const arms: string[] = [];
  const rows = new Map<string, PatientGrid['rows'][number]>();
  for (const j of jobs) {
    const armValue = j.config?.arm as { name?: string } | string | undefined;
    const arm = typeof armValue === 'string' ? armValue : (armValue?.name ?? 'arm');
    if (!arms.includes(arm)) arms.push(arm);
    const index = typeof j.config?.patientIndex === 'number' ? (j.config.patientIndex as number) : rows.size;
    const patient = String(j.config?.patientId ?? j.config?.patientIndex ?? j.id);
    const replicate = typeof j.config?.replicate === 'number' && j.config.replicate > 0 ? ` #${j.config.replicate}` : '';
    const key = `${patient}${replicate}`;
    let row = rows.get(key);
    if (!row) {
      row = { patient: key, index, jobs: new Map() };
      rows.set(key, row);
    }
    row.jobs.set(arm, j);
  }
  return { arms, rows: [...rows.values()] };
}

const DONE = new Set(['finished', 'failed', 'cancelled']);

/** Per arm: patients done / total with a bar (finished and failed jobs count as done). */
function drawProgress(card: HTMLElement, grid: PatientGrid, status: string): void {
  const items = grid.arms.map((arm) => {
    let done = 0;
    let failed = 0;
    for (const r of grid.rows) {
      const j = r.jobs.get(arm);
      if (j && DONE.has(j.status)) done++;
      if (j?.status === 'failed') failed++;
    }
    const total = grid.rows.filter((r) => r.jobs.has(arm)).length;
    const pct = total ? Math.round((100 * done) / total) : 0;
    return h(
      'div',
      { class: 'arm-progress', 'data-arm': arm, 'data-done': done, 'data-total': total },
      h('strong', { text: arm }),
      ' ',
      h('span', { class: 'progress', title: `${done}/${total} patients` }, h('span', { style: `width:${pct}%` })),
      ` ${done}/${total} patients${failed ? ` (${failed} failed)` : ''}`,
    );
  });
  const title = DONE.has(status) ? 'Patients by arm' : 'Progress by arm (the analysis appears when every patient is done)';
  card.replaceChildren(h('h2', { text: title }), ...items);
}

/** The outcome of a job for the patients table: the primary endpoint (or the first one) when finished. */
function outcome(job: TrialJob | undefined, endpoint: string | undefined): number | undefined {
  const endpoints = (job?.result?.endpoints ?? {}) as Record<string, unknown>;
  const key = endpoint ?? Object.keys(endpoints)[0];
  return key === undefined ? undefined : num(endpoints[key]);
}

/**
 * Patients × arms: the primary endpoint per arm once that job is finished (a status pill before), a
 * link to the episode only when it exists, sortable by any column (`sort=` in the URL, `-col` descending).
 */
function drawPatients(
  card: HTMLElement,
  grid: PatientGrid,
  id: string,
  endpoint: string | undefined,
  sort: string | undefined,
  onSort: (sort: string) => void,
): void {
  const firstEndpoint =
    endpoint ??
    Object.keys(
      ((
        grid.rows
          .find((r) => [...r.jobs.values()].some((j) => j.result))
          ?.jobs.values()
          .next().value as TrialJob | undefined
      )?.result?.endpoints ?? {}) as object,
    )[0];
  const cols = ['patient', ...grid.arms];
  const desc = sort?.startsWith('-') ?? false;
  const by = sort?.replace(/^-/, '');
  const rows = [...grid.rows];
  if (by && cols.includes(by)) {
    const key = (r: PatientGrid['rows'][number]) => (by === 'patient' ? r.index : outcome(r.jobs.get(by), firstEndpoint));
    rows.sort((a, b) => {
      const x = key(a);
      const y = key(b);
      if (x === undefined) return y === undefined ? a.index - b.index : 1;
      if (y === undefined) return -1;
      return (desc ? y - x : x - y) || a.index - b.index;
    });
  }
  const head = h(
    'tr',
    {},
    ...cols.map((c) => {
      const th = h(
        'th',
        { class: 'sortable', 'data-col': c, title: 'sort' },
        c === 'patient' ? 'patient' : `${c}${firstEndpoint ? ` · ${firstEndpoint}` : ''}`,
        c === by ? (desc ? ' ▼' : ' ▲') : '',
      );
      th.addEventListener('click', () => onSort(c === by && !desc ? `-${c}` : c));
      return th;
    }),
  );
  const body = rows.map((r) =>
    h(
      'tr',
      { 'data-patient': r.patient },
      h('td', { text: r.patient }),
      ...grid.arms.map((arm) => {
        const job = r.jobs.get(arm);
        if (!job) return h('td', {});
        if (job.status !== 'finished') return h('td', {}, statusPill(job.status));
        const other = grid.arms.map((a) => r.jobs.get(a)).find((j) => j && j.id !== job.id && j.status === 'finished');
        const v = outcome(job, firstEndpoint);
        return h(
          'td',
          { class: 'num', 'data-value': v ?? '' },
          `${fmt(v)} `,
          link('▶ episode', toSearch({ view: 'episode', id, run: job.id, compare: other ? `${other.id}|` : undefined })),
        );
      }),
    ),
  );
  card.replaceChildren(h('h2', { text: `Patients (${grid.rows.length})` }), h('table', { id: 'patients' }, head, ...body));
}
