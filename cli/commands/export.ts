import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import { exportEpisodes } from '../../experiments/export.js';
import { type ExportFormat, exportRun } from '../../experiments/replay.js';
import type { Store } from '../../experiments/store.js';
import { resolveRun } from './replay.js';
import { addDataOption, openExistingStore } from './run.js';

/**
 * `twinlab export RUN --format csv|jsonl`: a job's episodes step by step (or its events); for an
 * experiment id, all its jobs' episodes in one table with job/arm/patient columns, streamed.
 */
export function registerExportCommand(program: Command): void {
  addDataOption(
    program
      .command('export')
      .description("export a job's stored episodes (or its event stream) as CSV or JSON lines")
      .argument('<run>', 'job id (<experiment>/job-<k>), or an experiment id (all its jobs: every arm and patient of a trial)')
      .addOption(new Option('--format <format>', 'output format').choices(['csv', 'jsonl']).default('csv'))
      .addOption(new Option('--what <what>', 'episodes or events (default: episodes when stored)').choices(['episodes', 'events']))
      .option('--out <file>', 'write to a file instead of stdout'),
  ).action((run: string, options: { data: string; format: ExportFormat; what?: 'episodes' | 'events'; out?: string }) => {
    const store = openExistingStore(options.data);
    try {
      const jobIds = jobsToExport(store, run);
      const single = jobIds.length === 1 ? (jobIds[0] as string) : undefined;
      const episodes = options.what === 'episodes' || (options.what === undefined && jobIds.some((id) => store.listEpisodes(id).length > 0));
      if (!episodes) {
        if (single === undefined)
          throw new TwinlabError('INVALID_ARGUMENT', `--what events exports one job; experiment ${run} has ${jobIds.length} jobs, name one, e.g. ${jobIds[0]}`);
        const text = exportRun(store, single, options.format, { what: 'events' });
        if (options.out) writeFileSync(options.out, text);
        else process.stdout.write(text);
        return;
      }
      // Streamed episode by episode: synchronous writes to the file or to stdout's descriptor.
      const fd = options.out ? openSync(options.out, 'w') : 1;
      try {
        exportEpisodes(store, jobIds, options.format, (chunk) => {
          writeAll(fd, chunk);
        });
      } catch (error) {
        if (!(error instanceof ReaderGone)) throw error;
      } finally {
        if (options.out) closeSync(fd);
      }
    } finally {
      store.close();
    }
  });
}

/** The job ids behind RUN: the job itself, or every job of the experiment in index order. */
function jobsToExport(store: Store, run: string): string[] {
  if (store.getJob(run)) return [run];
  if (store.getExperiment(run)) {
    const jobs = store.listJobs(run);
    if (jobs.length === 0) throw new TwinlabError('NOT_FOUND', `experiment ${run} has no jobs`);
    return jobs.length === 1 ? [resolveRun(store, run)] : jobs.map((j) => j.id);
  }
  return [resolveRun(store, run)];
}

/** The reader closed the pipe (e.g. `twinlab export … | head`): stop quietly. */
class ReaderGone extends Error {}

function writeAll(fd: number, chunk: string): void {
  const buffer = Buffer.from(chunk, 'utf8');
  for (let offset = 0; offset < buffer.length; ) {
    try {
      offset += writeSync(fd, buffer, offset);
    } catch (error) {
      // A non-blocking stdout (some pipes) can refuse a write; retry until the reader catches up.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') throw new ReaderGone();
      if (code !== 'EAGAIN') throw error;
    }
  }
}
