import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { datasetToCsv } from '../../datasets/csv.js';
import type { DatasetFormat } from '../../datasets/types.js';
import { TwinlabError } from '../../engine/errors.js';
import { type DatasetRecord, getDatasetRecord, importDatasetIntoStore, listDatasets, loadDataset } from '../../experiments/dataset-store.js';
import { Store } from '../../experiments/store.js';
import { parseNumber } from '../program.js';
import { addDataOption, openExistingStore } from './run.js';

/** `twinlab data import|ls|show`: patient data (CGM, insulin, meals) for personal twins. */
function inRange(name: string, min: number, max: number, unit: string) {
  const parse = parseNumber(name);
  return (value: string): number => {
    const n = parse(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be in ${min}–${max} ${unit}, got "${value}"`);
    return n;
  };
}

function patientIdArg(value: string): string {
  if (value.trim() === '' || value.length > 128) throw new InvalidArgumentError(`--patient-id must be 1–128 characters, got "${value}"`);
  return value;
}

function printRecord(record: DatasetRecord, created: boolean | undefined, rows?: number): void {
  const s = record.summary;
  const p = record.provenance;
  const out = [
    `${created === undefined ? 'dataset' : created ? 'imported' : 'already stored:'} ${record.id}`,
    `  patient      ${record.patientId}${p?.deidentified ? ' (de-identified)' : ''}`,
    `  span         ${s.start} → ${s.end} (${s.days} days, ${s.slots} slots of 5 min)`,
    `  rows         ${rows ?? p?.records ?? '?'}${p ? ` (${p.format}${p.fileName ? `, ${p.fileName}` : ''})` : ''}`,
    `  missing CGM  ${s.missingCgmPercent} %`,
    `  totals       bolus ${s.totalBolusU} U, carbs ${s.totalCarbsG} g, basal ${s.basalUPerDay} U/day${s.meanCgmMgdl === null ? '' : `, mean CGM ${s.meanCgmMgdl} mg/dL`}`,
    `  warnings     ${record.warnings.length}`,
    ...record.warnings.map((w) => `    - ${w}`),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

export function registerDataCommand(program: Command): void {
  const data = program.command('data').description('patient datasets (CGM, insulin, meals) for personal twins');

  addDataOption(
    data
      .command('import')
      .description('import a CSV, FHIR R4 Bundle or Nightscout export into the store (see datasets/README.md)')
      .argument('<file>', 'the file; for Nightscout a directory with entries.json (+ treatments.json), or entries.json with --treatments')
      .addOption(new Option('--format <format>', 'input format (default: from the extension and content)').choices(['csv', 'fhir', 'nightscout']))
      .option('--patient-id <id>', 'patient id (overrides the one in the file)', patientIdArg)
      .option('--body-weight <kg>', 'body weight in kg', inRange('--body-weight', 1, 400, 'kg'))
      .option('--basal <u_per_h>', 'Nightscout: scheduled basal rate in U/h outside temporary basals', inRange('--basal', 0, 30, 'U/h'))
      .option('--treatments <file>', 'Nightscout: treatments.json (when <file> is entries.json)')
      .option('--deidentify', 'random patient id and a random whole-day date shift (neither is kept)')
      .option('--json', 'print JSON'),
  ).action(
    (
      file: string,
      options: {
        data: string;
        format?: DatasetFormat;
        patientId?: string;
        bodyWeight?: number;
        basal?: number;
        treatments?: string;
        deidentify?: boolean;
        json?: boolean;
      },
    ) => {
      const store = Store.open(options.data);
      try {
        let result: ReturnType<typeof importDatasetIntoStore>;
        try {
          result = importDatasetIntoStore(store, file, {
            format: options.format,
            patientId: options.patientId,
            bodyWeightKg: options.bodyWeight,
            basalUPerH: options.basal,
            treatments: options.treatments,
            deidentify: options.deidentify,
          });
        } catch (error) {
          if (error instanceof TwinlabError) throw new TwinlabError(error.code, `${path.basename(file)}: ${error.message}`, error.details);
          throw error;
        }
        const { record, dataset } = result;
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ ...record, rows: dataset.provenance?.records })}\n`);
          return;
        }
        printRecord(record, record.created, dataset.provenance?.records);
      } finally {
        store.close();
      }
    },
  );

  addDataOption(data.command('ls').description('list stored datasets (newest first)').option('--json', 'print JSON')).action(
    (options: { data: string; json?: boolean }) => {
      const store = openExistingStore(options.data);
      try {
        const rows = listDatasets(store);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        if (rows.length === 0) process.stdout.write('no datasets\n');
        for (const r of rows) {
          process.stdout.write(
            `${r.id}  ${r.patientId.padEnd(24)} ${r.summary.start} ${String(r.summary.days).padStart(7)} d  ${String(r.summary.missingCgmPercent).padStart(6)} % missing  ${r.provenance?.format ?? ''}\n`,
          );
        }
      } finally {
        store.close();
      }
    },
  );

  addDataOption(
    data
      .command('show')
      .description('a stored dataset: summary and warnings, or its data as CSV')
      .argument('<id>', 'dataset id (ds-…)')
      .option('--csv', 'print the dataset as CSV (the import format)')
      .option('--json', 'print JSON'),
  ).action((id: string, options: { data: string; csv?: boolean; json?: boolean }) => {
    const store = openExistingStore(options.data);
    try {
      const record = getDatasetRecord(store, id);
      if (record === undefined) throw new TwinlabError('NOT_FOUND', `no dataset "${id}" (twinlab data ls lists them)`);
      if (options.csv) process.stdout.write(datasetToCsv(loadDataset(store, id)));
      else if (options.json) process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
      else printRecord(record, undefined);
    } finally {
      store.close();
    }
  });
}
