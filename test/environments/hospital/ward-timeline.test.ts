import { describe, expect, it } from 'vitest';
import type { WardBedInfo, WardStepInfo } from '../../../environments/hospital/env.js';
import { WardEnv } from '../../../environments/hospital/env.js';
import { PATIENT_TRACKS, patientTracks, wardInfoOf, wardTimeline } from '../../../environments/hospital/ward-timeline.js';

const sepsis = (id: number, admitted: number, extra: Partial<WardBedInfo> = {}): WardBedInfo => ({ id, cls: 'sepsis', admitted, news2: 2, score: 3, abnormal: 1, abx: 1, ...extra });
const vanco = (id: number, admitted: number, extra: Partial<WardBedInfo> = {}): WardBedInfo => ({ id, cls: 'vancomycin', admitted, news2: 0, conc: 12.5, auc24: null, aki: 0, doses: 1, ...extra });

function snap(minute: number, beds: (WardBedInfo | null)[], extra: Partial<WardStepInfo> = {}): WardStepInfo {
  return { minute, beds, queue: 0, due: { obs: 0 }, dueTotal: 0, nursesOnShift: 1, nursesBusy: 0, staff: {}, left: [], ...extra };
}

describe('wardTimeline: info.ward snapshots → bed stays', () => {
  it('a patient still in bed at the end of the episode ends at the last snapshot, outcome "in bed"', () => {
    const t = wardTimeline([snap(0, [sepsis(4, -300), null]), snap(60, [sepsis(4, -300), vanco(9, 20)]), snap(120, [sepsis(4, -300), vanco(9, 20)])]);
    expect(t.beds).toBe(2);
    expect(t.minutes).toEqual([0, 60, 120]);
    expect(t.stays).toEqual([
      { id: 4, cls: 'sepsis', bed: 0, start: -300, end: 120, outcome: 'in bed' },
      { id: 9, cls: 'vancomycin', bed: 1, start: 20, end: 120, outcome: 'in bed' },
    ]);
  });

  it('a bed re-used within a step closes one stay at the reported minute and opens the next', () => {
    const t = wardTimeline([
      snap(0, [sepsis(1, -100)]),
      snap(60, [vanco(2, 41)], { left: [{ id: 1, cls: 'sepsis', bed: 0, admitted: -100, ended: 35, outcome: 'died' }] }),
      snap(120, [null], { left: [{ id: 2, cls: 'vancomycin', bed: 0, admitted: 41, ended: 118.5, outcome: 'transferred' }] }),
      snap(180, [sepsis(3, 150)]),
    ]);
    expect(t.stays).toEqual([
      { id: 1, cls: 'sepsis', bed: 0, start: -100, end: 35, outcome: 'died' },
      { id: 2, cls: 'vancomycin', bed: 0, start: 41, end: 118.5, outcome: 'transferred' },
      { id: 3, cls: 'sepsis', bed: 0, start: 150, end: 180, outcome: 'in bed' },
    ]);
  });

  it('a stay shorter than a step (never in a snapshot) is kept without a bed; a log without `left` says "unknown"', () => {
    const t = wardTimeline([snap(0, [null]), snap(60, [null], { left: [{ id: 7, cls: 'sepsis', bed: null, admitted: 10, ended: 45, outcome: 'transferred' }] })]);
    expect(t.stays).toEqual([{ id: 7, cls: 'sepsis', bed: null, start: 10, end: 45, outcome: 'transferred' }]);
    const old = [snap(0, [sepsis(1, -5)]), snap(60, [null])].map(({ left: _l, ...rest }) => rest as WardStepInfo);
    expect(wardTimeline(old).stays).toEqual([{ id: 1, cls: 'sepsis', bed: 0, start: -5, end: 60, outcome: 'unknown' }]);
  });
});

describe('wardTimeline: staff activity', () => {
  it('each sample holds until the next; equal states merge; off shift and idle are states of their own', () => {
    const states = ['off', 'off', 'idle', 'obs', 'obs', 'off', 'care'];
    const t = wardTimeline(states.map((s, i) => snap(i * 60, [], { staff: { 'nurse/day-0': s, pharmacist: i < 3 ? 'off' : 'verify' } })));
    expect(t.staff).toEqual(['nurse/day-0', 'pharmacist']);
    const nurse = t.staffIntervals.filter((x) => x.staff === 'nurse/day-0').map(({ state, start, end }) => [state, start, end]);
    // the last sample (care at 360) is the end of the episode: no duration
    expect(nurse).toEqual([
      ['off', 0, 120],
      ['idle', 120, 180],
      ['obs', 180, 300],
      ['off', 300, 360],
    ]);
    const ph = t.staffIntervals.filter((x) => x.staff === 'pharmacist').map(({ state, start, end }) => [state, start, end]);
    expect(ph).toEqual([
      ['off', 0, 180],
      ['verify', 180, 360],
    ]);
  });

  it('queue and tasks due are per-snapshot series', () => {
    const t = wardTimeline([snap(0, [], { queue: 2, due: { obs: 1, abx: 0 } }), snap(60, [], { queue: 0, due: { obs: 3, abx: 1 } })]);
    expect(t.queue).toEqual([
      { minute: 0, queue: 2 },
      { minute: 60, queue: 0 },
    ]);
    expect(t.due).toContainEqual({ minute: 60, kind: 'abx', count: 1 });
    expect(t.due).toHaveLength(4);
  });
});

describe('patientTracks', () => {
  it('one row per snapshot in bed and quantity, with units; nulls left out; another class gets its own quantities', () => {
    const s = [snap(0, [vanco(5, -60, { conc: 10, auc24: null })]), snap(60, [vanco(5, -60, { conc: 22.1, auc24: 455.2, doses: 2 })]), snap(120, [null])];
    const p = patientTracks(s, 5);
    expect(p?.cls).toBe('vancomycin');
    expect(p?.definitions).toBe(PATIENT_TRACKS.vancomycin);
    expect(p?.rows.filter((r) => r.field === 'conc').map((r) => [r.minute, r.value, r.unit])).toEqual([
      [0, 10, 'mg/L'],
      [60, 22.1, 'mg/L'],
    ]);
    expect(p?.rows.filter((r) => r.field === 'auc24').map((r) => [r.minute, r.value, r.unit])).toEqual([[60, 455.2, 'mg·h/L']]);
    expect(patientTracks(s, 6)).toBeNull();
    const q = patientTracks([snap(0, [sepsis(8, 0, { abx: 0 })])], 8);
    expect(q?.rows.map((r) => r.field)).toEqual(['news2', 'score', 'abnormal', 'abx']);
  });
});

describe('wardTimeline on a real hospital/ward-v1 episode', () => {
  // a small congested ward so stays end, beds are re-used (5 times with this seed) and staff go off shift within 3 days
  const env = new WardEnv({ beds: 6, arrivalsPerDay: 8, horizonHours: 72, warmupDays: 6, nursesDay: 2, nursesNight: 1 });
  const reset = env.reset({ seed: 1 });
  const snapshots: WardStepInfo[] = [wardInfoOf(JSON.parse(JSON.stringify(reset.info))) as WardStepInfo];
  for (let k = 0; k < 72; k++) snapshots.push(wardInfoOf(JSON.parse(JSON.stringify(env.step(k % 4).info))) as WardStepInfo);
  const t = wardTimeline(snapshots);

  it('every bed row matches info.ward: a stay per (bed, patient) run, ended by the outcome the ward reports', () => {
    expect(t.beds).toBe(6);
    // the stays on bed rows are exactly the runs of one patient id per bed
    const runs: string[] = [];
    for (let k = 0; k < 6; k++) {
      let prev: number | null = null;
      for (const s of snapshots) {
        const id = s.beds[k]?.id ?? null;
        if (id !== null && id !== prev) runs.push(`${k}:${id}`);
        prev = id;
      }
    }
    expect(t.stays.filter((s) => s.bed !== null).map((s) => `${s.bed}:${s.id}`).sort()).toEqual(runs.sort());
    const ended = t.stays.filter((s) => s.outcome !== 'in bed');
    expect(ended.length).toBe(5);
    for (const s of t.stays) {
      expect(s.end).toBeGreaterThanOrEqual(s.start);
      expect(s.outcome).not.toBe('unknown');
    }
    // every ended stay is reported once in `left`, with the same bed and end
    const left = snapshots.flatMap((s) => s.left);
    expect(new Set(left.map((l) => l.id)).size).toBe(left.length);
    for (const l of left) expect(t.stays).toContainEqual({ id: l.id, cls: l.cls, bed: l.bed, start: l.admitted, end: l.ended, outcome: l.outcome });
    expect(ended).toHaveLength(left.length);
    // those still in bed at the end are the last snapshot's patients
    const last = snapshots[snapshots.length - 1] as WardStepInfo;
    expect(t.stays.filter((s) => s.outcome === 'in bed').map((s) => s.id).sort()).toEqual(last.beds.filter((b) => b !== null).map((b) => (b as WardBedInfo).id).sort());
    // a bed is never double-booked
    for (let k = 0; k < 6; k++) {
      const onBed = t.stays.filter((s) => s.bed === k).sort((a, b) => a.start - b.start);
      for (let i = 1; i < onBed.length; i++) expect(onBed[i]?.start).toBeGreaterThanOrEqual(onBed[i - 1]?.end as number);
    }
  });

  it('staff intervals tile the episode for every staff member, and the night nurse is off by day', () => {
    const end = snapshots[snapshots.length - 1]?.minute as number;
    for (const name of t.staff) {
      const mine = t.staffIntervals.filter((x) => x.staff === name);
      expect(mine[0]?.start).toBe(0);
      expect(mine[mine.length - 1]?.end).toBe(end);
      for (let i = 1; i < mine.length; i++) {
        expect(mine[i]?.start).toBe(mine[i - 1]?.end);
        expect(mine[i]?.state).not.toBe(mine[i - 1]?.state);
      }
    }
    // 12:00 on day 1: the night nurse (19–07) is off unless finishing a task
    const noon = t.staffIntervals.find((x) => x.staff === 'nurse/night-0' && x.start <= 720 && x.end > 720);
    expect(noon?.state).toBe('off');
  });

  it('a patient panel follows the patient through their stay', () => {
    const stay = t.stays.find((s) => s.bed !== null && s.cls === 'vancomycin') as NonNullable<(typeof t.stays)[number]>;
    const p = patientTracks(snapshots, stay.id);
    const conc = p?.rows.filter((r) => r.field === 'conc') ?? [];
    expect(conc.length).toBe(snapshots.filter((s) => s.beds.some((b) => b?.id === stay.id)).length);
    for (const r of conc) expect(r.value).toBeGreaterThanOrEqual(0);
  });
});
