/**
 * Oncology twins: chemo (de Pillis–Radunskaya tumour–immune chemotherapy, chemo-*.ts; the same twin as
 * agents, `oncology/chemo-agents-v0`) and opc (synthetic oropharyngeal cancer treatment sequencing, opc-*.ts; as agents,
 * `oncology/opc-sequencing-agents-v0`).
 */
import { registerChemoAgents } from './chemo-agents.js';
import { registerChemo as registerChemoTwin } from './chemo-twin.js';
import { registerOpcAgents } from './opc-agents.js';
import { registerOpc as registerOpcTwin } from './opc-twin.js';

export function registerChemo(): void {
  registerChemoTwin();
  registerChemoAgents();
}

export function registerOpc(): void {
  registerOpcTwin();
  registerOpcAgents();
}
