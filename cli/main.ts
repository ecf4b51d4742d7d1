/**
 * The `twinlab` command line: the front door for every job (the server calls the same functions).
 *
 * Pipeline:
 *   1. register every twin's envs and every policy,
 *   2. build the command tree (one module per command under cli/commands),
 *   3. parse argv and run the command,
 *   4. map any error to one line on stderr and an exit code (2 = bad usage/input, 1 = job failed).
 */
import '../environments/index.js';
import '../policies/index.js';
import { registerCommands } from './commands/index.js';
import { newProgram, reportError } from './program.js';

export async function main(argv: string[]): Promise<number> {
  const program = newProgram();
  registerCommands(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportError(error);
  }
}
