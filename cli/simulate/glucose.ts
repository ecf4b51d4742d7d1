import { type Command, InvalidArgumentError } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import { basalRate, type PatientParams } from '../../environments/glucose/params.js';
import type { IntegratorName } from '../../environments/glucose/patient.js';
import { getPatient } from '../../environments/glucose/patients.js';
import { type OpenLoopResult, simulateOpenLoop } from '../../environments/glucose/simulate.js';
import { collect, parseInteger } from '../program.js';

interface GlucoseSimulateOptions {
  patient: string;
  minutes: number;
  meal?: Array<{ minute: number; amount: number }>;
  bolus?: Array<{ minute: number; amount: number }>;
  basal: string;
  integrator: IntegratorName;
  csv?: boolean;
}

/** Parser for `MINUTE:AMOUNT` pairs (e.g. `--meal 420:50`). */
function parseTimed(name: string, unit: string) {
  return (value: string): { minute: number; amount: number } => {
    const m = /^\s*(\d+)\s*:\s*(\d+(?:\.\d*)?|\.\d+)\s*$/.exec(value);
    if (m === null) {
      throw new InvalidArgumentError(`${name} must look like MINUTE:${unit} with a whole minute ≥ 0 and an amount ≥ 0 (e.g. 420:50), got "${value}"`);
    }
    return { minute: Number(m[1]), amount: Number(m[2]) };
  };
}

function parseIntegrator(value: string): IntegratorName {
  if (value !== 'rk4' && value !== 'dopri5') throw new InvalidArgumentError(`--integrator must be rk4 or dopri5, got "${value}"`);
  return value;
}

function resolvePatient(name: string): PatientParams {
  try {
    return getPatient(name);
  } catch (error) {
    if (error instanceof TwinlabError && error.code === 'NOT_FOUND') throw new TwinlabError('INVALID_ARGUMENT', `--patient: ${error.message}`);
    throw error;
  }
}

function resolveBasal(value: string, patient: PatientParams): number {
  if (value === 'patient') return basalRate(patient);
  const rate = Number(value);
  if (value.trim() === '' || !Number.isFinite(rate) || rate < 0) {
    throw new TwinlabError('INVALID_ARGUMENT', `--basal must be "patient" or a rate ≥ 0 in U/min, got "${value}"`);
  }
  return rate;
}

function writeCsv(r: OpenLoopResult): void {
  const out = process.stdout;
  out.write('minute,bg_mg_dl,gsub_mg_dl,insulin_u_per_min,cho_g_per_min\n');
  const chunk: string[] = [];
  for (let t = 0; t < r.minute.length; t++) {
    chunk.push(
      `${r.minute[t]},${(r.bg[t] as number).toFixed(6)},${(r.gsub[t] as number).toFixed(6)},${(r.insulin[t] as number).toFixed(8)},${(r.cho[t] as number).toFixed(6)}`,
    );
    if (chunk.length === 10_000) {
      out.write(`${chunk.join('\n')}\n`);
      chunk.length = 0;
    }
  }
  if (chunk.length > 0) out.write(`${chunk.join('\n')}\n`);
}

function writeSummary(r: OpenLoopResult, basal: number, options: GlucoseSimulateOptions): void {
  const n = r.bg.length;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let inRange = 0;
  let below = 0;
  let above = 0;
  for (let t = 0; t < n; t++) {
    const g = r.bg[t] as number;
    sum += g;
    if (g < min) min = g;
    if (g > max) max = g;
    if (g < 70) below++;
    else if (g > 180) above++;
    else inRange++;
  }
  let insulin = 0;
  let cho = 0;
  for (let t = 0; t < n - 1; t++) {
    insulin += r.insulin[t] as number;
    cho += r.cho[t] as number;
  }
  const pct = (k: number) => `${((100 * k) / n).toFixed(1)}%`;
  const lines = [
    `patient ${r.patient}: ${n - 1} min open loop (${options.integrator}), basal ${basal.toFixed(6)} U/min (${(basal * 60).toFixed(3)} U/h)`,
    `meals ${cho.toFixed(1)} g eaten, insulin ${insulin.toFixed(2)} U delivered`,
    `plasma BG (Gp/Vg): start ${(r.bg[0] as number).toFixed(2)}, mean ${(sum / n).toFixed(2)}, min ${min.toFixed(2)}, max ${max.toFixed(2)} mg/dL`,
    `time in range 70–180 mg/dL ${pct(inRange)}, below 70 ${pct(below)}, above 180 ${pct(above)}`,
    `subcutaneous glucose (Gs/Vg, simglucose's "BG"): end ${(r.gsub[n - 1] as number).toFixed(2)} mg/dL`,
    'hint: add --csv for the per-minute table (minute, bg, gsub, insulin, cho)',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `twinlab simulate glucose …`: open-loop UVA/Padova T1D simulation of one patient. */
export function registerGlucoseSimulate(simulate: Command): void {
  simulate
    .command('glucose')
    .description('open-loop UVA/Padova S2008 T1D patient: basal, boluses, meals; no noise, no pump quantisation')
    .option('--patient <name>', 'adolescent#001…child#010, or a generated patient like adult~s42#007', 'adult#001')
    .option('--minutes <n>', 'minutes to simulate (N; prints N+1 rows)', parseInteger('--minutes', { min: 0 }), 1440)
    .option('--meal <minute:grams>', 'meal announced at a minute, eaten at 5 g/min (repeatable)', collect(parseTimed('--meal', 'GRAMS')))
    .option('--bolus <minute:units>', 'bolus of U units infused during [minute, minute+1) (repeatable)', collect(parseTimed('--bolus', 'UNITS')))
    .option('--basal <patient|rate>', 'basal insulin: "patient" (u2ss·BW/6000) or a rate in U/min', 'patient')
    .option('--integrator <rk4|dopri5>', 'ODE integrator', parseIntegrator, 'rk4')
    .option('--csv', 'print the per-minute table as CSV')
    .action((options: GlucoseSimulateOptions) => {
      const patient = resolvePatient(options.patient);
      const basal = resolveBasal(options.basal, patient);
      const check = (flag: string, events: Array<{ minute: number }>) => {
        for (const e of events) {
          if (e.minute > options.minutes) {
            throw new TwinlabError('INVALID_ARGUMENT', `${flag} at minute ${e.minute} is after the end of the simulation (--minutes ${options.minutes})`);
          }
        }
      };
      const meals = options.meal ?? [];
      const boluses = options.bolus ?? [];
      check('--meal', meals);
      check('--bolus', boluses);
      const result = simulateOpenLoop({
        patient,
        minutes: options.minutes,
        meals: meals.map((m) => ({ minute: m.minute, grams: m.amount })),
        boluses: boluses.map((b) => ({ minute: b.minute, units: b.amount })),
        basal,
        integrator: options.integrator,
      });
      if (options.csv) writeCsv(result);
      else writeSummary(result, basal, options);
    });
}
