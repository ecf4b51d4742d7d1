/** Pharmacokinetic dosing twins: vancomycin (vancomycin-*.ts, `pkpd/vancomycin-v1`; the same twin as agents, `pkpd/vancomycin-agents-v0`). */
import { registerVancomycinAgents } from './vancomycin-agents.js';
import { registerVancomycin as registerVancomycinTwin } from './vancomycin-twin.js';

export function registerVancomycin(): void {
  registerVancomycinTwin();
  registerVancomycinAgents();
}
