import { describe, expect, it } from 'vitest';
import { getTwin } from '../../../engine/twin.js';
import { type WardBedInfo, type WardStepInfo, WardEnv } from '../../../environments/hospital/env.js';
import { MIN_PER_DAY, NURSE_TASKS, SERVE_RULES, WardSimulation } from '../../../environments/hospital/ward.js';
import { trackValue } from '../../../experiments/charts.js';
import '../../../environments/index.js';

const HOURS = 30;
const STAFF = ['nurse/day-0', 'nurse/day-1', 'nurse/day-2', 'nurse/day-3', 'nurse/night-0', 'nurse/night-1', 'nurse/night-2', 'pharmacist'];
const STAFF_STATES = new Set<string>([...NURSE_TASKS, 'verify', 'review', 'idle', 'off']);

function episode(seed: number, actions: (k: number) => number) {
  const env = new WardEnv({ horizonHours: HOURS, warmupDays: 2 });
  env.reset({ seed });
  const steps: { step: number; action: number; reward: number; observation: number[]; info: Record<string, unknown> }[] = [];
  for (let k = 0; k < HOURS; k++) {
    const a = actions(k);
    const r = env.step(a);
    // the logger keeps a copy of each step's info; so does this test
    steps.push({ step: k, action: a, reward: r.reward, observation: [...r.observation], info: JSON.parse(JSON.stringify(r.info)) });
  }
  return { env, steps };
}

describe('hospital/ward-v1 info.ward: what the ward view draws', () => {
  const { env, steps } = episode(7, (k) => k % SERVE_RULES.length);

  it('has the declared shape on every step: beds, queue, tasks due by kind, staff activity, per-patient levels', () => {
    const previous = new Map<number, number>();
    let sepsis = 0;
    let vanco = 0;
    for (const s of steps) {
      const w = s.info.ward as WardStepInfo;
      expect(w.minute).toBe((s.step + 1) * 60);
      expect(w.beds).toHaveLength(30);
      const occupied = w.beds.filter((b): b is WardBedInfo => b !== null);
      expect(occupied).toHaveLength(s.info.inpatients as number);
      expect(new Set(occupied.map((b) => b.id)).size).toBe(occupied.length);
      expect(w.queue).toBe(s.info.waiting);
      expect(Object.keys(w.due).sort()).toEqual([...NURSE_TASKS].sort());
      expect(w.dueTotal).toBe(Object.values(w.due).reduce((a, b) => a + b, 0));
      expect(Object.keys(w.staff)).toEqual(STAFF);
      for (const v of Object.values(w.staff)) expect(STAFF_STATES.has(v)).toBe(true);
      const nurses = STAFF.slice(0, 7).map((n) => w.staff[n] as string);
      expect(w.nursesBusy).toBe(nurses.filter((v) => v !== 'idle' && v !== 'off').length);
      // the day shift 07–19 (the episode starts at Monday 00:00)
      const hour = (w.minute / 60) % 24;
      expect(w.nursesOnShift).toBe(hour >= 7 && hour < 19 ? 4 : 3);
      w.beds.forEach((b, k) => {
        if (b === null) return;
        expect(Number.isInteger(b.id)).toBe(true);
        expect(b.admitted).toBeLessThanOrEqual(w.minute);
        // a patient keeps their bed for the whole stay
        const was = previous.get(b.id);
        if (was !== undefined) expect(was).toBe(k);
        previous.set(b.id, k);
        if (b.news2 !== null) expect(b.news2).toBeGreaterThanOrEqual(0);
        if (b.cls === 'sepsis') {
          sepsis++;
          expect(b.score).toBeGreaterThanOrEqual(0);
          expect(b.abnormal).toBeGreaterThanOrEqual(0);
          expect([0, 1]).toContain(b.abx);
          expect(b.conc).toBeUndefined();
        } else {
          vanco++;
          expect(b.cls).toBe('vancomycin');
          expect(b.conc).toBeGreaterThanOrEqual(0);
          expect(b.auc24 === null || (b.auc24 as number) > 0).toBe(true);
          expect([0, 1]).toContain(b.aki);
          expect(b.doses).toBeGreaterThanOrEqual(0);
        }
      });
    }
    expect(sepsis).toBeGreaterThan(0);
    expect(vanco).toBeGreaterThan(0);
    // after 24 h of the episode every vancomycin patient present all along has an AUC24
    const last = ((steps[HOURS - 1] as (typeof steps)[number]).info.ward as WardStepInfo).beds.filter((b): b is WardBedInfo => b !== null && b.cls === 'vancomycin' && b.admitted < -60);
    expect(last.length).toBeGreaterThan(0);
    for (const b of last) expect(b.auc24).toBeGreaterThan(0);
  });

  it('is deterministic and does not perturb the simulation (same course as the ward run without the env)', () => {
    const again = episode(7, (k) => k % SERVE_RULES.length).steps;
    expect(JSON.stringify(again.map((s) => s.info))).toBe(JSON.stringify(steps.map((s) => s.info)));
    // fcfs throughout: the env (reading info every hour) and a bare WardSimulation end bit-identical
    const fcfs = episode(11, () => 0).env.ward;
    const bare = new WardSimulation(11, {});
    bare.runUntil(2 * MIN_PER_DAY + HOURS * 60);
    const course = (w: WardSimulation) => w.ward.patients.map((p) => [p.id, p.outcome, p.end, p.dosesGiven, p.aki, p.pkTime, [...p.y], p.full]);
    expect(course(fcfs)).toEqual(course(bare));
  });

  it('the hospital twin declares tracks that read a number on every step', () => {
    const tracks = getTwin('hospital')?.tracks;
    expect(tracks?.tracks.length).toBeGreaterThanOrEqual(5);
    for (const t of tracks?.tracks ?? []) for (const s of steps) expect(trackValue(s, t.field), `${t.field} at step ${s.step}`).not.toBeNull();
    expect(env.ward.time).toBe(2 * MIN_PER_DAY + HOURS * 60);
  });
});
