/** Pharmacokinetic dosing twins: vancomycin (vancomycin-*.ts, `pkpd/vancomycin-v1`). */
export { registerVancomycin } from './vancomycin-twin.js';
