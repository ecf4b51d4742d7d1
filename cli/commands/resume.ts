import type { Command } from 'commander';
import { resumeExperiment } from '../../experiments/runner.js';
import { addRunOptions, type ExperimentCliOptions, openExistingStore, runSession } from './run.js';

/** `twinlab resume ID`: re-run only the jobs of an experiment that did not finish (from checkpoints). */
export function registerResumeCommand(program: Command): void {
  addRunOptions(program.command('resume').description('resume an interrupted or failed experiment: re-runs only its unfinished jobs').argument('<experiment>', 'experiment id')).action(
    async (id: string, options: ExperimentCliOptions) => {
      const store = openExistingStore(options.data);
      // A live owner (another `run`/`resume` or the server) makes resumeExperiment refuse with CONFLICT naming its pid and host.
      await runSession(store, options, ({ executor, reporter, signal }) => resumeExperiment({ id, store, executor, signal, ...reporter.runnerOptions() }));
    },
  );
}
