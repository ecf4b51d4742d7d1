import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../engine/hash.js';
import { InlineExecutor } from '../../experiments/executor.js';
import { buildReport } from '../../experiments/report-builder.js';
import { canonicalJson, type TrialSections } from '../../experiments/report-trial.js';
import { runExperiment } from '../../experiments/runner.js';
import { Store } from '../../experiments/store.js';

/**
 * The reviewer's parts of a trial report (issue #13 item 7) on a real sepsis trial with an inclusion
 * rule: participant flow (screened, excluded by the rule, enrolled, per arm finished/analysed), baseline
 * characteristics by arm from the enrolled patients' covariates, methods, the multiplicity note, the
 * reproducibility box (spec hash over canonical JSON), and the endpoint tables primary first.
 */
const spec = {
  kind: 'trial',
  name: 'report sections',
  seed: 5,
  cohort: { twin: 'sepsis', population: 'icu', size: 6, inclusion: { diabetic: { in: [1] } } },
  arms: [
    { name: 'physician', policy: 'sepsis/physician' },
    { name: 'optimal', policy: 'sepsis/optimal' },
    { name: 'treat-all', policy: 'sepsis/treat-all' },
  ],
  endpoints: { primary: ['discharge'], secondary: ['mortality'] },
  reference: 'physician',
};

let dir: string;
let store: Store;
let id: string;
let sections: TrialSections;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'twinlab-report-trial-'));
  store = Store.open(dir);
  const outcome = await runExperiment({ spec, store, executor: new InlineExecutor() });
  expect(outcome.status).toBe('finished');
  id = outcome.id;
  sections = (JSON.parse(await buildReport(store, id, 'json')) as { sections: TrialSections }).sections;
}, 120_000);

afterAll(() => {
  store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('trial report sections', () => {
  it('participant flow: screened = last enrolled candidate + 1, excluded = screened − enrolled, per arm finished and analysed', () => {
    const jobs = store.listJobs(id);
    const candidates = new Set(jobs.map((j) => (j.config as { patientIndex: number }).patientIndex));
    expect(candidates.size).toBe(6);
    const screened = Math.max(...candidates) + 1;
    expect(screened).toBeGreaterThan(6); // the rule excluded someone (about 1 in 5 ICU patients is diabetic)
    expect(sections.flow.lines[0]).toBe(
      `Screened: ${screened} candidates drawn from population icu of twin sepsis, in index order until 6 met the inclusion rules (diabetic in {1}); excluded by the rules: ${screened - 6}; enrolled: 6.`,
    );
    expect(sections.flow.table.head[4]).toMatch(/^Analysed \(Discharged within the episode/);
    expect(sections.flow.table.rows).toEqual(['physician', 'optimal', 'treat-all'].map((arm) => [arm, '6', '6', '0', '6', '0']));
  });

  it('baseline characteristics by arm from the enrolled patients\' covariates', () => {
    const table = sections.baseline.table;
    expect(table?.head).toEqual(['Characteristic', 'physician', 'optimal', 'treat-all']);
    const row = (label: string) => table?.rows.find((r) => r[0] === label);
    expect(row('Patients')).toEqual(['Patients', '6', '6', '6']);
    // every enrolled patient meets the rule: diabetic = 1 in all six
    expect(row('diabetic = 1, n (%)')).toEqual(['diabetic = 1, n (%)', '6 (100 %)', '6 (100 %)', '6 (100 %)']);
    // categorical vitals as counts that add up to the arm's patients
    const hr = table?.rows.filter((r) => r[0]?.startsWith('hr = ')) ?? [];
    expect(hr.length).toBeGreaterThan(0);
    expect(hr.reduce((s, r) => s + Number(/^(\d+) /.exec(r[1] as string)?.[1]), 0)).toBe(6);
    // the same numbers from the job configs directly
    const hrs = store
      .listJobs(id)
      .filter((j) => (j.config as { arm: { name: string } }).arm.name === 'optimal')
      .map((j) => (j.config as { covariates: { hr: string } }).covariates.hr);
    for (const r of hr) expect(Number(/^(\d+) /.exec(r[2] as string)?.[1])).toBe(hrs.filter((v) => `hr = ${v}, n (%)` === r[0]).length);
  });

  it('methods, multiplicity and reproducibility', () => {
    const methods = Object.fromEntries(sections.methods);
    expect(methods.Twin).toMatch(/twin sepsis, env sepsis\/oberst-v1\)$/);
    expect(methods['Arms (policies)']).toBe('physician: sepsis/physician — reference; optimal: sepsis/optimal; treat-all: sepsis/treat-all');
    expect(methods['Primary endpoints']).toMatch(/\(discharge\)$/);
    expect(methods['Secondary endpoints']).toMatch(/^In-episode death .*\(mortality\)$/);
    expect(methods.Seeds).toMatch(/^experiment seed 5;/);
    // 1 primary endpoint × 2 comparisons: 2 unadjusted primary tests, FWER ≤ 10 %
    expect(sections.multiplicity).toMatch(/make 2 primary tests, .* at most 10 % \(Bonferroni bound\)/);
    expect(sections.multiplicity).toContain('Holm-adjusted across the 1 secondary endpoints');
    const experiment = store.getExperiment(id);
    expect(sections.reproducibility.specSha256).toBe(sha256Hex(canonicalJson(experiment?.spec)));
    expect(sections.reproducibility.commands.join('\n')).toContain(`twinlab replay ${id}/job-0 --verify`);
    expect(JSON.parse(sections.reproducibility.specJson)).toEqual(experiment?.spec);
  });

  it('the reproducibility box\'s claim holds: running the stored spec again gives the same spec hash, episodes and analysis', async () => {
    const again = await runExperiment({ spec: JSON.parse(sections.reproducibility.specJson), store, executor: new InlineExecutor() });
    expect(again.status).toBe('finished');
    const other = (JSON.parse(await buildReport(store, again.id, 'json')) as { sections: TrialSections }).sections;
    expect(other.reproducibility.specSha256).toBe(sections.reproducibility.specSha256);
    const hashes = (experimentId: string) => store.listJobs(experimentId).map((j) => store.getEpisode(j.id, 'episode-0')?.hash);
    expect(hashes(again.id)).toEqual(hashes(id));
    expect(hashes(id).every((h) => typeof h === 'string' && h.length === 64)).toBe(true);
    expect(store.getTrialResult(again.id)).toEqual(store.getTrialResult(id));
  }, 60_000);

  it('a streamed trial: the flow counts its blocks\' patients, the baseline says why it is not tabulated', async () => {
    const streamed = await runExperiment({
      spec: { ...spec, name: 'report sections streamed', cohort: { twin: 'sepsis', population: 'icu', size: 5 }, streaming: { blockSize: 2, resamples: 200 } },
      store,
      executor: new InlineExecutor(),
    });
    expect(streamed.status).toBe('finished');
    expect(store.listJobs(streamed.id)).toHaveLength(3); // blocks of 2, 2 and 1 patients
    const s = (JSON.parse(await buildReport(store, streamed.id, 'json')) as { sections: TrialSections }).sections;
    expect(s.flow.lines[0]).toBe('Generated: 5 candidates of population icu (streamed in blocks of 2; no inclusion rules with streaming); enrolled: 5.');
    expect(s.flow.table.rows).toEqual(['physician', 'optimal', 'treat-all'].map((arm) => [arm, '5', '5', '0', '5', '0']));
    expect(s.baseline.table).toBeNull();
    expect(s.baseline.note).toMatch(/^Not tabulated: /);
  }, 60_000);

  it('canonical JSON ignores key order and undefined fields', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined, e: 'x' }] })).toBe('{"a":[{"d":2,"e":"x"}],"b":1}');
    expect(canonicalJson({ a: [{ e: 'x', d: 2 }], b: 1 })).toBe(canonicalJson({ b: 1, a: [{ d: 2, e: 'x' }] }));
  });

  it('html and md carry the sections before the endpoint tables, primary endpoint first', async () => {
    const html = await buildReport(store, id, 'html');
    const order = ['id="methods"', 'id="flow"', 'id="baseline"', 'id="multiplicity"', 'id="reproducibility"', '<h2>Endpoints</h2>'].map((s) => html.indexOf(s));
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(html).toContain('@media print');
    const md = await buildReport(store, id, 'md', { charts: 'omit' });
    for (const h of ['## Methods', '## Participant flow', '## Baseline characteristics by arm', '## Multiplicity', '## Reproducibility']) expect(md).toContain(h);
    // the analysis lists safety endpoints first (mortality); the report leads with the primary one
    expect(md.indexOf('### Discharged within the episode')).toBeGreaterThan(0);
    expect(md.indexOf('### Discharged within the episode')).toBeLessThan(md.indexOf('### In-episode death'));
  });
});
