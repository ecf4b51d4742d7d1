import { describe, expect, it } from 'vitest';
import type { GlucoseDataset } from '../../../datasets/types.js';
import { selectFitWindow } from '../../../twinning/glucose/data-rules.js';

function flat(days: number): GlucoseDataset {
  const n = days * 288;
  return {
    kind: 'glucose',
    patientId: 'p',
    startMs: Date.UTC(2026, 0, 1, 6),
    stepMin: 5,
    cgm: new Float64Array(n).fill(150),
    basalUPerH: new Float64Array(n).fill(1),
    bolusU: new Float64Array(n),
    carbsG: new Float64Array(n),
    warnings: [],
  };
}

describe('identification data rules (ReplayBG)', () => {
  it('starts ≥ 4 h after the last meal or bolus and says what was dropped', () => {
    const d = flat(2);
    d.carbsG[0] = 40; // the data opens with a meal
    d.bolusU[0] = 4;
    const w = selectFitWindow(d);
    expect(w.from).toBe(48 + 1);
    expect(w.messages[0]).toMatch(
      /^window starts at 2026-01-01T10:05:00Z: the 4\.1 h before it were dropped \(the fit must start at steady state, ≥ 4 h after the last meal or bolus\)$/,
    );
  });

  it('keeps a day with more than 10 % missing CGM out of the likelihood, naming it, and uses the other days', () => {
    const d = flat(3);
    for (let k = 288; k < 288 + 40; k++) d.cgm[k] = Number.NaN; // 13.9 % of day 2
    const w = selectFitWindow(d);
    expect(w.include.slice(288, 576).every((v) => v === 0)).toBe(true);
    expect(w.include[0]).toBe(1);
    expect(w.include[600]).toBe(1);
    expect(w.messages).toContain(
      '2026-01-02T06:00:00Z to 2026-01-03T06:00:00Z: 13.9 % of CGM readings missing (> 10 %), not used in the fit (its insulin and meals still drive the model)',
    );
  });

  it('refuses fewer than 6 h of usable data, and data with no steady-state start', () => {
    const short = flat(1);
    expect(() => selectFitWindow(short, short.startMs + 5 * 3600_000)).toThrow(/only 5\.0 h of usable CGM after the data rules \(need ≥ 6 h\)/);
    const busy = flat(1);
    for (let k = 0; k < busy.cgm.length; k += 36) busy.bolusU[k] = 1;
    expect(() => selectFitWindow(busy)).toThrow(/no steady-state start/);
  });
});
