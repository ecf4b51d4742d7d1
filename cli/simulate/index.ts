import type { Command } from 'commander';
import { registerChemoSimulate } from './chemo.js';
import { registerGlucoseSimulate } from './glucose.js';
import { registerHivSimulate } from './hiv.js';
import { registerOpcSimulate } from './opc.js';
import { registerSepsisSimulate } from './sepsis.js';
import { registerVancomycinSimulate } from './vancomycin.js';

/** One subcommand per twin; each twin's module adds itself here with `registerXSimulate(simulate)`. */
export function registerSimulateSubcommands(simulate: Command): void {
  void simulate;
  registerGlucoseSimulate(simulate);
  registerChemoSimulate(simulate);
  registerHivSimulate(simulate);
  registerVancomycinSimulate(simulate);
  registerSepsisSimulate(simulate);
  registerOpcSimulate(simulate);
}
