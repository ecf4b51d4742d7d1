import type { AgpProfile } from '../../../experiments/agp.js';
import { agpSpec } from '../../../experiments/charts.js';
import { api, enc } from '../api.js';
import { type ForestRow, forestSpec, mount } from '../charts.js';
import { fmt, h, link, statusPill } from '../dom.js';
import { followExperiment } from '../live.js';
import { toSearch, type ViewState } from '../state.js';

/** Loosely typed view of experiments/trial-analysis.ts's result (the viewer reads what it needs). */
type Json = Record<string, unknown>;

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** (endpoint, comparison, estimate, CI) rows of the analysis (experiments/trial-analysis.ts). */
function forestRows(analysis: Json): ForestRow[] {
  const rows: ForestRow[] = [];
  for (const e of (analysis.endpoints ?? []) as Json[]) {
    for (const c of (e.comparisons ?? []) as Json[]) {
      const ci = (c.ci ?? {}) as Json;
      const estimate = num(c.meanDifference) ?? num(c.riskDifference) ?? num(c.estimate);
      const lower = num(ci.lower);
      const upper = num(ci.upper);
      if (estimate === undefined || lower === undefined || upper === undefined) continue;
      const test = (c.test ?? {}) as Json;
      rows.push({ endpoint: `${String(e.label ?? e.id)}${e.safety ? ' (safety)' : ''}`, arm: `${String(c.arm)} − ${String(c.reference)}`, estimate, lower, upper, p: num(test.pValue), test: String(test.name ?? '') });
    }
  }
  return rows;
}

/**
 * Trial page: endpoint table with CIs and paired tests, forest plot of paired differences, per arm the
 * ambulatory glucose profile when the twin declares a glucose track for it (from the JSON report's
 * `bands[].agp`, experiments/agp.ts), and the server-rendered report (AGP, CVGA) embedded below. Patients link to the
 * episode viewer with two arms side by side.
 */
export async function renderTrial(root: HTMLElement, state: ViewState, signal: AbortSignal): Promise<void> {
  const id = state.id as string;
  const detail = await api.get<{ id: string; name: string; status: string; jobs: { id: string; status: string; config: Json }[] }>(`/api/experiments/${enc(id)}`);
  const statusEl = h('span', { id: 'experiment-status' }, statusPill(detail.status));
  const tableCard = h('div', { class: 'card', id: 'trial-table' }, h('p', { class: 'muted', text: 'Waiting for the trial to finish…' }));
  const forestEl = h('div', { class: 'chart', id: 'forest' });
  const agpCard = h('div', { class: 'card', id: 'agp-card', style: 'display:none' }, h('h2', { text: 'Ambulatory glucose profile by arm' }));
  const agpEl = h('div', { class: 'chart', id: 'agp' });
  agpCard.append(agpEl);
  const reportFrame = h('iframe', { id: 'report', style: 'width:100%;height:900px;border:1px solid #e4e7ec;background:#fff', title: 'trial report' });
  const patients = h('div', { class: 'card' }, h('h2', { text: 'Patients' }));
  root.replaceChildren(h('h1', {}, `${detail.name || id} `, statusEl), tableCard, h('div', { class: 'card' }, forestEl), agpCard, patients, h('div', { class: 'card' }, h('h2', { text: 'Report' }), reportFrame));

  const byArm = new Map<string, { id: string; patient: string }[]>();
  for (const j of detail.jobs) {
    const armValue = j.config?.arm as { name?: string } | string | undefined;
    const arm = typeof armValue === 'string' ? armValue : (armValue?.name ?? 'arm');
    const patient = String(j.config?.patientId ?? j.config?.patientIndex ?? j.id);
    byArm.set(arm, [...(byArm.get(arm) ?? []), { id: j.id, patient }]);
  }
  const arms = [...byArm.keys()];
  const first = byArm.get(arms[0] ?? '') ?? [];
  patients.append(
    h(
      'table',
      {},
      h('tr', {}, h('th', { text: 'patient' }), ...arms.map((a) => h('th', { text: a }))),
      ...first.slice(0, 200).map((p, i) =>
        h(
          'tr',
          {},
          h('td', { text: p.patient }),
          ...arms.map((a) => {
            const job = byArm.get(a)?.[i];
            const other = byArm.get(arms[0] === a ? (arms[1] ?? a) : (arms[0] as string))?.[i];
            return h('td', {}, job ? link('episode', toSearch({ view: 'episode', id, run: job.id, compare: other && other.id !== job.id ? `${other.id}|` : undefined })) : '');
          }),
        ),
      ),
    ),
  );

  const load = async () => {
    let analysis: Json;
    try {
      analysis = await api.get<Json>(`/api/experiments/${enc(id)}/trial`);
    } catch {
      return false;
    }
    const endpoints = (analysis.endpoints ?? []) as Json[];
    const table = h('table', { id: 'endpoints' });
    table.append(h('tr', {}, ...['endpoint', 'arm', 'mean', 'sd', 'median', 'n'].map((c) => h('th', { text: c }))));
    for (const e of Array.isArray(endpoints) ? endpoints : []) {
      const perArm = (e.arms ?? []) as Json[];
      for (const a of Array.isArray(perArm) ? perArm : []) {
        const s = (a.summary ?? a) as Json;
        table.append(
          h(
            'tr',
            {},
            h('td', { text: `${String(e.label ?? e.id ?? e.endpoint)}${e.safety ? ' (safety)' : ''}` }),
            h('td', { text: String(a.arm ?? a.name) }),
            h('td', { class: 'num', text: fmt(s.mean) }),
            h('td', { class: 'num', text: fmt(s.sd) }),
            h('td', { class: 'num', text: fmt(s.median) }),
            h('td', { class: 'num', text: fmt(s.n) }),
          ),
        );
      }
    }
    const rows = forestRows(analysis);
    const diffTable = h('table', { id: 'differences' }, h('tr', {}, ...['endpoint', 'comparison', 'difference', '95% CI', 'test', 'p'].map((c) => h('th', { text: c }))));
    for (const r of rows) diffTable.append(h('tr', {}, h('td', { text: r.endpoint }), h('td', { text: r.arm }), h('td', { class: 'num', text: fmt(r.estimate) }), h('td', { class: 'num', text: `[${fmt(r.lower)}, ${fmt(r.upper)}]` }), h('td', { text: r.test ?? '' }), h('td', { class: 'num', text: fmt(r.p) })));
    tableCard.replaceChildren(h('h2', { text: 'Endpoints by arm' }), table, h('h2', { text: 'Paired differences' }), diffTable);
    if (rows.length > 0) {
      await mount(forestEl, forestSpec(rows));
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
  if (!(await load())) {
    const sub = await followExperiment(
      id,
      () => undefined,
      async (s) => {
        statusEl.replaceChildren(statusPill(s.status));
        if (['finished', 'failed', 'cancelled'].includes(s.status)) await load();
      },
    );
    signal.addEventListener('abort', () => sub.close());
  }
}
