import { describe, expect, it } from 'vitest';
import { make } from '../../../engine/registry.js';
import { getTwin } from '../../../engine/twin.js';
import '../../../environments/index.js';
import { evaluatePolicy } from '../../../policies/evaluate.js';
import '../../../policies/index.js';
import { nearestDoseLevel, sawchukZaske } from '../../../policies/pkpd/index.js';
import { advance, type VancoBayesian } from '../../../policies/pkpd/vancomycin-bayesian.js';
import { policyContext } from '../../../policies/policy.js';
import { DormandPrince } from '../../../engine/ode.js';
import { individualPk, vancoRhs } from '../../../environments/pkpd/vancomycin-model.js';
import { makePolicy } from '../../../policies/registry.js';

// Sources: Rybak et al. 2020 consensus (AUC24/MIC 400–600; AUC-guided dosing from two levels preferred to
// weight-based dosing); Sawchuk & Zaske 1976 (two-level one-compartment estimation); Goti 2018 PK.

const twin = getTwin('vancomycin');

function trial(population: string, policy: string, n: number) {
  let final = 0;
  let aki = 0;
  for (let i = 0; i < n; i++) {
    const m = twin.cohortMember({ population, size: n, seed: 7 }, i);
    const env = make('pkpd/vancomycin-v1', m.envOptions);
    const log = evaluatePolicy(env, makePolicy(policy, env), { seed: i, episodes: 1, record: true }).episodes[0]?.log;
    if (!log) throw new Error('no log');
    for (const e of twin.endpoints) {
      if (e.id === 'target_attained_final') final += e.compute(log);
      if (e.id === 'aki') aki += e.compute(log);
    }
  }
  return { pta: final / n, aki: aki / n };
}

describe('vancomycin protocols', () => {
  it('nomogram: 15 mg/kg q12h rounded to the nearest level; never adjusted', () => {
    const env = make('pkpd/vancomycin-v1', { weight: 80 });
    const r = evaluatePolicy(env, makePolicy('pkpd/vancomycin-nomogram', env), { seed: 0, episodes: 1, record: true });
    expect(new Set(r.episodes[0]?.log?.steps.map((s) => s.action))).toEqual(new Set([4])); // 1200 mg → 1250 mg
    expect(nearestDoseLevel([0, 500, 750, 1000], 10)).toBe(1);
    expect(nearestDoseLevel([0, 500, 750, 1000], 875)).toBe(2); // tie → lower dose
  });

  it('Sawchuk–Zaske recovers a one-compartment patient exactly, and estimates AUC24 of the two-compartment twin within 15 %', () => {
    // one-compartment truth: V = 50 L, CL = 3 L/h, 1000 mg over 1 h, pre-dose level 5 mg/L
    const V = 50;
    const ke = 3 / 50;
    const c0 = 5;
    const cmax = (1000 / (ke * V)) * (1 - Math.exp(-ke)) + c0 * Math.exp(-ke);
    const peak = cmax * Math.exp(-ke);
    const trough = cmax * Math.exp(-ke * 11);
    const fit = sawchukZaske(1000, c0, peak, trough);
    expect(fit?.cl).toBeCloseTo(3, 9);
    expect(fit?.v).toBeCloseTo(50, 9);
    expect(sawchukZaske(1000, 0, 5, 6)).toBeNull();
    // two-compartment twin, exact levels at day 4: the fit's steady-state AUC24 vs the true daily dose / CL
    const env = make('pkpd/vancomycin-v1', { crcl: 80, assayError: false, aki: false });
    env.reset({ seed: 0 });
    let obs = env.step(3).observation;
    for (let k = 1; k < 8; k++) obs = env.step(3).observation;
    const est = sawchukZaske(obs[4] as number, obs[5] as number, obs[6] as number, obs[7] as number);
    expect(Math.abs((est?.auc24ss as number) / (2000 / 3.253) - 1)).toBeLessThan(0.15);
  });

  it('AUC-guided beats the nomogram on target attainment and kidney injury in renal impairment; nomogram AKI falls as renal function improves', () => {
    const n = 60;
    const impairedNomo = trial('crcl-30-59', 'pkpd/vancomycin-nomogram', n);
    const impairedAuc = trial('crcl-30-59', 'pkpd/vancomycin-auc-guided', n);
    expect(impairedAuc.pta).toBeGreaterThan(impairedNomo.pta);
    expect(impairedAuc.aki).toBeLessThan(impairedNomo.aki);
    const severeNomo = trial('crcl-lt30', 'pkpd/vancomycin-nomogram', n);
    const severeAuc = trial('crcl-lt30', 'pkpd/vancomycin-auc-guided', n);
    expect(severeAuc.pta).toBeGreaterThan(severeNomo.pta);
    expect(severeAuc.aki).toBeLessThan(severeNomo.aki);
    // the nomogram's kidney-injury rate falls as renal function improves
    const normalNomo = trial('crcl-ge90', 'pkpd/vancomycin-nomogram', n);
    expect(normalNomo.aki).toBeLessThan(impairedNomo.aki);
    expect(impairedNomo.aki).toBeLessThan(severeNomo.aki);
  });

  it('AUC-guided extends the interval (holds) when even the smallest dose overshoots', () => {
    const env = make('pkpd/vancomycin-v1', { crcl: 12, weight: 70, assayError: false, aki: false });
    const log = evaluatePolicy(env, makePolicy('pkpd/vancomycin-auc-guided', env), { seed: 0, episodes: 1, record: true }).episodes[0]?.log;
    const acts = log?.steps.map((s) => s.action) ?? [];
    expect(acts.slice(0, 2)).toEqual([3, 3]); // 15 mg/kg → 1050 → 1000 mg before levels
    expect(acts.slice(2)).toContain(0);
  });
});

describe('fixed regimen and trough-guided protocols', () => {
  const doseOf = (env: ReturnType<typeof make>, steps: Array<{ action: unknown }> | undefined) => {
    const labels = (env.actionSpace as unknown as { labels: string[] }).labels;
    return (steps ?? []).map((s) => labels[s.action as number]);
  };

  it('pkpd/vancomycin-regimen: the loading dose, then the dose every interval, holds in between; doses the env cannot give are refused naming the option', () => {
    const env = make('pkpd/vancomycin-v1', { weight: 80 });
    const r = evaluatePolicy(env, makePolicy('pkpd/vancomycin-regimen', env, { doseMg: 1250, intervalH: 24, loadingMg: 2000 }), { seed: 0, episodes: 1, record: true });
    expect(doseOf(env, r.episodes[0]?.log?.steps)).toEqual(['2000 mg', 'hold', '1250 mg', 'hold', '1250 mg', 'hold', '1250 mg', 'hold', '1250 mg', 'hold', '1250 mg', 'hold', '1250 mg', 'hold']);
    const q12 = evaluatePolicy(env, makePolicy('pkpd/vancomycin-regimen', env, { doseMg: 750 }), { seed: 0, episodes: 1, record: true });
    expect(new Set(doseOf(env, q12.episodes[0]?.log?.steps))).toEqual(new Set(['750 mg']));
    expect(() => evaluatePolicy(env, makePolicy('pkpd/vancomycin-regimen', env, { doseMg: 2250 }), { seed: 0, episodes: 1 })).toThrow(/option doseMg 2250 mg is not a dose level/);
    expect(() => makePolicy('pkpd/vancomycin-regimen', env, { doseMg: 1000, intervalH: 18 })).toThrow(/option intervalH must be 12, 24/);
    expect(() => makePolicy('pkpd/vancomycin-regimen', env, {})).toThrow(/option doseMg must be a dose/);
  });

  it('pkpd/vancomycin-trough: 15 mg/kg q12h until a steady-state trough (the 48-h one, not the 24-h one), then the dose scaled by 17.5 / trough', () => {
    // CrCL 40, 80 kg: 1250 mg q12h overshoots (troughs > 20 mg/L); exact levels so the arithmetic is checkable
    const env = make('pkpd/vancomycin-v1', { weight: 80, crcl: 40, assayError: false, aki: false });
    const log = evaluatePolicy(env, makePolicy('pkpd/vancomycin-trough', env), { seed: 0, episodes: 1, record: true }).episodes[0]?.log;
    const doses = doseOf(env, log?.steps);
    expect(doses.slice(0, 4)).toEqual(['1250 mg', '1250 mg', '1250 mg', '1250 mg']); // the 24-h trough (2 doses) is not used
    const trough48 = log?.steps[3]?.info.trough as number;
    expect(trough48).toBeGreaterThan(20);
    const mg = (1250 * 17.5) / trough48; // per 12 h; ≥ 375 mg so no interval extension
    const levels = [500, 750, 1000, 1250, 1500, 1750, 2000, 2500];
    const nearest = levels.reduce((b, d) => (Math.abs(d - mg) < Math.abs(b - mg) ? d : b));
    expect(doses[4]).toBe(`${nearest} mg`);
    expect(doses[4]).not.toBe('1250 mg');
    // it ends nearer the 15–20 mg/L window than the unadjusted nomogram
    const nomogram = evaluatePolicy(env, makePolicy('pkpd/vancomycin-nomogram', env), { seed: 0, episodes: 1, record: true }).episodes[0]?.log;
    const last = (l: typeof log) => l?.steps.at(-1)?.info.trough as number;
    expect(Math.abs(last(log) - 17.5)).toBeLessThan(Math.abs(last(nomogram) - 17.5));
  });
});

describe('pkpd/vancomycin-bayesian (re-estimates from the env levels)', () => {
  it('its exact two-compartment step matches the env model integrated by Dormand–Prince (infusion, then decay)', () => {
    const pk = individualPk(70, 80, false, { cl: -0.3, v1: 0.4, v2: -0.2 });
    const a1 = new Float64Array(1);
    const a2 = new Float64Array(1);
    advance(a1, a2, 0, pk.cl, pk.v1, pk.v2, 1250 / 1.25, 1.25);
    advance(a1, a2, 0, pk.cl, pk.v1, pk.v2, 0, 10.75);
    const rhs = vancoRhs(pk);
    const y = new Float64Array(3);
    const dp = new DormandPrince(3, { rtol: 1e-11, atol: 1e-11 });
    rhs.rate = 1000;
    dp.integrate(rhs.f, y, 0, 1.25);
    rhs.rate = 0;
    dp.integrate(rhs.f, y, 1.25, 12);
    expect(Math.abs((a1[0] as number) - (y[0] as number)) / (y[0] as number)).toBeLessThan(1e-8);
    expect(Math.abs((a2[0] as number) - (y[1] as number)) / (y[1] as number)).toBeLessThan(1e-8);
  });

  it('with the population prior it starts like a priori dosing and, from the levels, moves a low-clearance patient into the AUC target', () => {
    // CL 45 % below the typical value (ηCL = −0.6), V as typical: a priori dosing overshoots
    const options = { weight: 75, crcl: 80, etaCl: -0.6, etaV1: 0, etaV2: 0, aki: false };
    const env = make('pkpd/vancomycin-v1', options);
    const policy = makePolicy('pkpd/vancomycin-bayesian', env, {}) as unknown as VancoBayesian;
    const log = evaluatePolicy(env, policy, { seed: 3, episodes: 1, record: true }).episodes[0]?.log;
    if (!log) throw new Error('no log');
    const e = Object.fromEntries(twin.endpoints.map((d) => [d.id, d.compute(log)]));
    expect(e.target_attained_final).toBe(1);
    expect(e.auc24_above_600_final).toBe(0);
    expect(policy.lastEss).toBeLessThan(500); // 1,000 prior draws, narrowed by 7 sets of levels
    // the same patient kept on the regimen chosen from the prior alone (no re-estimation) ends above 600
    const fixedEnv = make('pkpd/vancomycin-v1', options);
    const p0 = makePolicy('pkpd/vancomycin-bayesian', fixedEnv, {}) as unknown as VancoBayesian;
    p0.reset(policyContext(fixedEnv, fixedEnv.reset({ seed: 3 }).info));
    expect(p0.regimen.doseMg).toBeGreaterThan(0);
    const fixed = evaluatePolicy(fixedEnv, makePolicy('pkpd/vancomycin-regimen', fixedEnv, { ...p0.regimen }), { seed: 3, episodes: 1, record: true }).episodes[0]?.log;
    if (!fixed) throw new Error('no log');
    expect(twin.endpoints.find((d) => d.id === 'auc24_above_600_final')?.compute(fixed)).toBe(1);
  });

  it('bad options are refused naming the option', () => {
    const env = make('pkpd/vancomycin-v1', {});
    expect(() => makePolicy('pkpd/vancomycin-bayesian', env, { prior: { mean: [0, 0], cov: [] } })).toThrow(/option prior\.mean must be 3 numbers/);
    expect(() => makePolicy('pkpd/vancomycin-bayesian', env, { prior: { mean: [0, 0, 0], cov: [[1, 0, 0], [0, -1, 0], [0, 0, 1]] } })).toThrow(/option prior\.cov must be a positive definite/);
    expect(() => makePolicy('pkpd/vancomycin-bayesian', env, { intervals: [18] })).toThrow(/option intervals must be hours among 12, 24/);
    expect(() => evaluatePolicy(env, makePolicy('pkpd/vancomycin-bayesian', env, { loadingMg: 2200 }), { seed: 0, episodes: 1 })).toThrow(/option loadingMg 2200 mg is not a dose level/);
  });
});
