import { api } from '../api.js';
import { fmt, h, link } from '../dom.js';
import { toSearch } from '../state.js';

interface TwinRow {
  id: string;
  twin: string;
  kind?: string;
  datasetId: string | null;
  createdAt: string;
  summary: { method?: string; patient?: string; rmse?: number; auc24?: number; ok?: boolean | null };
}

const KIND_LABEL: Record<string, string> = { glucose: 'type 1 diabetes', 'glucose-t2d': 'type 2 diabetes', vancomycin: 'vancomycin' };

/** Fitted personal twins of every kind (`twinlab twin fit --store`), each linking to its patient-twin page. */
export async function renderTwins(root: HTMLElement, signal: AbortSignal): Promise<void> {
  const rows = await api.get<TwinRow[]>('/api/twins');
  if (signal.aborted) return;
  const table = h('table', { id: 'twins' }, h('tr', {}, ...['twin', 'kind', 'patient', 'method', 'fit', 'dataset', 'created'].map((c) => h('th', { text: c }))));
  for (const t of rows) {
    table.append(
      h(
        'tr',
        { 'data-twin': t.id },
        h('td', {}, link(t.id, toSearch({ view: 'twin', id: t.id }))),
        h('td', { 'data-kind': t.kind ?? t.twin, text: KIND_LABEL[t.kind ?? t.twin] ?? t.twin }),
        h('td', { text: t.summary.patient ?? '—' }),
        h('td', { text: t.summary.method ?? '—' }),
        h('td', { class: 'num', text: t.summary.rmse !== undefined ? `RMSE ${fmt(t.summary.rmse)} mg/dL` : t.summary.auc24 !== undefined ? `AUC24 ${fmt(t.summary.auc24)} mg·h/L` : '—' }),
        h('td', { text: t.datasetId ?? '(file)' }),
        h('td', { text: new Date(t.createdAt).toLocaleString() }),
      ),
    );
  }
  if (rows.length === 0) table.append(h('tr', {}, h('td', { colspan: 7, class: 'muted', text: 'No twins yet. Fit one with `twinlab twin fit --data DATASET --out DIR` (--twin glucose-t2d | vancomycin for the other kinds).' })));
  root.replaceChildren(h('h1', { text: 'Personal twins' }), table);
}
