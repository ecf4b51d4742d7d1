import { api } from '../api.js';
import { fmt, h, link } from '../dom.js';
import { toSearch } from '../state.js';

interface TwinRow {
  id: string;
  twin: string;
  datasetId: string | null;
  createdAt: string;
  summary: { method?: string; patient?: string; rmse?: number; ok?: boolean | null };
}

/** Fitted personal twins (`twinlab twin fit --store`), each linking to its patient-twin page. */
export async function renderTwins(root: HTMLElement, signal: AbortSignal): Promise<void> {
  const rows = await api.get<TwinRow[]>('/api/twins');
  if (signal.aborted) return;
  const table = h('table', { id: 'twins' }, h('tr', {}, ...['twin', 'patient', 'method', 'fit RMSE (mg/dL)', 'dataset', 'created'].map((c) => h('th', { text: c }))));
  for (const t of rows) {
    table.append(
      h(
        'tr',
        { 'data-twin': t.id },
        h('td', {}, link(t.id, toSearch({ view: 'twin', id: t.id }))),
        h('td', { text: t.summary.patient ?? '—' }),
        h('td', { text: t.summary.method ?? '—' }),
        h('td', { class: 'num', text: fmt(t.summary.rmse) }),
        h('td', { text: t.datasetId ?? '(file)' }),
        h('td', { text: new Date(t.createdAt).toLocaleString() }),
      ),
    );
  }
  if (rows.length === 0) table.append(h('tr', {}, h('td', { colspan: 6, class: 'muted', text: 'No twins yet. Fit one with `twinlab twin fit --data DATASET --out DIR`.' })));
  root.replaceChildren(h('h1', { text: 'Personal twins' }), table);
}
