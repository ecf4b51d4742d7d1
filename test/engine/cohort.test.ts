import { describe, expect, it } from 'vitest';
import { type CohortSpec, compileCohort, sampleCohort, samplePatient } from '../../engine/cohort.js';
import { TwinlabError } from '../../engine/errors.js';

function catchError(fn: () => unknown): TwinlabError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TwinlabError);
    return e as TwinlabError;
  }
  throw new Error('expected a TwinlabError, nothing was thrown');
}

// SDs 0.3, 0.4, 0.5 (log scale); correlations ρ12 = 0.5, ρ13 = −0.3, ρ23 = 0.2.
const SD = [0.3, 0.4, 0.5];
const RHO = [
  [1, 0.5, -0.3],
  [0.5, 1, 0.2],
  [-0.3, 0.2, 1],
];
const OMEGA = RHO.map((row, i) => row.map((r, j) => r * (SD[i] as number) * (SD[j] as number)));

const pkSpec: CohortSpec = {
  parameters: ['CL', 'V', 'ka'],
  thetaPop: { CL: 5, V: 50, ka: 1.2 },
  omega: OMEGA,
};

describe('sampleCohort: distribution', () => {
  it('log-parameters have mean θ_pop and covariance Ω (n = 20,000, seed 2024)', () => {
    const n = 20_000;
    const { patients, rejected } = sampleCohort(pkSpec, 2024, n);
    expect(patients).toHaveLength(n);
    expect(rejected).toBe(0);
    const names = pkSpec.parameters;
    const theta = [5, 50, 1.2];
    const logs = names.map(() => new Float64Array(n));
    let worstEtaMismatch = 0;
    let indicesOk = true;
    patients.forEach((p, k) => {
      indicesOk &&= p.index === k;
      names.forEach((name, i) => {
        const l = Math.log((p.params[name] as number) / (theta[i] as number));
        (logs[i] as Float64Array)[k] = l;
        worstEtaMismatch = Math.max(worstEtaMismatch, Math.abs(l - (p.eta[i] as number)));
      });
    });
    expect(indicesOk).toBe(true);
    expect(worstEtaMismatch).toBeLessThan(1e-12); // eta is exactly the log-ratio
    const mean = logs.map((x) => x.reduce((s, v) => s + v, 0) / n);
    // Tolerance: 5 standard errors. SE(mean_i) = σ_i/√n; SE(cov_ij) = √((Ω_ii·Ω_jj + Ω_ij²)/n).
    mean.forEach((m, i) => {
      expect(Math.abs(m)).toBeLessThan((5 * (SD[i] as number)) / Math.sqrt(n));
    });
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) {
          s += ((logs[i] as Float64Array)[k] as number - (mean[i] as number)) * ((logs[j] as Float64Array)[k] as number - (mean[j] as number));
        }
        const cov = s / (n - 1);
        const target = (OMEGA[i] as number[])[j] as number;
        const varI = (OMEGA[i] as number[])[i] as number;
        const varJ = (OMEGA[j] as number[])[j] as number;
        const se = Math.sqrt((varI * varJ + target * target) / n);
        expect(Math.abs(cov - target)).toBeLessThan(5 * se); // ≤ 0.013 absolute for the largest entry
      }
    }
  });

  it('exposes the Cholesky factor: L·Lᵀ = Ω', () => {
    const L = compileCohort(pkSpec).cholesky;
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += (L[i * 3 + k] as number) * (L[j * 3 + k] as number);
        expect(s).toBeCloseTo((OMEGA[i] as number[])[j] as number, 14);
        if (j > i) expect(L[i * 3 + j]).toBe(0);
      }
    }
  });

  it('fixes zero-variance parameters at θ_pop without drawing for them', () => {
    const spec: CohortSpec = {
      parameters: ['CL', 'F', 'V'],
      thetaPop: { CL: 5, F: 0.8, V: 50 },
      omega: [
        [0.09, 0, 0.03],
        [0, 0, 0],
        [0.03, 0, 0.04],
      ],
    };
    const { patients } = sampleCohort(spec, 1, 50);
    for (const p of patients) {
      expect(p.params.F).toBe(0.8);
      expect(p.eta[1]).toBe(0);
    }
  });
});

describe('sampleCohort: reproducibility', () => {
  it('patient i is the same whatever the cohort size or sampling order', () => {
    const small = sampleCohort(pkSpec, 'trial-7', 10).patients;
    const large = sampleCohort(pkSpec, 'trial-7', 1000).patients;
    expect(large.slice(0, 10)).toEqual(small);
    expect(samplePatient(pkSpec, 'trial-7', 7)).toEqual(small[7]);
    // a different seed gives a different patient 0
    expect(sampleCohort(pkSpec, 'trial-8', 1).patients[0]?.params).not.toEqual(small[0]?.params);
  });
});

describe('sampleCohort: covariates', () => {
  const spec: CohortSpec = {
    parameters: ['CL', 'V'],
    thetaPop: {
      CL: (cov) => 5 * ((cov.WT as number) / 70) ** 0.75 * (cov.SEX === 1 ? 1.2 : 1),
      V: (cov) => 0.7 * (cov.WT as number),
    },
    omega: [
      [0.04, 0.01],
      [0.01, 0.04],
    ],
    covariates: {
      WT: (rng) => Math.exp(rng.normal(Math.log(70), 0.2)),
      SEX: { type: 'categorical', values: [0, 1], weights: [3, 1] },
    },
  };

  it('draws covariates first and feeds them to θ_pop', () => {
    const { patients } = sampleCohort(spec, 5, 4000);
    let males = 0;
    for (const p of patients) {
      const { WT, SEX } = p.covariates as { WT: number; SEX: number };
      expect([0, 1]).toContain(SEX);
      males += SEX;
      const typicalCL = 5 * (WT / 70) ** 0.75 * (SEX === 1 ? 1.2 : 1);
      expect((p.params.CL as number) / Math.exp(p.eta[0] as number)).toBeCloseTo(typicalCL, 10);
      expect((p.params.V as number) / Math.exp(p.eta[1] as number)).toBeCloseTo(0.7 * WT, 10);
    }
    // P(SEX = 1) = 1/4; SE = √(0.1875/4000) ≈ 0.0068
    expect(Math.abs(males / 4000 - 0.25)).toBeLessThan(0.03);
  });

  it('rejects bad categorical definitions', () => {
    const bad = { ...spec, covariates: { SEX: { type: 'categorical' as const, values: [0, 1], weights: [1] } } };
    expect(catchError(() => compileCohort(bad)).message).toMatch(/as many weights as values/);
  });
});

describe('sampleCohort: bounds and plausibility', () => {
  it('respects bounds, resamples out-of-range patients and counts the rejections', () => {
    // CL bounds at θ·exp(±0.3) = ±1 SD ⇒ P(accept) ≈ 0.683 for CL; V bounds at ±2 SD ⇒ ≈ 0.954.
    const spec: CohortSpec = {
      ...pkSpec,
      bounds: { CL: [5 * Math.exp(-0.3), 5 * Math.exp(0.3)], V: [50 * Math.exp(-0.8), 50 * Math.exp(0.8)] },
    };
    const n = 2000;
    const { patients, rejected, rejectionReasons } = sampleCohort(spec, 99, n);
    for (const p of patients) {
      expect(p.params.CL).toBeGreaterThanOrEqual(5 * Math.exp(-0.3));
      expect(p.params.CL).toBeLessThanOrEqual(5 * Math.exp(0.3));
      expect(p.params.V).toBeGreaterThanOrEqual(50 * Math.exp(-0.8));
      expect(p.params.V).toBeLessThanOrEqual(50 * Math.exp(0.8));
    }
    const attempts = patients.reduce((s, p) => s + p.attempts, 0);
    expect(rejected).toBe(attempts - n);
    expect(Object.values(rejectionReasons).reduce((s, v) => s + v, 0)).toBe(rejected);
    expect(Object.keys(rejectionReasons).sort()).toEqual(['bounds:CL', 'bounds:V']);
    // CL is checked first: expected CL rejections per accepted patient = (1 − 0.683)/(0.683·P(V ok | CL ok)).
    // Overall acceptance ≈ P(CL ok ∧ V ok) ≈ 0.66 (correlated), so attempts/n ≈ 1.5.
    expect(attempts / n).toBeGreaterThan(1.35);
    expect(attempts / n).toBeLessThan(1.7);
    expect(rejectionReasons['bounds:CL']).toBeGreaterThan(rejectionReasons['bounds:V'] as number);
    // Bounds do not disturb the prefix property.
    expect(sampleCohort(spec, 99, 5).patients).toEqual(patients.slice(0, 5));
  });

  it('resamples when accept() returns a reason and counts it under that reason', () => {
    const spec: CohortSpec = {
      ...pkSpec,
      accept: (p) => ((p.params.CL as number) / (p.params.V as number) < 0.1 ? true : 'elimination too fast'),
    };
    const { patients, rejected, rejectionReasons } = sampleCohort(spec, 3, 500);
    expect(patients.every((p) => (p.params.CL as number) / (p.params.V as number) < 0.1)).toBe(true);
    expect(rejected).toBeGreaterThan(0);
    expect(rejectionReasons).toEqual({ 'accept:elimination too fast': rejected });

    const boolSpec: CohortSpec = { ...pkSpec, accept: (p) => (p.params.ka as number) > 1 };
    const r = sampleCohort(boolSpec, 3, 200);
    expect(Object.keys(r.rejectionReasons)).toEqual(['accept:rejected']);
  });

  it('throws when a patient exhausts maxAttempts', () => {
    const spec: CohortSpec = { ...pkSpec, bounds: { CL: [100, 200] }, maxAttempts: 25 };
    const e = catchError(() => sampleCohort(spec, 1, 3));
    expect(e.code).toBe('INVALID_SPEC');
    expect(e.message).toMatch(/patient 0 was rejected 25 times/);
    expect(e.details?.rejectionReasons).toEqual({ 'bounds:CL': 25 });
  });
});

describe('compileCohort: validation', () => {
  it('rejects a non-positive-definite Ω with a clear message', () => {
    // Correlation 1.5 between CL and V is impossible.
    const notPd: CohortSpec = {
      parameters: ['CL', 'V'],
      thetaPop: { CL: 5, V: 50 },
      omega: [
        [0.09, 0.18],
        [0.18, 0.16],
      ],
    };
    const e = catchError(() => compileCohort(notPd));
    expect(e.code).toBe('INVALID_SPEC');
    expect(e.message).toMatch(/omega is not symmetric positive definite/);
    expect(e.message).toMatch(/smallest eigenvalue -/);

    const e3 = catchError(() =>
      compileCohort({
        ...pkSpec,
        omega: [
          [0.09, 0.12, 0],
          [0.12, 0.16, 0],
          [0, 0, 0.25],
        ], // ρ12 = 1: singular
      }),
    );
    expect(e3.message).toMatch(/positive definite/);
  });

  it('rejects asymmetric, negative-variance and mis-sized Ω, and inconsistent specs', () => {
    const asym = catchError(() =>
      compileCohort({
        parameters: ['CL', 'V'],
        thetaPop: { CL: 5, V: 50 },
        omega: [
          [0.09, 0.01],
          [0.02, 0.16],
        ],
      }),
    );
    expect(asym.message).toMatch(/not symmetric: omega\[1\]\[0\] = 0.02 but omega\[0\]\[1\] = 0.01/);
    const neg = catchError(() =>
      compileCohort({ parameters: ['CL'], thetaPop: { CL: 5 }, omega: [[-0.1]] }),
    );
    expect(neg.message).toMatch(/variance omega\[0\]\[0\] of 'CL' is negative/);
    expect(catchError(() => compileCohort({ ...pkSpec, omega: [[0.1]] })).message).toMatch(/must be a 3×3 matrix/);
    expect(catchError(() => compileCohort({ ...pkSpec, thetaPop: { CL: 5, V: 50 } })).message).toMatch(/thetaPop\['ka'\]/);
    expect(catchError(() => compileCohort({ ...pkSpec, bounds: { Q: [0, 1] } })).message).toMatch(/'Q'/);
    expect(catchError(() => compileCohort({ ...pkSpec, bounds: { CL: [2, 1] } })).message).toMatch(/not an interval/);
    expect(catchError(() => samplePatient(pkSpec, 1, -1)).code).toBe('INVALID_ARGUMENT');
  });
});
