import { basalRate, patientNames } from '../environments/glucose/params.js';
import { DEFAULT_RK4_EATING_STEP, DEFAULT_RK4_STEP, T1DPatient } from '../environments/glucose/patient.js';
import { getPatient, getTherapy } from '../environments/glucose/patients.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * Open-loop UVA/Padova T1D model throughput on one core: simulated patient-minutes per second over
 * 24-hour days (3 meals: 50 g at 07:00, 70 g at 12:00, 80 g at 18:00, each with a CR bolus 15 min
 * later, on basal), cycling through all 30 patients. Target ≥ 500,000 for the default integrator;
 * simglucose (scipy dopri5 per minute) manages ≈ 1,100.
 *
 * Run directly: `npx tsx bench/glucose-model.ts`.
 */
let sink = 0;

function day(patient: T1DPatient, basal: number, bolus: Float64Array): number {
  patient.reset();
  for (let t = 0; t < 1440; t++) {
    const meal = t === 420 ? 50 : t === 720 ? 70 : t === 1080 ? 80 : 0;
    patient.step(basal + (bolus[t] as number), meal);
  }
  sink += patient.subcutaneousGlucose;
  return 1440;
}

/**
 * Rate per second of CPU time of this process (user + system, `process.cpuUsage`) and of wall-clock
 * time. On a shared machine the CPU-time figure is the one-core throughput; wall clock includes waiting
 * for the core.
 */
function measure(options: ConstructorParameters<typeof T1DPatient>[1], minSeconds: number): { cpu: number; wall: number } {
  const names = patientNames();
  const sims = names.map((n) => {
    const params = getPatient(n);
    const cr = getTherapy(n).carbRatio;
    const bolus = new Float64Array(1440);
    bolus[435] = 50 / cr;
    bolus[735] = 70 / cr;
    bolus[1095] = 80 / cr;
    return { patient: new T1DPatient(params, options), basal: basalRate(params), bolus };
  });
  for (const s of sims) day(s.patient, s.basal, s.bolus); // warm-up (JIT)
  let minutes = 0;
  let k = 0;
  const cpu0 = process.cpuUsage(); // clock-ok
  const t0 = process.hrtime.bigint(); // clock-ok
  let seconds = 0;
  do {
    const s = sims[k % sims.length] as (typeof sims)[number];
    minutes += day(s.patient, s.basal, s.bolus);
    k++;
    seconds = Number(process.hrtime.bigint() - t0) / 1e9; // clock-ok
  } while (seconds < minSeconds);
  const cpu = process.cpuUsage(cpu0); // clock-ok
  return { cpu: minutes / ((cpu.user + cpu.system) / 1e6), wall: minutes / seconds };
}

export async function run(): Promise<BenchResult[]> {
  const rk4 = measure({ integrator: 'rk4' }, 2);
  const dopri = measure({ integrator: 'dopri5' }, 1);
  if (!Number.isFinite(sink)) throw new Error('benchmark produced a non-finite glucose');
  const wall = (r: { wall: number }) => `${Math.round(r.wall).toLocaleString('en-US')}/s wall clock`;
  return [
    {
      name: 'glucose.model.rk4-default',
      value: rk4.cpu,
      unit: 'patient-minutes/CPU-s',
      note: `open loop, one core, RK4 h = ${DEFAULT_RK4_STEP} min (${DEFAULT_RK4_EATING_STEP} min while eating); target ≥ 500,000; ${wall(rk4)}`,
    },
    {
      name: 'glucose.model.dopri5',
      value: dopri.cpu,
      unit: 'patient-minutes/CPU-s',
      note: `Dormand–Prince rtol 1e-6 atol 1e-12 per minute (simglucose's settings; simglucose ≈ 1,100); ${wall(dopri)}`,
    },
  ];
}

runAsMain(import.meta.url, run);
