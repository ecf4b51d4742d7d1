import type { Command } from 'commander';
import { resumeExperiment } from '../../experiments/runner.js';
import { addRunOptions, type ExperimentCliOptions, exitFor, interruptSignal, makeExecutor, openExistingStore, printOutcome, ProgressReporter } from './run.js';

/** `twinlab resume ID`: re-run only the jobs of an experiment that did not finish (from checkpoints). */
export function registerResumeCommand(program: Command): void {
  addRunOptions(program.command('resume').description('resume an interrupted or failed experiment: re-runs only its unfinished jobs').argument('<experiment>', 'experiment id')).action(
    async (id: string, options: ExperimentCliOptions) => {
      const store = openExistingStore(options.data);
      const reporter = new ProgressReporter(Boolean(options.json));
      const interrupt = interruptSignal();
      const executor = makeExecutor(options);
      try {
        const experiment = store.getExperiment(id);
        if (experiment) reporter.created(experiment, store.listJobs(id).filter((j) => j.status !== 'finished') as never);
        const outcome = await resumeExperiment({ id, store, executor, signal: interrupt.signal, onEvent: (e) => reporter.event(e) });
        reporter.stop();
        printOutcome(outcome, Boolean(options.json));
        process.exitCode = exitFor(outcome);
      } finally {
        reporter.stop();
        interrupt.dispose();
        await executor.close();
        store.close();
      }
    },
  );
}
