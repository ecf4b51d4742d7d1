/**
 * Oncology twins: chemo (de Pillis–Radunskaya tumour–immune chemotherapy, chemo-*.ts; the same twin as
 * agents, `oncology/chemo-agents-v0`) and opc (synthetic oropharyngeal cancer treatment sequencing, opc-*.ts).
 */
import { registerChemoAgents } from './chemo-agents.js';
import { registerChemo as registerChemoTwin } from './chemo-twin.js';

export { registerOpc } from './opc-twin.js';

export function registerChemo(): void {
  registerChemoTwin();
  registerChemoAgents();
}
