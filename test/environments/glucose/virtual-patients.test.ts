import { describe, expect, it } from 'vitest';
import { basalRate, PATIENT_COLUMNS, patientNames } from '../../../environments/glucose/params.js';
import { T1DPatient } from '../../../environments/glucose/patient.js';
import { getPatient, getTherapy } from '../../../environments/glucose/patients.js';
import {
  BW_RANGE,
  deriveBasal,
  GB_RANGE,
  generateCohort,
  generatePatient,
  groupFit,
  mealTest,
  physiologicalTherapy,
  rejectionReason,
} from '../../../environments/glucose/virtual-patients.js';

const GROUPS = ['adolescent', 'adult', 'child'] as const;

function plain(p: ReturnType<typeof generatePatient>) {
  return { ...p, params: { ...p.params, x0: Array.from(p.params.x0) } };
}

describe('basal identities and therapy identity on the 30 distributed patients', () => {
  it('deriveBasal reproduces every derived column and x0 of vpatient_params.csv (to 1e-6) — except adult#004 CL', () => {
    const deviations: string[] = [];
    for (const name of patientNames()) {
      const csv = getPatient(name);
      const derived = deriveBasal(getPatient(name));
      for (const c of ['Gpb', 'Gtb', 'Vm0', 'kp1', 'Ipb', 'CL', 'm2', 'm4', 'm30', 'Ilb', 'isc1ss', 'isc2ss', 'Rdb', 'PCRb'] as const) {
        if (Math.abs(derived[c] - csv[c]) > 1e-6 * Math.abs(csv[c])) deviations.push(`${name} ${c}`);
      }
      for (let i = 0; i < 13; i++) {
        if (Math.abs((derived.x0[i] as number) - (csv.x0[i] as number)) > 1e-6 * Math.abs(csv.x0[i] as number)) deviations.push(`${name} x0_${i + 1}`);
      }
    }
    // Data quirk (README): adult#004's CL column (information only, never read) is 5.4% off u2ss·BW/Ib;
    // its m2 and m4, which the dynamics do read, agree with u2ss·BW/Ib.
    expect(deviations).toEqual(['adult#004 CL']);
  });

  it('Quest.csv obeys TDI = 1440·basal + 200/CR (the rule used for generated therapy)', () => {
    for (const name of patientNames()) {
      const t = getTherapy(name);
      expect(t.tdi, name).toBeCloseTo(1440 * basalRate(getPatient(name)) + 200 / t.carbRatio, 6);
    }
  });
});

describe('generated virtual patients', () => {
  it('the group fit is a valid log-normal: shrinkage λ in (0, 1], θ_pop the geometric mean, Ω symmetric', () => {
    for (const g of GROUPS) {
      const fit = groupFit(g);
      expect(fit.lambda).toBeGreaterThan(0);
      expect(fit.lambda).toBeLessThanOrEqual(1);
      const bws = patientNames(g).map((n) => getPatient(n).BW);
      expect(fit.thetaPop.BW).toBeCloseTo(Math.exp(bws.reduce((s, v) => s + Math.log(v), 0) / bws.length), 9);
      const k = fit.parameters.length;
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) {
          const sij = (fit.omega[i] as number[])[j] as number;
          expect(sij).toBe((fit.omega[j] as number[])[i] as number);
          const r = sij / Math.sqrt(((fit.omega[i] as number[])[i] as number) * ((fit.omega[j] as number[])[j] as number));
          if (i !== j) expect(Math.abs(r)).toBeLessThanOrEqual(1 - fit.lambda + 1e-12);
        }
      }
    }
  });

  it('same seed → same patients; different seed → different; patient i is the same in cohorts of 5 and 50', () => {
    const a = generateCohort('adult', 42, 5);
    const b = generateCohort('adult', 42, 5);
    expect(a.patients.map(plain)).toEqual(b.patients.map(plain));
    const other = generateCohort('adult', 43, 5);
    expect(other.patients[0]?.params.BW).not.toBe(a.patients[0]?.params.BW);
    const big = generateCohort('adult', 42, 50);
    for (let i = 0; i < 5; i++) {
      expect(plain(big.patients[i] as ReturnType<typeof generatePatient>)).toEqual(plain(a.patients[i] as ReturnType<typeof generatePatient>));
      expect(plain(generatePatient('adult', 42, i))).toEqual(plain(a.patients[i] as ReturnType<typeof generatePatient>));
    }
    expect(a.patients[3]?.params.name).toBe('adult~s42#003');
  });

  it('generated names resolve through getPatient/getTherapy', () => {
    const g = generatePatient('child', 7, 12);
    expect(g.params.name).toBe('child~s7#012');
    const byName = getPatient('child~s7#012');
    expect({ ...byName, x0: Array.from(byName.x0) }).toEqual({ ...g.params, x0: Array.from(g.params.x0) });
    expect(getTherapy('child~s7#012')).toEqual(g.therapy);
    expect(() => getPatient('child~sx#012')).toThrow(/unknown glucose patient/);
  });

  it('every generated patient is complete, plausible and holds its own Gb on its own basal for 24 h (20 per group)', () => {
    for (const g of GROUPS) {
      const { patients } = generateCohort(g, 2024, 20);
      const fit = groupFit(g);
      for (const { params, therapy } of patients) {
        for (const c of PATIENT_COLUMNS) expect(Number.isFinite(params[c]), `${params.name} ${c}`).toBe(true);
        expect(params.BW).toBeGreaterThanOrEqual((BW_RANGE[g] as [number, number])[0]);
        expect(params.BW).toBeLessThanOrEqual((BW_RANGE[g] as [number, number])[1]);
        expect(params.Gb).toBeGreaterThanOrEqual(GB_RANGE[0]);
        expect(params.Gb).toBeLessThanOrEqual(GB_RANGE[1]);
        expect(rejectionReason(params, therapy.carbRatio)).toBeUndefined();
        expect(therapy.tdi).toBeCloseTo(1440 * basalRate(params) + 200 / therapy.carbRatio, 9);
        expect(therapy.age).toBeGreaterThanOrEqual(fit.ageRange[0]);
        expect(therapy.age).toBeLessThanOrEqual(fit.ageRange[1]);
        expect(params.b).toBeGreaterThan(params.d);
        expect(params.b).toBeLessThan(1);

        const sim = new T1DPatient(params);
        const basal = basalRate(params);
        let worst = 0;
        for (let t = 0; t < 1440; t++) {
          sim.step(basal, 0);
          worst = Math.max(worst, Math.abs(sim.plasmaGlucose - params.Gb), Math.abs(sim.subcutaneousGlucose - params.Gb));
        }
        expect(worst, params.name).toBeLessThan(0.01);
        expect(worst, params.name).toBeLessThan(1e-6);
      }
    }
  });

  it('rejections are counted by reason and sum to the total (child cohort, seed 42, n = 100)', () => {
    const c = generateCohort('child', 42, 100);
    expect(c.patients).toHaveLength(100);
    const total = Object.values(c.reasons).reduce((s, n) => s + n, 0);
    expect(total).toBe(c.rejected);
    expect(c.rejected).toBe(c.patients.reduce((s, p) => s + p.attempts - 1, 0));
    expect(c.rejected).toBeGreaterThan(0); // children: ≈ 5 % of draws (emptying curve, meal test with the titrated bolus, BW)
    for (const k of Object.keys(c.reasons)) {
      expect(k).toMatch(/^(bounds:(BW|Gb)|Gtb<=0|Vm0<=0|Gpb>=ke2|kmin>=kmax|d>=b|meal-test:(nadir<40|peak>400)|therapy:(correction|no-bolus-needed|no-convergence|integration-failed))$/);
    }
  });

  it('rejectionReason catches each structural rule', () => {
    const base = getPatient('adult#003');
    expect(rejectionReason(base, getTherapy('adult#003').carbRatio)).toBeUndefined();
    expect(rejectionReason(deriveBasal({ ...getPatient('adult#003'), EGPb: 100 }))).toBe('Gtb<=0');
    expect(rejectionReason(deriveBasal({ ...getPatient('adult#003'), EGPb: 0.5 }))).toBe('Vm0<=0');
    expect(rejectionReason(deriveBasal({ ...getPatient('adult#003'), Gb: 200, Vg: 2 }))).toBe('Gpb>=ke2');
    expect(rejectionReason({ ...base, kmin: base.kmax })).toBe('kmin>=kmax');
    expect(rejectionReason({ ...base, d: base.b })).toBe('d>=b');
    // CR of 1 g/U: 50 U for a 50 g meal → severe hypoglycaemia.
    expect(mealTest(base, 1).nadir).toBeLessThan(40);
    expect(rejectionReason(base, 1)).toBe('meal-test:nadir<40');
  });

  it('a candidate whose meal test the integrator cannot follow is rejected, not thrown (adult, seed 15, index 7482)', () => {
    // This draw's first candidate made RK4 produce NaN in the meal test, which aborted the whole cohort
    // (a 10⁴-patient streaming trial failed its block); now it is one more rejection reason.
    const p = generatePatient('adult', 15, 7482);
    expect(rejectionReason(p.params, p.therapy.carbRatio)).toBeUndefined();
    expect(plain(generatePatient('adult', 15, 7482))).toEqual(plain(p));
  });

  it('log body weight of a large cohort centres on the group geometric mean (adolescents, n = 300)', () => {
    const { patients } = generateCohort('adolescent', 5, 300);
    const logs = patients.map((p) => Math.log(p.params.BW));
    const mean = logs.reduce((s, v) => s + v, 0) / logs.length;
    const fit = groupFit('adolescent');
    const sd = Math.sqrt((fit.omega[0] as number[])[0] as number);
    // 4 standard errors; rejection conditions only weakly on BW.
    expect(Math.abs(mean - Math.log(fit.thetaPop.BW as number))).toBeLessThan((4 * sd) / Math.sqrt(300));
  });
});

/** Plasma glucose 4 h after 50 g with `bolus` U at the meal, and the 8-h nadir after 1 U alone, on basal (an independent re-simulation). */
function therapyChecks(p: ReturnType<typeof getPatient>, bolus: number): { at240: number; unitNadir: number } {
  const meal = new T1DPatient(p);
  const unit = new T1DPatient(p);
  const basal = basalRate(p);
  let at240 = Number.NaN;
  let unitNadir = unit.plasmaGlucose;
  for (let t = 0; t < 480; t++) {
    if (t < 240) meal.step(basal + (t === 0 ? bolus : 0), t === 0 ? 50 : 0);
    if (t === 239) at240 = meal.plasmaGlucose;
    unit.step(basal + (t === 0 ? 1 : 0), 0);
    unitNadir = Math.min(unitNadir, unit.plasmaGlucose);
  }
  return { at240, unitNadir };
}

describe('therapy of generated patients (issue #13 item 10)', () => {
  const corr = (a: number[], b: number[]) => {
    const ma = a.reduce((s, x) => s + x, 0) / a.length;
    const mb = b.reduce((s, x) => s + x, 0) / b.length;
    let ab = 0;
    let aa = 0;
    let bb = 0;
    a.forEach((x, i) => {
      ab += (x - ma) * ((b[i] as number) - mb);
      aa += (x - ma) ** 2;
      bb += ((b[i] as number) - mb) ** 2;
    });
    return ab / Math.sqrt(aa * bb);
  };

  it("the physiological derivation reproduces simglucose's Quest.csv for the 20 named adolescents and adults, and shows the named children overdosed", () => {
    const cf: number[] = [];
    const cr: number[] = [];
    const logs = { qCf: [] as number[], dCf: [] as number[], qCr: [] as number[], dCr: [] as number[] };
    for (const name of [...patientNames('adolescent'), ...patientNames('adult')]) {
      const q = getTherapy(name);
      const d = physiologicalTherapy(getPatient(name));
      cf.push(q.correctionFactor / d.correctionFactor);
      cr.push(q.carbRatio / d.carbRatio);
      logs.qCf.push(Math.log(q.correctionFactor));
      logs.dCf.push(Math.log(d.correctionFactor));
      logs.qCr.push(Math.log(q.carbRatio));
      logs.dCr.push(Math.log(d.carbRatio));
    }
    // Quest CF = 0.72–1.04 × the model's fall per unit, log correlation 0.99; CR correlates 0.92 with the 4-h titration.
    for (const r of cf) expect(r).toBeGreaterThan(0.7);
    for (const r of cf) expect(r).toBeLessThan(1.1);
    expect(corr(logs.qCf, logs.dCf)).toBeGreaterThan(0.98);
    expect(corr(logs.qCr, logs.dCr)).toBeGreaterThan(0.85);
    const sorted = [...cr].sort((a, b) => a - b);
    const median = ((sorted[9] as number) + (sorted[10] as number)) / 2;
    expect(median).toBeGreaterThan(0.8);
    expect(median).toBeLessThan(1.25);
    // The named children's Quest settings are far more aggressive than their own physiology: CF 0.39–0.69 × the fall per unit.
    for (const name of patientNames('child')) {
      expect(getTherapy(name).correctionFactor / physiologicalTherapy(getPatient(name)).correctionFactor, name).toBeLessThan(0.75);
    }
  });

  it("a generated patient's carb ratio returns a 50 g meal to its basal glucose at 4 h and its correction factor is its fall per unit (10 per group)", () => {
    // The derivation before drew CR and CF from the shrunk joint log-normal, nearly independent of the
    // physiology: at seed 42 the CR bolus left the 4-h glucose of these patients between 97 mg/dL below and 60 above Gb.
    for (const g of GROUPS) {
      for (const { params, therapy } of generateCohort(g, 42, 10).patients) {
        const { at240, unitNadir } = therapyChecks(params, 50 / therapy.carbRatio);
        expect(Math.abs(at240 - params.Gb), params.name).toBeLessThanOrEqual(0.5 + 1e-9);
        expect(therapy.correctionFactor, params.name).toBeCloseTo(params.Gb - unitNadir, 9);
      }
    }
  });
});
