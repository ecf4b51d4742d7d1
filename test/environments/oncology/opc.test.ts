import { describe, expect, it } from 'vitest';
import { make } from '../../../engine/registry.js';
import { Rng } from '../../../engine/random.js';
import { type OpcPatient, OPC_DEFAULT_PARAMETERS as P, burden, emptyCourse, samplePatient, sigmoid, stage1, stage2, stage3 } from '../../../environments/oncology/opc-model.js';
import { OPC_ENDPOINTS, opcCohortMember, registerOpc } from '../../../environments/oncology/opc-twin.js';
import { evaluatePolicy } from '../../../policies/evaluate.js';
import { registerOpcPolicies } from '../../../policies/oncology/opc.js';
import { makePolicy } from '../../../policies/registry.js';

// Source: docs/MODELS.md §5 "The structural causal model" — SYNTHETIC, not fitted to data; decision
// structure after Tardini et al., J Med Internet Res 2022;24(4):e29455.
registerOpc();
registerOpcPolicies();

const n = 100_000;
const rng = Rng.fromSeed(42).fork('opc-test');
const patients: OpcPatient[] = Array.from({ length: n }, () => samplePatient(rng));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const within = (got: number, want: number, p = want) => expect(Math.abs(got - want)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n) + 1e-9);

/** A course with its own uniforms per patient (common random numbers across regimens). */
function course(p: OpcPatient, u: number[], a1: number, a2: number, a3: (resid: number) => number) {
  const c = emptyCourse();
  stage1(p, c, a1, u[0] as number, u[1] as number);
  stage2(p, c, a2, u[2] as number, u[3] as number, u[4] as number);
  stage3(p, c, a3(c.resid), u[5] as number, u[6] as number, u[7] as number, P);
  return c;
}
const uniforms = patients.map(() => Array.from({ length: 8 }, () => rng.next()));

describe('OPC-Seq-Twin covariate law (docs/MODELS.md §5, seed 42, 10^5 patients)', () => {
  it('marginals: HPV+ .75; smoker .45 | HPV+, .7 | HPV−; T, N, PS categorical; age N(58, 9) in [35, 85]; F ~ N(0, 1)', () => {
    within(mean(patients.map((p) => p.hpv)), 0.75);
    const pos = patients.filter((p) => p.hpv === 1);
    const neg = patients.filter((p) => p.hpv === 0);
    expect(Math.abs(mean(pos.map((p) => p.smoker)) - 0.45)).toBeLessThan(0.01);
    expect(Math.abs(mean(neg.map((p) => p.smoker)) - 0.7)).toBeLessThan(0.015);
    [0.15, 0.35, 0.3, 0.2].forEach((q, k) => within(mean(patients.map((p) => (p.T === k + 1 ? 1 : 0))), q));
    [0.1, 0.25, 0.55, 0.1].forEach((q, k) => within(mean(patients.map((p) => (p.N === k ? 1 : 0))), q));
    [0.6, 0.3, 0.1].forEach((q, k) => within(mean(patients.map((p) => (p.PS === k ? 1 : 0))), q));
    expect(Math.min(...patients.map((p) => p.age))).toBeGreaterThanOrEqual(35);
    expect(Math.max(...patients.map((p) => p.age))).toBeLessThanOrEqual(85);
    expect(Math.abs(mean(patients.map((p) => p.age)) - 58)).toBeLessThan(0.15); // truncation at ±2.5 sd barely moves the mean
    expect(Math.abs(mean(patients.map((p) => p.F)))).toBeLessThan(0.02);
    expect(Math.abs(mean(patients.map((p) => p.F * p.F)) - 1)).toBeLessThan(0.03);
  });
});

describe('OPC-Seq-Twin conditional laws match the specification', () => {
  it('induction response rate equals E[σ(1 − 0.5 z)]; DLT1 equals E[σ(−1.5 + 0.03(age−58) + 0.5 PS + 0.4 F)]; no IC → no response, no DLT1', () => {
    const ic = patients.map((p, i) => course(p, uniforms[i] as number[], 1, 1, (r) => r));
    const none = patients.map((p, i) => course(p, uniforms[i] as number[], 0, 1, (r) => r));
    const pR = mean(patients.map((p) => sigmoid(1 - 0.5 * burden(p))));
    within(mean(ic.map((c) => c.r1)), pR);
    const pD = mean(patients.map((p) => sigmoid(-1.5 + 0.03 * (p.age - 58) + 0.5 * p.PS + 0.4 * p.F)));
    within(mean(ic.map((c) => c.dlt1)), pD);
    expect(none.every((c) => c.r1 === 0 && c.dlt1 === 0)).toBe(true);
    // LRC under CC given the post-induction burden
    within(mean(ic.map((c) => c.lrc)), mean(ic.map((c) => sigmoid(1.2 - 0.8 * c.z + 0.35 + 0.2 * c.r1))));
    // calibration targets: OS under the reference regimen (CC, ND iff residual) ≈ 80 % HPV+, 50 % HPV−; dysphagia ≈ 25 %
    const hpvPos = none.filter((_, i) => patients[i]?.hpv === 1);
    const hpvNeg = none.filter((_, i) => patients[i]?.hpv === 0);
    expect(Math.abs(mean(hpvPos.map((c) => c.os)) - 0.8)).toBeLessThan(0.01);
    expect(Math.abs(mean(hpvNeg.map((c) => c.os)) - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(mean(none.map((c) => c.dys)) - 0.25)).toBeLessThan(0.01);
  });

  it('design targets met by the specified coefficients: CC helps more when HPV−; IC raises dysphagia ≥ 3 points; maximal treatment is not optimal at λ = 0.3', () => {
    const cc = patients.map((p, i) => course(p, uniforms[i] as number[], 0, 1, (r) => r));
    const rt = patients.map((p, i) => course(p, uniforms[i] as number[], 0, 0, (r) => r));
    const ic = patients.map((p, i) => course(p, uniforms[i] as number[], 1, 1, (r) => r));
    const all = patients.map((p, i) => course(p, uniforms[i] as number[], 1, 1, () => 1));
    const effect = (sel: (p: OpcPatient) => boolean) => {
      const idx = patients.map((p, i) => (sel(p) ? i : -1)).filter((i) => i >= 0);
      return mean(idx.map((i) => (cc[i]?.os as number) - (rt[i]?.os as number)));
    };
    expect(effect(() => true)).toBeGreaterThan(0.02);
    expect(effect((p) => p.hpv === 0)).toBeGreaterThan(effect((p) => p.hpv === 1));
    expect(mean(ic.map((c) => c.dys)) - mean(cc.map((c) => c.dys))).toBeGreaterThan(0.03);
    const u = (cs: typeof cc) => mean(cs.map((c) => c.os - 0.3 * c.dys));
    expect(u(cc)).toBeGreaterThan(u(all)); // dropping IC and routine ND beats "treat maximally"
  });
});

describe('oncology/opc-sequencing-v1 env', () => {
  it('the frailty confounder is hidden from the observation but changes outcomes', () => {
    const base = { age: 60, hpv: 0, smoker: 1, T: 3, N: 2, PS: 1 };
    const rates = [-2, 2].map((F) => {
      const env = make('oncology/opc-sequencing-v1', { patient: { ...base, F } });
      const obs: number[][] = [];
      let os = 0;
      let dys = 0;
      for (let k = 0; k < 4000; k++) {
        obs.push(Array.from(env.reset({ seed: k }).observation));
        env.step(0);
        env.step(1);
        const r = env.step(0);
        const c = r.info.course as { os: number; dys: number };
        os += c.os;
        dys += c.dys;
      }
      return { obs: obs[0], os: os / 4000, dys: dys / 4000 };
    });
    expect(rates[0]?.obs).toEqual(rates[1]?.obs); // identical observation whatever F
    expect((rates[0]?.os as number) - (rates[1]?.os as number)).toBeGreaterThan(0.1); // frail patients die more
    expect((rates[1]?.dys as number) - (rates[0]?.dys as number)).toBeGreaterThan(0.05);
  });

  it('fact 3: among patients the guideline would give CC, the confounded physician\'s naive CC-vs-RT contrast is biased against the do-contrast', () => {
    const eligible = (p: { T: number; N: number; PS: number; age: number }) => p.PS <= 1 && p.age <= 70 && (p.T >= 3 || p.N >= 2);
    const env = make('oncology/opc-sequencing-v1');
    const result = evaluatePolicy(env, makePolicy('opc/physician', env), { seed: 9, episodes: 12_000, record: true });
    const os = OPC_ENDPOINTS.find((e) => e.id === 'survival');
    let [s1, n1, s0, n0] = [0, 0, 0, 0];
    for (const e of result.episodes) {
      const log = e.log as NonNullable<typeof e.log>;
      if (!eligible(log.resetInfo.covariates as OpcPatient)) continue;
      const v = os?.compute(log) ?? 0;
      if (log.steps[1]?.action === 1) [s1, n1] = [s1 + v, n1 + 1];
      else [s0, n0] = [s0 + v, n0 + 1];
    }
    expect(n0).toBeGreaterThan(300); // the physician withholds chemo from clinically frail patients
    const naive = s1 / n1 - s0 / n0;
    // interventional (do) contrast in the same stratum: the same patients under CC and under RT
    const idx = patients.map((p, i) => (eligible(p) ? i : -1)).filter((i) => i >= 0);
    const truth = mean(idx.map((i) => course(patients[i] as OpcPatient, uniforms[i] as number[], 0, 1, (r) => r).os - course(patients[i] as OpcPatient, uniforms[i] as number[], 0, 0, (r) => r).os));
    expect(naive - truth).toBeGreaterThan(0.05); // frail patients (worse OS) end up in the RT arm
  });

  it('guideline policy: IC only for T4/N3 fit patients, CC for locally advanced fit patients, ND iff residual nodes', () => {
    const env = make('oncology/opc-sequencing-v1');
    const policy = makePolicy('opc/guideline', env);
    const r = Rng.fromSeed(0);
    const check = (patient: OpcPatient, want: [number, number]) => {
      const e = make('oncology/opc-sequencing-v1', { patient });
      for (let k = 0; k < 20; k++) {
        let obs = e.reset({ seed: k }).observation;
        expect(policy.act(obs, r)).toBe(want[0]);
        obs = e.step(want[0]).observation;
        expect(policy.act(obs, r)).toBe(want[1]);
        obs = e.step(want[1]).observation;
        expect(policy.act(obs, r)).toBe(obs[16] as number); // ND iff residual nodal disease
      }
    };
    check({ age: 55, hpv: 1, smoker: 0, T: 4, N: 1, PS: 0, F: 0 }, [1, 1]);
    check({ age: 55, hpv: 1, smoker: 0, T: 2, N: 1, PS: 0, F: 0 }, [0, 0]);
    check({ age: 55, hpv: 0, smoker: 1, T: 2, N: 2, PS: 1, F: 0 }, [0, 1]);
    check({ age: 78, hpv: 0, smoker: 1, T: 4, N: 3, PS: 0, F: 0 }, [0, 0]);
    check({ age: 50, hpv: 0, smoker: 1, T: 3, N: 3, PS: 2, F: 0 }, [0, 0]);
  });

  it('cohort member i depends only on (population, seed, i); hpv populations are pure', () => {
    expect(opcCohortMember({ population: 'opc', size: 5, seed: 1 }, 3)).toEqual(opcCohortMember({ population: 'opc', size: 500, seed: 1 }, 3));
    for (let i = 0; i < 30; i++) expect((opcCohortMember({ population: 'hpv-negative', size: 30, seed: 2 }, i).envOptions.patient as OpcPatient).hpv).toBe(0);
    expect(() => opcCohortMember({ population: 'lung', size: 1, seed: 1 }, 0)).toThrow(/unknown population "lung"/);
  });
});
