import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatIsoTime, parseIsoTime } from '../../datasets/time.js';
import type { GlucoseDataset } from '../../datasets/types.js';
import { TwinlabError } from '../../engine/errors.js';
import { sha256Hex } from '../../engine/hash.js';
import { codeVersion } from '../../experiments/code-version.js';
import { STORE_FILE, Store } from '../../experiments/store.js';
import { saveTwinRecord } from '../../experiments/twin-store.js';
import { fitT2DTwin, T2D_FIT_DEFAULTS } from '../../twinning/glucose-t2d/fit.js';
import { t2dForecastSeries, t2dReplay } from '../../twinning/glucose-t2d/replay.js';
import { parseSwap, parseT2DTherapy } from '../../twinning/glucose-t2d/therapy.js';
import { parseT2DTwinFile, type T2DTwinFile, t2dTwinFileText } from '../../twinning/glucose-t2d/twin-file.js';

/**
 * The type 2 diabetes branch of `twinlab twin` (twinning/README.md "Type 2 diabetes"): `fit --twin
 * glucose-t2d`, and `forecast` / `replay` of a directory whose twin.json is a type 2 twin. cli/commands/
 * twin.ts resolves `--data` and routes here.
 */

export const T2D_TWIN = 'glucose-t2d';

function iso(ms: number): string {
  return formatIsoTime(ms, 0);
}

function fixed(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '';
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/** True when DIR/twin.json is a type 2 twin (read before the type 1 schema would refuse it). */
export function isT2DTwinDir(dir: string): boolean {
  const file = path.join(dir, 'twin.json');
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { twin?: unknown }).twin === T2D_TWIN;
  } catch {
    return false;
  }
}

export function loadT2DTwin(dir: string): T2DTwinFile {
  const file = path.join(dir, 'twin.json');
  if (!existsSync(file))
    throw new TwinlabError('NOT_FOUND', `--twin: no twin.json in ${path.resolve(dir)} (make one with twinlab twin fit --twin glucose-t2d)`, { field: 'twin' });
  return parseT2DTwinFile(readFileSync(file, 'utf8'), file);
}

export async function fitT2DCommand(o: Record<string, unknown>, dataset: GlucoseDataset, datasetId: string | null): Promise<void> {
  const steps = (o.steps as number | undefined) ?? T2D_FIT_DEFAULTS.steps;
  if (o.burn !== undefined && (o.burn as number) >= steps) {
    throw new TwinlabError('INVALID_ARGUMENT', `--burn (${o.burn}) must be below --steps (${steps})`, { field: 'burn' });
  }
  const started = performance.now(); // clock-ok: progress display only
  let lastPct = -1;
  const twin = await fitT2DTwin(dataset, {
    bodyWeightKg: o.bodyWeight as number | undefined,
    untilMs: o.until as number | undefined,
    method: (o.method as 'map' | 'mcmc' | undefined) ?? 'mcmc',
    seed: (o.seed as number | undefined) ?? 0,
    codeVersion: codeVersion(),
    walkers: o.walkers as number | undefined,
    steps: o.steps as number | undefined,
    burn: o.burn as number | undefined,
    workers: o.workers as number | undefined,
    carbCountSd: o.carbCountSd as number | undefined,
    mealGi: o.mealGi as number | undefined,
    onProgress: (stage, done, total) => {
      if (o.json) return;
      const pct = Math.floor((100 * done) / Math.max(1, total));
      if (stage === 'mcmc' && pct === lastPct) return;
      lastPct = stage === 'mcmc' ? pct : -1;
      if (stage !== 'mcmc' || pct % 10 === 0) process.stderr.write(`${stage} ${done}/${total} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`); // clock-ok
    },
  });
  const out = o.out as string;
  mkdirSync(out, { recursive: true });
  const text = t2dTwinFileText(twin);
  writeAtomic(path.join(out, 'twin.json'), text);
  const id = `twin-${sha256Hex(text).slice(0, 16)}`;
  const store = o.store as string;
  if (existsSync(path.join(store, STORE_FILE))) {
    const s = Store.open(store);
    try {
      saveTwinRecord(s, {
        id,
        twin: T2D_TWIN,
        datasetId,
        dir: path.resolve(out),
        fingerprint: twin.data.fingerprint,
        summary: { method: twin.method, patient: twin.patient.id, rmse: twin.fit.rmse, ok: twin.posterior.diagnostics?.ok ?? null },
      });
    } finally {
      s.close();
    }
  }
  const seconds = (performance.now() - started) / 1000; // clock-ok
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify({ id, dir: path.resolve(out), seconds, ...twin, posterior: { ...twin.posterior, draws: twin.posterior.draws.length } })}\n`,
    );
    return;
  }
  const d = twin.posterior.diagnostics;
  const lines = [
    `twin ${id} → ${path.join(out, 'twin.json')} (glucose-t2d, ${twin.method}, ${seconds.toFixed(1)} s)`,
    `  patient ${twin.patient.id}, ${twin.patient.bodyWeightKg} kg; logged meals at GI ${twin.context.mealGi}; window ${twin.data.windowStart} → ${twin.data.windowEnd}, ${twin.data.usableReadings} readings`,
    ...twin.data.rules.map((r) => `  data rule: ${r}`),
    `  fit: RMSE ${twin.fit.rmse.toFixed(1)} mg/dL, MARD ${twin.fit.mard.toFixed(1)} %`,
    '  parameter                                   MAP      mean    90 % interval',
    ...twin.posterior.summary.map(
      (r) =>
        `  ${`${r.name} (${r.unit})`.padEnd(40)} ${r.map.toPrecision(4).padStart(8)}  ${r.mean.toPrecision(4).padStart(8)}  [${r.q05.toPrecision(4)}, ${r.q95.toPrecision(4)}]`,
    ),
  ];
  if (d)
    lines.push(
      `  MCMC: ${d.walkers} walkers × ${d.steps} steps (burn ${d.burn}), acceptance ${d.acceptance.toFixed(2)}, max R-hat ${Math.max(...d.rhat).toFixed(3)}, min ESS ${Math.min(...d.ess).toFixed(0)}${d.ok ? '' : ' — diagnostics FAILED:'}`,
      ...(d.ok ? [] : d.warnings.map((w) => `    warning: ${w}`)),
    );
  lines.push(
    `  living profile: ${twin.filter.particles} particles, process noise ${twin.filter.processNoise.glucose} (calibrated: 60-min coverage ${twin.filter.calibration.map((c) => `${c.glucose}→${(100 * c.coverage60).toFixed(0)}%`).join(', ')})`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function forecastT2DCommand(o: Record<string, unknown>, twin: T2DTwinFile, dataset: GlucoseDataset): void {
  const csv = o.csv === true;
  const out: string[] = [csv ? 'origin,horizon_min,mean_mg_dl,lo_mg_dl,hi_mg_dl' : 'origin                 horizon    mean      95 % band'];
  const flush = () => {
    process.stdout.write(`${out.join('\n')}\n`);
    out.length = 0;
  };
  t2dForecastSeries(
    twin,
    dataset,
    o.from as number,
    o.horizons as number[],
    o.every as number,
    (o.seed as number | undefined) ?? twin.seed,
    (r) => {
      out.push(
        csv
          ? `${iso(r.originMs)},${r.horizonMin},${fixed(r.mean)},${fixed(r.lo)},${fixed(r.hi)}`
          : `${iso(r.originMs)}  ${String(r.horizonMin).padStart(4)} min  ${fixed(r.mean).padStart(6)}  [${fixed(r.lo)}, ${fixed(r.hi)}] mg/dL`,
      );
      if (out.length >= 512) flush();
    },
    (m) => process.stderr.write(`twinlab: warning: ${m}\n`),
  );
  flush();
}

export function replayT2DCommand(o: Record<string, unknown>, twin: T2DTwinFile, dataset: GlucoseDataset): void {
  const { therapy, gi } = parseT2DTherapy(o.therapy as string | undefined);
  const swaps = ((o.swap as string[] | undefined) ?? []).map((s) =>
    parseSwap(s, (text) => {
      const t = parseIsoTime(text);
      return typeof t === 'string' ? t : t.ms;
    }),
  );
  const whatIf = { therapy, ...(gi === undefined ? {} : { gi }), swaps };
  const result = t2dReplay(twin, dataset, o.from as number, whatIf, (o.seed as number | undefined) ?? twin.seed, (m) =>
    process.stderr.write(`twinlab: warning: ${m}\n`),
  );
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify({ whatIf, endpoints: result.endpoints, rows: result.rows.map((r) => ({ time: iso(r.timeMs), mean: r.mean, lo: r.lo, hi: r.hi })) })}\n`,
    );
    return;
  }
  const csv = o.csv === true;
  const lines = csv ? ['time,mean_mg_dl,lo_mg_dl,hi_mg_dl'] : [];
  for (const r of result.rows)
    lines.push(
      csv
        ? `${iso(r.timeMs)},${fixed(r.mean)},${fixed(r.lo)},${fixed(r.hi)}`
        : `${iso(r.timeMs)}  ${fixed(r.mean).padStart(6)}  [${fixed(r.lo)}, ${fixed(r.hi)}] mg/dL`,
    );
  process.stdout.write(`${lines.join('\n')}\n`);
  const summary = Object.entries(result.endpoints).map(([k, v]) => `# ${k}: ${v.mean.toFixed(1)} ${v.unit} [${v.lo.toFixed(1)}, ${v.hi.toFixed(1)}]`);
  (csv ? process.stderr : process.stdout).write(`${summary.join('\n')}\n`);
}
