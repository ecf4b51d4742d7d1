import { describe, expect, it } from 'vitest';
import { Rng } from '../../../engine/random.js';
import { sampleTransition } from '../../../environments/sepsis/model.js';
import { maxRowSumError, transitionRow } from '../../../environments/sepsis/mdp.js';
import { N_ACTIONS, N_FULL, N_OBS, N_PROJ, OBS_REWARD, type SepsisState, decodeFull, encodeFull, encodeObs, encodeProj, obsToProj } from '../../../environments/sepsis/state.js';
import { buildFullModel, buildObservedModel, initialDistribution } from '../../../environments/sepsis/tensor.js';

// Source for every fact here: Oberst & Sontag, ICML 2019, clinicalml/gumbel-max-scm
// sepsisSimDiabetes/{State,Action,MDP}.py, as summarised in docs/MODELS.md §2 ("Validation facts").

const bugged = buildFullModel({ glucoseDefect: true });
const fixed = buildFullModel({ glucoseDefect: false });

const base: SepsisState = { hr: 1, sysbp: 1, o2: 1, glucose: 2, abx: 0, vaso: 0, vent: 0, diabetic: 0 };
const st = (over: Partial<SepsisState>): number => encodeFull({ ...base, ...over });

/** Marginal of one variable of the next state, read off the enumerated row. */
function marginal(model: typeof bugged, s: number, a: number, v: keyof SepsisState): number[] {
  const n = { hr: 3, sysbp: 3, o2: 2, glucose: 5, abx: 2, vaso: 2, vent: 2, diabetic: 2 }[v];
  const out = new Array<number>(n).fill(0);
  for (const [sp, p] of transitionRow(model, s, a)) out[decodeFull(sp)[v]] = (out[decodeFull(sp)[v]] as number) + p;
  return out;
}
const close = (got: number[], want: number[]) => got.forEach((g, i) => expect(g).toBeCloseTo(want[i] as number, 12));

describe('sepsis state space (docs/MODELS.md §2 validation fact 1)', () => {
  it('has 720 observed, 1440 full, 144 projected states and 8 actions; encodings round-trip', () => {
    expect([N_OBS, N_FULL, N_PROJ, N_ACTIONS]).toEqual([720, 1440, 144, 8]);
    const seenProj = new Set<number>();
    for (let i = 0; i < N_FULL; i++) {
      const s = decodeFull(i);
      expect(encodeFull(s)).toBe(i);
      expect(encodeObs(s)).toBe(i % N_OBS);
      expect(obsToProj(i % N_OBS)).toBe(encodeProj(s));
      seenProj.add(encodeProj(s));
    }
    expect(seenProj.size).toBe(144);
    // State.get_state_idx significance order: hr most significant, vent least
    expect(encodeObs({ hr: 2, sysbp: 0, o2: 0, glucose: 0, abx: 0, vaso: 0, vent: 0 })).toBe(480);
    expect(encodeObs({ hr: 0, sysbp: 0, o2: 0, glucose: 1, abx: 0, vaso: 0, vent: 0 })).toBe(8);
    expect(() => decodeFull(1440)).toThrow(/\[0, 1440\)/);
  });

  it('action 5 = antibiotics + vasopressors: next flags equal the action bits', () => {
    for (const [sp] of transitionRow(bugged, st({}), 5)) expect([decodeFull(sp).abx, decodeFull(sp).vent, decodeFull(sp).vaso]).toEqual([1, 0, 1]);
  });
});

describe('worked transition probabilities (docs/MODELS.md §2 fact 2 and each rule of MDP.py)', () => {
  it('fact 2: hr high, rest normal, non-diabetic, action antibiotics — four independent marginals', () => {
    const s = st({ hr: 2 });
    close(marginal(bugged, s, 4, 'hr'), [0, 0.5, 0.5]);
    close(marginal(bugged, s, 4, 'sysbp'), [0, 1, 0]);
    close(marginal(bugged, s, 4, 'o2'), [0.1, 0.9]);
    close(marginal(bugged, s, 4, 'glucose'), [0, 0.2, 0.8, 0, 0]);
    close(marginal(fixed, s, 4, 'glucose'), [0, 0.1, 0.8, 0.1, 0]);
    // independence: the joint is the product of the marginals
    const row = transitionRow(bugged, s, 4);
    expect(row.get(st({ hr: 1, o2: 0, glucose: 1, abx: 1 }))).toBeCloseTo(0.5 * 0.1 * 0.2, 14);
    expect(row.size).toBe(2 * 2 * 2);
  });

  it('antibiotics withdrawn: hr and sysbp normal → high w.p. 0.1 each, no fluctuation', () => {
    const s = st({ abx: 1 });
    close(marginal(bugged, s, 0, 'hr'), [0, 0.9, 0.1]);
    close(marginal(bugged, s, 0, 'sysbp'), [0, 0.9, 0.1]);
  });

  it('ventilation on: O2 low → normal w.p. 0.7; withdrawn: normal → low w.p. 0.1', () => {
    close(marginal(bugged, st({ o2: 0 }), 2, 'o2'), [0.3, 0.7]);
    close(marginal(bugged, st({ vent: 1 }), 0, 'o2'), [0.1, 0.9]);
  });

  it('vasopressors on: non-diabetic low → normal w.p. 0.7; diabetic low → normal .5 / high .4, normal → high .9, glucose +1 w.p. .5', () => {
    close(marginal(bugged, st({ sysbp: 0 }), 1, 'sysbp'), [0.3, 0.7, 0]);
    close(marginal(bugged, st({ sysbp: 1 }), 1, 'sysbp'), [0, 0.3, 0.7]);
    close(marginal(bugged, st({ sysbp: 0, diabetic: 1 }), 1, 'sysbp'), [0.1, 0.5, 0.4]);
    close(marginal(bugged, st({ sysbp: 1, diabetic: 1 }), 1, 'sysbp'), [0, 0.1, 0.9]);
    close(marginal(bugged, st({ diabetic: 1 }), 1, 'glucose'), [0, 0, 0.5, 0.5, 0]);
    close(marginal(bugged, st({}), 1, 'glucose'), [0, 0, 1, 0, 0]); // non-diabetic: no glucose effect, no fluctuation
  });

  it('vasopressors withdrawn: sysbp −1 w.p. 0.1 (non-diabetic) or 0.05 (diabetic); glucose still fluctuates', () => {
    close(marginal(bugged, st({ vaso: 1 }), 0, 'sysbp'), [0.1, 0.9, 0]);
    close(marginal(bugged, st({ vaso: 1, diabetic: 1 }), 0, 'sysbp'), [0.05, 0.95, 0]);
    close(marginal(bugged, st({ vaso: 1, diabetic: 1 }), 0, 'glucose'), [0, 0.3, 0.4, 0.3, 0]);
  });

  it('fluctuation: hr/sysbp/O2 ±1 w.p. 0.1 each (clipped); diabetic glucose ±1 w.p. 0.3', () => {
    close(marginal(bugged, st({}), 0, 'hr'), [0.1, 0.8, 0.1]);
    close(marginal(bugged, st({ sysbp: 2 }), 0, 'sysbp'), [0, 0.1, 0.9]);
    close(marginal(bugged, st({ o2: 1 }), 0, 'o2'), [0.1, 0.9]);
    close(marginal(bugged, st({ diabetic: 1, glucose: 4 }), 0, 'glucose'), [0, 0, 0, 0.3, 0.7]);
  });

  it('the glucoseDefect option changes exactly the non-diabetic upward glucose move (issue #1)', () => {
    let differing = 0;
    for (let s = 0; s < N_FULL; s++) {
      for (let a = 0; a < N_ACTIONS; a++) {
        const rb = transitionRow(bugged, s, a);
        const rf = transitionRow(fixed, s, a);
        const same = rb.size === rf.size && [...rb].every(([k, p]) => Math.abs((rf.get(k) ?? -1) - p) < 1e-15);
        if (same) continue;
        differing++;
        const d = decodeFull(s);
        // only non-diabetic, glucose-fluctuating (no vasopressors), glucose ≥ 1 rows differ ...
        expect(d.diabetic).toBe(0);
        expect(a & 1).toBe(0);
        expect(d.glucose).toBeGreaterThanOrEqual(1);
        // ... and only in the glucose marginal: bug sends the 0.1 "up" mass to level 1, fix to min(4, g+1)
        const gb = marginal(bugged, s, a, 'glucose');
        const gf = marginal(fixed, s, a, 'glucose');
        const moved = gf.map((p, i) => p - (gb[i] as number));
        expect(moved[Math.min(4, d.glucose + 1)]).toBeCloseTo(0.1, 12);
        expect(moved[1]).toBeCloseTo(-0.1, 12);
        for (const v of ['hr', 'sysbp', 'o2'] as const) close(marginal(fixed, s, a, v), marginal(bugged, s, a, v));
      }
    }
    expect(differing).toBe(4 * 9 * 2 * 8 * 4); // glucose 1..4 × hr·sysbp × o2 × treatment flags × 4 actions without vasopressors
  });
});

describe('the enumerated tensor', () => {
  it('every row of the full and observed tensors sums to 1 (both variants)', () => {
    for (const m of [bugged, fixed, buildObservedModel(bugged, 0.2)]) expect(maxRowSumError(m)).toBeLessThan(1e-12);
  });

  it('fact 3: discharge needs action 0 — from every state, actions 1..7 never reach a +1 state', () => {
    for (let s = 0; s < N_FULL; s++)
      for (let a = 1; a < N_ACTIONS; a++) for (const [sp] of transitionRow(bugged, s, a)) expect(OBS_REWARD[sp % N_OBS]).not.toBe(1);
  });

  it('fact 4: ≥ 3 abnormal vitals is death (−1); initial states are never absorbing', () => {
    expect(OBS_REWARD[encodeObs({ hr: 0, sysbp: 0, o2: 0, glucose: 2, abx: 1, vaso: 0, vent: 0 })]).toBe(-1);
    expect(OBS_REWARD[encodeObs({ hr: 0, sysbp: 0, o2: 1, glucose: 2, abx: 0, vaso: 0, vent: 0 })]).toBe(0);
    expect(OBS_REWARD[encodeObs({ hr: 1, sysbp: 1, o2: 1, glucose: 2, abx: 0, vaso: 0, vent: 0 })]).toBe(1);
    expect(OBS_REWARD[encodeObs({ hr: 1, sysbp: 1, o2: 1, glucose: 2, abx: 0, vaso: 0, vent: 1 })]).toBe(0);
    const init = initialDistribution(0.2);
    let total = 0;
    for (let s = 0; s < N_FULL; s++) {
      total += init[s] as number;
      if ((init[s] as number) > 0) expect(OBS_REWARD[s % N_OBS]).toBe(0);
    }
    expect(total).toBeCloseTo(1, 12);
  });

  it("the simulator's empirical transition frequencies match the enumerated tensor (chi-square, seed 7)", () => {
    const rng = Rng.fromSeed(7).fork('chi-square');
    const n = 20_000;
    const pairs: Array<[number, number]> = [
      [st({ hr: 2 }), 4],
      [st({ sysbp: 0, diabetic: 1, glucose: 3 }), 1],
      [st({ vaso: 1, abx: 1, vent: 1, diabetic: 1 }), 0],
      [st({ o2: 0, glucose: 3 }), 2],
      [st({ hr: 0, sysbp: 2, glucose: 1, vaso: 1 }), 6],
      [st({ hr: 0, glucose: 4 }), 0],
      [st({ sysbp: 0, o2: 0, diabetic: 1 }), 7],
      [st({ hr: 2, sysbp: 2, abx: 1, glucose: 0 }), 3],
    ];
    for (const glucoseDefect of [true, false]) {
      const model = glucoseDefect ? bugged : fixed;
      for (const [s, a] of pairs) {
        const row = transitionRow(model, s, a);
        const counts = new Map<number, number>();
        for (let k = 0; k < n; k++) {
          const sp = sampleTransition(s, a, rng, glucoseDefect);
          counts.set(sp, (counts.get(sp) ?? 0) + 1);
        }
        for (const sp of counts.keys()) expect(row.has(sp)).toBe(true); // no impossible successor
        let chi2 = 0;
        for (const [sp, p] of row) chi2 += ((counts.get(sp) ?? 0) - n * p) ** 2 / (n * p);
        const df = row.size - 1;
        if (df === 0) continue;
        // 99.9 % quantile of χ²(df) by Wilson–Hilferty
        const z = 3.09;
        const crit = df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
        expect(chi2, `state ${s} action ${a} defect ${glucoseDefect}`).toBeLessThan(crit);
      }
    }
  });
});
