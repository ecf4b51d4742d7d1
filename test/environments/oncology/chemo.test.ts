import { EigenvalueDecomposition, Matrix, solve } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { sampleCohort } from '../../../engine/cohort.js';
import { make } from '../../../engine/registry.js';
import { getTwin } from '../../../engine/twin.js';
import { RecordEpisode } from '../../../engine/wrappers.js';
import { Rk4 } from '../../../engine/ode.js';
import '../../../environments/index.js';
import { CHEMO_COHORT, RECIST } from '../../../environments/oncology/chemo-twin.js';
import { ChemoEnv } from '../../../environments/oncology/chemo-env.js';
import { chemoParams, chemoRhs, PUBLISHED_CHEMO_PARAMS } from '../../../environments/oncology/chemo-model.js';

// Source of every expected value: docs/MODELS.md §1 (de Pillis & Radunskaya 2003 parameters, DTR-Bench
// AhnChemoEnv formulation, drug-free equilibria and validation facts computed there).

const rhs = chemoRhs(PUBLISHED_CHEMO_PARAMS);

/** Drug-free (N, T, I) derivative with B = X = 0. */
function f3(p: number[]): number[] {
  const y = Float64Array.of(p[0] as number, p[1] as number, p[2] as number, 0, 0);
  const d = new Float64Array(5);
  rhs.v = 0;
  rhs.f(0, y, d);
  return [d[0] as number, d[1] as number, d[2] as number];
}

function jacobian(p: number[]): Matrix {
  const J = Matrix.zeros(3, 3);
  for (let j = 0; j < 3; j++) {
    const h = 1e-7;
    const up = [...p];
    const dn = [...p];
    up[j] = (up[j] as number) + h;
    dn[j] = (dn[j] as number) - h;
    const a = f3(up);
    const b = f3(dn);
    for (let i = 0; i < 3; i++) J.set(i, j, ((a[i] as number) - (b[i] as number)) / (2 * h));
  }
  return J;
}

function newton(p0: number[]): number[] {
  let p = [...p0];
  for (let k = 0; k < 30; k++) {
    const step = solve(jacobian(p), Matrix.columnVector(f3(p))).to1DArray();
    p = p.map((x, i) => x - (step[i] as number));
  }
  return p;
}

/** Open-loop run of the env with a schedule; returns day-indexed info snapshots. */
function run(schedule: (day: number) => number, options: Record<string, unknown> = {}) {
  const env = new ChemoEnv({ doseLevels: 5, ...options });
  env.reset({ seed: 0 });
  const infos: Array<Record<string, number | boolean>> = [];
  let total = 0;
  let terminated = false;
  for (let k = 0; k < 600 && !terminated; k++) {
    const r = env.step(schedule(k * 0.25));
    total += r.reward;
    terminated = r.terminated;
    infos.push({ ...(r.info as Record<string, number | boolean>) });
  }
  return { infos, total, terminated };
}

describe('de Pillis–Radunskaya 2003 model (docs/MODELS.md §1)', () => {
  it('tumour-free state (1, 0, 1.65, 0) has zero derivative and is stable', () => {
    const y = Float64Array.of(1, 0, 1.65, 0, 0);
    const d = new Float64Array(5);
    rhs.v = 0;
    rhs.f(0, y, d);
    for (const x of d) expect(Math.abs(x)).toBeLessThan(1e-15);
    const eig = new EigenvalueDecomposition(jacobian([1, 0, 1.65]));
    const re = [...eig.realEigenvalues].sort((a, b) => a - b);
    expect(re[0]).toBeCloseTo(-1.0, 3);
    expect(re[1]).toBeCloseTo(-0.325, 3);
    expect(re[2]).toBeCloseTo(-0.2, 3);
    // and a perturbed start returns to it
    const z = Float64Array.of(0.98, 0.01, 1.6, 0, 0);
    new Rk4(5).integrate(rhs.f, z, 0, 200, 0.01);
    expect(z[1]).toBeLessThan(1e-8);
    expect(z[0]).toBeCloseTo(1, 6);
    expect(z[2]).toBeCloseTo(1.65, 6);
  });

  const table: Array<{ p: number[]; eig: number[]; type: string }> = [
    { p: [0.4352, 0.5648, 0.4352], eig: [-1.334, -0.662, -0.045], type: 'stable co-existing' },
    { p: [0.7632, 0.2368, 0.7632], eig: [-1.075, -0.528, 0.0515], type: 'saddle separating the basins' },
    { p: [0, 0.8992, 0.3023], eig: [-1.61, -0.83, 0.101], type: 'saddle, no normal cells' },
    { p: [0, 0, 1.65], eig: [-0.2, 0.675, 1.0], type: 'unstable' },
  ];
  for (const row of table) {
    it(`equilibrium (${row.p.join(', ')}) — ${row.type}: fixed point and Jacobian eigenvalue signs`, () => {
      const p = newton(row.p);
      for (let i = 0; i < 3; i++) expect(Math.abs((p[i] as number) - (row.p[i] as number))).toBeLessThan(1e-3);
      for (const x of f3(p)) expect(Math.abs(x)).toBeLessThan(1e-12);
      const eig = new EigenvalueDecomposition(jacobian(p));
      for (const im of eig.imaginaryEigenvalues) expect(Math.abs(im)).toBeLessThan(1e-9);
      const re = [...eig.realEigenvalues].sort((a, b) => a - b);
      for (let i = 0; i < 3; i++) {
        expect(Math.sign(re[i] as number)).toBe(Math.sign(row.eig[i] as number));
        expect(re[i]).toBeCloseTo(row.eig[i] as number, 2);
      }
    });
  }

  it('untreated tumour from (0.9, 0.2, 0.005) escapes to ≈ (0.436, 0.564, 0.436)', () => {
    const y = Float64Array.of(0.9, 0.2, 0.005, 0, 0);
    const rk = new Rk4(5);
    rk.integrate(rhs.f, y, 0, 5, 0.01);
    expect(y[0]).toBeCloseTo(0.698, 2);
    rk.integrate(rhs.f, y, 5, 20, 0.01);
    expect(y[0]).toBeCloseTo(0.621, 2);
    rk.integrate(rhs.f, y, 20, 50, 0.01);
    expect(y[0]).toBeCloseTo(0.505, 2);
    rk.integrate(rhs.f, y, 50, 150, 0.01);
    expect(y[0]).toBeCloseTo(0.436, 2);
    expect(y[1]).toBeCloseTo(0.564, 2);
    expect(y[2]).toBeCloseTo(0.436, 2);
  });

  it('small tumour with full immune competence (1, 0.2, 1.65) is cleared without drugs', () => {
    const y = Float64Array.of(1, 0.2, 1.65, 0, 0);
    new Rk4(5).integrate(rhs.f, y, 0, 20, 0.01);
    expect(y[1]).toBeLessThan(3e-3);
    new Rk4(5).integrate(rhs.f, y, 20, 100, 0.01);
    expect(y[0]).toBeCloseTo(1, 4);
  });
});

describe('oncology/chemo-v1 env (DTR-Bench AhnChemoEnv formulation)', () => {
  it('untreated: the episode ends by N < 0.7·N0 around day 18–20 with the −100 penalty', () => {
    const { infos, terminated } = run(() => 0);
    expect(terminated).toBe(true);
    const last = infos[infos.length - 1] as Record<string, number>;
    expect(last.day).toBeGreaterThanOrEqual(18);
    expect(last.day).toBeLessThanOrEqual(20);
    const env = new ChemoEnv();
    env.reset();
    let r = env.step(0);
    while (!r.terminated) r = env.step(0);
    expect(r.reward).toBe(-100);
  });

  it('v ≡ 1 clears the tumour (T < 1e-3 near day 75.7) without breaching 0.7·N0; N dips to ≈ 0.708', () => {
    const { infos, terminated } = run(() => 4);
    expect(terminated).toBe(false);
    const cleared = infos.find((i) => (i.T as number) < 1e-3) as Record<string, number>;
    expect(Math.abs(cleared.day - 75.7)).toBeLessThanOrEqual(0.5);
    const last = infos[infos.length - 1] as Record<string, number>;
    expect(last.nadirRatio * 0.9).toBeCloseTo(0.708, 2);
    expect(last.N).toBeCloseTo(0.937, 2);
    expect(last.B).toBeCloseTo(1, 3);
  });

  it('reward is N/N0 − T/T0 − v from the state before the step', () => {
    const env = new ChemoEnv({ doseLevels: 11 });
    env.reset();
    expect(env.step(5).reward).toBeCloseTo(0.9 / 0.9 - 0.2 / 0.2 - 0.5, 12);
    expect(env.actionSpace.n).toBe(11);
  });

  it('toxicity option "cumulative" creates a trade-off: max dose now breaches the threshold, dose-then-stop does not', () => {
    const mtd = run(() => 4, { toxicity: 'cumulative' });
    expect(mtd.terminated).toBe(true);
    const front = run((day) => (day < 20 ? 4 : 0), { toxicity: 'cumulative' });
    expect(front.terminated).toBe(false);
    expect((front.infos[front.infos.length - 1] as Record<string, number>).T).toBeLessThan(1e-3);
    // the published model stays non-toxic at max dose (documented default)
    expect(run(() => 4).terminated).toBe(false);
    expect(chemoParams().toxEmax).toBe(0);
  });

  it('getState/setState round-trips and rejects garbage', () => {
    const env = new ChemoEnv();
    env.reset();
    for (let k = 0; k < 7; k++) env.step(2);
    const saved = JSON.parse(JSON.stringify(env.getState()));
    const a = env.step(3).observation.slice();
    const other = new ChemoEnv();
    other.reset();
    other.setState(saved);
    expect(Array.from(other.step(3).observation)).toEqual(Array.from(a));
    expect(() => other.setState({ y: [1] })).toThrow(/setState/);
  });

  it('observeLogTumour appends log10 T (floored at 1e−12) with its bounds and label', () => {
    const env = new ChemoEnv({ observeNormal: true, observeLogTumour: true });
    expect(env.observationSpace.labels).toEqual(['N', 'T', 'I', 'B', 'log10T']);
    expect(env.observationSpace.low[4]).toBe(-12);
    expect(env.observationSpace.high[4]).toBe(1);
    let o = env.reset().observation;
    expect(o[4]).toBeCloseTo(Math.log10(0.2), 6);
    for (let k = 0; k < 400; k++) {
      o = env.step(4).observation;
      expect(o[4]).toBeCloseTo(Math.log10(Math.max(1e-12, o[1] as number)), 5);
      expect(env.observationSpace.contains(o)).toBe(true);
    }
    expect(o[4]).toBeLessThan(-3);
    expect(() => new ChemoEnv({ observeLogTumour: 1 as never })).toThrow(/observeLogTumour must be a boolean, got 1/);
  });

  it('options are validated with messages naming the option', () => {
    expect(() => new ChemoEnv({ doseLevels: 1 })).toThrow(/doseLevels/);
    expect(() => new ChemoEnv({ toxicity: 'severe' as never })).toThrow(/toxicity/);
    expect(() => new ChemoEnv({ r1: -1 })).toThrow(/r1/);
  });
});

describe('chemo twin: endpoints and cohort', () => {
  const twin = getTwin('chemo');

  function endpoints(policyAction: (k: number) => number, options: Record<string, unknown> = {}) {
    const env = new RecordEpisode(make('oncology/chemo-v1', options));
    env.reset({ seed: 1 });
    let k = 0;
    for (;;) {
      const r = env.step(policyAction(k++));
      if (r.terminated || r.truncated) break;
    }
    const log = env.lastEpisode;
    if (!log) throw new Error('no episode');
    return Object.fromEntries(twin.endpoints.map((e) => [e.id, e.compute(log)]));
  }

  it('max dose: CR, cleared at ≈ day 75.75, nadir 0.787·N0, cumulative dose 150', () => {
    const e = endpoints(() => 4);
    expect(e.recist).toBe(RECIST.CR);
    expect(e.objective_response).toBe(1);
    expect(e.cleared).toBe(1);
    expect(e.death).toBe(0);
    expect(e.time_to_clearance).toBeCloseTo(75.75, 6);
    expect(e.normal_nadir).toBeCloseTo(0.787, 2);
    expect(e.cumulative_dose).toBeCloseTo(150, 9);
  });

  it('untreated: death, PD, clearance censored at 150 days, no dose', () => {
    const e = endpoints(() => 0);
    expect(e.death).toBe(1);
    expect(e.recist).toBe(RECIST.PD);
    expect(e.time_to_clearance).toBe(150);
    expect(e.cumulative_dose).toBe(0);
    expect(e.tumour_reduction).toBeLessThan(0);
  });

  it('time to durable clearance: a clearance followed by toxic death counts as 150 days; otherwise equals time to clearance', () => {
    // A fast-clearing patient (slow tumour, strong immune kill) with the synthetic cumulative toxicity:
    // continuous maximal dosing clears the tumour within days, then the cumulative exposure kills.
    const patient = { toxicity: 'cumulative', T0: 0.1, r1: 1, c2: 0.65, a2: 0.33 };
    const mtd = endpoints(() => 4, patient);
    expect(mtd.death).toBe(1);
    expect(mtd.time_to_clearance).toBeLessThan(20);
    expect(mtd.time_to_durable_clearance).toBe(150);
    const front = endpoints((k) => (k * 0.25 < 20 ? 4 : 0), patient);
    expect(front.death).toBe(0);
    expect(front.cleared).toBe(1);
    expect(front.time_to_durable_clearance).toBe(front.time_to_clearance);
    expect(front.time_to_clearance).toBeLessThan(20);
    // published model, v ≡ 1: cleared at day 75.75 and alive; untreated: dies uncleared
    expect(endpoints(() => 4).time_to_durable_clearance).toBeCloseTo(75.75, 6);
    expect(endpoints(() => 0).time_to_durable_clearance).toBe(150);
  });

  it('cohort: patient i depends only on (population, seed, i); IIV is log-normal around the published values', () => {
    const a = twin.cohortMember({ population: 'virtual', size: 10, seed: 3 }, 7);
    const b = twin.cohortMember({ population: 'virtual', size: 500, seed: 3 }, 7);
    expect(a).toEqual(b);
    expect(twin.cohortMember({ population: 'virtual', size: 10, seed: 4 }, 7)).not.toEqual(a);
    expect(twin.cohortMember({ population: 'virtual-toxic', size: 1, seed: 3 }, 0).envOptions.toxicity).toBe('cumulative');
    const { patients } = sampleCohort(CHEMO_COHORT, 11, 2000);
    const logR1 = patients.map((p) => Math.log(p.params.r1 as number / PUBLISHED_CHEMO_PARAMS.r1));
    const mean = logR1.reduce((s, x) => s + x, 0) / logR1.length;
    const sd = Math.sqrt(logR1.reduce((s, x) => s + (x - mean) ** 2, 0) / (logR1.length - 1));
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(sd).toBeCloseTo(Math.sqrt(Math.log(1 + 0.15 ** 2)), 2);
    for (const p of patients) expect(p.params.T0).toBeGreaterThanOrEqual(0.02);
    expect(() => twin.cohortMember({ population: 'martian', size: 1, seed: 1 }, 0)).toThrow(/population/);
    // a generated patient runs in the env
    const env = make('oncology/chemo-v1', a.envOptions);
    env.reset({ seed: 0 });
    expect(env.step(4).reward).toBeTypeOf('number');
  });
});
