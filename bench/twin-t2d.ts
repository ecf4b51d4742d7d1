import { Rng } from '../engine/random.js';
import { selectFitWindow } from '../twinning/glucose/data-rules.js';
import { fitT2DTwin, T2D_FIT_DEFAULTS } from '../twinning/glucose-t2d/fit.js';
import { makeT2DLogPosterior, prepareT2DFitData } from '../twinning/glucose-t2d/likelihood.js';
import { t2dForecastAt, t2dForecastSeries, t2dLivingProfile } from '../twinning/glucose-t2d/replay.js';
import { syntheticT2DPerson } from '../twinning/glucose-t2d/synthetic.js';
import { formatResults } from './util.js';
import type { BenchResult } from './types.js';
import { median, numberOption } from './util.js';

/**
 * Personal type 2 diabetes twins (twinning/glucose-t2d): the cost of one log-posterior evaluation on
 * 14 days of CGM (wall and CPU), the whole `twin fit` of 14 days with the default MCMC on 2 workers
 * (wall, median of `--reps` runs, default 3; the target is < 60 s), the living profile's update
 * per reading, and forecast accuracy on synthetic T2D people (MAP twins on 5 days, 2 held-out days).
 *
 * Run: `npm run bench -- twin-t2d` (`--reps N`, `--people N` default 4, `--no-mcmc`). The development
 * machine is shared and loaded: wall times are inflated; CPU times are the steadier figure.
 */
const DAY = 86_400_000;

function cpuMs(f: () => void): number {
  const a = process.cpuUsage();
  f();
  const b = process.cpuUsage(a);
  return (b.user + b.system) / 1000;
}

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  const person = syntheticT2DPerson({ seed: 4242, index: 0, days: 14 });
  const w = selectFitWindow(person.dataset);
  const data = prepareT2DFitData(person.dataset, w.from, w.to, w.include, person.ctx);
  const logPost = makeT2DLogPosterior(data);
  const theta = Float64Array.from(data.priors.map((p) => p.mean));
  for (let i = 0; i < 20; i++) logPost(theta);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    cpu.push(
      cpuMs(() => {
        for (let i = 0; i < 20; i++) logPost(theta);
      }) / 20,
    );
    wall.push((performance.now() - t) / 20);
  }
  out.push({ name: `log posterior, 14 days of 5-min CGM (${data.n} slots), wall`, value: median(wall), unit: 'ms', note: `CPU ${median(cpu).toFixed(2)} ms` });
  if (!process.argv.includes('--no-mcmc')) {
    const reps = numberOption('--reps', 3);
    const times: number[] = [];
    const cpus: number[] = [];
    let note = '';
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      // process.cpuUsage covers every thread of the process, the sampler's worker threads included
      const c0 = process.cpuUsage();
      const twin = await fitT2DTwin(person.dataset, { method: 'mcmc', seed: 1, codeVersion: 'bench', workers: 2 });
      const c1 = process.cpuUsage(c0);
      times.push((performance.now() - t) / 1000);
      cpus.push((c1.user + c1.system) / 1e6);
      const d = twin.posterior.diagnostics;
      note = d
        ? `max R-hat ${Math.max(...d.rhat).toFixed(2)}, min ESS ${Math.min(...d.ess).toFixed(0)}, acceptance ${d.acceptance.toFixed(2)}, ok ${d.ok}; runs ${times.map((x) => x.toFixed(0)).join(', ')} s; CPU of all threads ${cpus.map((x) => x.toFixed(0)).join(', ')} s`
        : '';
    }
    out.push({
      name: `T2D twin fit, 14 days of CGM, MAP + MCMC (defaults: ${T2D_FIT_DEFAULTS.walkers} walkers × ${T2D_FIT_DEFAULTS.steps} steps) + calibration, 2 workers, wall (median of ${reps})`,
      value: median(times),
      unit: 's',
      note,
    });
  }
  // living profile: filter step + forecast per new reading
  const twin = await fitT2DTwin(person.dataset, { method: 'map', seed: 1, codeVersion: 'bench', untilMs: person.dataset.startMs + 5 * DAY });
  const filter = t2dLivingProfile(twin, person.dataset, 1, 5 * 288);
  filter.advanceTo(5 * 288);
  const root = Rng.fromSeed(1);
  const perUpdate: number[] = [];
  for (let k = 5 * 288; k < 6 * 288; k++) {
    const t = performance.now();
    filter.advanceTo(k + 1);
    t2dForecastAt(filter, [30, 60, 120], root.fork(`b/${k}`));
    perUpdate.push(performance.now() - t);
  }
  out.push({
    name: `living profile update per CGM reading (filter + 30/60/120-min forecast, ${twin.filter.particles} particles)`,
    value: median(perUpdate),
    unit: 'ms',
  });
  // accuracy: MAP twins on 5 days, 2 held-out days
  const people = numberOption('--people', 4);
  const H = [30, 60, 120];
  const acc = H.map(() => ({ se: 0, pe: 0, hit: 0, n: 0 }));
  for (let i = 0; i < people; i++) {
    const p = syntheticT2DPerson({ seed: 777, index: i, days: 7 });
    const until = p.dataset.startMs + 5 * DAY;
    const tw = await fitT2DTwin(p.dataset, { method: 'map', seed: i, codeVersion: 'bench', untilMs: until });
    const y = p.dataset.cgm;
    t2dForecastSeries(tw, p.dataset, until, H, 15, i, (r) => {
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
  H.forEach((h, j) => {
    const a = acc[j] as { se: number; pe: number; hit: number; n: number };
    out.push({
      name: `forecast RMSE at ${h} min, ${people} synthetic T2D people, 2 held-out days (persistence in note)`,
      value: Math.sqrt(a.se / a.n),
      unit: 'mg/dL',
      note: `persistence ${Math.sqrt(a.pe / a.n).toFixed(1)} mg/dL; 95 % band coverage ${((100 * a.hit) / a.n).toFixed(0)} %; n = ${a.n}`,
    });
  });
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then((r) => process.stdout.write(`${formatResults(r)}\n`));
}
