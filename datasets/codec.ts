import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { TwinlabError } from '../engine/errors.js';
import { formatIsoTime } from './time.js';
import { datasetLength, type GlucoseDataset } from './types.js';

/**
 * Compact, exact storage of a dataset's four arrays (cgm, basal, bolus, carbs — in that order) as
 * little-endian float64, gzipped; and the fingerprint that tells whether two datasets are the same.
 */
const ARRAYS = ['cgm', 'basalUPerH', 'bolusU', 'carbsG'] as const;

function writeArrays(d: GlucoseDataset): Buffer {
  const n = datasetLength(d);
  const out = Buffer.alloc(ARRAYS.length * n * 8);
  ARRAYS.forEach((name, a) => {
    const array = d[name];
    if (array.length !== n) throw new TwinlabError('INVALID_ARGUMENT', `dataset ${name} has ${array.length} slots, cgm ${n}`, { field: name });
    for (let k = 0; k < n; k++) {
      const v = array[k] as number;
      // the canonical NaN, so equal datasets have equal bytes whatever NaN payload an array carried
      out.writeDoubleLE(Number.isNaN(v) ? Number.NaN : v, (a * n + k) * 8);
    }
  });
  return out;
}

export function encodeDatasetArrays(d: GlucoseDataset): Buffer {
  return gzipSync(writeArrays(d), { level: 6 });
}

export function decodeDatasetArrays(bytes: Uint8Array, n: number): Pick<GlucoseDataset, (typeof ARRAYS)[number]> {
  const raw = gunzipSync(bytes);
  if (raw.length !== ARRAYS.length * n * 8)
    throw new TwinlabError('INTERNAL', `stored dataset arrays hold ${raw.length} bytes, expected ${ARRAYS.length * n * 8}`);
  const read = (a: number) => {
    const out = new Float64Array(n);
    for (let k = 0; k < n; k++) out[k] = raw.readDoubleLE((a * n + k) * 8);
    return out;
  };
  return { cgm: read(0), basalUPerH: read(1), bolusU: read(2), carbsG: read(3) };
}

/**
 * SHA-256 (hex) of what a model fitted to the dataset can see: patient, weight, clock offset, start,
 * step and the four arrays. Provenance and warnings are not part of it.
 */
export function datasetFingerprint(d: GlucoseDataset): string {
  const header = JSON.stringify({
    kind: d.kind,
    patientId: d.patientId,
    bodyWeightKg: d.bodyWeightKg ?? null,
    utcOffsetMin: d.utcOffsetMin ?? null,
    startMs: d.startMs,
    stepMin: d.stepMin,
    n: datasetLength(d),
  });
  return createHash('sha256').update(header).update('\n').update(writeArrays(d)).digest('hex');
}

export interface DatasetSummary {
  patientId: string;
  /** ISO UTC of slot 0 and of the end of the last slot. */
  start: string;
  end: string;
  slots: number;
  days: number;
  missingCgmPercent: number;
  meanCgmMgdl: number | null;
  totalBolusU: number;
  totalCarbsG: number;
  /** Units of basal insulin per day. */
  basalUPerDay: number;
  bodyWeightKg?: number;
  utcOffsetMin?: number;
}

export function summarizeDataset(d: GlucoseDataset): DatasetSummary {
  const n = datasetLength(d);
  let missing = 0;
  let cgmSum = 0;
  let basal = 0;
  let bolus = 0;
  let carbs = 0;
  for (let k = 0; k < n; k++) {
    const g = d.cgm[k] as number;
    if (Number.isNaN(g)) missing++;
    else cgmSum += g;
    basal += ((d.basalUPerH[k] as number) * d.stepMin) / 60;
    bolus += d.bolusU[k] as number;
    carbs += d.carbsG[k] as number;
  }
  const days = (n * d.stepMin) / 1440;
  const round = (x: number, digits = 2) => Number(x.toFixed(digits));
  const summary: DatasetSummary = {
    patientId: d.patientId,
    start: formatIsoTime(d.startMs),
    end: formatIsoTime(d.startMs + n * d.stepMin * 60_000),
    slots: n,
    days: round(days, 3),
    missingCgmPercent: n === 0 ? 0 : round((100 * missing) / n),
    meanCgmMgdl: missing === n ? null : round(cgmSum / (n - missing), 1),
    totalBolusU: round(bolus, 3),
    totalCarbsG: round(carbs, 1),
    basalUPerDay: days === 0 ? 0 : round(basal / days, 3),
  };
  if (d.bodyWeightKg !== undefined) summary.bodyWeightKg = d.bodyWeightKg;
  if (d.utcOffsetMin !== undefined) summary.utcOffsetMin = d.utcOffsetMin;
  return summary;
}
