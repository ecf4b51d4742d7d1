import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fitVancomycinCommand } from '../../cli/commands/twin-vancomycin.js';
import type { GlucoseDataset } from '../../datasets/types.js';
import { type VancomycinDataset, vancomycinToCsv } from '../../datasets/vancomycin.js';
import { saveDataset } from '../../experiments/dataset-store.js';
import type { Store } from '../../experiments/store.js';
import { saveTwinRecord } from '../../experiments/twin-store.js';
import { fitT2DTwin } from '../../twinning/glucose-t2d/fit.js';
import { syntheticT2DPerson } from '../../twinning/glucose-t2d/synthetic.js';
import { type T2DTwinFile, t2dTwinFileText } from '../../twinning/glucose-t2d/twin-file.js';
import { syntheticVancoPatient } from '../../twinning/vancomycin/validation.js';

/**
 * Small personal twins of the other kinds for server and browser tests: a type 2 twin (MAP on two
 * synthetic days, stored with its dataset as `twin fit --twin glucose-t2d --data DATASET-ID` does) and
 * a vancomycin twin fitted and recorded by the CLI's own `twin fit --twin vancomycin --store` code.
 */
export interface TinyT2DTwin {
  dataset: GlucoseDataset;
  twin: T2DTwinFile;
}

export async function fitTinyT2DTwin(seed = 3): Promise<TinyT2DTwin> {
  const person = syntheticT2DPerson({ seed, index: 0, days: 2 });
  const twin = await fitT2DTwin(person.dataset, { method: 'map', seed: 1, codeVersion: 'test' });
  return { dataset: person.dataset, twin };
}

export function installT2DTwin(store: Store, fixture: TinyT2DTwin, id: string): void {
  const datasetId = saveDataset(store, fixture.dataset, { now: '2026-01-01T00:00:00Z' }).id;
  const dir = join(store.dataDir, 'twins', id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'twin.json'), t2dTwinFileText(fixture.twin));
  saveTwinRecord(store, {
    id,
    twin: 'glucose-t2d',
    datasetId,
    dir,
    fingerprint: fixture.twin.data.fingerprint,
    summary: { method: fixture.twin.method, patient: fixture.twin.patient.id, rmse: fixture.twin.fit.rmse, ok: null },
  });
}

const HOUR = 3_600_000;
export const VANCO_START_MS = Date.UTC(2026, 2, 2, 8);

/** A synthetic Goti patient (twinning/vancomycin/validation.ts): 7 doses q12h, levels after doses 4, 4 and 6. */
export function vancoDataset(seed = 5, index = 0): { dataset: VancomycinDataset; cov: ReturnType<typeof syntheticVancoPatient>['cov'] } {
  const p = syntheticVancoPatient(seed, index);
  const dataset: VancomycinDataset = {
    kind: 'vancomycin',
    patientId: `vanco-${seed}-${index}`,
    covariates: {},
    doses: p.doses.map((d) => ({ timeMs: VANCO_START_MS + d.timeH * HOUR, amountMg: d.amountMg, durationH: d.durationH })),
    levels: p.times.map((t, i) => ({ timeMs: VANCO_START_MS + Math.round(t * 60) * 60_000, concMgL: Math.round((p.observed[i] as number) * 10) / 10 })),
    warnings: [],
    provenance: { format: 'csv', fileSha256: '0'.repeat(64), records: 10 },
  };
  return { dataset, cov: p.cov };
}

/**
 * Fits the synthetic patient with `twin fit --twin vancomycin` (fitVancomycinCommand, MCMC shortened)
 * into `<dataDir>/twins/<name>` and returns the twin id the command recorded in the store. `until`:
 * fit on the levels at or before it only.
 */
export async function fitVancoTwinWithCli(store: Store, name: string, opts: { until?: number } = {}): Promise<{ id: string; dir: string; dataset: VancomycinDataset }> {
  const { dataset, cov } = vancoDataset();
  const dir = join(store.dataDir, 'twins', name);
  mkdirSync(dir, { recursive: true });
  const csv = join(dir, 'input.csv');
  writeFileSync(csv, vancomycinToCsv(dataset));
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await fitVancomycinCommand({
      data: csv,
      patientId: dataset.patientId,
      age: cov.ageYears,
      sex: cov.sex,
      bodyWeight: cov.bodyWeightKg,
      scr: cov.scrMgDl,
      out: dir,
      store: store.dataDir,
      method: 'mcmc',
      seed: 0,
      walkers: 16,
      steps: 1500,
      burn: 300,
      until: opts.until,
      json: true,
    });
  } finally {
    process.stdout.write = write;
  }
  const result = JSON.parse(out) as { id: string };
  return { id: result.id, dir, dataset };
}
