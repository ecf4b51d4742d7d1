import { registerVancomycin } from './vancomycin-twin.js';

/** Pharmacokinetic dosing twins (currently vancomycin, `pkpd/vancomycin-v1`). */
export function registerPkpd(): void {
  registerVancomycin();
}
