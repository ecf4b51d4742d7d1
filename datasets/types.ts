/**
 * The normalised patient dataset every import format produces (CSV, FHIR R4, Nightscout) and every
 * consumer reads (identification, filtering, forecast, replay, the store). One person, one regular
 * time grid.
 *
 * Grid rule: sample k covers [startMs + k·stepMin, startMs + (k+1)·stepMin). `cgm[k]` is the reading
 * taken at the start of slot k (NaN = missing); `basalUPerH[k]` is the basal rate in effect over the
 * slot; `bolusU[k]` and `carbsG[k]` are the totals logged during the slot.
 */
export const GLUCOSE_STEP_MIN = 5;

export const DATASET_FORMATS = { csv: 'csv', fhir: 'fhir', nightscout: 'nightscout' } as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[keyof typeof DATASET_FORMATS];
export function isDatasetFormat(value: unknown): value is DatasetFormat {
  return typeof value === 'string' && Object.hasOwn(DATASET_FORMATS, value);
}

/** Where a dataset came from: enough to tell whether two fits saw the same data. */
export interface DatasetProvenance {
  format: DatasetFormat;
  /** SHA-256 (hex) of the imported file's bytes. */
  fileSha256: string;
  fileName?: string;
  /** ISO 8601 UTC; the one wall-clock read of an import, stored, never used in computation. */
  importedAt: string;
  deidentified: boolean;
  /** Source records read (CSV data rows, Bundle entries, Nightscout entries + treatments). */
  records?: number;
  /** Every file read, when more than one (Nightscout entries.json + treatments.json); `fileSha256` then hashes them in this order. */
  sources?: { name?: string; sha256: string }[];
}

export interface GlucoseDataset {
  kind: 'glucose';
  patientId: string;
  /** Body weight in kg when the source carries it (FHIR LOINC 29463-7) or the user gave it. */
  bodyWeightKg?: number;
  /**
   * Local clock offset from UTC in minutes (e.g. +60 for +01:00) of the first timestamp in the source,
   * when it carried one: local time of day = UTC time + offset. Exporters write times with it.
   */
  utcOffsetMin?: number;
  /** Epoch milliseconds (UTC) of slot 0; a multiple of the step. */
  startMs: number;
  stepMin: typeof GLUCOSE_STEP_MIN;
  /** mg/dL, NaN where missing. */
  cgm: Float64Array;
  /** U/h in effect over the slot. */
  basalUPerH: Float64Array;
  /** U given during the slot. */
  bolusU: Float64Array;
  /** g eaten (logged) during the slot. */
  carbsG: Float64Array;
  /** Non-fatal findings, each naming the row or resource and the field. */
  warnings: string[];
  provenance?: DatasetProvenance;
}

/** Number of slots. */
export function datasetLength(d: GlucoseDataset): number {
  return d.cgm.length;
}

/** Epoch ms of slot k. */
export function slotTimeMs(d: GlucoseDataset, k: number): number {
  return d.startMs + k * d.stepMin * 60_000;
}
