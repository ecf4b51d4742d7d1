import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { formatIsoTime } from '../../datasets/time.js';
import { importVancomycin, type VancomycinDataset, vancomycinToCsv } from '../../datasets/vancomycin.js';
import { TwinlabError } from '../../engine/errors.js';
import { sha256Hex } from '../../engine/hash.js';
import { codeVersion } from '../../experiments/code-version.js';
import { STORE_FILE, Store } from '../../experiments/store.js';
import { saveTwinRecord } from '../../experiments/twin-store.js';
import { recommendDoses } from '../../twinning/vancomycin/dose.js';
import { fitVancomycinTwin } from '../../twinning/vancomycin/fit.js';
import { makeCovariates } from '../../twinning/vancomycin/parameters.js';
import { replayVancomycin } from '../../twinning/vancomycin/replay.js';
import { parseVancoTwinFile, type VancoTwinFile, vancoTwinFileText } from '../../twinning/vancomycin/twin-file.js';
import { parseInteger, parseNumber } from '../program.js';

/**
 * The vancomycin branch of `twinlab twin` (twinning/vancomycin/README.md): `fit --twin vancomycin`,
 * `replay` of a vancomycin twin directory, and `dose`. Kept here so cli/commands/twin.ts only routes.
 */

/** Options `twin fit` adds for the vancomycin twin (covariates not in the file). */
export function addVancomycinFitOptions(cmd: Command): Command {
  return cmd
    .option('--age <years>', 'vancomycin: age in years (unless the FHIR Patient has birthDate)', parseNumber('--age', { min: 0 }))
    .addOption(new Option('--sex <F|M>', 'vancomycin: sex (unless the FHIR Patient has gender)').choices(['F', 'M', 'f', 'm']))
    .option('--scr <mg/dL>', 'vancomycin: serum creatinine in mg/dL (unless the file has LOINC 2160-0)', parseNumber('--scr', { min: 0 }))
    .option('--dialysis', 'vancomycin: the person is on haemodialysis (Goti covariate)')
    .option('--interval <hours>', 'vancomycin: dosing interval of the regimen when the file has one dose', parseNumber('--interval', { min: 0 }));
}

function readData(file: string, format?: string): VancomycinDataset {
  if (!existsSync(file)) throw new TwinlabError('NOT_FOUND', `--data: no file ${file}`, { field: 'data' });
  if (format !== undefined && format !== 'csv' && format !== 'fhir') {
    throw new TwinlabError('INVALID_ARGUMENT', `--format: the vancomycin twin reads csv or fhir, got ${format}`, { field: 'format' });
  }
  try {
    return importVancomycin(file, { format: format as 'csv' | 'fhir' | undefined });
  } catch (error) {
    if (error instanceof TwinlabError && error.code === 'INVALID_ARGUMENT')
      throw new TwinlabError(error.code, `${path.basename(file)}: ${error.message}`, error.details);
    throw error;
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/** True when DIR/twin.json is a vancomycin twin (read before the glucose schema would refuse it). */
export function isVancomycinTwinDir(dir: string): boolean {
  const file = path.join(dir, 'twin.json');
  if (!existsSync(file)) return false;
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { twin?: unknown };
    return raw.twin === 'vancomycin';
  } catch {
    return false;
  }
}

function loadVancoTwin(dir: string): VancoTwinFile {
  const file = path.join(dir, 'twin.json');
  if (!existsSync(file))
    throw new TwinlabError('NOT_FOUND', `--twin: no twin.json in ${path.resolve(dir)} (make one with twinlab twin fit --twin vancomycin)`, { field: 'twin' });
  return parseVancoTwinFile(readFileSync(file, 'utf8'), file);
}

function parameterIntervals(twin: VancoTwinFile): Record<string, { unit: string; map: number; mean: number; lo: number; hi: number }> {
  const out: Record<string, { unit: string; map: number; mean: number; lo: number; hi: number }> = {};
  for (const r of twin.posterior.summary) {
    if (['CL', 'V1', 'V2', 'Vss'].includes(r.name)) out[r.name] = { unit: r.unit, map: r.map, mean: r.mean, lo: r.q025, hi: r.q975 };
  }
  // V: the central volume (Goti's V1, the one scaled by body weight), under the name a one-volume reader expects
  if (out.V1) out.V = { ...out.V1 };
  return out;
}

export async function fitVancomycinCommand(o: Record<string, unknown>): Promise<void> {
  const dataset = readData(o.data as string, o.format as string | undefined);
  if (o.patientId !== undefined) dataset.patientId = o.patientId as string;
  const fc = dataset.covariates;
  const cov = makeCovariates({
    ageYears: (o.age as number | undefined) ?? fc.ageYears,
    sex: (o.sex as string | undefined) ?? fc.sex,
    bodyWeightKg: (o.bodyWeight as number | undefined) ?? fc.bodyWeightKg,
    scrMgDl: (o.scr as number | undefined) ?? fc.scrMgDl,
    dialysis: o.dialysis === true,
  });
  const started = performance.now(); // clock-ok: reporting only
  const twin = await fitVancomycinTwin(dataset, cov, {
    untilMs: o.until as number | undefined,
    method: (o.method as 'map' | 'mcmc' | undefined) ?? 'mcmc',
    seed: (o.seed as number | undefined) ?? 0,
    codeVersion: codeVersion(),
    walkers: o.walkers as number | undefined,
    steps: o.steps as number | undefined,
    burn: o.burn as number | undefined,
    intervalH: o.interval as number | undefined,
  });
  const out = o.out as string;
  mkdirSync(out, { recursive: true });
  const text = vancoTwinFileText(twin);
  writeAtomic(path.join(out, 'twin.json'), text);
  // the doses and levels beside twin.json, so the server (server/twins-vancomycin.ts) can draw the curve
  writeAtomic(path.join(out, 'data.csv'), vancomycinToCsv(dataset));
  const id = `twin-${sha256Hex(text).slice(0, 16)}`;
  const store = o.store as string | undefined;
  if (store !== undefined && existsSync(path.join(store, STORE_FILE))) {
    const s = Store.open(store);
    try {
      saveTwinRecord(s, {
        id,
        twin: 'vancomycin',
        datasetId: null,
        dir: path.resolve(out),
        fingerprint: twin.data.fingerprint,
        summary: { method: twin.method, patient: twin.patient.id, auc24: twin.auc24.mean, ok: twin.posterior.diagnostics?.ok ?? null },
      });
    } finally {
      s.close();
    }
  }
  const seconds = (performance.now() - started) / 1000; // clock-ok
  const parameters = parameterIntervals(twin);
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify({
        id,
        dir: path.resolve(out),
        seconds,
        twin: 'vancomycin',
        patient: twin.patient,
        covariates: twin.covariates,
        parameters,
        auc24: twin.auc24,
        trough: twin.trough,
        regimen: twin.regimen,
        map: twin.map,
        diagnostics: twin.posterior.diagnostics ?? null,
        data: twin.data,
        fit: twin.fit,
        warnings: dataset.warnings,
      })}\n`,
    );
    return;
  }
  const d = twin.posterior.diagnostics;
  const lines = [
    `twin ${id} → ${path.join(out, 'twin.json')} (vancomycin, ${twin.method}, ${seconds.toFixed(1)} s)`,
    `  patient ${twin.patient.id}: ${twin.covariates.ageYears} y, ${twin.covariates.sex}, ${twin.covariates.bodyWeightKg} kg, SCr ${twin.covariates.scrMgDl} mg/dL → CrCL ${twin.covariates.crclMlMin.toFixed(0)} mL/min${twin.covariates.dialysis ? ', dialysis' : ''}`,
    `  data: ${twin.data.doses} doses, ${twin.data.levelsUsed} of ${twin.data.levels} levels used`,
    ...twin.data.notes.map((n) => `  note: ${n}`),
    ...dataset.warnings.map((w) => `  warning: ${w}`),
    '  parameter      MAP      mean     95 % interval',
    ...Object.entries(parameters)
      .filter(([k]) => k !== 'V')
      .map(
        ([k, v]) =>
          `  ${`${k} (${v.unit})`.padEnd(12)} ${v.map.toPrecision(4).padStart(7)}  ${v.mean.toPrecision(4).padStart(7)}   [${v.lo.toPrecision(3)}, ${v.hi.toPrecision(3)}]`,
      ),
    `  regimen ${twin.regimen.amountMg} mg every ${twin.regimen.intervalH} h over ${twin.regimen.durationH} h (${twin.regimen.source}), steady state:`,
    `    AUC24 ${twin.auc24.mean.toFixed(0)} mg·h/L [${twin.auc24.lo.toFixed(0)}, ${twin.auc24.hi.toFixed(0)}], trough ${twin.trough.mean.toFixed(1)} mg/L [${twin.trough.lo.toFixed(1)}, ${twin.trough.hi.toFixed(1)}]`,
  ];
  if (d)
    lines.push(
      `  MCMC: acceptance ${d.acceptance.toFixed(2)}, max R-hat ${Math.max(...d.rhat).toFixed(3)}, min ESS ${Math.min(...d.ess).toFixed(0)}${d.ok ? '' : ' — diagnostics FAILED:'}`,
    );
  if (d && !d.ok) lines.push(...d.warnings.map((w) => `    warning: ${w}`));
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function replayVancomycinCommand(o: Record<string, unknown>): Promise<void> {
  const twin = loadVancoTwin(o.twin as string);
  const dataset = readData(o.data as string, o.format as string | undefined);
  const result = await replayVancomycin(twin, dataset, o.from as number);
  const iso = (ms: number) => formatIsoTime(ms, 0);
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify({
        from: iso(o.from as number),
        levelsUsed: result.levelsUsed,
        refitted: result.refitted,
        rows: result.rows.map((r) => ({ time: iso(r.timeMs), mean: r.mean, lo: r.lo, hi: r.hi, observed: r.observed })),
      })}\n`,
    );
    return;
  }
  const lines = o.csv ? ['time,mean_mg_l,lo_mg_l,hi_mg_l'] : [];
  for (const r of result.rows) {
    lines.push(
      o.csv
        ? `${iso(r.timeMs)},${r.mean.toFixed(2)},${r.lo.toFixed(2)},${r.hi.toFixed(2)}`
        : `${iso(r.timeMs)}  ${r.mean.toFixed(1).padStart(6)}  [${r.lo.toFixed(1)}, ${r.hi.toFixed(1)}] mg/L   (measured ${r.observed})`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  const note = `# conditioned on ${result.levelsUsed} level(s) at or before ${iso(o.from as number)}${result.refitted ? ' (posterior recomputed from the priors and covariates)' : ' (the twin’s stored posterior)'}`;
  (o.csv ? process.stderr : process.stdout).write(`${note}\n`);
}

function targetArg(value: string): [number, number] {
  const m = /^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$/.exec(value);
  if (m === null || !(Number(m[1]) > 0 && Number(m[2]) > Number(m[1])))
    throw new InvalidArgumentError(`--target-auc must be LOW-HIGH with 0 < LOW < HIGH (e.g. 400-600), got "${value}"`);
  return [Number(m[1]), Number(m[2])];
}

function intervalsArg(value: string): number[] {
  const xs = value.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !(Number.isFinite(x) && x > 0 && x <= 72)))
    throw new InvalidArgumentError(`--intervals must be comma-separated hours in (0, 72], got "${value}"`);
  return xs;
}

/** `twinlab twin dose`. */
export function registerVancomycinDose(twin: Command): void {
  twin
    .command('dose')
    .description('vancomycin: regimens ranked by the probability of AUC24/MIC in target (Rybak 2020), with a loading dose')
    .requiredOption('--twin <dir>', 'directory of a fitted vancomycin twin (twin.json)')
    .option('--target-auc <low-high>', 'target AUC24/MIC range', targetArg, [400, 600] as [number, number])
    .option('--intervals <hours>', 'dosing intervals to consider', intervalsArg, [8, 12, 24])
    .option('--mic <mg/L>', 'MIC of the isolate', parseNumber('--mic', { min: 0 }), 1)
    .option('--top <n>', 'regimens listed', parseInteger('--top', { min: 1, max: 1000 }), 10)
    .option('--json', 'print JSON')
    .action((o) => {
      const twinFile = loadVancoTwin(o.twin);
      const rec = recommendDoses(twinFile, { targetAuc: o.targetAuc, intervals: o.intervals, mic: o.mic, top: o.top });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(rec)}\n`);
        return;
      }
      const pct = (p: number) => `${(100 * p).toFixed(0)} %`.padStart(5);
      const lines = [
        `target AUC24/MIC ${rec.target.aucOverMic[0]}–${rec.target.aucOverMic[1]} (MIC ${rec.target.mic} mg/L → AUC24 ${rec.target.auc24[0]}–${rec.target.auc24[1]} mg·h/L)`,
        '  dose     every  infusion   AUC24 mean [95 %]        trough mean [95 %]     P(target)  P(AUC>600)',
        ...rec.regimens.map(
          (r) =>
            `  ${`${r.doseMg} mg`.padEnd(8)} q${String(r.intervalH).padEnd(4)} ${`${r.infusionH} h`.padEnd(9)} ${`${r.auc24.mean.toFixed(0)} [${r.auc24.lo.toFixed(0)}, ${r.auc24.hi.toFixed(0)}]`.padEnd(24)} ${`${r.trough.mean.toFixed(1)} [${r.trough.lo.toFixed(1)}, ${r.trough.hi.toFixed(1)}]`.padEnd(22)} ${pct(r.pTarget)}      ${pct(r.pAucAbove600)}`,
        ),
        `loading dose: ${rec.loadingDose.mg} mg (${rec.loadingDose.mgPerKg.toFixed(1)} mg/kg of ${rec.loadingDose.bodyWeightKg} kg; guideline range 20–35 mg/kg = ${rec.loadingDose.rangeMg[0]}–${rec.loadingDose.rangeMg[1]} mg, at most ${rec.loadingDose.capMg} mg)`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
