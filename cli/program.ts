import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { errorOutcome, TwinlabError } from '../engine/errors.js';

/**
 * Shared CLI plumbing: argument parsers that name the bad argument, and the mapping from errors to
 * exit codes (2 = bad usage or input, 1 = the job failed).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export function parseInteger(name: string, { min, max }: { min?: number; max?: number } = {}) {
  const range = min !== undefined && max !== undefined ? ` in ${min}…${max}` : min !== undefined ? ` ≥ ${min}` : max !== undefined ? ` ≤ ${max}` : '';
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
      throw new InvalidArgumentError(`${name} must be an integer${range}, got "${value}"`);
    }
    return n;
  };
}

export function parseNumber(name: string, { min, max }: { min?: number; max?: number } = {}) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
      const range = min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` ≥ ${min}` : max !== undefined ? ` ≤ ${max}` : '';
      throw new InvalidArgumentError(`${name} must be a number${range}, got "${value}"`);
    }
    return n;
  };
}

export function collect<T>(parse: (value: string) => T) {
  return (value: string, previous: T[] = []): T[] => [...previous, parse(value)];
}

/** Print one error line and return the exit code for it. */
export function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
    return EXIT.usage; // commander already printed its message
  }
  if (error instanceof TwinlabError) {
    process.stderr.write(`twinlab: error: ${error.message}\n`);
    return errorOutcome(error.code).exit;
  }
  const message = error instanceof Error ? (process.env.TWINLAB_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
  process.stderr.write(`twinlab: error: ${message}\n`);
  return EXIT.failed;
}

export function newProgram(): Command {
  const program = new Command('twinlab')
    .description('twinlab — digital twins of patients as RL environments, DQN agents, virtual clinical trials')
    .exitOverride()
    // one line per error, the usage hint on the same line
    .configureOutput({ outputError: (text, write) => write(`twinlab: error: ${text.replace(/^error: /, '').trimEnd()} (run with --help for usage)\n`) });
  return program;
}
