/**
 * All view state lives in the URL query string, so a link reproduces the view:
 * `?view=experiment&id=…&run=…&episode=…&compare=…&cursor=…&smooth=…&group=…&seeds=1`; the twin page
 * adds `origins` (forecast origins), `from` (replay origin), `therapy` and `therapyB` (a type 2 twin also
 * `swap` and `swapB`; a vancomycin twin `targetAuc`, `intervals`, `mic` and `regimen` DOSE@HOURS); the runs page
 * (run comparison) `runs` (comma-separated run ids), `metric`, `ema`, `by` (group-by key) and `sort`; a
 * streaming trial's patients table `page` (0-based) and `all=1` (every patient, not only the sampled ones).
 */
export const VIEWS = { list: 'list', experiment: 'experiment', episode: 'episode', trial: 'trial', twins: 'twins', twin: 'twin', runs: 'runs' } as const;
export type ViewName = (typeof VIEWS)[keyof typeof VIEWS];

export function isViewName(value: unknown): value is ViewName {
  return typeof value === 'string' && (Object.values(VIEWS) as string[]).includes(value);
}

export interface ViewState {
  view: ViewName;
  id?: string;
  run?: string;
  episode?: string;
  compare?: string;
  cursor?: number;
  smooth?: number;
  group?: 'config' | 'run';
  seeds?: boolean;
  origins?: string;
  from?: string;
  therapy?: string;
  therapyB?: string;
  /** Type 2 twin page: the food swaps (TIME=FOOD[:SERVINGS], comma-separated) of what-ifs A and B. */
  swap?: string;
  swapB?: string;
  /** Vancomycin twin page: the dose table's query and the regimen drawn (`DOSE@HOURS`). */
  targetAuc?: string;
  intervals?: string;
  mic?: string;
  regimen?: string;
  /** Ward view: the patient (id) whose tracks are shown. */
  patient?: number;
  runs?: string;
  metric?: string;
  ema?: number;
  by?: string;
  sort?: string;
  /** Streaming trial page: the patients page (0-based) and whether every patient is listed. */
  page?: number;
  all?: boolean;
}

export function readState(search = window.location.search): ViewState {
  const q = new URLSearchParams(search);
  const view = q.get('view');
  const num = (k: string) => {
    const v = q.get(k);
    return v === null || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v);
  };
  const state: ViewState = { view: isViewName(view) ? view : 'list' };
  for (const k of ['id', 'run', 'episode', 'compare', 'origins', 'from', 'therapy', 'therapyB', 'swap', 'swapB', 'targetAuc', 'intervals', 'mic', 'regimen', 'runs', 'metric', 'by', 'sort'] as const) {
    const v = q.get(k);
    if (v) state[k] = v;
  }
  state.cursor = num('cursor');
  state.patient = num('patient');
  state.smooth = num('smooth');
  state.ema = num('ema');
  state.page = num('page');
  const group = q.get('group');
  if (group === 'config' || group === 'run') state.group = group;
  if (q.get('seeds') === '1') state.seeds = true;
  if (q.get('all') === '1') state.all = true;
  return state;
}

export function toSearch(state: ViewState): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) {
    if (v === undefined || v === false || v === '') continue;
    q.set(k, v === true ? '1' : String(v));
  }
  return `?${q.toString()}`;
}

/** Navigate (new history entry) or update in place (replace) — e.g. the episode cursor while playing. */
export function setState(state: ViewState, mode: 'push' | 'replace' = 'push'): void {
  const url = `${window.location.pathname}${toSearch(state)}`;
  if (mode === 'push') window.history.pushState(null, '', url);
  else window.history.replaceState(null, '', url);
}
