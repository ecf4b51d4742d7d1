import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GLUCOSE_STEP_MIN, type GlucoseDataset } from '../../datasets/types.js';
import { Rng } from '../../engine/random.js';

/**
 * A seeded two-day dataset with everything the formats must carry: CGM with single drops and a
 * 45-minute gap, fractional readings, meals with boluses, correction boluses, basal steps including
 * zero, a local clock offset and a body weight.
 */
export function syntheticDataset(seed = 1, days = 2): GlucoseDataset {
  const rng = Rng.fromSeed(seed);
  const n = (days * 1440) / GLUCOSE_STEP_MIN;
  const cgm = new Float64Array(n);
  const basal = new Float64Array(n);
  const bolus = new Float64Array(n);
  const carbs = new Float64Array(n);
  const noise = rng.fork('cgm');
  const gaps = rng.fork('gaps');
  for (let k = 0; k < n; k++) {
    const hour = ((k * GLUCOSE_STEP_MIN) / 60) % 24;
    cgm[k] = Math.round((130 + 40 * Math.sin((2 * Math.PI * hour) / 24) + noise.normal(0, 8)) * 10) / 10;
    if (gaps.next() < 0.03) cgm[k] = Number.NaN;
    basal[k] = hour < 3 ? 0.65 : hour < 7 ? 1.05 : hour >= 13 && hour < 14 ? 0 : 0.85;
  }
  for (let k = 300; k < 309; k++) cgm[k] = Number.NaN; // 45 min
  const meals = rng.fork('meals');
  for (let d = 0; d < days; d++) {
    for (const [hour, grams] of [
      [7.5, 45],
      [12.25, 70],
      [19, 60],
    ] as const) {
      const k = d * 288 + Math.round((hour * 60) / GLUCOSE_STEP_MIN);
      carbs[k] = grams + Math.round(meals.uniform(-10, 10));
      bolus[k] = Math.round((carbs[k] as number) / 10 / 0.05) * 0.05;
    }
    bolus[d * 288 + 200] = 1.3;
  }
  return {
    kind: 'glucose',
    patientId: 'patient-007',
    bodyWeightKg: 72.5,
    utcOffsetMin: 60,
    startMs: Date.UTC(2024, 2, 1, 5, 0),
    stepMin: GLUCOSE_STEP_MIN,
    cgm,
    basalUPerH: basal,
    bolusU: bolus,
    carbsG: carbs,
    warnings: [],
  };
}

export function tempDir(prefix = 'twinlab-datasets-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function csvOf(lines: string[]): Uint8Array {
  return Buffer.from(`${lines.join('\n')}\n`);
}
