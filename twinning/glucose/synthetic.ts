import { TwinlabError } from '../../engine/errors.js';
import { GLUCOSE_STEP_MIN, type GlucoseDataset } from '../../datasets/types.js';
import { Rng } from '../../engine/random.js';
import { SENSORS } from '../../environments/glucose/params.js';
import { drawRandomDay } from '../../environments/glucose/scenario.js';
import { CgmSensor } from '../../environments/glucose/sensor.js';
import { T1DPatient } from '../../environments/glucose/patient.js';
import { GLUCOSE_TWIN_DIM, type GlucoseTwinContext, glucoseTwinPriors, patientForTheta } from './parameters.js';
import { slotInsulin } from './simulate.js';

/**
 * Synthetic people for identifiability checks and benchmarks: θ drawn from the twin's own prior,
 * days of simglucose-style random meals (environments/glucose/scenario.ts), carbohydrate counting
 * errors, meal boluses by carb ratio, a constant basal, and CGM readings with the Breton–Kovatchev
 * sensor error of the glucose twin (not the AR(1) error the fit assumes). The truth is simulated by
 * the glucose twin's T1DPatient at its default integration steps.
 */
export interface SyntheticPersonOptions {
  seed: number;
  index: number;
  days: number;
  /** SD of log(logged carbs / eaten carbs) per meal (default 0.2: ≈ 20 % counting error). */
  carbCountSd?: number;
  /** Add CGM noise (default true). */
  noise?: boolean;
  /** Epoch ms of the first slot (default 2026-01-05T00:00Z), a midnight so meals fall in the day. */
  startMs?: number;
}

export interface SyntheticPerson {
  dataset: GlucoseDataset;
  thetaTrue: Float64Array;
  ctx: GlucoseTwinContext;
  /** Subcutaneous glucose without sensor error, per slot (mg/dL). */
  truthGsub: Float64Array;
}

const DEFAULT_START = Date.UTC(2026, 0, 5);

export function syntheticPerson(opts: SyntheticPersonOptions): SyntheticPerson {
  const rng = Rng.fromSeed(opts.seed).fork(`synthetic/${opts.index}`);
  const priors = glucoseTwinPriors('adult');
  const bodyWeightKg = Math.round(rng.fork('bw').uniform(55, 95));
  // ≈ 0.55 U/kg/day, 45 % basal (common adult T1D starting doses; ADA Standards of Care 2024 §9)
  const tdd = 0.55 * bodyWeightKg;
  const basalUPerH = Math.round(((0.45 * tdd) / 24) * 20) / 20;
  const carbRatio = Math.round(500 / tdd); // the "500 rule"
  const ctx: GlucoseTwinContext = { group: 'adult', bodyWeightKg, basalUPerH };
  const thetaRng = rng.fork('theta');
  const theta = new Float64Array(GLUCOSE_TWIN_DIM);
  let params: ReturnType<typeof patientForTheta>;
  for (let attempt = 0; attempt < 100 && params === undefined; attempt++) {
    for (let i = 0; i < GLUCOSE_TWIN_DIM; i++) {
      const p = priors[i] as { mean: number; sd: number };
      // truncated at ±2 sd so the synthetic set stays inside the plausible population
      let z: number;
      do z = thetaRng.normal();
      while (Math.abs(z) > 2);
      theta[i] = p.mean + p.sd * z;
    }
    params = patientForTheta(theta, ctx, `synthetic#${opts.index}`);
  }
  if (params === undefined) throw new TwinlabError('INTERNAL', 'no plausible synthetic person in 100 draws');
  const n = (opts.days * 1440) / GLUCOSE_STEP_MIN;
  const basal = new Float64Array(n).fill(basalUPerH);
  const bolus = new Float64Array(n);
  const carbsLogged = new Float64Array(n);
  const carbsEaten = new Float64Array(n);
  const mealRng = rng.fork('meals');
  const countRng = rng.fork('carb-count');
  const countSd = opts.carbCountSd ?? 0.2;
  for (let day = 0; day < opts.days; day++) {
    for (const meal of drawRandomDay(mealRng)) {
      if (meal.carbs <= 0) continue;
      const k = Math.min(n - 1, day * 288 + Math.floor(meal.minute / GLUCOSE_STEP_MIN));
      const logged = Math.max(1, Math.round(meal.carbs * Math.exp(countSd * countRng.normal())));
      carbsEaten[k] = (carbsEaten[k] as number) + meal.carbs;
      carbsLogged[k] = (carbsLogged[k] as number) + logged;
      bolus[k] = (bolus[k] as number) + Math.round((logged / carbRatio) * 10) / 10;
    }
  }
  const patient = new T1DPatient(params);
  const sensor = new CgmSensor(SENSORS.GuardianRT as (typeof SENSORS)[string], { noise: opts.noise ?? true });
  sensor.reset(rng.fork('sensor'));
  const cgm = new Float64Array(n);
  const truth = new Float64Array(n);
  const eatenInputs = { basalUPerH: basal, bolusU: bolus, carbsG: carbsEaten };
  for (let k = 0; k < n; k++) {
    truth[k] = patient.subcutaneousGlucose;
    cgm[k] = Math.round(sensor.measure(truth[k] as number, 0));
    const insulin = slotInsulin(eatenInputs, k);
    patient.step(insulin, carbsEaten[k] as number);
    for (let m = 1; m < GLUCOSE_STEP_MIN; m++) patient.step(insulin, 0);
  }
  return {
    dataset: {
      kind: 'glucose',
      patientId: `synthetic-${opts.seed}-${opts.index}`,
      bodyWeightKg,
      startMs: opts.startMs ?? DEFAULT_START,
      stepMin: GLUCOSE_STEP_MIN,
      cgm,
      basalUPerH: basal,
      bolusU: bolus,
      carbsG: carbsLogged,
      warnings: [],
    },
    thetaTrue: theta,
    ctx,
    truthGsub: truth,
  };
}
