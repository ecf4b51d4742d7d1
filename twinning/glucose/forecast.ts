import { normalCdf } from '../../engine/distributions.js';
import type { Rng } from '../../engine/random.js';
import { ERROR_STATE_DIM, errorMean, errorStateMeal, errorStateStep, errorVariance } from './cgm-error.js';
import { FAST_STATE_DIM } from './fast-model.js';
import type { GlucoseParticleFilter } from './filter.js';

/**
 * Projections from a particle filter at its current slot (the origin: its reading assimilated,
 * nothing after it seen). Every particle is simulated forward through a schedule of inputs — for a
 * forecast, the origin row's own bolus and carbohydrate (logged at the origin time) and then the
 * basal rate in effect at the origin with no further bolus or meal; for a what-if replay, the
 * recorded inputs after the origin as a therapy changes them — with the filter's process noise.
 * The CGM at a later slot is, per particle, normal: model glucose plus the error model's prediction,
 * stepped slot by slot as the filter does (cgm-error.ts: the sensor and model-discrepancy components
 * decay towards 0 and their variances grow back to the marginal, while the meals still being absorbed
 * carry their estimated carb-counting error forward and add its uncertainty, and a meal in the
 * schedule starts a fresh one). The predictive distribution is
 * the weighted mixture of those normals; its mean is exact and its 2.5 and 97.5 % quantiles come
 * from bisection on the mixture CDF (no sampling). The band therefore combines posterior (the
 * particles' θ), state (their spread and the process noise) and sensor uncertainty.
 */
export interface BandPoint {
  mean: number;
  lo: number;
  hi: number;
}

export interface ForecastPoint extends BandPoint {
  horizonMin: number;
}

/** Insulin (U/min) and announced carbohydrate (g) of projected slot s (1 = the origin's own slot). */
export type InputSchedule = (s: number) => { insulin: number; carbs: number };

export class GlucoseProjector {
  private states = new Float64Array(0);
  private errorStates = new Float64Array(0);
  private delta = new Float64Array(0);
  private mu = new Float64Array(0);
  private sd = new Float64Array(0);
  private readonly outflow = new Float64Array(5);

  /**
   * Project `slots` slots ahead; after each, `visit(s, projector)` may read bands (`band`) or
   * per-particle model glucose (`particleGlucose`). The filter (and its stomach) is left as it was.
   */
  project(filter: GlucoseParticleFilter, slots: number, schedule: InputSchedule, rng: Rng, visit: (s: number) => void): void {
    const n = filter.n;
    if (this.delta.length < n) {
      this.states = new Float64Array(n * FAST_STATE_DIM);
      this.errorStates = new Float64Array(n * ERROR_STATE_DIM);
      this.delta = new Float64Array(n);
      this.mu = new Float64Array(n);
      this.sd = new Float64Array(n);
    }
    for (let i = 0; i < n; i++) {
      const p = filter.particle(i);
      this.states.set(p.state, i * FAST_STATE_DIM);
      this.errorStates.set(p.errorState.subarray(p.errorOffset, p.errorOffset + ERROR_STATE_DIM), i * ERROR_STATE_DIM);
      this.delta[i] = p.delta;
    }
    const stomachState = filter.stomach.getState();
    const gutState = filter.mealInflux.state;
    try {
      for (let s = 1; s <= slots; s++) {
        const { insulin, carbs } = schedule(s);
        filter.stomach.advanceSlot(carbs, this.outflow, 0);
        const g = filter.mealInflux.step(this.outflow, 0);
        filter.propagate(this.states, this.delta, insulin, this.outflow, rng, n);
        for (let i = 0; i < n; i++) {
          const off = i * ERROR_STATE_DIM;
          if (carbs > 0 && filter.carbCountSd > 0) errorStateMeal(this.errorStates, off, filter.carbCountSd);
          errorStateStep(this.errorStates, off, filter.errorParamsOf(i), g, filter.excessPhi);
        }
        this.filter = filter;
        visit(s);
      }
    } finally {
      filter.stomach.setState(stomachState);
      filter.mealInflux.state = gutState;
    }
  }

  private filter: GlucoseParticleFilter | undefined;

  /** Model subcutaneous glucose of particle i at the current projected slot, mg/dL. */
  particleGlucose(i: number): number {
    const f = this.filter as GlucoseParticleFilter;
    return f.particle(i).model.gsub(this.states.subarray(i * FAST_STATE_DIM, (i + 1) * FAST_STATE_DIM));
  }

  /** The CGM band at the current projected slot. */
  band(): BandPoint {
    const f = this.filter as GlucoseParticleFilter;
    const n = f.n;
    for (let i = 0; i < n; i++) {
      const p = f.particle(i);
      const m = p.model.gsub(this.states.subarray(i * FAST_STATE_DIM, (i + 1) * FAST_STATE_DIM));
      const off = i * ERROR_STATE_DIM;
      const mu = m + errorMean(this.errorStates, off);
      this.mu[i] = mu;
      this.sd[i] = Number.isFinite(mu) ? Math.sqrt(Math.max(1e-12, errorVariance(this.errorStates, off))) : Number.NaN;
    }
    return normalMixtureBand(this.mu, this.sd, f.weights, n);
  }
}

/**
 * Mean and 95 % band (2.5 and 97.5 % quantiles) of the normal mixture Σ wᵢ N(μᵢ, sdᵢ²)/Σ wᵢ over
 * i < n, skipping entries whose sd is NaN: the mean exactly, the quantiles by bisection on the mixture
 * CDF to 0.01 mg/dL. NaN everywhere when no entry is left.
 */
export function normalMixtureBand(mu: Float64Array, sd: Float64Array, w: ArrayLike<number>, n: number): BandPoint {
  let mean = 0;
  let total = 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const s = sd[i] as number;
    if (Number.isNaN(s)) continue;
    const m = mu[i] as number;
    mean += (w[i] as number) * m;
    total += w[i] as number;
    lo = Math.min(lo, m - 6 * s);
    hi = Math.max(hi, m + 6 * s);
  }
  if (!(total > 0)) return { mean: Number.NaN, lo: Number.NaN, hi: Number.NaN };
  const quantile = (q: number): number => {
    let a = lo;
    let b = hi;
    const target = q * total;
    while (b - a > 0.01) {
      const x = 0.5 * (a + b);
      let c = 0;
      for (let i = 0; i < n; i++) {
        const s = sd[i] as number;
        if (!Number.isNaN(s)) c += (w[i] as number) * normalCdf((x - (mu[i] as number)) / s);
      }
      if (c < target) a = x;
      else b = x;
    }
    return 0.5 * (a + b);
  };
  return { mean: mean / total, lo: quantile(0.025), hi: quantile(0.975) };
}

/**
 * CGM forecasts at `horizonsMin` (multiples of 5) from the filter's current slot, using only data
 * at or before the origin: the origin row's bolus and carbohydrate, then its basal rate, nothing else.
 */
export function forecastAt(filter: GlucoseParticleFilter, projector: GlucoseProjector, horizonsMin: readonly number[], rng: Rng): ForecastPoint[] {
  const data = filter.data;
  const origin = filter.slot;
  const last = data.cgm.length - 1;
  const at = Math.min(origin, last);
  const basal = (data.basalUPerH[at] as number) / 60;
  const originBolus = origin <= last ? (data.bolusU[origin] as number) / 5 : 0;
  const originCarbs = origin <= last ? (data.carbsG[origin] as number) : 0;
  const slots = Math.max(...horizonsMin.map((h) => Math.round(h / 5)));
  const bySlot = new Map<number, BandPoint>();
  const wanted = new Set(horizonsMin.map((h) => Math.round(h / 5)));
  projector.project(
    filter,
    slots,
    (s) => (s === 1 ? { insulin: basal + originBolus, carbs: originCarbs } : { insulin: basal, carbs: 0 }),
    rng,
    (s) => {
      if (wanted.has(s)) bySlot.set(s, projector.band());
    },
  );
  return horizonsMin.map((h) => ({ horizonMin: h, ...(bySlot.get(Math.round(h / 5)) as BandPoint) }));
}
