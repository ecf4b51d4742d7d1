import { describe, expect, it } from 'vitest';
import { sampleCohort } from '../../../engine/cohort.js';
import { Rk4 } from '../../../engine/ode.js';
import { make } from '../../../engine/registry.js';
import { getTwin } from '../../../engine/twin.js';
import { RecordEpisode } from '../../../engine/wrappers.js';
import '../../../environments/index.js';
import { VancomycinEnv } from '../../../environments/pkpd/vancomycin-env.js';
import { vancoCohortSpec } from '../../../environments/pkpd/vancomycin-twin.js';
import {
  akiHazardPerDay,
  cockcroftGault,
  GOTI_OMEGA2,
  individualPk,
  typicalClearance,
  typicalV1,
  vancoRhs,
} from '../../../environments/pkpd/vancomycin-model.js';

// Sources: Goti et al., Ther Drug Monit 2018;40(2):212–221 (Table 2) as quoted in docs/MODELS.md §4, and the
// validation facts computed there (typical 70 kg patient, 1 g q12h, 1-h infusions, day-5 values).

const DOSE_1000 = 3; // index of 1000 mg in the default dose levels

/** Runs the env with a fixed dose index; returns per-step infos. */
function run(options: Record<string, unknown>, action: number | ((k: number) => number), days = 5) {
  const env = new VancomycinEnv({ assayError: false, aki: false, days, ...options });
  env.reset({ seed: 1 });
  const infos: Array<Record<string, number | boolean>> = [];
  for (let k = 0; k < days * 2; k++) {
    const r = env.step(typeof action === 'number' ? action : action(k));
    infos.push({ ...(r.info as Record<string, number | boolean>) });
  }
  return infos;
}

const lastDayAuc = (infos: Array<Record<string, number | boolean>>) => (infos.at(-1)?.aucStep as number) + (infos.at(-2)?.aucStep as number);

describe('Goti 2018 vancomycin PK (docs/MODELS.md §4)', () => {
  // docs/MODELS.md §4 fact 3: CL = 4.5·(10/120)^0.8·0.7 = 0.431 L/h (a third-party note says ≈ 0.38; the expression does not give that).
  it('typical values: CL(CrCL 80) = 3.253 L/h; dialysis CrCL 10: CL = 4.5·(10/120)^0.8·0.7 = 0.431 L/h, V1 = 29.2 L', () => {
    expect(typicalClearance(80, false)).toBeCloseTo(3.253, 3);
    expect(typicalClearance(120, false)).toBe(4.5);
    expect(typicalClearance(10, true)).toBeCloseTo(0.4315, 4);
    expect(typicalV1(70, true)).toBeCloseTo(29.2, 6);
    // Cockcroft–Gault with the Goti rules: SCr floor of 1 above age 65, cap at 150
    expect(cockcroftGault(40, 72, false, 1)).toBeCloseTo(100, 9);
    expect(cockcroftGault(70, 72, true, 0.6)).toBeCloseTo((70 * 72 * 0.85) / 72, 9);
    expect(cockcroftGault(20, 120, false, 0.5)).toBe(150);
  });

  it('a bolus follows the analytic bi-exponential C(t) = D/V1·[A·e^(−αt) + B·e^(−βt)]; α, β as tabulated', () => {
    const pk = individualPk(120, 70, false, { cl: 0, v1: 0, v2: 0 });
    const k10 = pk.cl / pk.v1;
    const k12 = pk.q / pk.v1;
    const k21 = pk.q / pk.v2;
    const sum = k10 + k12 + k21;
    const disc = Math.sqrt(sum * sum - 4 * k10 * k21);
    const alpha = (sum + disc) / 2;
    const beta = (sum - disc) / 2;
    expect(alpha).toBeCloseTo(0.316, 3);
    expect(beta).toBeCloseTo(0.0412, 4);
    const D = 1000;
    const exact = (t: number) => (D / pk.v1) * (((alpha - k21) / (alpha - beta)) * Math.exp(-alpha * t) + ((k21 - beta) / (alpha - beta)) * Math.exp(-beta * t));
    const rhs = vancoRhs(pk);
    const y = Float64Array.of(D, 0, 0);
    const rk = new Rk4(3);
    let t = 0;
    for (const next of [0.5, 2, 6, 12, 24, 48, 96, 400]) {
      rk.integrate(rhs.f, y, t, next, 0.05);
      t = next;
      expect(Math.abs((y[0] as number) / pk.v1 / exact(t) - 1)).toBeLessThan(1e-6);
    }
    // AUC(0–∞) = D/CL (the accumulator, nearly all of it by 400 h)
    expect((y[2] as number) / (D / pk.cl)).toBeCloseTo(1, 4);
  });

  it('steady-state AUC24 = daily dose / CL within 1 %, for typical and random-effect patients', () => {
    for (const [crcl, eta] of [
      [120, { cl: 0, v1: 0, v2: 0 }],
      [60, { cl: 0.4, v1: -0.5, v2: 0.3 }],
      [40, { cl: -0.3, v1: 0.8, v2: -0.4 }],
    ] as const) {
      const infos = run({ crcl, etaCl: eta.cl, etaV1: eta.v1, etaV2: eta.v2 }, DOSE_1000, 60);
      const cl = individualPk(crcl, 70, false, eta).cl;
      expect(Math.abs(lastDayAuc(infos) / (2000 / cl) - 1)).toBeLessThan(0.01);
    }
  });

  it('covariates: lower CrCL gives higher AUC and trough (day-5 AUC24 ≈ 441 / 598 / 944; troughs 12.9 / 19.3 / 34.3)', () => {
    const expected = [
      [120, 441, 12.9],
      [80, 598, 19.3],
      [40, 944, 34.3],
    ] as const;
    let prevAuc = 0;
    let prevTrough = 0;
    for (const [crcl, auc, trough] of expected) {
      const infos = run({ crcl }, DOSE_1000, 5);
      const a = lastDayAuc(infos);
      const tr = infos.at(-1)?.trough as number;
      expect(Math.abs(a / auc - 1)).toBeLessThan(0.01);
      expect(tr).toBeCloseTo(trough, 0);
      expect(a).toBeGreaterThan(prevAuc);
      expect(tr).toBeGreaterThan(prevTrough);
      prevAuc = a;
      prevTrough = tr;
    }
    // heavier patient: larger V1, lower peak, same steady-state AUC
    const light = run({ crcl: 90, weight: 50 }, DOSE_1000, 10);
    const heavy = run({ crcl: 90, weight: 110 }, DOSE_1000, 10);
    expect(heavy.at(-1)?.peak as number).toBeLessThan(light.at(-1)?.peak as number);
    expect(lastDayAuc(heavy) / lastDayAuc(light)).toBeCloseTo(1, 2);
  });

  it('IIV: sampled η have sd √ln(1+CV²) (0.383, 0.714, 0.531) and median CL equals the typical value', () => {
    const { patients } = sampleCohort(vancoCohortSpec(), 5, 20000);
    for (const [k, w2] of [
      [0, GOTI_OMEGA2.cl],
      [1, GOTI_OMEGA2.v1],
      [2, GOTI_OMEGA2.v2],
    ] as const) {
      const e = patients.map((p) => p.eta[k] as number);
      const mean = e.reduce((s, x) => s + x, 0) / e.length;
      const sd = Math.sqrt(e.reduce((s, x) => s + (x - mean) ** 2, 0) / (e.length - 1));
      expect(Math.abs(mean)).toBeLessThan(0.02);
      expect(Math.abs(sd / Math.sqrt(w2) - 1)).toBeLessThan(0.02);
    }
    expect(Math.sqrt(GOTI_OMEGA2.cl)).toBeCloseTo(0.383, 3);
    const ratio = patients.map((p) => Math.exp(p.eta[0] as number)).sort((a, b) => a - b);
    expect(ratio[10000]).toBeCloseTo(1, 1);
  });
});

describe('pkpd/vancomycin-v1 env', () => {
  it('nephrotoxicity risk (synthetic) is zero up to AUC 600 and increases with exposure', () => {
    expect(akiHazardPerDay(500)).toBe(0);
    expect(akiHazardPerDay(600)).toBe(0);
    expect(akiHazardPerDay(700)).toBeCloseTo(0.01 * Math.exp(0.5), 12);
    let prev = 0;
    for (let auc = 610; auc <= 2000; auc += 50) {
      const h = akiHazardPerDay(auc);
      expect(h).toBeGreaterThan(prev);
      prev = h;
    }
    // simulated AKI rate across the same 150 patients rises with the dose
    const twin = getTwin('vancomycin');
    const rate = (action: number) => {
      let aki = 0;
      for (let i = 0; i < 150; i++) {
        const env = new VancomycinEnv({ ...twin.cohortMember({ population: 'adult', size: 150, seed: 2 }, i).envOptions, assayError: false });
        env.reset({ seed: i });
        let info = env.step(action).info;
        for (let k = 1; k < 14; k++) info = env.step(action).info;
        if (info.aki === true) aki++;
      }
      return aki / 150;
    };
    const low = rate(1); // 500 mg q12h
    const mid = rate(3); // 1000 mg q12h
    const high = rate(7); // 2000 mg q12h
    expect(low).toBeLessThan(mid);
    expect(mid).toBeLessThan(high);
  });

  it('AKI lowers CrCL by 40 % and CL accordingly, with the −10 penalty; at most once', () => {
    const env = new VancomycinEnv({ crcl: 40, assayError: false });
    env.reset({ seed: 3 });
    let onset = -1;
    let penaltyReward = 0;
    for (let k = 0; k < 14; k++) {
      const r = env.step(8); // 2500 mg q12h at CrCL 40: huge exposure
      if (r.info.aki === true && onset < 0) {
        onset = k;
        penaltyReward = r.reward;
        expect(r.info.crcl).toBeCloseTo(24, 9);
        expect(r.info.cl).toBeCloseTo(typicalClearance(24, false), 9);
        expect(r.observation[10]).toBe(1);
      }
    }
    expect(onset).toBeGreaterThanOrEqual(0);
    expect(penaltyReward).toBeLessThanOrEqual(-10);
  });

  it('levels are drawn every second interval; exact levels without assay error, noisy but reproducible with it', () => {
    const env = new VancomycinEnv({ assayError: false });
    const first = env.reset({ seed: 0 });
    expect(first.observation[9]).toBe(0);
    let r = env.step(DOSE_1000);
    expect(r.observation[9]).toBe(0); // interval 0: not sampled
    r = env.step(DOSE_1000);
    expect(r.observation[9]).toBe(1);
    expect(r.observation[8]).toBe(0);
    expect(r.observation[7]).toBeCloseTo(r.info.trough as number, 4);
    expect(r.observation[6]).toBeCloseTo(r.info.peak as number, 4);
    r = env.step(DOSE_1000);
    expect(r.observation[8]).toBe(12);
    const noisy = (seed: number) => {
      const e = new VancomycinEnv();
      e.reset({ seed });
      e.step(DOSE_1000);
      return Array.from(e.step(DOSE_1000).observation.slice(5, 8));
    };
    expect(noisy(4)).toEqual(noisy(4));
    expect(noisy(4)).not.toEqual(noisy(5));
  });

  it('reward: +1 in 400–600, graded penalty outside; endpoints from the episode log', () => {
    const twin = getTwin('vancomycin');
    const env = new RecordEpisode(make('pkpd/vancomycin-v1', { crcl: 120, assayError: false, aki: false }));
    env.reset({ seed: 0 });
    const rewards: number[] = [];
    for (let k = 0; k < 14; k++) rewards.push(env.step(DOSE_1000).reward);
    expect(rewards.at(-1)).toBe(1); // AUC24 ≈ 441 at steady state
    expect(rewards[0]).toBeLessThan(0); // first 12 h projected to ≈ 2×125 = 250
    const log = env.lastEpisode;
    if (!log) throw new Error('no log');
    const e = Object.fromEntries(twin.endpoints.map((d) => [d.id, d.compute(log)]));
    expect(e.target_attained_final).toBe(1);
    expect(e.aki).toBe(0);
    expect(e.total_dose).toBe(14);
    expect(e.auc24_final).toBeCloseTo(2000 / 4.5, -1);
    expect(e.auc24_day2).toBeLessThan(400);
    expect(e.target_attained_day2).toBe(0);
    expect(e.auc24_above_600_final).toBe(0);
    expect(e.trough_final).toBe(log.steps.at(-1)?.info.trough);
    expect(e.trough_final).toBeCloseTo(12.9, 0); // docs/MODELS.md §4: day-5 trough 12.9 mg/L at CrCL 120, 1 g q12h (day 7 ≈ the same)
    // 1 g q12h at CrCL 40: day-5 AUC24 ≈ 944 (docs/MODELS.md §4) → above 600
    const over = new RecordEpisode(make('pkpd/vancomycin-v1', { crcl: 40, assayError: false, aki: false }));
    over.reset({ seed: 0 });
    for (let k = 0; k < 14; k++) over.step(DOSE_1000);
    const overLog = over.lastEpisode;
    if (!overLog) throw new Error('no log');
    expect(twin.endpoints.find((d) => d.id === 'auc24_above_600_final')?.compute(overLog)).toBe(1);
  });

  it('cohort: strata respect their CrCL range; patient i is independent of cohort size', () => {
    const twin = getTwin('vancomycin');
    const a = twin.cohortMember({ population: 'crcl-30-59', size: 3, seed: 1 }, 2);
    expect(twin.cohortMember({ population: 'crcl-30-59', size: 300, seed: 1 }, 2)).toEqual(a);
    for (let i = 0; i < 30; i++) {
      const m = twin.cohortMember({ population: 'crcl-30-59', size: 30, seed: 1 }, i);
      expect(m.envOptions.crcl as number).toBeGreaterThanOrEqual(30);
      expect(m.envOptions.crcl as number).toBeLessThan(60);
      expect(m.covariates?.renalStratum).toBe('crcl-30-59');
    }
    expect(() => twin.cohortMember({ population: 'elderly', size: 1, seed: 1 }, 0)).toThrow(/population/);
    expect(() => new VancomycinEnv({ weight: -3 })).toThrow(/weight/);
    expect(() => new VancomycinEnv({ days: 1.2 })).toThrow(/days/);
  });
});

describe('pkpd/vancomycin-v1 with a patients pool (personal-cohort training)', () => {
  const pool = [
    { patientId: 'a', weight: 60, crcl: 40, etaCl: -0.3, etaV1: 0.2, etaV2: 0.1 },
    { patientId: 'b', weight: 95, crcl: 120, dialysis: false, etaCl: 0.4, etaV1: -0.5, etaV2: 0 },
    { patientId: 'c', weight: 70, crcl: 80, etaCl: 0, etaV1: 0, etaV2: 0 },
  ];

  it('draws one patient per reset from stream "patient"; each simulates exactly as that patient given alone', () => {
    const env = new VancomycinEnv({ patients: pool });
    const seen = new Map<string, number>();
    for (let s = 0; s < 30; s++) {
      const r = env.reset({ seed: s });
      const id = r.info.patientId as string;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      const p = pool.find((q) => q.patientId === id);
      expect(r.info.pk).toEqual(individualPk(p?.crcl as number, p?.weight as number, false, { cl: p?.etaCl as number, v1: p?.etaV1 as number, v2: p?.etaV2 as number }));
    }
    expect([...seen.keys()].sort()).toEqual(['a', 'b', 'c']);
    // The same seed gives the same patient and the same trajectory as that patient alone (streams assay, aki unchanged).
    const pooled = new VancomycinEnv({ patients: pool });
    const first = pooled.reset({ seed: 11 });
    const alone = new VancomycinEnv(pool.find((q) => q.patientId === first.info.patientId));
    alone.reset({ seed: 11 });
    for (let k = 0; k < 14; k++) {
      const x = pooled.step(k % 5);
      const y = alone.step(k % 5);
      expect(x.reward).toBe(y.reward);
      expect(Array.from(x.observation)).toEqual(Array.from(y.observation));
    }
  });

  it('resets without a seed continue the patient stream; getState/setState restore the patient', () => {
    const ids = (n: number) => {
      const env = new VancomycinEnv({ patients: pool });
      const out = [env.reset({ seed: 3 }).info.patientId];
      for (let i = 1; i < n; i++) out.push(env.reset().info.patientId);
      return out;
    };
    expect(ids(12)).toEqual(ids(12));
    expect(new Set(ids(12)).size).toBeGreaterThan(1);
    const env = new VancomycinEnv({ patients: pool });
    let id = env.reset({ seed: 0 }).info.patientId;
    for (let s = 1; id === 'c'; s++) id = env.reset({ seed: s }).info.patientId; // a patient other than the last one
    env.step(3);
    const saved = structuredClone(env.getState());
    const next = env.step(4);
    const copy = new VancomycinEnv({ patients: pool });
    copy.reset({ seed: 99 });
    while (copy.patientId !== 'c') copy.reset();
    copy.setState(saved);
    expect(copy.patientId).toBe(id);
    const replayed = copy.step(4);
    expect(replayed.reward).toBe(next.reward);
    expect(Array.from(replayed.observation)).toEqual(Array.from(next.observation));
  });

  it('bad pools are refused naming the option and field', () => {
    expect(() => new VancomycinEnv({ patients: [] })).toThrow(/option patients must be a non-empty list/);
    expect(() => new VancomycinEnv({ patients: pool, weight: 70 })).toThrow(/either option weight or option patients/);
    expect(() => new VancomycinEnv({ patients: [{ ...pool[0], crcl: 400 }] as never })).toThrow(/option patients\[0\]\.crcl must be a number/);
    const { etaV2: _, ...noEta } = pool[1] as (typeof pool)[1];
    expect(() => new VancomycinEnv({ patients: [pool[0], noEta] as never })).toThrow(/option patients\[1\]\.etaV2 is required/);
    expect(() => new VancomycinEnv({ patients: [{ ...pool[0], mic: 2 }] as never })).toThrow(/option patients\[0\]\.mic is not a patient field/);
  });
});
