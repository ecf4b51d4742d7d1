import { api } from '../api.js';
import { h, link, statusPill } from '../dom.js';
import { toSearch } from '../state.js';

interface ExperimentRow {
  id: string;
  name: string;
  kind: string;
  status: string;
  createdAt: string;
  jobs: { total: number; finished: number; failed: number; running: number };
  /** Training: share of env steps done (server/app.ts). */
  progress?: number;
}

/** Experiments with status and live progress (refreshed every second while any is running). */
export async function renderList(root: HTMLElement, signal: AbortSignal): Promise<void> {
  const table = h('table', { id: 'experiments' });
  root.replaceChildren(h('h1', { text: 'Experiments' }), table);
  const draw = (rows: ExperimentRow[]) => {
    const head = h('tr', {}, ...['experiment', 'kind', 'status', 'progress', 'created'].map((c) => h('th', { text: c })));
    const body = rows.map((e) => {
      const done = e.jobs.finished + e.jobs.failed;
      const pct = e.progress !== undefined ? Math.round(100 * e.progress) : e.jobs.total ? Math.round((100 * done) / e.jobs.total) : 0;
      const bar = h('span', { class: 'progress', title: `${done}/${e.jobs.total} jobs` }, h('span', { style: `width:${pct}%` }));
      const view = e.kind === 'trial' ? 'trial' : 'experiment';
      return h(
        'tr',
        { 'data-experiment': e.id },
        h('td', {}, link(e.name || e.id, toSearch({ view, id: e.id })), h('div', { class: 'muted', text: e.id })),
        h('td', { text: e.kind }),
        h('td', {}, statusPill(e.status)),
        h(
          'td',
          { class: 'job-count', 'data-done': done },
          bar,
          ` ${done}/${e.jobs.total} ${e.kind === 'trial' ? 'jobs' : 'runs'}${e.progress !== undefined && e.status === 'running' ? ` · ${pct} % of steps` : ''}${e.jobs.failed ? ` (${e.jobs.failed} failed)` : ''}`,
        ),
        h('td', { text: new Date(e.createdAt).toLocaleString() }),
      );
    });
    table.replaceChildren(head, ...body);
    if (rows.length === 0) table.append(h('tr', {}, h('td', { colspan: 5, class: 'muted', text: 'No experiments yet. Start one with `twinlab run SPEC` or POST /api/experiments.' })));
  };
  for (;;) {
    const rows = await api.get<ExperimentRow[]>('/api/experiments');
    if (signal.aborted) return;
    draw(rows);
    await new Promise((resolve) => setTimeout(resolve, rows.some((r) => r.status === 'running' || r.status === 'pending') ? 1000 : 4000));
    if (signal.aborted) return;
  }
}
