import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listTwins } from '../../engine/twin.js';
import { InlineExecutor } from '../../experiments/executor.js';
import { buildReport } from '../../experiments/report-builder.js';
import { runExperiment } from '../../experiments/runner.js';
import { Store } from '../../experiments/store.js';
import '../../environments/index.js';
import '../../policies/index.js';
import { listPolicies } from '../../policies/registry.js';

/** Every twin runs as a paired virtual trial in the experiment runner, with its endpoints in the report. */
const dir = mkdtempSync(join(tmpdir(), 'twinlab-twin-trials-'));
const store = Store.open(dir);

afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('virtual trials on every twin', () => {
  for (const twin of listTwins()) {
    it(`${twin.id}: two protocol arms on a seeded cohort, analysed and reported`, async () => {
      // two protocols, or the twin's one protocol against random choice (the T2D meal env has one rule)
      const names = listPolicies(twin.defaultEnvId).map((p) => p.name);
      const protocols = [...names.filter((name) => name !== 'random'), 'random'].slice(0, 2);
      expect(protocols.length).toBe(2);
      const [primary, ...secondary] = twin.primaryEndpoints;
      const spec = {
        kind: 'trial',
        name: `trial on ${twin.id}`,
        seed: 3,
        cohort: { twin: twin.id, population: twin.populations[0], size: 3 },
        arms: protocols.map((policy) => ({ name: policy.split('/').pop() as string, policy })),
        duration: twin.id === 'glucose' ? { days: 0.25 } : { episodes: 1 },
        endpoints: { primary: [primary as string], secondary: secondary.slice(0, 3) },
      };
      const outcome = await runExperiment({ spec, store, executor: new InlineExecutor() });
      expect(outcome.status, outcome.error).toBe('finished');
      const ids = (outcome.trial?.endpoints ?? []).map((e) => e.id);
      expect(ids).toEqual(expect.arrayContaining(twin.primaryEndpoints.slice(0, 4)));
      for (const e of outcome.trial?.endpoints ?? []) {
        expect(e.arms.map((a) => a.arm)).toEqual(spec.arms.map((a) => a.name));
        for (const a of e.arms) expect(a.n).toBe(3);
      }
      const md = await buildReport(store, outcome.id, 'md');
      for (const id of twin.primaryEndpoints.slice(0, 4)) {
        const label = twin.endpoints.find((e) => e.id === id)?.label as string;
        expect(md).toContain(label);
      }
    });
  }
});
