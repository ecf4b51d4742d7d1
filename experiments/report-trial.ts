import { sha256Hex } from '../engine/hash.js';
import type { ExperimentRecord, JobRecord } from './store.js';
import type { TrialAnalysis } from './trial-analysis.js';

/**
 * The parts of a trial report a reviewer asks for beyond the endpoint tables (CONSORT 2010 items 6a outcomes,
 * 12a statistical methods, 13a participant flow and 15 baseline data; Schulz, Altman & Moher, BMJ
 * 2010;340:c332): participant flow, baseline characteristics by arm,
 * methods, a multiplicity note and a reproducibility box. Pure functions of the stored experiment,
 * its jobs and analysis (report-builder.ts adds the twin's title); rendered by report.ts as md and html.
 */

/** A plain table (head + rows of cells), as report.ts renders them. */
export interface SectionTable {
  head: string[];
  rows: string[][];
}

export interface TrialSections {
  flow: { lines: string[]; table: SectionTable };
  baseline: { note: string; table: SectionTable | null };
  methods: [string, string][];
  multiplicity: string;
  reproducibility: { specSha256: string; codeVersion: string; commands: string[]; specJson: string };
}

/** What the builder knows of the twin (engine registry), absent for a twin-less env. */
export interface TwinInfo {
  id: string;
  title: string;
  envId: string;
  endpointLabels: Record<string, string>;
  /** The twin's declared covariates (TwinDefinition.covariates) by key. */
  covariates?: Record<string, { label: string; unit: string }>;
}

interface TrialJobConfig {
  kind?: string;
  patientIndex?: number;
  enrolled?: number;
  patientId?: string;
  covariates?: Record<string, number | string>;
  arm?: { name?: string; policy?: string; shield?: unknown } | string;
  replicate?: number;
  /** Streaming blocks: the patient range. */
  from?: number;
  to?: number;
}

interface SpecView {
  name?: string;
  seed?: number;
  cohort?: {
    twin?: string;
    env?: string;
    population?: string;
    size?: number;
    seed?: number;
    generated?: boolean;
    inclusion?: Record<string, { min?: number; max?: number; in?: (number | string)[] }>;
    personal?: string;
    draws?: number;
  };
  arms?: { name: string; policy: string; options?: Record<string, unknown>; shield?: true | string }[];
  scenario?: Record<string, unknown>;
  duration?: { episodes?: number; steps?: number; days?: number };
  endpoints?: { primary?: string[]; secondary?: string[]; hypotheses?: Record<string, { hypothesis: string; margin?: number; alpha?: number }> };
  replicates?: number;
  paired?: boolean;
  reference?: string;
  streaming?: { blockSize?: number; resamples?: number };
  keepEpisodes?: { every: number };
}

/** JSON with object keys sorted at every level: the same spec always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

const armOf = (c: TrialJobConfig): string => (typeof c.arm === 'string' ? c.arm : (c.arm?.name ?? 'arm'));
const fmt = (x: number): string => {
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(2);
  if (a >= 100) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
};
const pct = (k: number, n: number): string => `${k} (${n ? ((100 * k) / n).toFixed(0) : '0'} %)`;

function ruleText(key: string, rule: { min?: number; max?: number; in?: (number | string)[] }): string {
  const parts: string[] = [];
  if (rule.min !== undefined) parts.push(`≥ ${rule.min}`);
  if (rule.max !== undefined) parts.push(`≤ ${rule.max}`);
  if (rule.in) parts.push(`in {${rule.in.join(', ')}}`);
  return `${key} ${parts.join(' and ')}`;
}

/**
 * Participant flow: candidates drawn from the twin's population model (screened in index order), how
 * many the inclusion rules excluded, enrolled, then per arm allocated, episodes finished / failed and
 * analysed (the primary endpoint's n and missing, from the analysis).
 */
function participantFlow(spec: SpecView, jobs: JobRecord[], trial: TrialAnalysis | undefined, arms: string[]): TrialSections['flow'] {
  const configs = jobs.map((j) => j.config as TrialJobConfig);
  const blocks = configs.some((c) => c.kind === 'trial-block');
  const cohort = spec.cohort ?? {};
  const lines: string[] = [];
  const replicates = spec.replicates ?? 1;
  let enrolled: number;
  if (cohort.personal !== undefined) {
    enrolled = cohort.draws ?? trial?.patients ?? 0;
    lines.push(`Personal cohort: ${enrolled} posterior draws of the twin in ${cohort.personal} (one virtual patient per draw).`);
  } else if (blocks) {
    enrolled = cohort.size ?? trial?.patients ?? 0;
    lines.push(`Generated: ${enrolled} candidates of population ${cohort.population ?? 'default'} (streamed in blocks of ${spec.streaming?.blockSize ?? '—'}; no inclusion rules with streaming); enrolled: ${enrolled}.`);
  } else {
    const patients = new Map<number, number>();
    for (const c of configs) if (typeof c.enrolled === 'number' && typeof c.patientIndex === 'number') patients.set(c.enrolled, c.patientIndex);
    enrolled = patients.size || (cohort.size ?? 0);
    const rules = Object.entries(cohort.inclusion ?? {});
    const screened = patients.size > 0 ? Math.max(...patients.values()) + 1 : enrolled;
    const source = `${cohort.generated ? 'generated' : 'drawn'} from population ${cohort.population ?? 'default'} of twin ${cohort.twin ?? '—'}`;
    if (rules.length === 0) lines.push(`Screened: ${screened} candidates ${source}; no inclusion rules, so excluded: 0; enrolled: ${enrolled}.`);
    else
      lines.push(
        `Screened: ${screened} candidates ${source}, in index order until ${enrolled} met the inclusion rules (${rules.map(([k, r]) => ruleText(k, r)).join('; ')}); excluded by the rules: ${screened - enrolled}; enrolled: ${enrolled}.`,
      );
  }
  lines.push(
    spec.paired === false
      ? `Allocation: every enrolled patient is simulated under every arm (${replicates} replicate${replicates === 1 ? '' : 's'} each), with independent random numbers per arm.`
      : `Allocation: every enrolled patient is simulated under every arm (${replicates} replicate${replicates === 1 ? '' : 's'} each) with common random numbers — the same patient, scenario and noise in each arm (a paired, within-patient comparison).`,
  );
  const primaryId = spec.endpoints?.primary?.[0];
  const primary = trial?.endpoints.find((e) => e.id === primaryId) ?? trial?.endpoints.find((e) => e.primary);
  const head = ['Arm', 'Allocated', 'Episodes finished', 'Failed / not run', `Analysed${primary ? ` (${primary.label})` : ''}`, 'Missing'];
  const rows = arms.map((arm) => {
    let finished = 0;
    let other = 0;
    if (blocks) {
      // a block runs every arm of its patients
      for (const j of jobs) {
        const c = j.config as TrialJobConfig;
        const n = typeof c.from === 'number' && typeof c.to === 'number' ? c.to - c.from : 0;
        if (j.status === 'finished') finished += n * replicates;
        else other += n * replicates;
      }
    } else {
      for (const j of jobs) {
        if (armOf(j.config as TrialJobConfig) !== arm) continue;
        if (j.status === 'finished') finished++;
        else other++;
      }
    }
    const summary = primary?.arms.find((a) => a.arm === arm);
    return [arm, String(enrolled), String(finished), String(other), summary ? String(summary.n) : '—', summary ? String(summary.missing) : '—'];
  });
  return { lines, table: { head, rows } };
}

/**
 * Baseline characteristics by arm from the covariates the twin reports for each enrolled patient
 * (CohortMember.covariates, kept in each job's config): numbers as mean ± SD and median [min – max],
 * 0/1 flags and text as counts (%). Paired trials give every arm the same patients, so the columns
 * agree by construction — shown by arm as CONSORT asks. Streamed trials keep no per-patient configs.
 */
function baselineCharacteristics(jobs: JobRecord[], arms: string[], twin: TwinInfo | undefined): TrialSections['baseline'] {
  const byArm = new Map<string, Map<string, Record<string, number | string>>>();
  for (const j of jobs) {
    const c = j.config as TrialJobConfig;
    if (c.kind !== 'trial' || c.covariates === undefined || (c.replicate ?? 0) !== 0) continue;
    const arm = armOf(c);
    let patients = byArm.get(arm);
    if (!patients) {
      patients = new Map();
      byArm.set(arm, patients);
    }
    patients.set(c.patientId ?? String(c.patientIndex), c.covariates);
  }
  if (byArm.size === 0) return { note: 'Not tabulated: the jobs carry no per-patient covariates (a streamed trial regenerates its patients in the workers, or the env has no twin).', table: null };
  const keys: string[] = [];
  for (const patients of byArm.values()) for (const cov of patients.values()) for (const k of Object.keys(cov)) if (!keys.includes(k)) keys.push(k);
  const rows: string[][] = [['Patients', ...arms.map((a) => String(byArm.get(a)?.size ?? 0))]];
  // label and unit as the twin declares them; an undeclared covariate says so rather than guess a unit
  const undeclared: string[] = [];
  const name = (key: string, withUnit: boolean) => {
    const d = twin?.covariates?.[key];
    if (!d) {
      if (!undeclared.includes(key)) undeclared.push(key);
      return withUnit ? `${key} (unit not declared)` : key;
    }
    return withUnit && d.unit ? `${d.label} (${d.unit})` : d.label;
  };
  for (const key of keys) {
    const values = (arm: string) => [...(byArm.get(arm)?.values() ?? [])].map((c) => c[key]).filter((v) => v !== undefined) as (number | string)[];
    const all = arms.flatMap(values);
    const numeric = all.every((v) => typeof v === 'number');
    const flag = numeric && all.every((v) => v === 0 || v === 1);
    if (numeric && !flag) {
      rows.push([
        `${name(key, true)}, mean ± SD; median [min – max]`,
        ...arms.map((arm) => {
          const v = (values(arm) as number[]).slice().sort((a, b) => a - b);
          if (v.length === 0) return '—';
          const mean = v.reduce((s, x) => s + x, 0) / v.length;
          const sd = v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1)) : 0;
          const mid = v.length % 2 ? (v[(v.length - 1) / 2] as number) : ((v[v.length / 2 - 1] as number) + (v[v.length / 2] as number)) / 2;
          return `${fmt(mean)} ± ${fmt(sd)}; ${fmt(mid)} [${fmt(v[0] as number)} – ${fmt(v[v.length - 1] as number)}]`;
        }),
      ]);
    } else if (flag) {
      rows.push([`${name(key, false)} = 1, n (%)`, ...arms.map((arm) => pct(values(arm).filter((v) => v === 1).length, values(arm).length))]);
    } else {
      const levels = [...new Set(all.map(String))].sort();
      for (const level of levels) rows.push([`${name(key, false)} = ${level}, n (%)`, ...arms.map((arm) => pct(values(arm).filter((v) => String(v) === level).length, values(arm).length))]);
    }
  }
  return {
    note: `Covariates as the twin reports them for each enrolled patient (cohort member), labelled with the units the twin declares (TwinDefinition.covariates)${undeclared.length ? `; the twin declares no unit for ${undeclared.join(', ')}` : ''}. Every arm enrols the same patients, so the columns agree by design.`,
    table: { head: ['Characteristic', ...arms], rows },
  };
}

function methods(experiment: ExperimentRecord, spec: SpecView, trial: TrialAnalysis | undefined, twin: TwinInfo | undefined): [string, string][] {
  const cohort = spec.cohort ?? {};
  const label = (id: string) => (twin?.endpointLabels[id] ? `${twin.endpointLabels[id]} (${id})` : id);
  const hypotheses = spec.endpoints?.hypotheses ?? {};
  const duration = spec.duration ?? {};
  const rows: [string, string][] = [
    ['Twin', twin ? `${twin.title} (twin ${twin.id}, env ${twin.envId})` : (cohort.twin ?? cohort.env ?? '—')],
    ['Code version', experiment.codeVersion],
    [
      'Cohort',
      cohort.personal !== undefined
        ? `personal: ${cohort.personal}, ${cohort.draws ?? '—'} draws`
        : `population ${cohort.population ?? 'default'}, ${cohort.size ?? '—'} patients${cohort.generated ? ', generated' : ''}, cohort seed ${cohort.seed ?? `${experiment.seed} (the experiment seed)`}`,
    ],
    ['Scenario', spec.scenario && Object.keys(spec.scenario).length > 0 ? JSON.stringify(spec.scenario) : 'the twin\'s default'],
    [
      'Duration',
      `${duration.episodes ?? 1} episode${(duration.episodes ?? 1) === 1 ? '' : 's'} per patient and arm${duration.days !== undefined ? `, ${duration.days} simulated day${duration.days === 1 ? '' : 's'} each` : duration.steps !== undefined ? `, ${duration.steps} decision steps each` : ", the env's own horizon"}; replicates ${spec.replicates ?? 1}`,
    ],
    [
      'Arms (policies)',
      (spec.arms ?? [])
        .map((a) => `${a.name}: ${a.policy}${a.options && Object.keys(a.options).length > 0 ? ` ${JSON.stringify(a.options)}` : ''}${a.shield ? ` with shield ${a.shield === true ? '(default)' : a.shield}` : ''}${a.name === (trial?.reference ?? spec.reference) ? ' — reference' : ''}`)
        .join('; '),
    ],
    ['Primary endpoints', (spec.endpoints?.primary ?? []).map(label).join('; ') || '—'],
    ['Secondary endpoints', (spec.endpoints?.secondary ?? []).map(label).join('; ') || 'none'],
    [
      'Hypotheses',
      Object.keys(hypotheses).length > 0
        ? Object.entries(hypotheses)
            .map(([id, h]) => `${id}: ${h.hypothesis}${h.margin !== undefined ? `, margin ${h.margin}` : ''}${h.alpha !== undefined ? `, one-sided α ${h.alpha}` : ''}`)
            .join('; ')
        : 'superiority for every endpoint (the default)',
    ],
    [
      'Seeds',
      `experiment seed ${experiment.seed}; every job's seed and every patient's episode and policy seeds are derived from it by name (engine/random.ts deriveSeed), so the same spec and code version give the same trajectories`,
    ],
  ];
  if (trial) rows.push(['Statistics', `${Math.round(trial.level * 100)} % percentile bootstrap CIs of the paired differences (${trial.resamples} resamples of patients, seed ${trial.seed}); Wilcoxon signed-rank (McNemar for binary endpoints); details under Endpoints`]);
  return rows;
}

function multiplicity(spec: SpecView, trial: TrialAnalysis | undefined): string {
  const primary = spec.endpoints?.primary?.length ?? 0;
  const secondary = spec.endpoints?.secondary?.length ?? 0;
  const comparisons = Math.max(0, (trial?.arms.length ?? spec.arms?.length ?? 1) - 1);
  const tests = primary * comparisons;
  const primaryNote =
    tests > 1
      ? `The ${primary} primary endpoint${primary === 1 ? '' : 's'} × ${comparisons} comparison${comparisons === 1 ? '' : 's'} with the reference make ${tests} primary tests, each at the nominal two-sided 5 % and not adjusted: under the global null the chance of at least one false positive among them is at most ${Math.min(100, tests * 5)} % (Bonferroni bound); read them as co-primary (a claim needs all to hold) or adjust before claiming any single one.`
      : 'One primary test (one primary endpoint, one comparison): no adjustment needed.';
  const secondaryNote =
    secondary > 0
      ? ` Secondary endpoints: p-values Holm-adjusted across the ${secondary} secondary endpoints of each arm; a secondary result is "shown" only after adjustment.`
      : ' No secondary endpoints.';
  return `${primaryNote}${secondaryNote}`;
}

export function trialSections(experiment: ExperimentRecord, jobs: JobRecord[], trial: TrialAnalysis | undefined, twin: TwinInfo | undefined): TrialSections {
  const spec = (experiment.spec ?? {}) as SpecView;
  const arms = trial?.arms ?? (spec.arms ?? []).map((a) => a.name);
  const specJson = JSON.stringify(experiment.spec, null, 2);
  const firstJob = jobs.find((j) => (j.config as TrialJobConfig).kind === 'trial') ?? jobs[0];
  const commands = [
    `twinlab show ${experiment.id} --json   # the stored spec is .experiment.spec (also below); save it as spec.json`,
    'twinlab run spec.json                  # re-runs the trial: same spec and code version → same trajectory hashes and analysis',
  ];
  if (firstJob) commands.push(`twinlab replay ${firstJob.id} --verify   # re-executes a stored episode and compares it step by step ("identical")`);
  return {
    flow: participantFlow(spec, jobs, trial, arms),
    baseline: baselineCharacteristics(jobs, arms, twin),
    methods: methods(experiment, spec, trial, twin),
    multiplicity: multiplicity(spec, trial),
    reproducibility: { specSha256: sha256Hex(canonicalJson(experiment.spec)), codeVersion: experiment.codeVersion, commands, specJson },
  };
}
