import type { VancomycinDataset } from '../datasets/vancomycin.js';
import { recommendDoses } from '../twinning/vancomycin/dose.js';
import { fitVancomycinTwin, samplePosterior } from '../twinning/vancomycin/fit.js';
import { fitMap, type VancoFitData } from '../twinning/vancomycin/likelihood.js';
import { predictLevels } from '../twinning/vancomycin/replay.js';
import { runVancoValidation, syntheticVancoPatient } from '../twinning/vancomycin/validation.js';
import type { BenchResult } from './types.js';
import { median, numberOption } from './util.js';

/**
 * Personal vancomycin twin (twinning/vancomycin/): MAP time from 1–4 levels, posterior time (default
 * sampler settings), dose-table time, and the validation on synthetic Goti patients (next-level and
 * AUC24 errors, Bayesian vs Sawchuk–Zaske), plus the coverage of the replay's 95 % band for the
 * next trough on `--coverage N` patients (default 40; MCMC each).
 *
 * Run: `npm run bench -- twin-vancomycin` (`--patients N`, default 200).
 */

const H = 3_600_000;

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  const p = syntheticVancoPatient(7, 3);
  const levels = [p.times[0], p.times[1], p.times[2], p.times[2] + 2];
  const conc = [...p.observed, p.observed[0] as number];
  for (let k = 1; k <= 4; k++) {
    const data: VancoFitData = { cov: p.cov, originMs: 0, doses: p.doses, levelTimes: levels.slice(0, k), levelConc: conc.slice(0, k) };
    const times: number[] = [];
    let evaluations = 0;
    for (let r = 0; r < 15; r++) {
      const t0 = performance.now(); // clock-ok: benchmark
      evaluations = fitMap(data).evaluations;
      times.push(performance.now() - t0); // clock-ok
    }
    out.push({ name: `MAP fit, ${k} level${k > 1 ? 's' : ''}`, value: median(times), unit: 'ms', note: `median of 15; ${evaluations} evaluations` });
  }
  const dataset: VancomycinDataset = {
    kind: 'vancomycin',
    patientId: 'bench',
    covariates: {},
    doses: p.doses.map((d) => ({ timeMs: d.timeH * H, amountMg: d.amountMg, durationH: d.durationH })),
    levels: p.times.slice(0, 2).map((t, i) => ({ timeMs: t * H, concMgL: p.observed[i] as number })),
    warnings: [],
    provenance: { format: 'csv', fileSha256: '0'.repeat(64), records: 0 },
  };
  let t0 = performance.now(); // clock-ok
  const twin = await fitVancomycinTwin(dataset, p.cov, { method: 'mcmc', seed: 1, codeVersion: 'bench' });
  out.push({
    name: 'fit with posterior (MAP + MCMC, default settings), 2 levels',
    value: (performance.now() - t0) / 1000, // clock-ok
    unit: 's',
    note: `${twin.sampler.walkers} walkers × ${twin.sampler.steps} steps; acceptance ${twin.posterior.diagnostics?.acceptance.toFixed(2)}, max R-hat ${Math.max(...(twin.posterior.diagnostics?.rhat ?? [Number.NaN])).toFixed(3)}, min ESS ${Math.min(...(twin.posterior.diagnostics?.ess ?? [Number.NaN])).toFixed(0)}`,
  });
  const doseTimes: number[] = [];
  for (let r = 0; r < 5; r++) {
    t0 = performance.now(); // clock-ok
    recommendDoses(twin, { targetAuc: [400, 600], intervals: [8, 12, 24], mic: 1 });
    doseTimes.push(performance.now() - t0); // clock-ok
  }
  out.push({ name: 'dose table (3 intervals × 16 doses × 400 draws)', value: median(doseTimes), unit: 'ms', note: 'median of 5' });

  const n = numberOption('--patients', 200);
  t0 = performance.now(); // clock-ok
  const v = runVancoValidation({ patients: n, seed: 7 });
  const seconds = (performance.now() - t0) / 1000; // clock-ok
  const row = (name: string, s: { n: number; mpe: number; rmse: number; mape: number }) =>
    out.push({ name, value: s.rmse, unit: '% RMSE', note: `bias (MPE) ${s.mpe.toFixed(1)} %, MAPE ${s.mape.toFixed(1)} %, n = ${s.n}` });
  row('next level vs measured: trough from the peak (Bayesian)', v.nextLevel.l2FromL1);
  row('next level vs measured: later trough from peak + trough (Bayesian)', v.nextLevel.l3FromL1L2);
  row('next level vs measured: later trough, Sawchuk–Zaske', v.nextLevel.l3SawchukZaske);
  row('next level vs measured: later trough, population prior', v.nextLevel.l3Population);
  row('next level vs true concentration: later trough (Bayesian)', v.nextLevelTrue.l3FromL1L2);
  row('next level vs true concentration: later trough, Sawchuk–Zaske', v.nextLevelTrue.l3SawchukZaske);
  row('AUC24: population prior (no level)', v.auc24.population);
  row('AUC24: one trough (Bayesian)', v.auc24.oneTrough);
  row('AUC24: peak + trough (Bayesian)', v.auc24.peakTrough);
  row('AUC24: peak + trough, Sawchuk–Zaske', v.auc24.sawchukZaske);
  out.push({
    name: 'validation run',
    value: seconds,
    unit: 's',
    note: `${n} patients; Sawchuk–Zaske failed on ${v.sawchukZaskeFailures} (trough ≥ peak after assay error)`,
  });

  // coverage of the 95 % predictive band of the later trough given peak + trough (posterior × residual)
  const m = numberOption('--coverage', 40);
  let inside = 0;
  for (let i = 0; i < m; i++) {
    const q = syntheticVancoPatient(7, i);
    const data: VancoFitData = { cov: q.cov, originMs: 0, doses: q.doses, levelTimes: q.times.slice(0, 2), levelConc: q.observed.slice(0, 2) };
    const post = await samplePosterior(data, { method: 'mcmc', seed: i });
    const [band] = predictLevels(q.cov, post.draws, { doses: q.doses.map((d) => ({ timeMs: d.timeH * H, amountMg: d.amountMg, durationH: d.durationH })) }, [
      q.times[2] * H,
    ]);
    const obs = q.observed[2] as number;
    if (band && obs >= band.lo && obs <= band.hi) inside++;
  }
  out.push({ name: '95 % band coverage of the later trough (replay)', value: (100 * inside) / m, unit: '%', note: `${m} patients` });
  return out;
}
