import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import { type Executor, InlineExecutor, PiscinaExecutor } from '../../experiments/executor.js';
import type { JobSpec, TrainJobConfig } from '../../experiments/jobs.js';
import { DEFAULT_QUEUE, DEFAULT_QUEUE_BATCH, DEFAULT_REDIS_URL, MAX_QUEUE_BATCH, RedisExecutor } from '../../experiments/redis-executor.js';
import { type ExperimentOutcome, type RunnerEvent, type RunnerOptions, runExperiment } from '../../experiments/runner.js';
import { loadSpecFile } from '../../experiments/spec.js';
import { DEFAULT_DATA_DIR, type ExperimentRecord, STORE_FILE, Store } from '../../experiments/store.js';
import { EXIT, parseInteger } from '../program.js';

/**
 * `twinlab run SPEC`: run an experiment spec through the runner (Piscina workers), drawing progress
 * bars per job on a TTY, or printing one JSON line per event with --json. Also the shared plumbing
 * of the experiment commands: --data, the store, the executor, the progress reporter.
 */
export interface ExperimentCliOptions {
  data: string;
  workers?: number;
  json?: boolean;
  inline?: boolean;
  executor?: 'piscina' | 'redis';
  redis?: string;
  queue?: string;
  batchSize?: number;
}

export function addDataOption(command: Command): Command {
  return command.option('--data <dir>', 'data directory (store and saved policies)', DEFAULT_DATA_DIR);
}

export function addRunOptions(command: Command): Command {
  return addDataOption(command)
    .option('--workers <n>', 'worker threads (default: available cores)', parseInteger('--workers', { min: 1 }))
    .option('--inline', 'run jobs in this process, one at a time (debugging)')
    .addOption(new Option('--executor <kind>', 'where jobs run: piscina (worker threads here) or redis (`twinlab worker` processes)').choices(['piscina', 'redis']))
    .option('--redis <url>', `Redis for --executor redis: redis://[user:password@]host:port or rediss:// (default ${DEFAULT_REDIS_URL})`)
    .option('--queue <name>', `queue for --executor redis (default ${DEFAULT_QUEUE})`)
    .option('--batch-size <n>', `trial jobs per queue job for --executor redis (default ${DEFAULT_QUEUE_BATCH}, at most ${MAX_QUEUE_BATCH})`, parseInteger('--batch-size', { min: 1, max: MAX_QUEUE_BATCH }))
    .option('--json', 'one JSON line per event');
}

/** Open an existing store for reading commands (a missing data dir is an error, not a new store). */
export function openExistingStore(dataDir: string): Store {
  if (!existsSync(resolve(dataDir, STORE_FILE))) throw new TwinlabError('NOT_FOUND', `no twinlab store in ${resolve(dataDir)} (use --data DIR)`);
  return Store.open(dataDir);
}

export function makeExecutor(options: ExperimentCliOptions): Executor {
  if (options.executor === 'redis') {
    if (options.inline) throw new TwinlabError('INVALID_ARGUMENT', '--inline and --executor redis exclude each other');
    return new RedisExecutor({ url: options.redis, queue: options.queue, workers: options.workers, batchSize: options.batchSize });
  }
  if (options.redis !== undefined || options.queue !== undefined || options.batchSize !== undefined) {
    throw new TwinlabError('INVALID_ARGUMENT', '--redis, --queue and --batch-size need --executor redis');
  }
  return options.inline ? new InlineExecutor() : new PiscinaExecutor({ workers: options.workers });
}

function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Progress from the event stream: JSON lines, bars on a TTY, or a line per finished job. */
export class ProgressReporter {
  private multibar: cliProgress.MultiBar | undefined;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private overall: cliProgress.SingleBar | undefined;
  private done = 0;
  private total = 0;
  private readonly tty: boolean;

  constructor(private readonly json: boolean) {
    this.tty = !json && Boolean(process.stderr.isTTY);
  }

  readonly runnerOptions = (): Pick<RunnerOptions, 'onEvent' | 'onCreated'> => ({
    onCreated: (experiment, jobs) => this.created(experiment, jobs),
    onEvent: (event) => this.event(event),
  });

  created(experiment: ExperimentRecord, jobs: Array<Pick<JobSpec, 'id' | 'config'>>): void {
    this.total = jobs.length;
    if (this.json) {
      writeJson({ type: 'experiment.created', experimentId: experiment.id, kind: experiment.kind, jobs: jobs.length });
      return;
    }
    process.stderr.write(`experiment ${experiment.id} (${experiment.kind}, ${jobs.length} job${jobs.length === 1 ? '' : 's'})\n`);
    if (!this.tty) return;
    this.multibar = new cliProgress.MultiBar(
      { format: '{label} [{bar}] {percentage}% | {value}/{total} {unit} {extra}', hideCursor: true, clearOnComplete: false, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    const training = jobs.every((j) => j.config.kind === 'train');
    if (training && jobs.length <= 16) {
      for (const job of jobs) {
        const total = (job.config as TrainJobConfig).agentConfig.totalSteps;
        this.bars.set(job.id, this.multibar.create(total, 0, { label: job.id.slice(job.id.lastIndexOf('/') + 1).padEnd(8), unit: 'steps', extra: '' }));
      }
    } else {
      this.overall = this.multibar.create(jobs.length, 0, { label: 'jobs    ', unit: 'jobs', extra: '' });
    }
  }

  event({ experimentId, jobId, event }: RunnerEvent): void {
    if (this.json) {
      writeJson({ experimentId, jobId, type: event.type, step: event.step, data: event.data });
      return;
    }
    const finishedJob = event.type === 'run.finished' || event.type === 'run.failed';
    if (finishedJob) this.done++;
    if (!this.tty) {
      if (event.type === 'run.failed') process.stderr.write(`job ${jobId} failed: ${event.data.error}\n`);
      else if (event.type === 'run.finished' && (this.total <= 16 || this.done === this.total || this.done % Math.ceil(this.total / 10) === 0)) {
        process.stderr.write(`${this.total <= 16 ? `job ${jobId} finished` : 'jobs finished'} (${this.done}/${this.total})\n`);
      }
      return;
    }
    const bar = jobId ? this.bars.get(jobId) : undefined;
    if (bar) {
      if (event.type === 'eval.completed') bar.update(event.step, { extra: `eval ${event.data.meanReturn.toFixed(1)}` });
      else if (event.type === 'run.failed') bar.update({ extra: 'FAILED' });
      else if (event.type === 'run.finished') bar.update(bar.getTotal());
      else bar.update(event.step);
    }
    if (this.overall && finishedJob) this.overall.update(this.done, { extra: event.type === 'run.failed' ? `(last failed: ${jobId})` : '' });
  }

  stop(): void {
    this.multibar?.stop();
  }
}

/** Abort on the first Ctrl-C (jobs checkpoint and stop); a second one exits at once. */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = (): void => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\ninterrupt: cancelling (Ctrl-C again to exit now; `twinlab resume` continues later)\n');
    controller.abort();
  };
  process.on('SIGINT', handler);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', handler) };
}

export function printOutcome(outcome: ExperimentOutcome, json: boolean): void {
  const failed = outcome.jobs.filter((j) => j.status === 'failed');
  if (json) {
    writeJson({ type: 'experiment.ended', experimentId: outcome.id, status: outcome.status, error: outcome.error, jobs: outcome.jobs.length, failed: failed.length });
    return;
  }
  const total = outcome.jobs.length;
  const finished = outcome.jobs.filter((j) => j.status === 'finished').length;
  if (outcome.status === 'cancelled') {
    // Say what was cancelled: jobs that had not finished stop where they were and resume later.
    const interrupted = total - finished - failed.length;
    const parts = [`${finished}/${total} jobs finished`, `${interrupted} interrupted`, ...(failed.length > 0 ? [`${failed.length} failed`] : [])];
    process.stdout.write(`experiment ${outcome.id}: cancelled: ${parts.join(', ')} (resume with: twinlab resume ${outcome.id})\n`);
  } else if (outcome.status === 'finished') {
    process.stdout.write(`experiment ${outcome.id}: finished (${finished}/${total} jobs ok)\n`);
  } else {
    process.stdout.write(`experiment ${outcome.id}: ${outcome.status} (${finished}/${total} jobs finished${failed.length > 0 ? `, ${failed.length} failed` : ''})\n`);
    if (failed.length === 0 && outcome.error) process.stdout.write(`  ${outcome.error}\n`);
  }
  for (const job of failed) process.stdout.write(`  ${job.id} failed: ${job.error}\n`);
  if (outcome.status !== 'finished' && outcome.status !== 'cancelled') process.stdout.write(`  resume with: twinlab resume ${outcome.id}\n`);
}

export function exitFor(outcome: ExperimentOutcome): number {
  return outcome.status === 'finished' ? EXIT.ok : EXIT.failed;
}

export interface RunSession {
  store: Store;
  executor: Executor;
  reporter: ProgressReporter;
  signal: AbortSignal;
}

/**
 * The lifecycle every experiment command shares: progress reporter, Ctrl-C → cancel, executor, store;
 * runs `body`, lets `after` print extra lines, prints the outcome and sets the exit code, and always
 * releases the pool and the store.
 */
export async function runSession(
  store: Store,
  options: ExperimentCliOptions,
  body: (session: RunSession) => Promise<ExperimentOutcome>,
  after?: (outcome: ExperimentOutcome) => void,
): Promise<void> {
  const reporter = new ProgressReporter(Boolean(options.json));
  const interrupt = interruptSignal();
  const executor = makeExecutor(options);
  try {
    const outcome = await body({ store, executor, reporter, signal: interrupt.signal });
    reporter.stop();
    after?.(outcome);
    printOutcome(outcome, Boolean(options.json));
    process.exitCode = exitFor(outcome);
  } finally {
    reporter.stop();
    interrupt.dispose();
    await executor.close();
    store.close();
  }
}

export function registerRunCommand(program: Command): void {
  addRunOptions(program.command('run').description('run an experiment spec (train, sweep or trial; YAML or JSON)').argument('<spec>', 'spec file')).action(
    async (specPath: string, options: ExperimentCliOptions) => {
      const spec = loadSpecFile(specPath); // before the store exists: an invalid spec writes nothing
      await runSession(Store.open(options.data), options, ({ store, executor, reporter, signal }) =>
        runExperiment({ spec, validated: true, store, executor, signal, ...reporter.runnerOptions() }),
      );
    },
  );
}
