import { existsSync, mkdirSync, renameSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { importDataset } from '../../datasets/import.js';
import { formatIsoTime, parseIsoTime } from '../../datasets/time.js';
import type { DatasetFormat, GlucoseDataset } from '../../datasets/types.js';
import { TwinlabError } from '../../engine/errors.js';
import { sha256Hex } from '../../engine/hash.js';
import { codeVersion } from '../../experiments/code-version.js';
import { loadDataset } from '../../experiments/dataset-store.js';
import { DEFAULT_DATA_DIR, STORE_FILE, Store } from '../../experiments/store.js';
import { saveTwinRecord } from '../../experiments/twin-store.js';
import { FIT_DEFAULTS, fitGlucoseTwin } from '../../twinning/glucose/fit.js';
import { CARB_COUNT_SD } from '../../twinning/glucose/likelihood.js';
import { forecastSeries, replay } from '../../twinning/glucose/replay.js';
import { parseTherapy } from '../../twinning/glucose/therapy.js';
import { type GlucoseTwinFile, parseTwinFile, twinFileText } from '../../twinning/glucose/twin-file.js';
import { parseInteger, parseNumber } from '../program.js';
import { fitT2DCommand, forecastT2DCommand, isT2DTwinDir, loadT2DTwin, replayT2DCommand } from './twin-t2d.js';
import { addVancomycinFitOptions, fitVancomycinCommand, isVancomycinTwinDir, registerVancomycinDose, replayVancomycinCommand } from './twin-vancomycin.js';

/** `twinlab twin fit|forecast|replay`: personal digital twins fitted to one person's data (twinning/README.md). */

function isoArg(name: string) {
  return (value: string): number => {
    const t = parseIsoTime(value);
    if (typeof t === 'string') throw new InvalidArgumentError(`${name} ${t}, got "${value}"`);
    return t.ms;
  };
}

function horizonsArg(value: string): number[] {
  const hs = value.split(',').map((s) => Number(s.trim()));
  if (hs.length === 0 || hs.some((h) => !(Number.isInteger(h) && h > 0 && h % 5 === 0 && h <= 720))) {
    throw new InvalidArgumentError(`--horizons must be comma-separated minutes, multiples of 5 in 5–720, got "${value}"`);
  }
  return hs;
}

function iso(ms: number): string {
  return formatIsoTime(ms, 0);
}

function fixed(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '';
}

/**
 * The dataset behind `--data`: a file (imported in memory, not stored) or, when no such file
 * exists, a dataset id in the store of `--store`.
 */
function resolveDataset(
  data: string,
  options: { store?: string; format?: DatasetFormat; bodyWeight?: number; patientId?: string },
): { dataset: GlucoseDataset; datasetId: string | null } {
  if (existsSync(data)) {
    return { dataset: importDataset(data, { format: options.format, bodyWeightKg: options.bodyWeight, patientId: options.patientId }), datasetId: null };
  }
  const storeDir = options.store ?? DEFAULT_DATA_DIR;
  if (!existsSync(path.join(storeDir, STORE_FILE))) {
    throw new TwinlabError('NOT_FOUND', `--data: no file ${data}, and no store in ${path.resolve(storeDir)} to look it up as a dataset id (use --store DIR)`, {
      field: 'data',
    });
  }
  const store = Store.open(storeDir);
  try {
    const dataset = loadDataset(store, data);
    if (options.bodyWeight !== undefined) dataset.bodyWeightKg = options.bodyWeight;
    return { dataset, datasetId: data };
  } finally {
    store.close();
  }
}

function loadTwin(dir: string): GlucoseTwinFile {
  const file = path.join(dir, 'twin.json');
  if (!existsSync(file))
    throw new TwinlabError('NOT_FOUND', `--twin: no twin.json in ${path.resolve(dir)} (make one with twinlab twin fit)`, { field: 'twin' });
  return parseTwinFile(readFileSync(file, 'utf8'), file);
}

/** Write atomically: a reader sees the old file or the whole new one, never half of it. */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

export function registerTwinCommand(program: Command): void {
  const twin = program.command('twin').description('personal digital twins: fit to one person’s data, forecast, what-if replay');

  twin
    .command('fit')
    .description('identify a personal twin from a dataset (MAP, then optionally MCMC); writes DIR/twin.json')
    .requiredOption('--data <file|dataset-id>', 'a CSV / FHIR / Nightscout file, or a dataset id in the store')
    .addOption(new Option('--twin <twin>', 'which twin').choices(['glucose', 'glucose-t2d', 'vancomycin']).default('glucose'))
    .option('--body-weight <kg>', 'body weight in kg (required unless the data carries it)', parseNumber('--body-weight', { min: 10 }))
    .option('--until <time>', 'fit only data before this ISO 8601 time', isoArg('--until'))
    .addOption(new Option('--method <method>', 'map: the mode only; mcmc: the posterior').choices(['map', 'mcmc']).default('mcmc'))
    .addOption(new Option('--group <group>', 'population the priors come from').choices(['adult', 'adolescent', 'child']).default('adult'))
    .option('--seed <n>', 'seed of every random draw', parseInteger('--seed', { min: 0 }), 0)
    .option('--walkers <n>', `MCMC walkers (default ${FIT_DEFAULTS.walkers})`, parseInteger('--walkers', { min: 8, max: 512 }))
    .option('--steps <n>', `MCMC steps per walker (default ${FIT_DEFAULTS.steps})`, parseInteger('--steps', { min: 10, max: 1_000_000 }))
    .option('--burn <n>', `MCMC burn-in steps (default ${FIT_DEFAULTS.burn})`, parseInteger('--burn', { min: 0 }))
    .option('--workers <n>', `worker threads for MCMC (default ${FIT_DEFAULTS.workers})`, parseInteger('--workers', { min: 1, max: 64 }))
    .option(
      '--carb-count-sd <fraction>',
      `SD of the per-meal carb-counting error as a fraction of the logged grams (default ${CARB_COUNT_SD}; 0 for weighed meals)`,
      parseNumber('--carb-count-sd', { min: 0, max: 1 }),
    )
    .option('--meal-gi <gi>', 'glucose-t2d: glycaemic index of the logged meals (default 55)', parseNumber('--meal-gi', { min: 1, max: 150 }))
    .requiredOption('--out <dir>', 'directory for twin.json')
    .option('--store <dir>', 'store to look up dataset ids and record the twin in', DEFAULT_DATA_DIR)
    .addOption(new Option('--format <format>', 'input format of a file (default: inferred)').choices(['csv', 'fhir', 'nightscout']))
    .option('--patient-id <id>', 'patient id for a file without one')
    .option('--json', 'print the result as JSON')
    .action(async (o) => {
      if (o.twin === 'vancomycin') return fitVancomycinCommand(o);
      const { dataset, datasetId } = resolveDataset(o.data, o);
      if (o.twin === 'glucose-t2d') {
        if (o.group !== 'adult') throw new TwinlabError('INVALID_ARGUMENT', '--group: the type 2 twin has one population (adults); omit --group', { field: 'group' });
        return fitT2DCommand(o, dataset, datasetId);
      }
      if (o.mealGi !== undefined) throw new TwinlabError('INVALID_ARGUMENT', '--meal-gi applies to --twin glucose-t2d only', { field: 'meal-gi' });
      if (o.burn !== undefined && o.burn >= (o.steps ?? FIT_DEFAULTS.steps)) {
        throw new TwinlabError('INVALID_ARGUMENT', `--burn (${o.burn}) must be below --steps (${o.steps ?? FIT_DEFAULTS.steps})`, { field: 'burn' });
      }
      const started = performance.now(); // clock-ok: progress display only
      let lastPct = -1;
      const twinFile = await fitGlucoseTwin(dataset, {
        bodyWeightKg: o.bodyWeight,
        group: o.group,
        untilMs: o.until,
        method: o.method,
        seed: o.seed,
        codeVersion: codeVersion(),
        walkers: o.walkers,
        steps: o.steps,
        burn: o.burn,
        workers: o.workers,
        carbCountSd: o.carbCountSd,
        onProgress: (stage, done, total) => {
          if (o.json) return;
          const pct = Math.floor((100 * done) / Math.max(1, total));
          if (stage === 'mcmc' && pct === lastPct) return;
          lastPct = stage === 'mcmc' ? pct : -1;
          if (stage !== 'mcmc' || pct % 10 === 0) process.stderr.write(`${stage} ${done}/${total} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`); // clock-ok
        },
      });
      mkdirSync(o.out, { recursive: true });
      const text = twinFileText(twinFile);
      writeAtomic(path.join(o.out, 'twin.json'), text);
      const id = `twin-${sha256Hex(text).slice(0, 16)}`;
      if (existsSync(path.join(o.store, STORE_FILE))) {
        const store = Store.open(o.store);
        try {
          saveTwinRecord(store, {
            id,
            twin: 'glucose',
            datasetId,
            dir: path.resolve(o.out),
            fingerprint: twinFile.data.fingerprint,
            summary: { method: twinFile.method, patient: twinFile.patient.id, rmse: twinFile.fit.rmse, ok: twinFile.posterior.diagnostics?.ok ?? null },
          });
        } finally {
          store.close();
        }
      }
      const seconds = (performance.now() - started) / 1000; // clock-ok
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ id, dir: path.resolve(o.out), seconds, ...twinFile, posterior: { ...twinFile.posterior, draws: twinFile.posterior.draws.length } })}\n`,
        );
        return;
      }
      const lines = [
        `twin ${id} → ${path.join(o.out, 'twin.json')} (${twinFile.method}, ${seconds.toFixed(1)} s)`,
        `  patient ${twinFile.patient.id}, ${twinFile.patient.bodyWeightKg} kg; window ${twinFile.data.windowStart} → ${twinFile.data.windowEnd}, ${twinFile.data.usableReadings} readings`,
        ...twinFile.data.rules.map((r) => `  data rule: ${r}`),
        `  fit: RMSE ${twinFile.fit.rmse.toFixed(1)} mg/dL, MARD ${twinFile.fit.mard.toFixed(1)} %`,
        '  parameter                                   MAP      mean    90 % interval',
        ...twinFile.posterior.summary.map(
          (r) =>
            `  ${`${r.name} (${r.unit})`.padEnd(40)} ${r.map.toPrecision(4).padStart(8)}  ${r.mean.toPrecision(4).padStart(8)}  [${r.q05.toPrecision(4)}, ${r.q95.toPrecision(4)}]`,
        ),
      ];
      const d = twinFile.posterior.diagnostics;
      if (d)
        lines.push(
          `  MCMC: ${d.walkers} walkers × ${d.steps} steps (burn ${d.burn}), acceptance ${d.acceptance.toFixed(2)}, max R-hat ${Math.max(...d.rhat).toFixed(3)}, min ESS ${Math.min(...d.ess).toFixed(0)}${d.ok ? '' : ' — diagnostics FAILED:'}`,
        );
      if (d && !d.ok) lines.push(...d.warnings.map((w) => `    warning: ${w}`));
      lines.push(
        `  living profile: ${twinFile.filter.particles} particles, process noise ${twinFile.filter.processNoise.glucose} (calibrated: 60-min coverage ${twinFile.filter.calibration.map((c) => `${c.glucose}→${(100 * c.coverage60).toFixed(0)}%`).join(', ')})`,
      );
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  twin
    .command('forecast')
    .description('forecast CGM with 95 % bands at every origin from --from, using only data up to each origin')
    .requiredOption('--twin <dir>', 'directory of a fitted twin (twin.json)')
    .requiredOption('--data <file|dataset-id>', 'the person’s data (may continue the data the twin was fitted on)')
    .requiredOption('--from <time>', 'first forecast origin (ISO 8601)', isoArg('--from'))
    .option('--horizons <minutes>', 'forecast horizons in minutes', horizonsArg, [30, 60, 120])
    .option('--every <minutes>', 'minutes between origins (multiple of 5)', parseInteger('--every', { min: 5, max: 1440 }), 5)
    .option('--seed <n>', 'seed of the filter and forecast draws (default: the twin’s)', parseInteger('--seed', { min: 0 }))
    .option('--store <dir>', 'store to look up dataset ids', DEFAULT_DATA_DIR)
    .addOption(new Option('--format <format>', 'input format of a file (default: inferred)').choices(['csv', 'fhir', 'nightscout']))
    .option('--csv', 'CSV: origin,horizon_min,mean_mg_dl,lo_mg_dl,hi_mg_dl')
    .action((o) => {
      if (o.every % 5 !== 0) throw new TwinlabError('INVALID_ARGUMENT', `--every must be a multiple of 5 minutes, got ${o.every}`, { field: 'every' });
      if (isT2DTwinDir(o.twin)) {
        const t2d = loadT2DTwin(o.twin);
        return forecastT2DCommand(o, t2d, resolveDataset(o.data, { ...o, bodyWeight: t2d.patient.bodyWeightKg }).dataset);
      }
      const twinFile = loadTwin(o.twin);
      const { dataset } = resolveDataset(o.data, { ...o, bodyWeight: twinFile.patient.bodyWeightKg });
      const out: string[] = [o.csv ? 'origin,horizon_min,mean_mg_dl,lo_mg_dl,hi_mg_dl' : 'origin                 horizon    mean      95 % band'];
      const flush = () => {
        process.stdout.write(`${out.join('\n')}\n`);
        out.length = 0;
      };
      const warn = (m: string) => process.stderr.write(`twinlab: warning: ${m}\n`);
      forecastSeries(
        twinFile,
        dataset,
        o.from,
        o.horizons,
        o.every,
        o.seed ?? twinFile.seed,
        (r) => {
          out.push(
            o.csv
              ? `${iso(r.originMs)},${r.horizonMin},${fixed(r.mean)},${fixed(r.lo)},${fixed(r.hi)}`
              : `${iso(r.originMs)}  ${String(r.horizonMin).padStart(4)} min  ${fixed(r.mean).padStart(6)}  [${fixed(r.lo)}, ${fixed(r.hi)}] mg/dL`,
          );
          if (out.length >= 512) flush();
        },
        warn,
      );
      flush();
    });

  twin
    .command('replay')
    .description('what-if replay: the recorded (or changed) insulin and meals after --from, on the twin’s state at --from')
    .requiredOption('--twin <dir>', 'directory of a fitted twin (twin.json)')
    .requiredOption('--data <file|dataset-id>', 'the person’s data')
    .requiredOption('--from <time>', 'replay origin (ISO 8601); CGM after it is not used', isoArg('--from'))
    .option('--therapy <spec>', 'changes, e.g. carb-ratio=0.8,basal=1.1 (keys: basal, bolus, carb-ratio, carbs, meal-shift, drop-meals; glucose-t2d: carbs, gi, meal-shift, drop-meals)')
    .option(
      '--swap <time=food[:servings]>',
      'glucose-t2d: replace the meal logged at TIME with servings of a food of the table (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--seed <n>', 'seed of the filter draws (default: the twin’s)', parseInteger('--seed', { min: 0 }))
    .option('--store <dir>', 'store to look up dataset ids', DEFAULT_DATA_DIR)
    .addOption(new Option('--format <format>', 'input format of a file (default: inferred)').choices(['csv', 'fhir', 'nightscout']))
    .option('--csv', 'CSV: time,mean_mg_dl,lo_mg_dl,hi_mg_dl')
    .option('--json', 'JSON: rows and endpoints')
    .action(async (o) => {
      if (isVancomycinTwinDir(o.twin)) return replayVancomycinCommand(o);
      if (isT2DTwinDir(o.twin)) {
        const t2d = loadT2DTwin(o.twin);
        return replayT2DCommand(o, t2d, resolveDataset(o.data, { ...o, bodyWeight: t2d.patient.bodyWeightKg }).dataset);
      }
      if (o.swap !== undefined) throw new TwinlabError('INVALID_ARGUMENT', '--swap applies to type 2 twins (twin fit --twin glucose-t2d) only', { field: 'swap' });
      const therapy = parseTherapy(o.therapy);
      const twinFile = loadTwin(o.twin);
      const { dataset } = resolveDataset(o.data, { ...o, bodyWeight: twinFile.patient.bodyWeightKg });
      const result = replay(twinFile, dataset, o.from, therapy, o.seed ?? twinFile.seed, (m) => process.stderr.write(`twinlab: warning: ${m}\n`));
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ therapy, endpoints: result.endpoints, rows: result.rows.map((r) => ({ time: iso(r.timeMs), mean: r.mean, lo: r.lo, hi: r.hi })) })}\n`,
        );
        return;
      }
      const lines = o.csv ? ['time,mean_mg_dl,lo_mg_dl,hi_mg_dl'] : [];
      for (const r of result.rows)
        lines.push(
          o.csv
            ? `${iso(r.timeMs)},${fixed(r.mean)},${fixed(r.lo)},${fixed(r.hi)}`
            : `${iso(r.timeMs)}  ${fixed(r.mean).padStart(6)}  [${fixed(r.lo)}, ${fixed(r.hi)}] mg/dL`,
        );
      process.stdout.write(`${lines.join('\n')}\n`);
      const summary = Object.entries(result.endpoints).map(([k, v]) => `# ${k}: ${v.mean.toFixed(1)} ${v.unit} [${v.lo.toFixed(1)}, ${v.hi.toFixed(1)}]`);
      (o.csv ? process.stderr : process.stdout).write(`${summary.join('\n')}\n`);
    });

  const fit = twin.commands.find((c) => c.name() === 'fit');
  if (fit) addVancomycinFitOptions(fit);
  registerVancomycinDose(twin);
}
