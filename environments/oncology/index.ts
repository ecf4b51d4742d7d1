/**
 * Oncology twins: chemo (de Pillis–Radunskaya tumour–immune chemotherapy, chemo-*.ts) and opc
 * (synthetic oropharyngeal cancer treatment sequencing, opc-*.ts).
 */
export { registerChemo } from './chemo-twin.js';
export { registerOpc } from './opc-twin.js';
