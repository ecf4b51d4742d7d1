import { Rng } from '../engine/random.js';
import { selectFitWindow } from '../twinning/glucose/data-rules.js';
import { FIT_DEFAULTS, fitGlucoseTwin } from '../twinning/glucose/fit.js';
import { forecastAt, GlucoseProjector } from '../twinning/glucose/forecast.js';
import { makeLogPosterior, prepareFitData } from '../twinning/glucose/likelihood.js';
import { fitMap } from '../twinning/glucose/map.js';
import { forecastSeries, livingProfile } from '../twinning/glucose/replay.js';
import { syntheticPerson } from '../twinning/glucose/synthetic.js';
import { formatResults } from './util.js';
import type { BenchResult } from './types.js';
import { median, numberOption } from './util.js';

/**
 * Personal glucose twins (twinning/): time to fit 7 days of 5-min data (MAP on one core; MCMC with
 * the default settings on 2 workers, with its diagnostics), the cost of one log-posterior evaluation,
 * the living profile's update per new CGM reading (filter step + 30/60/120-min forecast), and the
 * accuracy of the twin on synthetic people: fit RMSE, forecast RMSE at 30/60/120 min against
 * persistence, and 95 % band coverage on two held-out days.
 *
 * Run: `npm run bench -- twin-glucose` (`--people N` for the accuracy set, default 5; `--no-mcmc`).
 */
const DAY = 86_400_000;

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  // 1. cost of the model and of MAP on 7 days
  const person = syntheticPerson({ seed: 4242, index: 0, days: 7 });
  const w = selectFitWindow(person.dataset);
  const data = prepareFitData(person.dataset, w.from, w.to, w.include, person.ctx);
  const logPost = makeLogPosterior(data);
  const theta = Float64Array.from(data.priors.map((p) => p.mean));
  for (let i = 0; i < 20; i++) logPost(theta);
  const evals: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < 20; i++) logPost(theta);
    evals.push((performance.now() - t) / 20);
  }
  out.push({ name: 'log posterior, 7 days of 5-min data (2,016 readings)', value: median(evals), unit: 'ms' });
  const mapTimes: number[] = [];
  let evaluations = 0;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    evaluations = fitMap(data, { seed: r }).evaluations;
    mapTimes.push((performance.now() - t) / 1000);
  }
  out.push({
    name: 'MAP fit, 7 days, one core (3 starts screened, 2 rounds on the best)',
    value: median(mapTimes),
    unit: 's',
    note: `${evaluations} model evaluations`,
  });
  // 2. MCMC with the defaults on 2 workers
  if (!process.argv.includes('--no-mcmc')) {
    const t = performance.now();
    const cpu0 = process.cpuUsage();
    const twin = await fitGlucoseTwin(person.dataset, { method: 'mcmc', seed: 1, codeVersion: 'bench', workers: 2 });
    const cpu = process.cpuUsage(cpu0);
    const d = twin.posterior.diagnostics;
    out.push({
      name: `fit with MCMC (defaults: ${FIT_DEFAULTS.walkers} walkers × ${FIT_DEFAULTS.steps} steps, ${FIT_DEFAULTS.burn} burn-in, 2 workers), 7 days, wall`,
      value: (performance.now() - t) / 1000,
      unit: 's',
      note: `${d ? `max R-hat ${Math.max(...d.rhat).toFixed(3)}, min ESS ${Math.min(...d.ess).toFixed(0)}, acceptance ${d.acceptance.toFixed(2)}, ok ${d.ok}; ` : ''}CPU of all threads ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`,
    });
  }
  // 3. living profile: filter step + forecast per new reading
  const twin = await fitGlucoseTwin(person.dataset, { method: 'map', seed: 1, codeVersion: 'bench', untilMs: person.dataset.startMs + 5 * DAY });
  const filter = livingProfile(twin, person.dataset, 1, 5 * 288);
  filter.advanceTo(5 * 288);
  const projector = new GlucoseProjector();
  const root = Rng.fromSeed(1);
  const perUpdate: number[] = [];
  for (let k = 5 * 288; k < 6 * 288; k++) {
    const t = performance.now();
    filter.advanceTo(k + 1);
    forecastAt(filter, projector, [30, 60, 120], root.fork(`b/${k}`));
    perUpdate.push(performance.now() - t);
  }
  out.push({
    name: `living profile update per CGM reading (filter + 30/60/120-min forecast, ${twin.filter.particles} particles)`,
    value: median(perUpdate),
    unit: 'ms',
  });
  // 4. accuracy on synthetic people: fit on 5 days (MAP), forecast the 2 held-out days
  const people = numberOption('--people', 5);
  const H = [30, 60, 120];
  const acc = H.map(() => ({ se: 0, pe: 0, hit: 0, n: 0 }));
  let fitSe = 0;
  let fitN = 0;
  for (let i = 0; i < people; i++) {
    const p = syntheticPerson({ seed: 777, index: i, days: 7 });
    const until = p.dataset.startMs + 5 * DAY;
    const tw = await fitGlucoseTwin(p.dataset, { method: 'map', seed: i, codeVersion: 'bench', untilMs: until });
    fitSe += tw.fit.rmse ** 2 * tw.fit.readings;
    fitN += tw.fit.readings;
    const y = p.dataset.cgm;
    forecastSeries(tw, p.dataset, until, H, 15, i, (r) => {
      const k = (r.originMs - p.dataset.startMs) / 300_000;
      const target = k + r.horizonMin / 5;
      if (!(target < y.length) || !Number.isFinite(y[target] as number)) return;
      const a = acc[H.indexOf(r.horizonMin)] as { se: number; pe: number; hit: number; n: number };
      a.se += (r.mean - (y[target] as number)) ** 2;
      a.pe += ((y[k] as number) - (y[target] as number)) ** 2;
      a.hit += (y[target] as number) >= r.lo && (y[target] as number) <= r.hi ? 1 : 0;
      a.n++;
    });
  }
  out.push({ name: `fit RMSE (MAP trajectory vs CGM), ${people} synthetic people × 5 days`, value: Math.sqrt(fitSe / fitN), unit: 'mg/dL' });
  H.forEach((h, j) => {
    const a = acc[j] as { se: number; pe: number; hit: number; n: number };
    out.push({
      name: `forecast RMSE at ${h} min, held-out days (persistence in note)`,
      value: Math.sqrt(a.se / a.n),
      unit: 'mg/dL',
      note: `persistence ${Math.sqrt(a.pe / a.n).toFixed(1)} mg/dL, n = ${a.n}`,
    });
    out.push({ name: `95 % band coverage at ${h} min, held-out days`, value: (100 * a.hit) / a.n, unit: '%' });
  });
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then((r) => process.stdout.write(`${formatResults(r)}\n`));
}
