import type { Command } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import { verifyReplay } from '../../experiments/replay.js';
import type { Store } from '../../experiments/store.js';
import { EXIT } from '../program.js';
import { addDataOption, openExistingStore } from './run.js';

/**
 * `twinlab replay RUN --verify`: re-execute a stored episode from its manifest and compare step by
 * step. Prints `identical` (exit 0) or the first diverging step, field and values (exit 1).
 */
export function registerReplayCommand(program: Command): void {
  addDataOption(
    program
      .command('replay')
      .description('re-execute a stored episode and compare it with the log, step by step')
      .argument('<run>', 'job id (<experiment>/job-<k>), or an experiment id with a single job (or, for a streaming trial, with --episode p<i>.r<r>.a<a>.episode-<k>)')
      .option('--episode <key>', "episode key (default: the job's first stored episode), e.g. episode-0, eval-0, or a streaming trial's p<i>.r<r>.a<a>.episode-<k>")
      .option('--verify', 're-execute and compare (the only mode the CLI offers; the viewer plays logs back)')
      .option('--json', 'print JSON'),
  ).action(async (run: string, options: { data: string; episode?: string; verify?: boolean; json?: boolean }) => {
    const store = openExistingStore(options.data);
    try {
      const jobId = (options.episode !== undefined ? blockOfEpisode(store, run, options.episode) : undefined) ?? resolveRun(store, run);
      const key = options.episode ?? store.listEpisodes(jobId)[0]?.key;
      if (!key) throw new TwinlabError('NOT_FOUND', `job ${jobId} has no stored episodes`);
      const verdict = await verifyReplay(store, jobId, key);
      if (options.json) process.stdout.write(`${JSON.stringify({ jobId, episode: key, ...verdict })}\n`);
      else if (verdict.identical) process.stdout.write(`identical (${jobId} ${key}: ${verdict.steps} steps, hash ${verdict.hash})\n`);
      else process.stdout.write(`diverges at step ${verdict.step}, field ${verdict.field}: expected ${JSON.stringify(verdict.expected)}, got ${JSON.stringify(verdict.actual)}\n`);
      if (!options.json && verdict.codeVersion.recorded !== verdict.codeVersion.current) {
        process.stderr.write(`note: recorded with code ${verdict.codeVersion.recorded}, replayed with ${verdict.codeVersion.current}\n`);
      }
      process.exitCode = verdict.identical ? EXIT.ok : EXIT.failed;
    } finally {
      store.close();
    }
  });
}

/**
 * A streaming trial's sampled episode named by experiment id and key (`p<i>.r<r>.a<a>.episode-<k>`): the
 * block job holding patient i is job ⌊i / streaming.blockSize⌋ (jobs.ts `generateTrialBlocks`).
 */
export function blockOfEpisode(store: Store, run: string, key: string): string | undefined {
  const m = /^p(\d+)\./.exec(key);
  const spec = m && !store.getJob(run) ? (store.getExperiment(run)?.spec as { kind?: string; streaming?: { blockSize?: number } } | undefined) : undefined;
  const blockSize = spec?.kind === 'trial' ? spec.streaming?.blockSize : undefined;
  if (!m || blockSize === undefined) return undefined;
  return `${run}/job-${Math.floor(Number(m[1]) / blockSize)}`;
}

/** A job id, or an experiment id that has exactly one job. */
export function resolveRun(store: Store, run: string): string {
  if (store.getJob(run)) return run;
  if (store.getExperiment(run)) {
    const jobs = store.listJobs(run);
    if (jobs.length === 1) return (jobs[0] as { id: string }).id;
    throw new TwinlabError('INVALID_ARGUMENT', `experiment ${run} has ${jobs.length} jobs; name one, e.g. ${run}/job-0`);
  }
  throw new TwinlabError('NOT_FOUND', `no job or experiment ${run} in ${store.path}`);
}
