import type { Command } from 'commander';
import { resumeExperiment } from '../../experiments/runner.js';
import { addRunOptions, type ExperimentCliOptions, openExistingStore, runSession } from './run.js';

/** `twinlab resume ID`: re-run only the jobs of an experiment that did not finish (from checkpoints). */
export function registerResumeCommand(program: Command): void {
  addRunOptions(program.command('resume').description('resume an interrupted or failed experiment: re-runs only its unfinished jobs').argument('<experiment>', 'experiment id')).action(
    async (id: string, options: ExperimentCliOptions) => {
      const store = openExistingStore(options.data);
      await runSession(store, options, ({ executor, reporter, signal }) => {
        const experiment = store.getExperiment(id);
        if (experiment) reporter.created(experiment, store.listJobs(id).filter((j) => j.status !== 'finished') as never);
        return resumeExperiment({ id, store, executor, signal, onEvent: (e) => reporter.event(e) });
      });
    },
  );
}
