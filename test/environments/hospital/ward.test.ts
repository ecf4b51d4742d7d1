import { describe, expect, it } from 'vitest';
import { checkEnv } from '../../../engine/conformance.js';
import { TrajectoryHasher } from '../../../engine/hash.js';
import { make } from '../../../engine/registry.js';
import { WARD_ENV_ID, WardEnv } from '../../../environments/hospital/env.js';
import { MIN_PER_DAY, news2OfSepsisState, observationIntervalMinutes, pickTask, type Task, WardSimulation } from '../../../environments/hospital/ward.js';
import { encodeFull } from '../../../environments/sepsis/state.js';
import '../../../environments/index.js';

describe('hospital ward twin (agents on the Simulation)', () => {
  it("obeys Little's law on a long run with no bed limit binding: mean occupancy = arrival rate × mean stay (±3 %)", () => {
    const days = 150;
    const w = new WardSimulation(3, { beds: 1000, unlimitedStaff: true, collectAgents: false });
    w.runUntil(days * MIN_PER_DAY);
    const s = w.summary();
    expect(s.waiting).toBe(0);
    expect(s.meanWaitHours).toBe(0);
    const lambdaPerHour = s.arrivals / (days * 24);
    expect(s.arrivals).toBeGreaterThan(500);
    expect(s.meanOccupancy).toBeGreaterThan(10);
    expect(Math.abs(s.meanOccupancy - lambdaPerHour * s.meanStayHours) / s.meanOccupancy).toBeLessThan(0.03);
  });

  it('with unlimited staff (and beds) every patient ends exactly as the same patient simulated alone', () => {
    const opts = { beds: 1000, unlimitedStaff: true, collectAgents: false };
    const crowd = new WardSimulation(11, opts);
    const horizon = 20 * MIN_PER_DAY;
    crowd.runUntil(horizon);
    const patients = crowd.ward.patients;
    expect(patients.length).toBeGreaterThan(60);
    const classes = new Set(patients.map((p) => p.cls));
    expect(classes).toEqual(new Set(['sepsis', 'vancomycin']));
    const outcomes = new Set<string>();
    for (const p of patients.slice(0, 25)) {
      const alone = new WardSimulation(999, { ...opts, arrivals: [{ minute: p.arrival, seed: p.seed }] });
      alone.runUntil(horizon);
      const q = alone.ward.patients[0];
      expect(alone.ward.patients.length).toBe(1);
      expect(q?.cls).toBe(p.cls);
      expect([q?.outcome, q?.end, q?.abxGiven, q?.aki, q?.dosesGiven, q?.maintenanceDose, q?.full]).toEqual([p.outcome, p.end, p.abxGiven, p.aki, p.dosesGiven, p.maintenanceDose, p.full]);
      outcomes.add(p.outcome);
    }
    expect(outcomes.size).toBeGreaterThan(1);
  });

  it('the staff limit matters: with 1 nurse per shift antibiotics come later than with unlimited staff', () => {
    const run = (o: object) => {
      const w = new WardSimulation(5, { collectAgents: false, ...o });
      w.runUntil(14 * MIN_PER_DAY);
      return w.summary();
    };
    const scarce = run({ nursesDay: 1, nursesNight: 1 });
    const ample = run({ unlimitedStaff: true });
    expect(scarce.meanHoursToAntibiotics).toBeGreaterThan(ample.meanHoursToAntibiotics + 0.5);
    expect(scarce.nurseOvertimeHours).toBeGreaterThan(0);
  });

  it('whom to admit when full: sepsis-first lets fewer untreated sepsis patients die waiting for a bed (congested ward)', () => {
    const run = (admissionRule: 'fcfs' | 'sepsis-first') => {
      const w = new WardSimulation(4, { beds: 20, arrivalsPerDay: 4, collectAgents: false, admissionRule });
      w.runUntil(28 * MIN_PER_DAY);
      return { diedWaiting: w.ward.counters.deathsWaiting, queued: w.summary().meanWaitHours };
    };
    const fcfs = run('fcfs');
    const first = run('sepsis-first');
    expect(fcfs.queued).toBeGreaterThan(5);
    expect(fcfs.diedWaiting).toBeGreaterThan(10);
    expect(first.diedWaiting).toBeLessThan(0.6 * fcfs.diedWaiting);
  });

  it('the RL env can also take the admission decision (actions 4–7)', () => {
    const env = new WardEnv({ admissionDecision: true, horizonHours: 4, warmupDays: 1 });
    expect(env.actionSpace.n).toBe(8);
    env.reset({ seed: 1 });
    expect(env.step(5).info.admission).toBe('sepsis-first');
    expect(env.step(1).info.admission).toBe('fcfs');
    expect(() => new WardEnv({ admissionDecision: true, admissionRule: 'fcfs' })).toThrow(/admissionRule/);
    expect(checkEnv(() => make(WARD_ENV_ID, { admissionDecision: true, horizonHours: 30, warmupDays: 2 }), { steps: 40 })).toEqual([]);
  });

  it('no arrivals: nothing happens', () => {
    const w = new WardSimulation(1, { arrivalsPerDay: 0 });
    w.runUntil(7 * MIN_PER_DAY);
    const s = w.summary();
    expect([s.arrivals, s.admissions, s.died, s.nurseTasks, s.meanOccupancy, s.nurseUtilisation, s.nurseOvertimeHours]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(w.sim.eventsFired).toBe(0);
    expect(w.ward.tasks).toEqual([]);
    expect(Array.from(w.sim.collector.column('occupied')).every((v) => v === 0)).toBe(true);
    // agent-level columns: one busy flag per nurse, all zero
    expect(Array.from(w.sim.collector.column('nurse/day-0/busy')).every((v) => v === 0)).toBe(true);
    expect(w.sim.collector.has('nurse/night-2/busy')).toBe(true);
  });

  it('records model-level and agent-level data', () => {
    const w = new WardSimulation(2, {});
    w.runUntil(2 * MIN_PER_DAY);
    const c = w.sim.collector;
    expect(c.rows).toBe((2 * MIN_PER_DAY) / 5);
    for (const name of ['occupied', 'queue', 'pending_tasks', 'deaths', 'obs_overdue', 'nurse/day-0/busy', 'pharmacist/busy']) expect(c.has(name)).toBe(true);
    expect(Math.max(...c.column('nurse/day-0/busy'))).toBe(1);
  });

  it('same seed → same episode hash; another seed → another', () => {
    const hash = (seed: number): string => {
      const env = new WardEnv({ horizonHours: 72 });
      const h = new TrajectoryHasher();
      h.observation(env.reset({ seed }).observation);
      for (let t = 0; t < 72; t++) {
        const a = t % 4;
        const r = env.step(a);
        h.step(a, r.reward, r.observation);
      }
      return h.digest();
    };
    expect(hash(7)).toBe(hash(7));
    expect(hash(7)).not.toBe(hash(8));
  });

  it('NEWS2-like scores and the RCP observation intervals; the serving rules order tasks', () => {
    expect(news2OfSepsisState(encodeFull({ hr: 1, sysbp: 1, o2: 1, glucose: 2, abx: 0, vaso: 0, vent: 0, diabetic: 0 }))).toBe(0);
    expect(news2OfSepsisState(encodeFull({ hr: 2, sysbp: 0, o2: 0, glucose: 2, abx: 0, vaso: 0, vent: 0, diabetic: 0 }))).toBe(8);
    expect([0, 3, 5, 7].map(observationIntervalMinutes)).toEqual([720, 240, 60, 30]);
    const patient = (score: number) => ({ observedScore: score }) as Task['patient'];
    const tasks: Task[] = [
      { kind: 'care', patient: patient(0), due: 0, seq: 0, value: 0 },
      { kind: 'obs', patient: patient(6), due: 5, seq: 1, value: 0 },
      { kind: 'abx', patient: patient(2), due: 10, seq: 2, value: 0 },
      { kind: 'obs', patient: patient(9), due: 99, seq: 3, value: 0 },
    ];
    expect(pickTask(tasks, 20, 'fcfs', true)).toBe(0);
    expect(pickTask(tasks, 20, 'news2', true)).toBe(1);
    expect(pickTask(tasks, 20, 'antibiotics-first', true)).toBe(2);
    expect(pickTask(tasks, 20, 'fcfs', false)).toBe(-1);
  });

  it('the ward env passes the conformance suite and rejects unknown options by name', () => {
    expect(checkEnv(() => make(WARD_ENV_ID, { horizonHours: 60 }), { steps: 80 })).toEqual([]);
    expect(() => new WardEnv({ wards: 2 } as never)).toThrow(/wards/);
    expect(() => new WardEnv({ nursesDay: -1 })).toThrow(/nursesDay/);
  });
});
