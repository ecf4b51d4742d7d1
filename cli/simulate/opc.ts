import { type Command, InvalidArgumentError } from 'commander';
import { make } from '../../engine/registry.js';
import { OPC_ENDPOINTS, registerOpc } from '../../environments/oncology/opc-twin.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import { registerOpcPolicies } from '../../policies/oncology/opc.js';
import { makePolicy } from '../../policies/registry.js';
import { parseInteger, parseNumber } from '../program.js';

const POLICIES = ['guideline', 'physician', 'maximal', 'minimal'] as const;
type PolicyKey = (typeof POLICIES)[number];

interface OpcSimulateOptions {
  policy: PolicyKey;
  patients: number;
  seed: number;
  lambda: number;
  csv?: boolean;
}

/** `twinlab simulate opc …`: the SYNTHETIC OPC sequencing SCM under a baseline policy. */
export function registerOpcSimulate(simulate: Command): void {
  simulate
    .command('opc')
    .description('SYNTHETIC oropharyngeal cancer treatment-sequencing SCM (not fitted to data): N patients under a baseline policy')
    .option(
      '--policy <name>',
      `one of ${POLICIES.join(', ')}`,
      (v: string) => {
        if (!(POLICIES as readonly string[]).includes(v)) throw new InvalidArgumentError(`--policy must be one of ${POLICIES.join(', ')}, got "${v}"`);
        return v as PolicyKey;
      },
      'guideline',
    )
    .option('--patients <n>', 'number of patients', parseInteger('--patients', { min: 1 }), 1000)
    .option('--seed <n>', 'seed', parseInteger('--seed'), 0)
    .option('--lambda <x>', 'dysphagia weight λ in OS − λ·Dys', parseNumber('--lambda', { min: 0 }), 0.3)
    .option('--csv', 'print one row per patient')
    .action((o: OpcSimulateOptions) => {
      registerOpc();
      registerOpcPolicies();
      const env = make('oncology/opc-sequencing-v1', { lambda: o.lambda });
      const result = evaluatePolicy(env, makePolicy(`opc/${o.policy}`, env), { seed: o.seed, episodes: o.patients, record: true });
      if (o.csv) {
        const rows = [`patient,age,hpv,smoker,T,N,PS,ic,cc,nd,${OPC_ENDPOINTS.map((e) => e.id).join(',')}`];
        for (const e of result.episodes) {
          const log = e.log as NonNullable<typeof e.log>;
          const c = log.resetInfo.covariates as Record<string, number>;
          rows.push(
            [
              e.episode,
              (c.age as number).toFixed(1),
              c.hpv,
              c.smoker,
              c.T,
              c.N,
              c.PS,
              ...log.steps.map((s) => s.action),
              ...OPC_ENDPOINTS.map((d) => d.compute(log)),
            ].join(','),
          );
        }
        process.stdout.write(`${rows.join('\n')}\n`);
        return;
      }
      const lines = [
        `oncology/opc-sequencing-v1 — SYNTHETIC SCM, not fitted to data; policy opc/${o.policy}, ${o.patients} patients, seed ${o.seed}, λ ${o.lambda}`,
      ];
      for (const d of OPC_ENDPOINTS) {
        const m = result.episodes.reduce((a, e) => a + d.compute(e.log as NonNullable<typeof e.log>), 0) / o.patients;
        lines.push(`${d.id.padEnd(10)} ${m.toFixed(4)}  ${d.label}`);
      }
      const frac = (stage: number) => result.episodes.reduce((a, e) => a + ((e.log?.steps[stage]?.action as number) ?? 0), 0) / o.patients;
      lines.push(`treated: induction ${frac(0).toFixed(3)}, concurrent chemo ${frac(1).toFixed(3)}, neck dissection ${frac(2).toFixed(3)}`);
      lines.push(`hash ${result.hash}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
