import { Command } from 'commander';
import { registerSimulateSubcommands } from '../simulate/index.js';

/** `twinlab simulate <twin> …`: open-loop simulation of a twin's model (one subcommand per twin). */
export function registerSimulateCommand(program: Command): void {
  const simulate = new Command('simulate')
    .description('open-loop simulation of a twin model (no agent): `twinlab simulate <twin> --help`')
    .exitOverride();
  registerSimulateSubcommands(simulate);
  program.addCommand(simulate);
}
