import { describe, expect, it } from 'vitest';
import { TwinlabError } from '../../engine/errors.js';
import { DormandPrince } from '../../engine/ode.js';
import { DataCollector, type SimAgent, Simulation } from '../../engine/simulation.js';

function catchError(fn: () => unknown): TwinlabError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TwinlabError);
    return e as TwinlabError;
  }
  throw new Error('expected a TwinlabError, nothing was thrown');
}

/** An agent that logs every hook call as "<name>.<phase>" (with the interval for advance). */
function tracer(name: string, log: string[], withInterval = false): SimAgent {
  return {
    name,
    sense: () => log.push(`${name}.sense`),
    decide: () => log.push(`${name}.decide`),
    act: () => log.push(`${name}.act`),
    advance: (_sim, t0, t1) => log.push(withInterval ? `${name}.advance[${t0},${t1}]` : `${name}.advance`),
    collect: () => log.push(`${name}.collect`),
  };
}

describe('Simulation: phase order', () => {
  it('runs sense → decide → act → advance → collect, each phase over all agents in insertion order', () => {
    const log: string[] = [];
    const sim = new Simulation({ seed: 1 });
    sim.addAgent(tracer('device', log));
    sim.addAgent(tracer('clinician', log));
    sim.addAgent(tracer('patient', log));
    sim.step(5);
    expect(log).toEqual([
      'device.sense',
      'clinician.sense',
      'patient.sense',
      'device.decide',
      'clinician.decide',
      'patient.decide',
      'device.act',
      'clinician.act',
      'patient.act',
      'device.advance',
      'clinician.advance',
      'patient.advance',
      'device.collect',
      'clinician.collect',
      'patient.collect',
    ]);
    expect(sim.time).toBe(5);
    expect(sim.stepCount).toBe(1);
    expect(sim.currentPhase).toBe('idle');
  });

  it('gives agents a consistent clock in each phase', () => {
    const seen: Array<[string, number]> = [];
    const sim = new Simulation({ seed: 1, startTime: 100 });
    sim.addAgent({
      name: 'probe',
      sense: (s) => seen.push(['sense', s.time]),
      advance: (s, t0) => seen.push(['advance', s.time - t0]),
      collect: (s) => seen.push(['collect', s.time]),
    });
    sim.step(10);
    expect(seen).toEqual([
      ['sense', 100],
      ['advance', 0],
      ['collect', 110],
    ]);
    expect(sim.collector.column('time')).toEqual(Float64Array.of(110));
  });

  it('rejects duplicate agent names and looks agents up by name', () => {
    const sim = new Simulation({ seed: 1 });
    const a = sim.addAgent({ name: 'pump' });
    expect(sim.agent('pump')).toBe(a);
    expect(catchError(() => sim.addAgent({ name: 'pump' })).code).toBe('CONFLICT');
    expect(catchError(() => sim.agent('nobody')).code).toBe('NOT_FOUND');
  });
});

describe('Simulation: event queue', () => {
  it('fires equal-time events by priority, then insertion order, after earlier times', () => {
    const order: string[] = [];
    const sim = new Simulation({ seed: 1 });
    const ev = (name: string, time: number, priority?: number) =>
      sim.schedule({ name, time, priority, fire: (s) => order.push(`${name}@${s.time}`) });
    ev('a', 5, 1);
    ev('b', 5, 0);
    ev('c', 5, 1);
    ev('d', 5, -1);
    ev('e', 3);
    ev('f', 5); // default priority 0, after b
    ev('g', 12); // beyond this step
    expect(sim.pendingEvents().map((e) => e.name)).toEqual(['e', 'd', 'b', 'f', 'a', 'c', 'g']);
    sim.step(10);
    expect(order).toEqual(['e@3', 'd@5', 'b@5', 'f@5', 'a@5', 'c@5']);
    expect(sim.pendingEvents().map((e) => e.name)).toEqual(['g']);
    expect(sim.eventsFired).toBe(6);
  });

  it('orders many random events like a sort on (time, priority, sequence)', () => {
    const sim = new Simulation({ seed: 'heap' });
    const rng = sim.rng('events');
    const fired: number[] = [];
    const expected: Array<{ time: number; priority: number; id: number }> = [];
    for (let k = 0; k < 500; k++) {
      const time = rng.integer(1, 20); // many ties
      const priority = rng.integer(0, 3);
      const id = sim.schedule({ name: `e${k}`, time, priority, fire: () => fired.push(id) });
      expected.push({ time, priority, id });
    }
    sim.runUntil(20, 3);
    expected.sort((x, y) => x.time - y.time || x.priority - y.priority || x.id - y.id);
    expect(fired).toEqual(expected.map((e) => e.id));
  });

  it('splits integration at event times: advance sees sub-intervals ending exactly at events', () => {
    const log: string[] = [];
    const sim = new Simulation({ seed: 1 });
    sim.addAgent(tracer('p', log, true));
    sim.schedule({ name: 'meal', time: 7, fire: (s) => log.push(`meal@${s.time}`) });
    sim.schedule({ name: 'bolus', time: 2.5, fire: (s) => log.push(`bolus@${s.time}`) });
    sim.schedule({ name: 'end', time: 10, fire: (s) => log.push(`end@${s.time}`) });
    sim.schedule({ name: 'later', time: 13, fire: (s) => log.push(`later@${s.time}`) });
    sim.step(10);
    expect(log.filter((l) => !/sense|decide|act$/.test(l))).toEqual([
      'p.advance[0,2.5]',
      'bolus@2.5',
      'p.advance[2.5,7]',
      'meal@7',
      'p.advance[7,10]',
      'end@10', // an event at the end of the step fires before collect
      'p.collect',
    ]);
    log.length = 0;
    sim.step(10);
    expect(log.filter((l) => l.includes('advance') || l.includes('@'))).toEqual(['p.advance[10,13]', 'later@13', 'p.advance[13,20]']);
  });

  it('fires events due at the start of a step before sense, and "now" events from act before advancing', () => {
    const log: string[] = [];
    const sim = new Simulation({ seed: 1 });
    sim.schedule({ name: 'admit', time: 0, fire: () => log.push('admit') });
    sim.addAgent({
      name: 'clinician',
      sense: () => log.push('sense'),
      act: (s) => {
        log.push('act');
        s.schedule({ name: 'bolus-now', time: s.time, fire: () => log.push('bolus-now') });
      },
      advance: () => log.push('advance'),
      collect: (s) => {
        log.push('collect');
        // scheduled for the current time between steps: fires at the start of the next step
        s.schedule({ name: 'handover', time: s.time, fire: () => log.push('handover') });
      },
    });
    sim.step(1);
    sim.step(1);
    expect(log).toEqual([
      'admit',
      'sense',
      'act',
      'bolus-now',
      'advance',
      'collect',
      'handover',
      'sense',
      'act',
      'bolus-now',
      'advance',
      'collect',
    ]);
    expect(sim.pendingEvents().map((e) => e.name)).toEqual(['handover']);
  });

  it('cancels pending events and lets events schedule events', () => {
    const log: string[] = [];
    const sim = new Simulation({ seed: 1 });
    const doomed = sim.schedule({ name: 'doomed', time: 1, fire: () => log.push('doomed') });
    sim.schedule({
      name: 'chain',
      time: 2,
      fire: (s) => {
        log.push(`chain@${s.time}`);
        s.schedule({ name: 'same-time', time: s.time, fire: (t) => log.push(`same-time@${t.time}`) });
        s.schedule({ name: 'next', time: s.time + 1, fire: (t) => log.push(`next@${t.time}`) });
      },
    });
    expect(sim.cancel(doomed)).toBe(true);
    expect(sim.cancel(doomed)).toBe(false);
    expect(sim.cancel(12345)).toBe(false);
    expect(sim.pendingEvents().map((e) => e.name)).toEqual(['chain']);
    sim.step(5);
    expect(log).toEqual(['chain@2', 'same-time@2', 'next@3']);
    expect(sim.pendingEvents()).toEqual([]);
    expect(sim.nextEventTime()).toBeUndefined();
  });

  it('rejects scheduling in the past, non-finite times, bad dt, and scheduling mid-advance', () => {
    const sim = new Simulation({ seed: 1 });
    sim.step(10);
    const fire = () => {};
    const past = catchError(() => sim.schedule({ name: 'late', time: 9.5, fire }));
    expect(past.code).toBe('INVALID_ARGUMENT');
    expect(past.message).toMatch(/past/);
    expect(catchError(() => sim.schedule({ name: 'nan', time: Number.NaN, fire })).code).toBe('INVALID_ARGUMENT');
    expect(catchError(() => sim.schedule({ name: 'inf', time: Number.POSITIVE_INFINITY, fire })).code).toBe('INVALID_ARGUMENT');
    expect(catchError(() => sim.schedule({ name: 'p', time: 11, priority: Number.NaN, fire })).code).toBe('INVALID_ARGUMENT');
    expect(catchError(() => sim.step(0)).code).toBe('INVALID_ARGUMENT');
    expect(catchError(() => sim.step(-1)).code).toBe('INVALID_ARGUMENT');
    expect(catchError(() => sim.step(Number.NaN)).code).toBe('INVALID_ARGUMENT');
    expect(catchError(() => sim.runUntil(5, 1)).code).toBe('INVALID_ARGUMENT');
    expect(sim.schedule({ name: 'now', time: 10, fire })).toBeTypeOf('number'); // the current time is allowed

    const bad = new Simulation({ seed: 1 });
    bad.addAgent({ name: 'x', advance: (s, _t0, t1) => s.schedule({ name: 'mid', time: t1, fire }) });
    expect(catchError(() => bad.step(1)).code).toBe('INVALID_STATE');
    expect(bad.currentPhase).toBe('idle');
  });

  it('runUntil lands exactly on the target with a shortened last step', () => {
    const sim = new Simulation({ seed: 1 });
    const dts: number[] = [];
    sim.addAgent({ name: 'a', advance: (_s, t0, t1) => dts.push(t1 - t0) });
    expect(sim.runUntil(1, 0.3)).toBe(4);
    expect(sim.time).toBe(1);
    expect(dts[3]).toBeCloseTo(0.1, 12);
    const s2 = new Simulation({ seed: 1 });
    s2.runUntil(1, 0.1); // 10 × 0.1 accumulates round-off; still exactly 1 in 10 steps
    expect(s2.time).toBe(1);
    expect(s2.stepCount).toBe(10);
  });
});

// ---- A small clinic: a one-compartment patient with meals and a noisy sensor ------------------

/** Glucose-like state G' = u − k·G, with input u switched by meal events (piecewise constant). */
class Patient implements SimAgent {
  readonly name = 'patient';
  readonly y = Float64Array.of(5);
  input = 0;
  private readonly ode = new DormandPrince(1, { rtol: 1e-10, atol: 1e-12 });
  private readonly rhs = (_t: number, y: Float64Array, d: Float64Array): void => {
    d[0] = this.input - 0.1 * (y[0] as number);
  };
  advance(_sim: Simulation, t0: number, t1: number): void {
    this.ode.integrate(this.rhs, this.y, t0, t1);
  }
  collect(_sim: Simulation, out: DataCollector): void {
    out.record('glucose', this.y[0] as number);
  }
}

class Sensor implements SimAgent {
  readonly name = 'cgm';
  reading = Number.NaN;
  sense(sim: Simulation): void {
    const p = sim.agent<Patient>('patient');
    this.reading = (p.y[0] as number) + sim.rng('sensor-noise').normal(0, 0.2);
  }
  collect(_sim: Simulation, out: DataCollector): void {
    out.record('cgm', this.reading);
  }
}

function runClinic(seed: number | string): Simulation {
  const sim = new Simulation({ seed });
  const patient = sim.addAgent(new Patient());
  sim.addAgent(new Sensor());
  const meals = sim.rng('meals');
  for (let day = 0; day < 3; day++) {
    const start = day * 100 + meals.uniform(10, 60);
    const carbs = meals.uniform(0.5, 2);
    sim.schedule({ name: 'meal-start', time: start, fire: () => (patient.input += carbs) });
    sim.schedule({ name: 'meal-end', time: start + 15, fire: () => (patient.input -= carbs) });
  }
  sim.runUntil(300, 5);
  return sim;
}

describe('Simulation: data and determinism', () => {
  it('two runs with one seed collect identical data; different seeds differ', () => {
    const a = runClinic(42);
    const b = runClinic(42);
    const c = runClinic(43);
    expect(a.collector.rows).toBe(60);
    expect(a.collector.columnNames).toEqual(['time', 'glucose', 'cgm']);
    for (const col of ['time', 'glucose', 'cgm']) {
      expect(Array.from(a.collector.column(col))).toEqual(Array.from(b.collector.column(col)));
    }
    expect(Array.from(a.collector.column('time'))).toEqual(Array.from(c.collector.column('time')));
    expect(Array.from(a.collector.column('cgm'))).not.toEqual(Array.from(c.collector.column('cgm')));
    expect(Array.from(a.collector.column('glucose'))).not.toEqual(Array.from(c.collector.column('glucose')));
  });

  it('integrates a piecewise-constant input exactly across event splits', () => {
    // One meal from t=12 to t=27 with rate 1, stepping every 5: events fall inside steps.
    const sim = new Simulation({ seed: 0 });
    const p = sim.addAgent(new Patient());
    sim.schedule({ name: 'on', time: 12, fire: () => (p.input = 1) });
    sim.schedule({ name: 'off', time: 27, fire: () => (p.input = 0) });
    sim.runUntil(40, 5);
    // Analytic: G' = u − 0.1G, G(0) = 5.
    const k = 0.1;
    const g12 = 5 * Math.exp(-k * 12);
    const g27 = 1 / k + (g12 - 1 / k) * Math.exp(-k * 15);
    const g40 = g27 * Math.exp(-k * 13);
    expect(p.y[0]).toBeCloseTo(g40, 8);
    const glucose = sim.collector.column('glucose');
    const g25 = 1 / k + (g12 - 1 / k) * Math.exp(-k * 13);
    expect(glucose[4]).toBeCloseTo(g25, 8); // row 4 is t = 25
  });

  it('rng(name) streams are cached, independent and seed-dependent', () => {
    const s1 = new Simulation({ seed: 7 });
    const s2 = new Simulation({ seed: 7 });
    expect(s1.rng('x')).toBe(s1.rng('x'));
    const a = [s1.rng('x').next(), s1.rng('x').next()];
    s2.rng('other').next(); // another consumer does not shift 'x'
    expect([s2.rng('x').next(), s2.rng('x').next()]).toEqual(a);
    expect(new Simulation({ seed: 8 }).rng('x').next()).not.toBe(a[0]);
  });
});

describe('DataCollector', () => {
  it('pads unrecorded cells with NaN, grows past its initial capacity, and rejects double writes', () => {
    const dc = new DataCollector();
    for (let i = 0; i < 200; i++) {
      dc.beginRow();
      dc.record('i', i);
      if (i % 2 === 0) dc.record('even', i);
      if (i >= 150) dc.record('late', -i);
    }
    dc.endRow();
    expect(dc.rows).toBe(200);
    const i = dc.column('i');
    expect(i.length).toBe(200);
    expect(i[199]).toBe(199);
    const even = dc.column('even');
    expect(even[0]).toBe(0);
    expect(Number.isNaN(even[1] as number)).toBe(true);
    expect(even[198]).toBe(198);
    const late = dc.column('late');
    expect(Number.isNaN(late[0] as number)).toBe(true);
    expect(Number.isNaN(late[149] as number)).toBe(true);
    expect(late[150]).toBe(-150);
    expect(dc.row(1)).toEqual({ i: 1, even: Number.NaN, late: Number.NaN });

    dc.beginRow();
    dc.record('i', 1);
    expect(catchError(() => dc.record('i', 2)).code).toBe('INVALID_STATE');
    expect(catchError(() => dc.column('missing')).code).toBe('NOT_FOUND');
    expect(catchError(() => new DataCollector().record('x', 1)).code).toBe('INVALID_STATE');
  });
});

describe('Simulation event entries are reused', () => {
  it('a fired or cancelled event id stays dead after its queue entry is reused by a later schedule', () => {
    const sim = new Simulation({ seed: 1 });
    const fired: string[] = [];
    const ev = (name: string, time: number) => ({ name, time, fire: () => fired.push(name) });
    const a = sim.schedule(ev('a', 1));
    const c = sim.schedule(ev('c', 1.5));
    expect(sim.cancel(c)).toBe(true);
    sim.step(2); // fires a, drops c: both entries go back to the pool
    const b = sim.schedule(ev('b', 3));
    const d = sim.schedule(ev('d', 3.5));
    expect(sim.cancel(a)).toBe(false);
    expect(sim.cancel(c)).toBe(false);
    expect(sim.pendingEvents().map((e) => [e.id, e.name])).toEqual([
      [b, 'b'],
      [d, 'd'],
    ]);
    sim.step(2);
    expect(fired).toEqual(['a', 'b', 'd']);
    expect(new Set([a, b, c, d]).size).toBe(4);
  });
});
