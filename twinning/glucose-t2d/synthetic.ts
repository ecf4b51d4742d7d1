import { GLUCOSE_STEP_MIN, type GlucoseDataset } from '../../datasets/types.js';
import { TwinlabError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';
import { absorptionForGi } from '../../environments/glucose-t2d/foods.js';
import { T2DPatient } from '../../environments/glucose-t2d/patient.js';
import { SENSORS } from '../../environments/glucose/params.js';
import { drawRandomDay } from '../../environments/glucose/scenario.js';
import { CgmSensor } from '../../environments/glucose/sensor.js';
import { DEFAULT_MEAL_GI, T2D_TWIN_DIM, type T2DPersonModel, type T2DTwinContext, t2dPersonForTheta, t2dTwinPriors } from './parameters.js';

/**
 * Synthetic people with type 2 diabetes for identifiability checks, forecasts and benchmarks: θ drawn
 * from the twin's own prior (truncated at ±2 sd), body weight 70–110 kg, days of simglucose-style
 * random meals (environments/glucose/scenario.ts) eaten at the twin's meal GI, carbohydrate-counting
 * errors, no insulin, and CGM readings with the Breton–Kovatchev sensor error of the glucose twin (not
 * the error model the fit assumes). The truth is the T2D twin's own T2DPatient (RK4 0.5 min).
 */
export interface SyntheticT2DOptions {
  seed: number;
  index: number;
  days: number;
  /** SD of log(logged / eaten carbohydrate) per meal (default 0.2). */
  carbCountSd?: number;
  noise?: boolean;
  startMs?: number;
}

export interface SyntheticT2DPerson {
  dataset: GlucoseDataset;
  thetaTrue: Float64Array;
  ctx: T2DTwinContext;
  person: T2DPersonModel;
  truthGsub: Float64Array;
}

const DEFAULT_START = Date.UTC(2026, 0, 5);

export function syntheticT2DPerson(opts: SyntheticT2DOptions): SyntheticT2DPerson {
  const rng = Rng.fromSeed(opts.seed).fork(`synthetic-t2d/${opts.index}`);
  const priors = t2dTwinPriors();
  const ctx: T2DTwinContext = { bodyWeightKg: Math.round(rng.fork('bw').uniform(70, 110)), mealGi: DEFAULT_MEAL_GI };
  const thetaRng = rng.fork('theta');
  const theta = new Float64Array(T2D_TWIN_DIM);
  let person: T2DPersonModel | undefined;
  for (let attempt = 0; attempt < 100 && person === undefined; attempt++) {
    for (let i = 0; i < T2D_TWIN_DIM; i++) {
      const p = priors[i] as { mean: number; sd: number };
      let z: number;
      do z = thetaRng.normal();
      while (Math.abs(z) > 2);
      theta[i] = p.mean + p.sd * z;
    }
    person = t2dPersonForTheta(theta, ctx);
  }
  if (person === undefined) throw new TwinlabError('INTERNAL', 'no plausible synthetic T2D person in 100 draws');
  const n = (opts.days * 1440) / GLUCOSE_STEP_MIN;
  const carbsLogged = new Float64Array(n);
  const carbsEaten = new Float64Array(n);
  const mealRng = rng.fork('meals');
  const countRng = rng.fork('carb-count');
  const countSd = opts.carbCountSd ?? 0.2;
  for (let day = 0; day < opts.days; day++) {
    for (const meal of drawRandomDay(mealRng)) {
      if (meal.carbs <= 0) continue;
      const k = Math.min(n - 1, day * 288 + Math.floor(meal.minute / GLUCOSE_STEP_MIN));
      carbsEaten[k] = (carbsEaten[k] as number) + meal.carbs;
      carbsLogged[k] = (carbsLogged[k] as number) + Math.max(1, Math.round(meal.carbs * Math.exp(countSd * countRng.normal())));
    }
  }
  const absorption = absorptionForGi(ctx.mealGi);
  const patient = new T2DPatient(person.params, { basal: person.basal });
  const sensor = new CgmSensor(SENSORS.GuardianRT as (typeof SENSORS)[string], { noise: opts.noise ?? true });
  sensor.reset(rng.fork('sensor'));
  const cgm = new Float64Array(n);
  const truth = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    truth[k] = patient.interstitialGlucose;
    cgm[k] = Math.round(sensor.measure(truth[k] as number, 0));
    if ((carbsEaten[k] as number) > 0) patient.eat({ carbsG: carbsEaten[k] as number, absorption });
    patient.advance(GLUCOSE_STEP_MIN);
  }
  return {
    dataset: {
      kind: 'glucose',
      patientId: `synthetic-t2d-${opts.seed}-${opts.index}`,
      bodyWeightKg: ctx.bodyWeightKg,
      startMs: opts.startMs ?? DEFAULT_START,
      stepMin: GLUCOSE_STEP_MIN,
      cgm,
      basalUPerH: new Float64Array(n),
      bolusU: new Float64Array(n),
      carbsG: carbsLogged,
      warnings: [],
    },
    thetaTrue: theta,
    ctx,
    person,
    truthGsub: truth,
  };
}
