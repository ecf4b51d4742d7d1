import type { View } from 'vega';
import type { TrackClock, TrackDefinition, TwinTracks } from '../../../engine/twin.js';
import { clockTime, episodeTracksSpec, trackValue } from '../../../experiments/charts.js';
import { api, enc } from '../api.js';
import { mount, replace } from '../charts.js';
import { fmt, h, link } from '../dom.js';
import { setState, toSearch, type ViewState } from '../state.js';
import { renderWard, type WardEpisode, type WardSource } from './ward.js';

interface EpisodeStep {
  step: number;
  action: number | number[];
  reward: number;
  observation: number[];
  terminated: boolean;
  truncated: boolean;
  info: Record<string, unknown>;
}

interface EpisodeData {
  key: string;
  envId: string;
  seed: number | null;
  length: number;
  totalReward: number;
  hash: string;
  steps: EpisodeStep[];
  keyframe?: { step: number };
  keyframes?: number[];
}

interface RunDetail {
  id: string;
  experimentId: string;
  status: string;
  config?: { envId?: string; envOptions?: Record<string, unknown>; frames?: boolean; kind?: string; shape?: { arms?: { name: string }[] } };
  episodes: { key: string; length: number; summary: Record<string, number> }[];
}

const isLive = (detail: RunDetail) => detail.status === 'running' || detail.status === 'pending' || detail.status === 'queued';
/** The key the trial job gives episode k (experiments/trial-job.ts episodeKey). */
const episodeKeyOf = (k: number) => `episode-${k}`;

/** The run's env's declared dedicated view, its horizon in steps and the minutes per step (from /api/envs and the job config). */
async function dedicatedView(detail: RunDetail): Promise<{ view: string; horizon: number; minutesPerStep: number } | undefined> {
  const envId = detail.config?.envId;
  if (!envId) return undefined;
  const catalogue = await api.get<(EnvEntry & { maxEpisodeSteps: number | null })[]>('/api/envs').catch(() => []);
  const entry = catalogue.find((e) => e.id === envId);
  const view = entry?.twin?.tracks?.view;
  if (!view) return undefined;
  const o = detail.config?.envOptions ?? {};
  const limits = [o.maxEpisodeSteps, o.horizonHours, entry?.maxEpisodeSteps].filter((v): v is number => typeof v === 'number' && v > 0);
  return { view, horizon: limits.length > 0 ? Math.min(...limits) : 1, minutesPerStep: entry?.twin?.tracks?.clock?.minutesPerStep ?? 1 };
}

function armLabel(config: Record<string, unknown> | undefined): string {
  const arm = config?.arm as { name?: string } | string | undefined;
  return typeof arm === 'string' ? arm : (arm?.name ?? '');
}

interface Pane {
  data: EpisodeData;
  view: View;
  details: HTMLElement;
  /** x of each step on the chart (clock minutes, or the step number). */
  x: number[];
  tracks: readonly TrackDefinition[];
  clock?: TrackClock;
}

interface EnvEntry {
  id: string;
  observationSpace: { labels?: string[] };
  twin: { tracks?: TwinTracks | null } | null;
}

/**
 * Episode viewer: the tracks the env's twin declares (GET /api/envs → twin.tracks: units, bands,
 * categorical states, doses, events, clock time; a generic view otherwise, experiments/charts.ts
 * episodeTracksSpec) with a time cursor, play/pause/step/speed/seek/rewind, the step's declared
 * values, observation, action, reward and Q-values, optional second arm side by side on the same
 * cursor, and the "verify replay" button (re-executes the episode on the server).
 */
export async function renderEpisode(root: HTMLElement, state: ViewState, signal: AbortSignal): Promise<void> {
  const run = state.run as string;
  const detail = await api.get<RunDetail>(`/api/runs/${enc(run)}`);
  // a twin with a dedicated episode view (TwinTracks.view, e.g. the ward's) gets it, stored or live
  const dedicated = await dedicatedView(detail);
  if (state.episode && !state.compare && dedicated?.view === 'ward') {
    const stored = detail.episodes.some((e) => e.key === state.episode);
    const source: WardSource = {
      run,
      experimentId: detail.experimentId,
      key: state.episode,
      horizon: dedicated.horizon,
      minutesPerStep: dedicated.minutesPerStep,
    };
    if (stored) source.stored = await api.get<WardEpisode>(`/api/runs/${enc(run)}/episodes/${enc(state.episode)}`);
    else if (!isLive(detail))
      throw new Error(
        `run "${run}" has no episode "${state.episode}"${detail.config?.frames ? '' : ' (a running trial streams its episodes only with frames: true in its spec)'}`,
      );
    if (signal.aborted) return;
    await renderWard(root, state, signal, source);
    return;
  }
  if (!state.episode) {
    const first = detail.episodes[0];
    root.replaceChildren(
      h('h1', { text: `Episodes of ${run}` }),
      h(
        'table',
        { id: 'episodes' },
        h('tr', {}, h('th', { text: 'episode' }), h('th', { text: 'length' }), h('th', { text: 'summary' })),
        ...detail.episodes.map((e) =>
          h(
            'tr',
            {},
            h('td', {}, link(e.key, toSearch({ ...state, episode: e.key }))),
            h('td', { class: 'num', text: String(e.length) }),
            h('td', { class: 'muted', text: Object.entries(e.summary ?? {}).slice(0, 6).map(([k, v]) => `${k} ${fmt(v)}`).join(' · ') }),
          ),
        ),
      ),
      detail.episodes.length === 0 ? h('p', { class: 'muted', text: 'This run has no stored episodes yet.' }) : '',
      // a running job that streams frames (trial spec frames: true) can be followed live in its dedicated view
      dedicated && isLive(detail) && detail.config?.frames && detail.episodes.length === 0
        ? h('p', {}, link(`follow ${episodeKeyOf(0)} live`, toSearch({ ...state, episode: episodeKeyOf(0) })))
        : '',
    );
    if (first && detail.episodes.length === 1) {
      setState({ ...state, episode: first.key }, 'replace');
      window.dispatchEvent(new PopStateEvent('popstate'));
    }
    return;
  }
  const load = (jobId: string, key: string) => api.get<EpisodeData>(`/api/runs/${enc(jobId)}/episodes/${enc(key)}`);
  const primary = await load(run, state.episode);
  const [compareRun, compareKey] = state.compare ? state.compare.split('|') : [];
  const secondary = compareRun ? await load(compareRun, compareKey || state.episode) : undefined;
  if (signal.aborted) return;

  const length = Math.max(primary.length, secondary?.length ?? 0);
  let cursor = Math.min(Math.max(1, state.cursor ?? 1), Math.max(1, length));
  let playing = false;
  let speed = 8;

  const slider = h('input', { type: 'range', min: 1, max: Math.max(1, length), value: cursor, id: 'seek' });
  const position = h('span', { id: 'position' });
  // glyphs that Debian's fonts have (⏮ showed as a box); the shortcuts are in the titles
  const playBtn = h('button', { id: 'play', class: 'primary', text: '▶ play', title: 'play / pause (space)' });
  const backBtn = h('button', { id: 'step-back', text: '◀ step', title: 'step back (←, shift: 10)' });
  const fwdBtn = h('button', { id: 'step-forward', text: 'step ▶', title: 'step forward (→, shift: 10)' });
  const rewindBtn = h('button', { id: 'rewind', text: '|◀ rewind', title: 'rewind (Home; End: last step)' });
  const speedSel = h('select', { id: 'speed' }, ...[1, 4, 8, 32, 128].map((s) => h('option', { value: s, text: `${s}×` })));
  speedSel.value = String(speed);
  const verifyBtn = h('button', { id: 'verify', text: 'verify replay' });
  const verifyOut = h('span', { id: 'verify-result', class: 'verify-result' });
  const sideBySide = h('div', { class: 'controls' });
  const panes = h('div', { class: 'row' });
  root.replaceChildren(
    h('h1', { text: `Episode ${primary.key}` }),
    h('p', { class: 'muted', text: `${primary.envId} · seed ${primary.seed ?? '—'} · ${primary.length} steps · return ${fmt(primary.totalReward)} · hash ${primary.hash.slice(0, 16)}…` }),
    h('div', { class: 'controls' }, rewindBtn, backBtn, playBtn, fwdBtn, 'speed', speedSel, slider, position),
    h('div', { class: 'controls' }, verifyBtn, verifyOut),
    sideBySide,
    panes,
  );

  const catalogue = await api.get<EnvEntry[]>('/api/envs').catch((): EnvEntry[] => []);
  const paneCount = secondary ? 2 : 1;
  const mountPane = async (data: EpisodeData, title: string, subtitle: string, other?: EpisodeData): Promise<Pane> => {
    const entry = catalogue.find((e) => e.id === data.envId);
    const chartEl = h('div', { class: 'chart' });
    // pre-wrap: the info line wraps inside the pane instead of being cut off
    const details = h('pre', { class: 'step-details', style: 'white-space:pre-wrap;overflow-wrap:anywhere' });
    panes.append(h('div', { class: 'grow card', 'data-pane': title }, h('h2', { text: title }), h('p', { class: 'muted pane-subtitle', text: subtitle }), chartEl, details));
    const width = Math.max(240, Math.floor((panes.clientWidth || 1200) / paneCount) - 170);
    // side by side: both panes on the same y scale per panel (the other episode's values count too)
    const chart = episodeTracksSpec(entry?.twin?.tracks ?? undefined, data.steps, {
      width,
      length,
      observationLabels: entry?.observationSpace.labels ?? [],
      shareY: other && other.envId === data.envId ? [other.steps] : undefined,
    });
    const view = await mount(chartEl, chart.spec);
    return { data, view, details, x: chart.x, tracks: chart.tracks, clock: chart.clock };
  };
  // panes named by arm and patient (the job and episode key below them)
  const secondaryDetail = compareRun && compareRun !== run ? await api.get<RunDetail>(`/api/runs/${enc(compareRun)}`).catch(() => undefined) : detail;
  const subtitle = (jobId: string, key: string) => `${jobId.split('/').pop()} · ${key}`;
  const pa = await mountPane(primary, paneTitle(detail, primary.key) ?? primary.key, subtitle(run, primary.key), secondary);
  const pb = secondary
    ? await mountPane(secondary, (secondaryDetail && paneTitle(secondaryDetail, secondary.key)) ?? subtitle(compareRun as string, secondary.key), subtitle(compareRun as string, secondary.key), primary)
    : undefined;

  // Side by side: other arms of the same patient (trial jobs of the same experiment with the same episode
  // key; in a streaming trial's block, the same run's episodes of that patient in the other arms).
  const options = blockSiblings(detail, primary.key) ?? (await jobSiblings(detail, run, primary.key));
  if (options.length > 0) {
    const sel = h('select', { id: 'compare' }, h('option', { value: '', text: '— none —' }), ...options.map((o) => h('option', { value: o.value, text: o.text })));
    sel.value = state.compare ? (state.compare.endsWith('|') ? `${state.compare}${primary.key}` : state.compare) : '';
    sel.addEventListener('change', () => {
      setState({ ...state, compare: sel.value || undefined, cursor }, 'push');
      window.dispatchEvent(new PopStateEvent('popstate'));
    });
    sideBySide.append('side by side with ', sel);
  }

  const show = (pane: Pane | undefined) => {
    if (!pane) return;
    const index = Math.min(cursor, pane.data.steps.length) - 1;
    const step = pane.data.steps[index];
    replace(pane.view, 'cursor', [{ t: pane.x[index] ?? cursor }]);
    if (!step) return;
    const at = pane.x[index] ?? 0;
    const labels = catalogue.find((e) => e.id === pane.data.envId)?.observationSpace.labels ?? [];
    const declared = pane.tracks
      .filter((t) => !t.field.startsWith('obs.'))
      .map((t) => {
        const v = trackValue(step, t.field, labels);
        const text = v === null ? '—' : t.kind === 'categorical' && t.categories ? (t.categories[v] ?? fmt(v)) : `${fmt(v)}${t.unit && t.unit !== 'count' ? ` ${t.unit}` : ''}`;
        return `${t.label} ${text}`;
      })
      .join(' · ');
    const q = step.info?.q ?? step.info?.qValues;
    pane.details.textContent = [
      `step ${step.step + 1}/${pane.data.length}${pane.clock ? ` · ${clockTime(at)}` : ''}${step.terminated ? ' (terminated)' : step.truncated ? ' (truncated)' : ''}`,
      `action ${JSON.stringify(step.action)}   reward ${fmt(step.reward, 5)}`,
      declared,
      Array.isArray(q) ? `Q-values ${q.map((v) => fmt(v as number)).join(', ')}   action gap ${fmt(actionGap(q as number[]))}` : '',
      `observation [${step.observation.map((v) => fmt(v)).join(', ')}]`,
      `info ${JSON.stringify(step.info)}`,
    ]
      .filter(Boolean)
      .join('\n');
  };
  const render = (record = true) => {
    slider.value = String(cursor);
    position.textContent = `step ${cursor} / ${length}`;
    position.dataset.cursor = String(cursor);
    show(pa);
    show(pb);
    if (record) setState({ ...state, cursor }, 'replace');
  };
  const seek = (to: number) => {
    cursor = Math.min(Math.max(1, Math.round(to)), Math.max(1, length));
    render();
  };
  slider.addEventListener('input', () => seek(Number(slider.value)));
  backBtn.addEventListener('click', () => seek(cursor - 1));
  fwdBtn.addEventListener('click', () => seek(cursor + 1));
  rewindBtn.addEventListener('click', () => seek(1));
  speedSel.addEventListener('change', () => {
    speed = Number(speedSel.value);
  });
  let timer: ReturnType<typeof setInterval> | undefined;
  playBtn.addEventListener('click', () => {
    playing = !playing;
    playBtn.textContent = playing ? '❚❚ pause' : '▶ play';
    if (timer) clearInterval(timer);
    timer = undefined;
    if (playing) {
      timer = setInterval(() => {
        if (cursor >= length) {
          playing = false;
          playBtn.textContent = '▶ play';
          clearInterval(timer);
          return;
        }
        seek(cursor + 1);
      }, 1000 / speed);
    }
  });
  signal.addEventListener('abort', () => timer && clearInterval(timer));
  // keyboard: space play/pause, ←/→ step (shift: 10), Home/End; not while typing in a field
  const onKey = (e: KeyboardEvent) => {
    const target = e.target as HTMLElement | null;
    if (e.altKey || e.ctrlKey || e.metaKey || (target && ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName) && !(target === slider && e.key === ' '))) return;
    if (e.key === ' ' && target?.tagName === 'BUTTON') return; // the focused button takes its own space
    const by = e.shiftKey ? 10 : 1;
    if (e.key === ' ') playBtn.click();
    else if (e.key === 'ArrowRight') seek(cursor + by);
    else if (e.key === 'ArrowLeft') seek(cursor - by);
    else if (e.key === 'Home') seek(1);
    else if (e.key === 'End') seek(length);
    else return;
    e.preventDefault();
  };
  document.addEventListener('keydown', onKey);
  signal.addEventListener('abort', () => document.removeEventListener('keydown', onKey));
  verifyBtn.addEventListener('click', async () => {
    verifyBtn.disabled = true;
    verifyOut.className = 'verify-result';
    verifyOut.textContent = 're-executing…';
    try {
      const r = await api.post<{ identical: boolean; step?: number; field?: string; expected?: unknown; actual?: unknown }>(`/api/runs/${enc(run)}/episodes/${enc(primary.key)}/verify`);
      verifyOut.className = `verify-result ${r.identical ? 'identical' : 'diverged'}`;
      verifyOut.textContent = r.identical ? 'identical' : `diverges at step ${r.step} (${r.field}): expected ${JSON.stringify(r.expected)}, got ${JSON.stringify(r.actual)}`;
    } catch (error) {
      verifyOut.className = 'verify-result diverged';
      verifyOut.textContent = error instanceof Error ? error.message : String(error);
    } finally {
      verifyBtn.disabled = false;
    }
  });
  render(false);
}

/**
 * Other trial jobs of the experiment, each with the same episode key (job-by-job trials): the same
 * patient's other arms first, then the other patients; each named "arm · patient (job)".
 */
async function jobSiblings(detail: RunDetail, run: string, key: string): Promise<{ value: string; text: string }[]> {
  const siblings = await api.get<{ jobs: { id: string; config: Record<string, unknown> }[] }>(`/api/experiments/${enc(detail.experimentId)}`).catch(() => ({ jobs: [] }));
  const patient = (detail.config as { patientId?: unknown } | undefined)?.patientId;
  const others = siblings.jobs.filter((j) => j.id !== run);
  const same = others.filter((j) => patient !== undefined && j.config?.patientId === patient);
  return [...same, ...others.filter((j) => !same.includes(j))].map((j) => ({
    value: `${j.id}|${key}`,
    text: `${armLabel(j.config) || 'arm'}${j.config?.patientId ? ` · ${String(j.config.patientId)}` : ''} (${j.id.split('/').pop()})`,
  }));
}

/**
 * A streaming trial's block episode `p<i>.r<r>.a<a>.episode-<k>`: the same patient's stored episodes in the
 * other arms of the same block run (undefined when the run is not a block).
 */
function blockSiblings(detail: RunDetail, key: string): { value: string; text: string }[] | undefined {
  const m = /^p(\d+)\.r(\d+)\.a(\d+)\.(episode-\d+)$/.exec(key);
  if (!m || detail.config?.kind !== 'trial-block') return undefined;
  const arms = detail.config.shape?.arms ?? [];
  return detail.episodes.flatMap((e) => {
    const o = /^p(\d+)\.r(\d+)\.a(\d+)\.(episode-\d+)$/.exec(e.key);
    if (!o || e.key === key || o[1] !== m[1] || o[2] !== m[2] || o[4] !== m[4]) return [];
    return [{ value: `${detail.id}|${e.key}`, text: `${arms[Number(o[3])]?.name ?? `arm ${o[3]}`} · patient ${o[1]}` }];
  });
}

/**
 * "arm · patient" of a trial episode: a trial job's arm and patient id, or in a streaming trial's block
 * the arm and patient index in the key `p<i>.r<r>.a<a>.episode-<k>`; undefined outside trials.
 */
function paneTitle(detail: RunDetail, key: string): string | undefined {
  const config = detail.config as (RunDetail['config'] & { patientId?: string; arm?: unknown; replicate?: number }) | undefined;
  const block = /^p(\d+)\.r(\d+)\.a(\d+)\.episode-\d+$/.exec(key);
  if (block && config?.kind === 'trial-block') return `${config.shape?.arms?.[Number(block[3])]?.name ?? `arm ${block[3]}`} · patient ${block[1]}`;
  if (config?.kind !== 'trial') return undefined;
  const arm = armLabel(config as Record<string, unknown>);
  const replicate = typeof config.replicate === 'number' && config.replicate > 0 ? ` (replicate ${config.replicate + 1})` : '';
  return `${arm || 'arm'} · ${config.patientId ?? 'patient'}${replicate}`;
}

/** Q-value gap of a decision: best minus second best (how decisive the greedy choice was). */
function actionGap(q: number[]): number {
  let best = Number.NEGATIVE_INFINITY;
  let second = Number.NEGATIVE_INFINITY;
  for (const v of q) {
    if (v > best) {
      second = best;
      best = v;
    } else if (v > second) second = v;
  }
  return q.length > 1 ? best - second : 0;
}
