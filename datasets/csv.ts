import { TwinlabError } from '../engine/errors.js';
import { checkCgmUnits, emptyRecords, type Findings, inputError, MGDL_PER_MMOLL, type Records, type SourceRef } from './grid.js';
import { formatIsoTime, formatOffset, parseIsoTime } from './time.js';
import { datasetLength, type GlucoseDataset, slotTimeMs } from './types.js';

/**
 * The CSV format: header `time,cgm_mg_dl,basal_u_per_h,bolus_u,carbs_g` (`cgm_mmol_l` instead of
 * `cgm_mg_dl` is accepted). The row at time T holds the CGM reading at T (empty = missing), the basal
 * rate in effect from T on (empty = unchanged), and the bolus units and carbohydrate grams logged
 * during [T, T + 5 min) (empty = 0). Line numbers in messages are 1-based with the header as line 1.
 */
export const CSV_COLUMNS = ['time', 'cgm_mg_dl', 'basal_u_per_h', 'bolus_u', 'carbs_g'] as const;
const CGM_MMOL = 'cgm_mmol_l';
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

interface Row {
  line: number;
  timeMs: number;
  offsetMin: number;
  values: Record<'cgm' | 'basal' | 'bolus' | 'carbs', number | undefined>;
}

/** The cells of one CSV line, trimmed, with surrounding double quotes removed (no quoted commas). */
export function splitCells(line: string): string[] {
  return line.split(',').map((cell) => {
    const t = cell.trim();
    return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).trim() : t;
  });
}

export interface ParsedSource {
  records: Records;
  /** Source records read. */
  count: number;
  utcOffsetMin?: number;
  patientId?: string;
  bodyWeightKg?: number;
}

/** A CSV file's lines (BOM and trailing blank lines removed) and its header: lower-cased names → column index. */
export interface CsvTable {
  lines: string[];
  header: string[];
  column: Map<string, number>;
  headerRef: SourceRef;
}

/** Splits a CSV text into lines and reads its header; an empty file or a repeated column names line 1. */
export function readCsvTable(text: string): CsvTable {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  while (lines.length > 0 && (lines[lines.length - 1] as string).trim() === '') lines.pop();
  if (lines.length === 0) throw new TwinlabError('INVALID_ARGUMENT', 'line 1, header: the file is empty', { row: 1, field: 'header' });
  const header = splitCells(lines[0] as string).map((h) => h.toLowerCase());
  const headerRef: SourceRef = { label: 'line 1', at: { row: 1 } };
  const column = new Map<string, number>();
  header.forEach((name, i) => {
    if (column.has(name)) throw inputError(headerRef, name, 'the column appears twice');
    column.set(name, i);
  });
  return { lines, header, column, headerRef };
}

export function parseCsv(text: string, findings: Findings): ParsedSource {
  const { lines, header, column, headerRef } = readCsvTable(text);
  const mmol = column.has(CGM_MMOL);
  if (mmol && column.has('cgm_mg_dl')) throw inputError(headerRef, CGM_MMOL, 'give either cgm_mg_dl or cgm_mmol_l, not both');
  const cgmField = mmol ? CGM_MMOL : 'cgm_mg_dl';
  for (const name of CSV_COLUMNS) {
    const wanted = name === 'cgm_mg_dl' ? cgmField : name;
    if (!column.has(wanted)) {
      throw inputError(headerRef, wanted, `missing column${name === 'cgm_mg_dl' ? ' (or cgm_mmol_l)' : ''}; the header must be ${CSV_COLUMNS.join(',')}`);
    }
  }
  for (const name of header) {
    if (!(CSV_COLUMNS as readonly string[]).includes(name) && name !== CGM_MMOL) findings.add('column', `line 1, ${name || '(empty)'}: unknown column ignored`);
  }
  const fieldOf = { cgm: cgmField, basal: 'basal_u_per_h', bolus: 'bolus_u', carbs: 'carbs_g' } as const;

  const rows: Row[] = [];
  let firstOffset: { offsetMin: number; line: number } | undefined;
  let latest: Row | undefined;
  for (let i = 1; i < lines.length; i++) {
    const text = lines[i] as string;
    const line = i + 1;
    if (text.trim() === '') continue;
    const ref: SourceRef = { label: `line ${line}`, at: { row: line } };
    const cells = splitCells(text);
    if (cells.length < header.length)
      throw inputError(ref, header[cells.length] as string, `missing cell (the row has ${cells.length} cells, the header ${header.length})`);
    if (cells.length > header.length) throw inputError(ref, 'row', `the row has ${cells.length} cells, the header ${header.length}`);
    const timeCell = cells[column.get('time') as number] as string;
    if (timeCell === '') throw inputError(ref, 'time', 'empty');
    const time = parseIsoTime(timeCell);
    if (typeof time === 'string') throw inputError(ref, 'time', `${JSON.stringify(timeCell)} ${time}`);
    const values = {} as Row['values'];
    for (const key of ['cgm', 'basal', 'bolus', 'carbs'] as const) {
      const cell = cells[column.get(fieldOf[key]) as number] as string;
      if (cell === '') {
        values[key] = undefined;
        continue;
      }
      if (!NUMBER.test(cell)) throw inputError(ref, fieldOf[key], `${JSON.stringify(cell)} is not a number`);
      values[key] = Number(cell);
    }
    const row: Row = { line, timeMs: time.ms, offsetMin: time.offsetMin, values };
    if (firstOffset === undefined) firstOffset = { offsetMin: time.offsetMin, line };
    else if (time.offsetMin !== firstOffset.offsetMin) {
      findings.add(
        'zone',
        `line ${line}, time: offset ${formatOffset(time.offsetMin)} differs from ${formatOffset(firstOffset.offsetMin)} (line ${firstOffset.line}); times are converted to UTC`,
      );
    }
    if (latest !== undefined && row.timeMs < latest.timeMs) {
      findings.add('order', `line ${line}, time: earlier than line ${latest.line}; rows are sorted by time`);
    }
    if (latest === undefined || row.timeMs >= latest.timeMs) latest = row;
    rows.push(row);
  }
  if (rows.length === 0) throw new TwinlabError('INVALID_ARGUMENT', 'line 2, time: the file has a header but no data rows', { row: 2, field: 'time' });

  const sorted = rows.map((r, i) => ({ r, i })).sort((a, b) => a.r.timeMs - b.r.timeMs || a.i - b.i);
  const unique: Row[] = [];
  for (const { r } of sorted) {
    const prev = unique[unique.length - 1];
    if (prev !== undefined && prev.timeMs === r.timeMs) {
      const differing = (['cgm', 'basal', 'bolus', 'carbs'] as const).find((k) => prev.values[k] !== r.values[k]);
      const ref: SourceRef = { label: `line ${r.line}`, at: { row: r.line } };
      if (differing !== undefined) {
        throw inputError(
          ref,
          fieldOf[differing],
          `same time as line ${prev.line} with a different value (${r.values[differing] ?? 'empty'} vs ${prev.values[differing] ?? 'empty'})`,
          { otherRow: prev.line },
        );
      }
      findings.add('duplicate', `line ${r.line}, time: repeats line ${prev.line} (same time and values); dropped`);
      continue;
    }
    unique.push(r);
  }

  const cgmValues = unique
    .filter((r) => r.values.cgm !== undefined)
    .map((r) => ({ value: r.values.cgm as number, ref: { label: `line ${r.line}`, at: { row: r.line } } }));
  checkCgmUnits(cgmValues, mmol ? 'mmol/L' : 'mg/dL', cgmField, mmol ? 'cgm_mg_dl' : 'cgm_mmol_l');

  const records = emptyRecords();
  for (const r of unique) {
    const ref: SourceRef = { label: `line ${r.line}`, at: { row: r.line } };
    const { cgm, basal, bolus, carbs } = r.values;
    records.marks.push({ timeMs: r.timeMs, ref });
    if (cgm !== undefined) {
      records.cgm.push(
        mmol
          ? { timeMs: r.timeMs, mgdl: cgm * MGDL_PER_MMOLL, ref, field: cgmField, shown: `${cgm} mmol/L` }
          : { timeMs: r.timeMs, mgdl: cgm, ref, field: cgmField },
      );
    }
    if (basal !== undefined) records.basal.push({ startMs: r.timeMs, rate: basal, ref, field: fieldOf.basal });
    if (bolus !== undefined) records.bolus.push({ timeMs: r.timeMs, amount: bolus, ref, field: fieldOf.bolus });
    if (carbs !== undefined) records.carbs.push({ timeMs: r.timeMs, amount: carbs, ref, field: fieldOf.carbs });
  }
  return { records, count: rows.length, utcOffsetMin: firstOffset?.offsetMin };
}

/**
 * The dataset as CSV, one row per slot, times written with the dataset's UTC offset. Numbers are
 * written in JavaScript's shortest round-trip form, so importing the text gives the same arrays.
 */
export function datasetToCsv(dataset: GlucoseDataset): string {
  const out: string[] = [CSV_COLUMNS.join(',')];
  const num = (v: number) => (Number.isNaN(v) ? '' : String(v));
  for (let k = 0; k < datasetLength(dataset); k++) {
    out.push(
      [
        formatIsoTime(slotTimeMs(dataset, k), dataset.utcOffsetMin ?? 0),
        num(dataset.cgm[k] as number),
        num(dataset.basalUPerH[k] as number),
        num(dataset.bolusU[k] as number),
        num(dataset.carbsG[k] as number),
      ].join(','),
    );
  }
  return `${out.join('\n')}\n`;
}
