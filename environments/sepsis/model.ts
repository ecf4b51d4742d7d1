import type { Rng } from '../../engine/random.js';
import { N_OBS } from './state.js';

/**
 * Glucose rule for an *upward* fluctuation of a non-diabetic patient.
 *
 * - `glucoseDefect: true` (master branch of clinicalml/gumbel-max-scm, frozen for reproducibility of the
 *   ICML 2019 paper): `glucose = min(1, glucose + 1)` — an "up" move sends normal, high and very high
 *   glucose to *low* (1), and very low (0) to low. Reported in issue clinicalml/gumbel-max-scm#1.
 * - `glucoseDefect: false` (the corrected rule of branch `sim-v2`): `glucose = min(4, glucose + 1)`.
 *
 * Every other rule is identical between the two.
 */
export function glucoseUp(glucose: number, diabetic: number, glucoseDefect: boolean): number {
  if (diabetic === 0 && glucoseDefect) return Math.min(1, glucose + 1);
  return Math.min(4, glucose + 1);
}

/**
 * One transition of the simulator, drawing uniforms exactly as `sepsisSimDiabetes/MDP.py::transition`
 * (Oberst & Sontag 2019; rules in docs/MODELS.md §2): antibiotics → ventilation → vasopressors → fluctuation,
 * each "w.p." one uniform draw.
 *
 * Antibiotics: action on → abx = 1, hr high→normal w.p. .5, sysbp high→normal w.p. .5; action off with
 * abx on → hr normal→high w.p. .1, sysbp normal→high w.p. .1, abx = 0; in both cases hr and sysbp do not
 * fluctuate. Ventilation: on → O2 low→normal w.p. .7; off after on → O2 normal→low w.p. .1; no O2
 * fluctuation in both cases. Vasopressors on: non-diabetic one draw u < .7 raises sysbp low→normal or
 * normal→high; diabetic normal→high w.p. .9, low→normal w.p. .5 / low→high w.p. .4 (one draw), glucose +1
 * (cap 4) w.p. .5; sysbp and glucose do not fluctuate. Vasopressors off after on: sysbp −1 w.p. .1
 * (.05 diabetic), sysbp does not fluctuate. Fluctuation: hr, sysbp, O2 −1 w.p. .1, +1 w.p. .1 (clipped);
 * glucose −1/+1 w.p. .3/.3 (diabetic) or .1/.1 (non-diabetic, with the `glucoseUp` rule).
 *
 * @returns the next full state index (diabetic·720 + obs).
 */
export function sampleTransition(full: number, action: number, rng: Rng, glucoseDefect: boolean): number {
  const diabetic = full >= N_OBS ? 1 : 0;
  let r = full - diabetic * N_OBS;
  let vent = r & 1;
  r >>= 1;
  let vaso = r & 1;
  r >>= 1;
  let abx = r & 1;
  r >>= 1;
  let glucose = r % 5;
  r = (r - glucose) / 5;
  let o2 = r & 1;
  r >>= 1;
  let sysbp = r % 3;
  let hr = (r - sysbp) / 3;

  const aAbx = action >> 2;
  const aVent = (action >> 1) & 1;
  const aVaso = action & 1;

  let hrFluct = true;
  let sysbpFluct = true;
  let o2Fluct = true;
  let glucoseFluct = true;

  if (aAbx === 1) {
    abx = 1;
    if (hr === 2 && rng.next() < 0.5) hr = 1;
    if (sysbp === 2 && rng.next() < 0.5) sysbp = 1;
    hrFluct = false;
    sysbpFluct = false;
  } else if (abx === 1) {
    if (hr === 1 && rng.next() < 0.1) hr = 2;
    if (sysbp === 1 && rng.next() < 0.1) sysbp = 2;
    abx = 0;
    hrFluct = false;
    sysbpFluct = false;
  }

  if (aVent === 1) {
    vent = 1;
    if (o2 === 0 && rng.next() < 0.7) o2 = 1;
    o2Fluct = false;
  } else if (vent === 1) {
    if (o2 === 1 && rng.next() < 0.1) o2 = 0;
    vent = 0;
    o2Fluct = false;
  }

  if (aVaso === 1) {
    vaso = 1;
    if (diabetic === 0) {
      if (rng.next() < 0.7) {
        if (sysbp === 0) sysbp = 1;
        else if (sysbp === 1) sysbp = 2;
      }
    } else {
      if (sysbp === 1) {
        if (rng.next() < 0.9) sysbp = 2;
      } else if (sysbp === 0) {
        const u = rng.next();
        if (u < 0.5) sysbp = 1;
        else if (u < 0.9) sysbp = 2;
      }
      if (rng.next() < 0.5) glucose = Math.min(4, glucose + 1);
    }
    sysbpFluct = false;
    glucoseFluct = false;
  } else if (vaso === 1) {
    if (rng.next() < (diabetic === 0 ? 0.1 : 0.05)) sysbp = Math.max(0, sysbp - 1);
    vaso = 0;
    sysbpFluct = false;
  }

  if (hrFluct) {
    const u = rng.next();
    if (u < 0.1) hr = Math.max(0, hr - 1);
    else if (u < 0.2) hr = Math.min(2, hr + 1);
  }
  if (sysbpFluct) {
    const u = rng.next();
    if (u < 0.1) sysbp = Math.max(0, sysbp - 1);
    else if (u < 0.2) sysbp = Math.min(2, sysbp + 1);
  }
  if (o2Fluct) {
    const u = rng.next();
    if (u < 0.1) o2 = Math.max(0, o2 - 1);
    else if (u < 0.2) o2 = Math.min(1, o2 + 1);
  }
  if (glucoseFluct) {
    const u = rng.next();
    if (diabetic === 0) {
      if (u < 0.1) glucose = Math.max(0, glucose - 1);
      else if (u < 0.2) glucose = glucoseUp(glucose, 0, glucoseDefect);
    } else {
      if (u < 0.3) glucose = Math.max(0, glucose - 1);
      else if (u < 0.6) glucose = Math.min(4, glucose + 1);
    }
  }

  return diabetic * N_OBS + ((((((hr * 3 + sysbp) * 2 + o2) * 5 + glucose) * 2 + abx) * 2 + vaso) * 2 + vent);
}
