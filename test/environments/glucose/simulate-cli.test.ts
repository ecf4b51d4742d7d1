import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { basalRate } from '../../../environments/glucose/params.js';
import { T1DPatient } from '../../../environments/glucose/patient.js';
import { getPatient } from '../../../environments/glucose/patients.js';
import { simulateOpenLoop } from '../../../environments/glucose/simulate.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

function cli(...args: string[]) {
  const r = spawnSync('node', ['--import', 'tsx', 'cli/run.ts', 'simulate', 'glucose', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('simulateOpenLoop', () => {
  it('N + 1 rows; bolus B U at minute t = B U/min on top of basal over [t, t+1); meal eaten at 5 g/min', () => {
    const p = getPatient('adolescent#004');
    const basal = basalRate(p);
    const r = simulateOpenLoop({
      patient: p,
      minutes: 120,
      meals: [{ minute: 30, grams: 22 }],
      boluses: [
        { minute: 30, units: 2 },
        { minute: 30, units: 1 },
      ],
      basal,
    });
    expect(r.minute).toHaveLength(121);
    expect(r.minute[120]).toBe(120);
    expect(r.insulin[30]).toBeCloseTo(basal + 3, 12);
    expect(r.insulin[29]).toBe(basal);
    expect(Array.from(r.cho.slice(28, 37))).toEqual([0, 0, 5, 5, 5, 5, 2, 0, 0]);
    expect(r.bg[0]).toBeCloseTo(p.Gb, 6);
    expect(r.gsub[0]).toBeCloseTo(p.Gb, 6);

    // Same trajectory as stepping T1DPatient by hand.
    const sim = new T1DPatient(p);
    for (let t = 0; t < 120; t++) sim.step(r.insulin[t] as number, t === 30 ? 22 : 0);
    expect(sim.plasmaGlucose).toBe(r.bg[120]);
    expect(sim.subcutaneousGlucose).toBe(r.gsub[120]);
  });

  it('rejects events outside the horizon and negative amounts, naming them', () => {
    const p = getPatient('adult#001');
    expect(() => simulateOpenLoop({ patient: p, minutes: 10, meals: [{ minute: 11, grams: 5 }], basal: 0 })).toThrow(/meals\[0\]\.minute/);
    expect(() => simulateOpenLoop({ patient: p, minutes: 10, boluses: [{ minute: 1, units: -1 }], basal: 0 })).toThrow(/boluses\[0\]\.units/);
    expect(() => simulateOpenLoop({ patient: p, minutes: -1, basal: 0 })).toThrow(/minutes/);
  });
});

describe('twinlab simulate glucose', () => {
  it('--csv prints the header and N+1 rows; row 0 is the basal steady state (bg = gsub = Gb); matches simulateOpenLoop', () => {
    const r = cli('--patient', 'adult#001', '--minutes', '600', '--meal', '420:50', '--meal', '500:20', '--bolus', '420:5', '--csv');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('minute,bg_mg_dl,gsub_mg_dl,insulin_u_per_min,cho_g_per_min');
    expect(lines).toHaveLength(1 + 601);
    const p = getPatient('adult#001');
    const row0 = (lines[1] as string).split(',').map(Number);
    expect(row0[0]).toBe(0);
    expect(Math.abs((row0[1] as number) - p.Gb)).toBeLessThan(1e-6);
    expect(Math.abs((row0[2] as number) - p.Gb)).toBeLessThan(1e-6);
    expect(row0[3]).toBeCloseTo(basalRate(p), 8);

    const ref = simulateOpenLoop({
      patient: p,
      minutes: 600,
      meals: [
        { minute: 420, grams: 50 },
        { minute: 500, grams: 20 },
      ],
      boluses: [{ minute: 420, units: 5 }],
      basal: basalRate(p),
    });
    for (const t of [421, 480, 600]) {
      const row = (lines[t + 1] as string).split(',').map(Number);
      expect(row[0]).toBe(t);
      expect(Math.abs((row[1] as number) - (ref.bg[t] as number))).toBeLessThanOrEqual(5e-7);
      expect(Math.abs((row[2] as number) - (ref.gsub[t] as number))).toBeLessThanOrEqual(5e-7);
    }
    expect((lines[1 + 425] as string).split(',')[4]).toBe('5.000000');
  });

  it('without --csv prints a summary with time in range and a hint', () => {
    const r = cli('--patient', 'child~s42#003', '--minutes', '1440', '--meal', '420:40', '--bolus', '420:1.5');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('patient child~s42#003');
    expect(r.stdout).toMatch(/mean \d+\.\d+, min \d+\.\d+, max \d+\.\d+ mg\/dL/);
    expect(r.stdout).toMatch(/time in range 70–180 mg\/dL \d+\.\d%/);
    expect(r.stdout).toContain('--csv');
  });

  it('bad arguments exit 2 with one line naming the argument', () => {
    const badMeal = cli('--meal', '4x:50');
    expect(badMeal.status).toBe(2);
    expect(badMeal.stderr).toContain('--meal');
    expect(badMeal.stderr).toContain('4x:50');
    expect(badMeal.stderr.trim().split('\n')[0]).toContain('--meal');

    const badPatient = cli('--patient', 'adult#999');
    expect(badPatient.status).toBe(2);
    expect(badPatient.stderr).toContain('--patient');
    expect(badPatient.stderr.trim().split('\n')).toHaveLength(1);

    const badMinutes = cli('--minutes', '-5');
    expect(badMinutes.status).toBe(2);
    expect(badMinutes.stderr).toContain('--minutes');

    const late = cli('--minutes', '100', '--meal', '200:10');
    expect(late.status).toBe(2);
    expect(late.stderr).toContain('--meal');

    const badBasal = cli('--basal', 'lots');
    expect(badBasal.status).toBe(2);
    expect(badBasal.stderr).toContain('--basal');
  });
});
