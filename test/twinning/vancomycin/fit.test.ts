import { describe, expect, it } from 'vitest';
import type { VancomycinDataset } from '../../../datasets/vancomycin.js';
import { infusionDurationH, recommendDoses } from '../../../twinning/vancomycin/dose.js';
import { fitVancomycinTwin, regimenOf } from '../../../twinning/vancomycin/fit.js';
import { fitMap, prepareFitData } from '../../../twinning/vancomycin/likelihood.js';
import { concentrations, kinetics } from '../../../twinning/vancomycin/model.js';
import { makeCovariates, pkAt } from '../../../twinning/vancomycin/parameters.js';
import { replayVancomycin } from '../../../twinning/vancomycin/replay.js';
import { parseVancoTwinFile, vancoTwinFileText } from '../../../twinning/vancomycin/twin-file.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1, 8);
const cov = makeCovariates({ ageYears: 58, sex: 'M', bodyWeightKg: 85, scrMgDl: 1.2 });
const FAST = { walkers: 16, steps: 1500, burn: 500 };

/** 1,250 mg q12h over 1.25 h; levels at `hours` from a true η, exact (no assay error) unless `noise` is given. */
function dataset(eta: number[], hours: number[], noise: number[] = []): VancomycinDataset {
  const doses = Array.from({ length: 8 }, (_, k) => ({ timeMs: T0 + 12 * k * H, amountMg: 1250, durationH: 1.25 }));
  const kin = kinetics(pkAt(cov, eta));
  const c = concentrations(
    kin,
    doses.map((d) => ({ timeH: (d.timeMs - T0) / H, amountMg: d.amountMg, durationH: d.durationH })),
    hours,
  );
  return {
    kind: 'vancomycin',
    patientId: 'synthetic',
    covariates: {},
    doses,
    levels: hours.map((h, i) => ({ timeMs: T0 + h * H, concMgL: Math.round(((c[i] as number) + (noise[i] ?? 0)) * 100) / 100 })),
    warnings: [],
    provenance: { format: 'csv', fileSha256: '0'.repeat(64), records: 8 + hours.length },
  };
}

describe('personal vancomycin twin: MAP', () => {
  // Goti's residual error (22.7 % + 3.4 mg/L) is large next to ω(CL) = 38 %, so even exact levels
  // leave the MAP shrunk towards the population: it must close most of the gap, not all of it.
  it('closes at least half of the gap between the population CL and the truth from four exact levels', () => {
    for (const eta of [
      [0.6, 0.3, 0],
      [-0.7, -0.5, 0.3],
      [0.2, -0.8, -0.4],
    ]) {
      const d = dataset(eta, [38.25, 47.5, 62.25, 71.5]);
      const map = fitMap(prepareFitData(d, cov));
      const cl = pkAt(cov, map.theta).cl;
      const trueCl = pkAt(cov, eta).cl;
      const pop = pkAt(cov, [0, 0, 0]).cl;
      expect(Math.abs(cl - trueCl)).toBeLessThan(0.5 * Math.abs(pop - trueCl));
    }
  });

  it('moves CL from the population value towards the truth with a single trough', () => {
    const eta = [-0.6, 0, 0];
    const map = fitMap(prepareFitData(dataset(eta, [47.5]), cov));
    const pop = pkAt(cov, [0, 0, 0]).cl;
    const trueCl = pkAt(cov, eta).cl;
    const cl = pkAt(cov, map.theta).cl;
    expect(Math.abs(cl - trueCl)).toBeLessThan(0.7 * Math.abs(pop - trueCl));
  });
});

describe('personal vancomycin twin: fit, replay, dose', async () => {
  const d = dataset([0.4, -0.3, 0.2], [38.25, 47.5, 71.5, 86.25], [1.5, -0.8, 0.6, -2]);
  const twin = await fitVancomycinTwin(d, cov, { method: 'mcmc', seed: 11, codeVersion: 'test', ...FAST });

  it('writes a valid twin.json; same (data, seed) → same bytes, another seed → other draws', async () => {
    const text = vancoTwinFileText(twin);
    expect(parseVancoTwinFile(text, 'twin.json').twin).toBe('vancomycin');
    const again = await fitVancomycinTwin(d, cov, { method: 'mcmc', seed: 11, codeVersion: 'test', ...FAST });
    expect(vancoTwinFileText(again)).toBe(text);
    const other = await fitVancomycinTwin(d, cov, { method: 'mcmc', seed: 12, codeVersion: 'test', ...FAST });
    expect(other.posterior.draws).not.toEqual(twin.posterior.draws);
    expect(other.map).toEqual(twin.map); // the MAP does not depend on the seed
  });

  it('reports AUC24 of the data’s regimen at steady state with a 95 % interval containing the truth', () => {
    expect(twin.regimen).toMatchObject({ amountMg: 1250, intervalH: 12, durationH: 1.25 });
    const trueAuc = (1250 * 2) / pkAt(cov, [0.4, -0.3, 0.2]).cl;
    expect(twin.auc24.lo).toBeLessThan(trueAuc);
    expect(twin.auc24.hi).toBeGreaterThan(trueAuc);
    expect(twin.auc24.lo).toBeLessThan(twin.auc24.mean);
    expect(twin.auc24.mean).toBeLessThan(twin.auc24.hi);
    expect(twin.posterior.draws).toHaveLength(400);
    expect(twin.posterior.diagnostics?.rhat).toHaveLength(3);
  });

  it('replay predicts levels after --from from the levels at or before it only', async () => {
    const from = T0 + 60 * H;
    const a = await replayVancomycin(twin, d, from);
    expect(a.levelsUsed).toBe(2);
    expect(a.refitted).toBe(true);
    expect(a.rows.map((r) => r.timeMs)).toEqual([T0 + 71.5 * H, T0 + 86.25 * H]);
    // changing the levels after --from changes nothing but the echoed observation
    const changed = { ...d, levels: d.levels.map((l) => (l.timeMs > from ? { ...l, concMgL: l.concMgL * 3 } : l)) };
    const b = await replayVancomycin(twin, changed, from);
    expect(b.rows.map(({ observed: _o, ...r }) => r)).toEqual(a.rows.map(({ observed: _o, ...r }) => r));
    // a level before --from does change the prediction
    const earlier = { ...d, levels: d.levels.map((l, i) => (i === 1 ? { ...l, concMgL: l.concMgL * 2 } : l)) };
    const c = await replayVancomycin(twin, earlier, from);
    expect((c.rows[0] as { mean: number }).mean).toBeGreaterThan((a.rows[0] as { mean: number }).mean);
    for (const r of a.rows) {
      expect(r.lo).toBeLessThan(r.mean);
      expect(r.mean).toBeLessThan(r.hi);
    }
  });

  it('replay reuses the stored posterior when it was conditioned on exactly the levels before --from', async () => {
    const r = await replayVancomycin(twin, d, T0 + 200 * H);
    expect(r.refitted).toBe(false);
    expect(r.rows).toEqual([]);
    const until = await fitVancomycinTwin(d, cov, { method: 'mcmc', seed: 11, codeVersion: 'test', untilMs: T0 + 60 * H, ...FAST });
    const stored = await replayVancomycin(until, d, T0 + 60 * H);
    expect(stored.refitted).toBe(false);
    const recomputed = await replayVancomycin(twin, d, T0 + 60 * H);
    expect(stored.rows).toEqual(recomputed.rows);
  });

  it('dose table: best first, 250 mg steps, ≤ 1 g/h infusions, AUC linear in the daily dose, loading dose capped at 3 g', () => {
    const rec = recommendDoses(twin, { targetAuc: [400, 600], intervals: [8, 12, 24], mic: 1, top: 1000 });
    expect(rec.regimens).toHaveLength(3 * 16);
    for (let i = 1; i < rec.regimens.length; i++) {
      const a = rec.regimens[i - 1] as (typeof rec.regimens)[number];
      const b = rec.regimens[i] as (typeof rec.regimens)[number];
      expect(a.pTarget > b.pTarget || (a.pTarget === b.pTarget && a.pAucAbove600 <= b.pAucAbove600)).toBe(true);
    }
    for (const r of rec.regimens) {
      expect(r.doseMg % 250).toBe(0);
      expect(r.infusionH).toBe(Math.max(1, r.doseMg / 1000));
    }
    const q12 = rec.regimens.filter((r) => r.intervalH === 12).sort((x, y) => x.doseMg - y.doseMg);
    expect((q12[3] as { auc24: { mean: number } }).auc24.mean / (q12[1] as { auc24: { mean: number } }).auc24.mean).toBeCloseTo(2, 9);
    const best = rec.regimens[0] as (typeof rec.regimens)[number];
    expect(best.pTarget).toBeGreaterThan(0.5);
    expect(best.auc24.mean).toBeGreaterThan(400);
    expect(best.auc24.mean).toBeLessThan(600);
    expect(rec.loadingDose.mg).toBe(2250); // 25 mg/kg × 85 kg = 2,125 → 2,250 mg
    const heavy = recommendDoses({ ...twin, covariates: { ...twin.covariates, bodyWeightKg: 160 } }, { targetAuc: [400, 600], intervals: [12], mic: 1 });
    expect(heavy.loadingDose.mg).toBe(3000);
    expect(heavy.loadingDose.rangeMg).toEqual([3000, 3000]);
    // a higher MIC needs more drug
    const mic2 = recommendDoses(twin, { targetAuc: [400, 600], intervals: [12], mic: 2 });
    expect((mic2.regimens[0] as { dailyDoseMg: number }).dailyDoseMg).toBeGreaterThan(best.dailyDoseMg);
    expect(infusionDurationH(2500)).toBe(2.5);
  });

  it('regimen: the last dose at the last interval; one dose → 12 h assumed and said so', () => {
    expect(regimenOf({ doses: [{ timeMs: 0, amountMg: 1000, durationH: 1 }] })).toMatchObject({ intervalH: 12, source: expect.stringMatching(/assumed/) });
    expect(
      regimenOf({
        doses: [
          { timeMs: 0, amountMg: 2000, durationH: 2 },
          { timeMs: 8 * H, amountMg: 750, durationH: 1 },
        ],
      }),
    ).toMatchObject({ amountMg: 750, intervalH: 8, durationH: 1 });
  });
});
