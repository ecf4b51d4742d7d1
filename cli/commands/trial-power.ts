import { type Command, InvalidArgumentError } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import { type PowerResult, simulatePower } from '../../experiments/power.js';
import { loadSpecFile, type TrialSpec } from '../../experiments/spec.js';
import { parseInteger } from '../program.js';
import { interruptSignal, makeExecutor } from './run.js';

/**
 * `twinlab trial power SPEC --n 20,50,100 [--effect observed|Δ] [--sims K] [--seed S] [--json]`: the power
 * of a trial spec by simulation (experiments/power.ts) — each cohort size K times on fresh virtual
 * cohorts through the worker pool; progress on stderr, the table (or JSON) on stdout.
 */
interface PowerCliOptions {
  n: number[];
  effect: number | 'observed';
  sims: number;
  seed?: number;
  resamples: number;
  workers?: number;
  inline?: boolean;
  json?: boolean;
}

export function parseSizes(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const sizes = parts.map(Number);
  if (parts.length === 0 || parts.some((p, i) => p === '' || !Number.isInteger(sizes[i]) || (sizes[i] as number) < 2)) {
    throw new InvalidArgumentError(`--n must be a comma-separated list of cohort sizes (integers ≥ 2), got "${value}"`);
  }
  return sizes;
}

export function parseEffect(value: string): number | 'observed' {
  if (value === 'observed') return value;
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x)) throw new InvalidArgumentError(`--effect must be "observed" or a number (a difference in the primary endpoint's units), got "${value}"`);
  return x;
}

const fmt = (x: number | null, digits = 3): string => (x === null ? '—' : Number(x.toPrecision(digits)).toString());

export function powerTable(r: PowerResult): string {
  const h = r.hypothesis;
  const what =
    h.type === 'superiority'
      ? 'superiority (the arm favoured: CI excludes 0 on the better side)'
      : `${h.type}, margin ${h.type === 'equivalence' ? '±' : ''}${h.margin}${r.endpoint.unit ? ` ${r.endpoint.unit}` : ''}, one-sided α ${h.alpha}`;
  const lines = [
    `power of "${r.name}": primary endpoint ${r.endpoint.id} (${what}); reference ${r.reference}; effect ${r.effect === 'observed' ? 'observed (arms as they are)' : `${r.effect} added to the other arms`}; ${r.sims} simulated trials per size, seed ${r.seed}`,
    '',
    `| n | arm | power | ${Math.round(r.level * 100)}% CI (Wilson) | met/sims | mean difference | mean ${Math.round(r.level * 100)}% CI width |`,
    '|---|---|---|---|---|---|---|',
    ...r.rows.map(
      (row) =>
        `| ${row.n} | ${row.arm} | ${fmt(row.power)} | [${fmt(row.ci.lower)}, ${fmt(row.ci.upper)}] | ${row.met}/${row.sims} | ${fmt(row.meanDifference)} | ${fmt(row.meanCiWidth)} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export function registerTrialCommand(program: Command): void {
  const trial = program.command('trial').description('trial design tools');
  trial
    .command('power')
    .description('power of a trial spec by simulation: the arms on fresh virtual cohorts at each size')
    .argument('<spec>', 'trial spec file (YAML or JSON)')
    .requiredOption('--n <sizes>', 'cohort sizes, comma-separated (e.g. 20,50,100,200)', parseSizes)
    .option(
      '--effect <effect>',
      '"observed" (the arms as they are) or Δ added to every non-reference arm\'s primary endpoint (its units)',
      parseEffect,
      'observed' as number | 'observed',
    )
    .option('--sims <k>', 'simulated trials per size', parseInteger('--sims', { min: 1, max: 100_000 }), 200)
    .option('--seed <s>', 'simulation seed (default: the spec seed)', parseInteger('--seed', { min: 0 }))
    .option('--resamples <b>', 'bootstrap resamples per simulated analysis', parseInteger('--resamples', { min: 100, max: 100_000 }), 2000)
    .option('--workers <n>', 'worker threads (default: available cores)', parseInteger('--workers', { min: 1 }))
    .option('--inline', 'run jobs in this process, one at a time (debugging)')
    .option('--json', 'print the result as JSON')
    .action(async (specPath: string, options: PowerCliOptions) => {
      const spec = loadSpecFile(specPath);
      if (spec.kind !== 'trial') throw new TwinlabError('INVALID_ARGUMENT', `SPEC: power needs a trial spec, ${specPath} is a ${spec.kind} spec`);
      const interrupt = interruptSignal();
      const executor = makeExecutor({ data: '', workers: options.workers, inline: options.inline });
      let lastLine = 0;
      try {
        const result = await simulatePower({
          spec: spec as TrialSpec,
          sizes: options.n,
          sims: options.sims,
          seed: options.seed ?? spec.seed,
          effect: options.effect,
          resamples: options.resamples,
          executor,
          signal: interrupt.signal,
          onProgress: ({ size, jobsDone, jobsTotal }) => {
            const now = performance.now();
            if (jobsDone === jobsTotal || now - lastLine > 2000) {
              lastLine = now;
              process.stderr.write(`power: n = ${size}: ${jobsDone}/${jobsTotal} jobs\n`);
            }
          },
        });
        process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : powerTable(result));
      } finally {
        interrupt.dispose();
        await executor.close();
      }
    });
}
