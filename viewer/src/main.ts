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
import { renderTrial } from './views/trial.js';

let current: AbortController | undefined;

async function route(): Promise<void> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const root = document.getElementById('app') as HTMLElement;
  const crumbs = document.getElementById('crumbs') as HTMLElement;
  const state = readState();
  crumbs.replaceChildren();
  if (state.id) crumbs.append(link('experiments', toSearch({ view: 'list' })), link(state.id, toSearch({ view: state.view === 'trial' ? 'trial' : 'experiment', id: state.id })));
  if (state.run) crumbs.append(h('span', { text: state.run.split('/').pop() ?? state.run }));
  try {
    if (state.view === 'experiment' && state.id) await renderExperiment(root, state, controller.signal);
    else if (state.view === 'trial' && state.id) await renderTrial(root, state, controller.signal);
    else if (state.view === 'episode' && state.run) await renderEpisode(root, state, controller.signal);
    else await renderList(root, controller.signal);
  } catch (error) {
    if (controller.signal.aborted) return;
    root.replaceChildren(h('p', { class: 'error', id: 'view-error', text: error instanceof Error ? error.message : String(error) }));
  }
}

captureToken();
connection();
window.addEventListener('popstate', () => void route());
document.querySelector('[data-nav="list"]')?.addEventListener('click', (e) => {
  e.preventDefault();
  window.history.pushState(null, '', '/?view=list');
  void route();
});
void route();
