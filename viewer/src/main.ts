/**
 * twinlab viewer entry. Pipeline:
 *   1. keep the token from the start URL (#token=…) for mutating calls,
 *   2. read the view state from the URL,
 *   3. render that view (aborting the previous one's live subscriptions and timers),
 *   4. re-render on navigation (links and back/forward).
 */
import { captureToken } from './api.js';
import { h, link } from './dom.js';
import { connection } from './live.js';
import { readState, toSearch } from './state.js';
import { renderEpisode } from './views/episode.js';
import { renderExperiment } from './views/experiment.js';
import { renderList } from './views/list.js';
import { renderRuns } from './views/runs.js';
import { renderTrial } from './views/trial.js';
import { renderTwin } from './views/twin.js';
import { renderTwins } from './views/twins.js';

let current: AbortController | undefined;

async function route(): Promise<void> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const root = document.getElementById('app') as HTMLElement;
  const crumbs = document.getElementById('crumbs') as HTMLElement;
  const state = readState();
  crumbs.replaceChildren();
  if (state.view === 'twin' || state.view === 'twins') {
    crumbs.append(link('twins', toSearch({ view: 'twins' })));
    if (state.id) crumbs.append(h('span', { text: state.id }));
  } else if (state.id) crumbs.append(link('experiments', toSearch({ view: 'list' })), link(state.id, toSearch({ view: state.view === 'trial' ? 'trial' : 'experiment', id: state.id })));
  if (state.run) crumbs.append(h('span', { text: state.run.split('/').pop() ?? state.run }));
  try {
    if (state.view === 'experiment' && state.id) await renderExperiment(root, state, controller.signal);
    else if (state.view === 'trial' && state.id) await renderTrial(root, state, controller.signal);
    else if (state.view === 'episode' && state.run) await renderEpisode(root, state, controller.signal);
    else if (state.view === 'twin' && state.id) await renderTwin(root, state, controller.signal);
    else if (state.view === 'twins') await renderTwins(root, controller.signal);
    else if (state.view === 'runs') await renderRuns(root, state, controller.signal);
    else await renderList(root, controller.signal);
  } catch (error) {
    if (controller.signal.aborted) return;
    root.replaceChildren(h('p', { class: 'error', id: 'view-error', text: error instanceof Error ? error.message : String(error) }));
  }
}

captureToken();
connection();
window.addEventListener('popstate', () => void route());
document.querySelectorAll<HTMLAnchorElement>('[data-nav]').forEach((nav) => {
  nav.addEventListener('click', (e: MouseEvent) => {
    e.preventDefault();
    window.history.pushState(null, '', `/?view=${nav.dataset.nav ?? 'list'}`);
    void route();
  });
});
void route();
