/**
 * Oncology twins. Each twin registers itself through its own function; `registerOncology()` calls them all.
 * - chemo: de Pillis–Radunskaya tumour–immune chemotherapy (chemo*.ts)
 * - opc: synthetic oropharyngeal cancer treatment sequencing (opc*.ts)
 */
import { registerChemo } from './chemo-twin.js';
import { registerOpc } from './opc.js';

export { registerChemo };

export function registerOncology(): void {
  registerChemo();
  registerOpc();
}
