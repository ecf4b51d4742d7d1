import type { Command } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import { Rk4 } from '../../engine/ode.js';
import { infusionHours, VANCO_RK4_STEP_HOURS } from '../../environments/pkpd/vancomycin-env.js';
import { GOTI, individualPk, VANCO_DIM, vancoRhs } from '../../environments/pkpd/vancomycin-model.js';
import { parseNumber } from '../program.js';

interface VancoSimulateOptions {
  weight: number;
  crcl: number;
  dose: number;
  interval: number;
  days: number;
  etaCl: number;
  etaV1: number;
  etaV2: number;
  dialysis?: boolean;
  csv?: boolean;
}

/** `twinlab simulate vancomycin …`: open-loop Goti 2018 two-compartment PK under a fixed regimen. */
export function registerVancomycinSimulate(simulate: Command): void {
  simulate
    .command('vancomycin')
    .description('open-loop vancomycin PK (Goti 2018 two-compartment): fixed dose every interval, 1-h-per-gram infusions')
    .option('--weight <kg>', 'body weight, kg', parseNumber('--weight', { min: 1 }), 70)
    .option('--crcl <mL/min>', 'creatinine clearance, mL/min (capped at 150)', parseNumber('--crcl', { min: 1 }), 90)
    .option('--dose <mg>', 'dose per administration, mg', parseNumber('--dose', { min: 0 }), 1000)
    .option('--interval <h>', 'dosing interval, hours', parseNumber('--interval', { min: 1 }), 12)
    .option('--days <n>', 'days to simulate', parseNumber('--days', { min: 0 }), 3)
    .option('--eta-cl <eta>', 'random effect on CL (log scale)', parseNumber('--eta-cl'), 0)
    .option('--eta-v1 <eta>', 'random effect on V1 (log scale)', parseNumber('--eta-v1'), 0)
    .option('--eta-v2 <eta>', 'random effect on V2 (log scale)', parseNumber('--eta-v2'), 0)
    .option('--dialysis', 'haemodialysis patient (CL ×0.7, V1 ×0.5)')
    .option('--csv', 'print a half-hourly table as CSV (hour, concentration mg/L, cumulative AUC mg·h/L)')
    .action((o: VancoSimulateOptions) => {
      const tInf = infusionHours(o.dose);
      if (o.dose > 0 && tInf >= o.interval) {
        throw new TwinlabError('INVALID_ARGUMENT', `--interval ${o.interval} h is not longer than the ${tInf} h infusion of --dose ${o.dose} mg`);
      }
      const pk = individualPk(Math.min(o.crcl, GOTI.crclCap), o.weight, o.dialysis === true, { cl: o.etaCl, v1: o.etaV1, v2: o.etaV2 });
      const rhs = vancoRhs(pk);
      const rk4 = new Rk4(VANCO_DIM);
      const y = new Float64Array(VANCO_DIM);
      const hours = o.days * 24;
      const grid = 0.5;
      const rows = ['hour,concentration_mg_l,auc_mg_h_l'];
      let t = 0;
      const breakpoints: number[] = [];
      for (let d = 0; d < hours; d += o.interval) {
        breakpoints.push(d);
        if (o.dose > 0) breakpoints.push(d + tInf);
      }
      for (let g = 0; g <= hours + 1e-9; g += grid) breakpoints.push(g);
      breakpoints.push(hours);
      const times = [...new Set(breakpoints.filter((b) => b <= hours).map((b) => Math.round(b * 1e6) / 1e6))].sort((a, b) => a - b);
      const daily: number[] = [];
      let lastTrough = 0;
      let lastPeak = 0;
      for (const next of times) {
        if (next > t) {
          const since = t % o.interval;
          rhs.rate = o.dose > 0 && since < tInf - 1e-9 ? o.dose / tInf : 0;
          rk4.integrate(rhs.f, y, t, next, VANCO_RK4_STEP_HOURS);
          t = next;
        }
        const c = (y[0] as number) / pk.v1;
        if (o.dose > 0 && Math.abs((t % o.interval) - tInf) < 1e-6) lastPeak = c;
        if (t > 0 && Math.abs(t % o.interval) < 1e-6) lastTrough = c;
        if (t > 0 && Math.abs(t % 24) < 1e-6) daily.push((y[2] as number) - daily.reduce((s, x) => s + x, 0));
        if (o.csv && Math.abs(t / grid - Math.round(t / grid)) < 1e-6) rows.push(`${t},${c.toPrecision(8)},${(y[2] as number).toPrecision(8)}`);
      }
      if (o.csv) {
        process.stdout.write(`${rows.join('\n')}\n`);
        return;
      }
      const dailyDose = (o.dose * 24) / o.interval;
      process.stdout.write(
        [
          `Goti 2018 vancomycin PK: ${o.weight} kg, CrCL ${o.crcl} mL/min${o.dialysis ? ', dialysis' : ''}: CL ${pk.cl.toFixed(3)} L/h, V1 ${pk.v1.toFixed(1)} L, V2 ${pk.v2.toFixed(1)} L, Q ${pk.q} L/h`,
          `regimen ${o.dose} mg every ${o.interval} h (infusion ${tInf} h) for ${o.days} days`,
          `AUC24 by day (mg·h/L): ${daily.map((a) => a.toFixed(1)).join(', ') || '(less than one day)'}`,
          `steady-state AUC24 = daily dose / CL = ${(dailyDose / pk.cl).toFixed(1)} mg·h/L (target 400–600 for MIC 1)`,
          `last trough ${lastTrough.toFixed(2)} mg/L, last end-of-infusion peak ${lastPeak.toFixed(2)} mg/L`,
          'hint: add --csv for the half-hourly table',
        ].join('\n') + '\n',
      );
    });
}
