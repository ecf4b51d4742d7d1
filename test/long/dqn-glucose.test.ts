import { beforeAll, describe, expect, it } from 'vitest';
import { trainDqn } from '../../agents/dqn.js';
import { GLUCOSE_ADULT } from '../../agents/dqn-config.js';
import type { Env } from '../../engine/env.js';
import { Rng } from '../../engine/random.js';
import { make } from '../../engine/registry.js';
import '../../environments/index.js';
import { bootstrapMeanCI } from '../../experiments/stats.js';
import { registerAllPolicies } from '../../policies/index.js';
import { makePolicy } from '../../policies/registry.js';
import { endpointsPerSeed, fmt, greedyPolicy, mean } from './helpers.js';

/**
 * Issues "DQN agents" and #17 item 6 (compare with the standard of care): on glucose/t1d-v1, a DQN
 * trained on the 10 reference adults is evaluated on **held-out patients** against the clinical
 * protocols: `glucose/basal-bolus` (the simglucose BBController rule with the patient's carb ratio and
 * correction factor — the standard of care), `glucose/pid` and fixed basal.
 *
 * Training: `cohort: 'adult'` (the 10 named S2008 adults, one per reset), simglucose random meals,
 * announced; no bolus channel (every arm delivers insulin through the 7 basal multiples, so the
 * basal-bolus arm gives its bolus as a square wave at up to 5× basal — environments/glucose/README.md).
 * Config: the `glucose-adult` preset (agents/README.md), kept weights = best periodic evaluation on
 * the training patients (evalSeed 1 000 000 + i).
 *
 * Held-out evaluation: 40 **generated** adults (cohort seed 2026, indexes 0–39: other physiology and
 * physiology-derived therapy, never seen in training or selection), one random-meal day each with
 * episode seed 7 000 000 + k. Every arm sees the same patient, meals and sensor noise (paired). The
 * 95 % CI of each paired difference is the percentile bootstrap over patients (10 000 resamples,
 * experiments/stats.ts `bootstrapMeanCI`), as the trial analysis computes it.
 */
const CONFIG = GLUCOSE_ADULT;
const TRAIN_SEEDS = [0, 1, 2];
const HELD_OUT_COHORT_SEED = 2026;
const N = 40;
const HELD_OUT = Array.from({ length: N }, (_, k) => 7_000_000 + k);
const TRAIN_OPTIONS = { cohort: 'adult', scenario: 'random' } as const;
const ENDPOINTS = ['tir', 'tbr70', 'tbr54', 'tar180', 'severe_hypo'];
const ARMS = ['glucose/basal-bolus', 'glucose/pid', 'glucose/basal'] as const;

type Values = Record<string, number[]>;
interface SeedResult {
  seed: number;
  dqn: Values;
  keptAt: number | undefined;
  seconds: number;
}

const heldOutEnv = (k: number): Env => make('glucose/t1d-v1', { patient: { group: 'adult', seed: HELD_OUT_COHORT_SEED, index: k }, scenario: 'random' });

function ci(a: number[], b: number[], tag: string): { estimate: number; lower: number; upper: number } {
  const d = a.map((x, i) => x - (b[i] as number));
  return bootstrapMeanCI(d, Rng.fromSeed(17).fork(tag), { resamples: 10_000 });
}
const show = (c: { estimate: number; lower: number; upper: number }, digits = 1) => `${fmt(c.estimate, digits)} [${fmt(c.lower, digits)}, ${fmt(c.upper, digits)}]`;

describe('DQN on glucose/t1d-v1 against the standard of care, 40 held-out generated adults', () => {
  const protocols: Record<string, Values> = {};
  const seeds: SeedResult[] = [];

  beforeAll(async () => {
    registerAllPolicies();
    for (const arm of ARMS) protocols[arm] = endpointsPerSeed('glucose', ENDPOINTS, heldOutEnv, (env) => makePolicy(arm, env), HELD_OUT).values;
    for (const seed of TRAIN_SEEDS) {
      const start = performance.now();
      const result = await trainDqn({ envFactory: () => make('glucose/t1d-v1', TRAIN_OPTIONS), config: CONFIG, seed });
      const seconds = (performance.now() - start) / 1000;
      const dqn = endpointsPerSeed('glucose', ENDPOINTS, heldOutEnv, () => greedyPolicy(result, result.bestWeights), HELD_OUT).values;
      seeds.push({ seed, dqn, keptAt: result.bestEvaluation?.step, seconds });
      result.online.dispose();
      result.target.dispose();
    }
    const arm = (a: string) => protocols[a] as Values;
    const row = (name: string, v: Values) =>
      `| ${name} | ${fmt(mean(v.tir as number[]), 1)} | ${fmt(mean(v.tbr70 as number[]), 2)} | ${fmt(mean(v.tbr54 as number[]), 2)} | ${fmt(mean(v.tar180 as number[]), 1)} | ${mean(v.severe_hypo as number[]) * N} |`;
    const lines = [
      `held-out: ${N} generated adults (cohort seed ${HELD_OUT_COHORT_SEED}), one random-meal day each, paired`,
      '| arm | TIR % | TBR70 % | TBR54 % | TAR180 % | severe hypo days (of 40) |',
      '|---|---|---|---|---|---|',
      row('basal-bolus', arm('glucose/basal-bolus')),
      row('PID', arm('glucose/pid')),
      row('fixed basal', arm('glucose/basal')),
      ...seeds.map((s) => row(`DQN seed ${s.seed}`, s.dqn)),
      '',
      '| train seed | ΔTIR vs basal-bolus | ΔTBR70 vs basal-bolus | ΔTIR vs PID | ΔTBR70 vs PID | ΔTIR vs basal | kept @ | train s |',
      '|---|---|---|---|---|---|---|---|',
      ...seeds.map((s) => {
        const t = s.dqn.tir as number[];
        const l = s.dqn.tbr70 as number[];
        return (
          `| ${s.seed} | ${show(ci(t, arm('glucose/basal-bolus').tir as number[], `tir/bb/${s.seed}`))} | ${show(ci(l, arm('glucose/basal-bolus').tbr70 as number[], `tbr/bb/${s.seed}`), 2)} | ` +
          `${show(ci(t, arm('glucose/pid').tir as number[], `tir/pid/${s.seed}`))} | ${show(ci(l, arm('glucose/pid').tbr70 as number[], `tbr/pid/${s.seed}`), 2)} | ` +
          `${show(ci(t, arm('glucose/basal').tir as number[], `tir/basal/${s.seed}`))} | ${s.keptAt} | ${s.seconds.toFixed(0)} |`
        );
      }),
    ];
    console.log(lines.join('\n'));
  });

  it('every trained seed beats PID and fixed basal on time in range (bootstrap 95 % CI > 0)', () => {
    for (const s of seeds) {
      for (const arm of ['glucose/pid', 'glucose/basal']) {
        expect(ci(s.dqn.tir as number[], (protocols[arm] as Values).tir as number[], `tir/${arm}/${s.seed}`).lower, `seed ${s.seed} vs ${arm}`).toBeGreaterThan(0);
      }
    }
  });

  // Not met (agents/README.md "dqn-glucose"): the DQN matches basal-bolus on TIR only by spending more
  // time below 70 mg/dL; the variants tried (Magni-risk and TIR-aligned rewards, endpoint-aligned
  // selection, 300k steps, dueling, a bolus channel) move along the same TIR/TBR trade-off.
  it.fails('every trained seed beats basal-bolus on time in range (CI > 0) with no more time below 70 mg/dL', () => {
    for (const s of seeds) {
      const bb = protocols['glucose/basal-bolus'] as Values;
      expect(ci(s.dqn.tir as number[], bb.tir as number[], `tir/glucose/basal-bolus/${s.seed}`).lower, `seed ${s.seed} TIR`).toBeGreaterThan(0);
      expect(mean(s.dqn.tbr70 as number[]), `seed ${s.seed} TBR70`).toBeLessThanOrEqual(mean(bb.tbr70 as number[]));
    }
  });
});
