import type { Command } from 'commander';

/** One subcommand per twin; each twin's module adds itself here with `registerXSimulate(simulate)`. */
export function registerSimulateSubcommands(simulate: Command): void {
  void simulate;
}
