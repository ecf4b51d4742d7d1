import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import '../../environments/index.js';
import { listSpecs, make } from '../../engine/registry.js';
import { isDiscrete } from '../../engine/spaces.js';
import { isTrackKind, listTwins, type TwinDefinition, twinForEnv } from '../../engine/twin.js';
import { episodeTracksSpec, genericTracks, stepClockMinute, type TrackStep, trackValue } from '../../experiments/charts.js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Steps of one seeded episode with the actions cycling through the Discrete space (info copied: envs mutate it). */
function rollout(envId: string, maxSteps: number, options: Record<string, unknown> = {}): { steps: TrackStep[]; labels: string[] } {
  const env = make(envId, options);
  env.reset({ seed: 3 });
  const space = env.actionSpace;
  const labels = (env.observationSpace.toJSON() as { labels?: string[] }).labels ?? [];
  const steps: TrackStep[] = [];
  for (let k = 0; k < maxSteps; k++) {
    const action = isDiscrete(space) ? space.start + ((k * 5 + 1) % space.n) : 0;
    const r = env.step(action as never);
    steps.push({ step: k, action, reward: r.reward, observation: Array.from(r.observation), info: JSON.parse(JSON.stringify(r.info)) });
    if (r.terminated || r.truncated) break;
  }
  env.close?.();
  return { steps, labels };
}

/** SVG of a spec with vega-lite's and vega's own warnings (e.g. empty extents) sent to console.warn. */
async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const logger = vega.logger(vega.Warn, undefined, (method, level, args) => console[method](level, ...args));
  const view = new vega.View(vega.parse(compile(spec, { logger }).spec), { renderer: 'none', logger, logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const svgTexts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => (m[1] ?? '').replace(/&amp;/g, '&'));

describe('twin track declarations', () => {
  it('every twin declares tracks with a known kind; categorical ones name their categories; bands cite a source', () => {
    const twins = listTwins();
    for (const id of ['chemo', 'glucose', 'hiv', 'opc', 'sepsis', 'vancomycin']) expect(twins.find((t) => t.id === id)?.tracks?.tracks.length, id).toBeGreaterThan(0);
    for (const twin of twins) {
      const declared = twin.tracks;
      for (const t of declared?.tracks ?? []) {
        expect(isTrackKind(t.kind), `${twin.id} ${t.field}`).toBe(true);
        expect(t.label.length).toBeGreaterThan(0);
        if (t.kind === 'categorical') expect(t.categories?.length, `${twin.id} ${t.field}`).toBeGreaterThan(1);
        if (t.band) {
          expect(t.band.low).toBeLessThan(t.band.high);
          expect(t.band.source).toMatch(/\d{4}/);
        }
      }
    }
    expect(isTrackKind('line')).toBe(false);
    expect(twinForEnv('classic/cartpole-v1')).toBeUndefined();
  });

  it('every declared field reads a number from real steps, categorical codes index their categories, the clock matches the steps', () => {
    for (const spec of listSpecs()) {
      const twin = twinForEnv(spec.id) as TwinDefinition | undefined;
      if (!twin?.tracks) continue;
      const { steps, labels } = rollout(spec.id, 40);
      expect(steps.length).toBeGreaterThan(0);
      for (const t of twin.tracks.tracks) {
        const values = steps.map((s) => trackValue(s, t.field, labels));
        expect(
          values.every((v) => v !== null),
          `${spec.id} ${t.field}`,
        ).toBe(true);
        if (t.kind === 'categorical') for (const v of values) expect(Number.isInteger(v) && (v as number) >= 0 && (v as number) < (t.categories?.length ?? 0), `${spec.id} ${t.field} = ${v}`).toBe(true);
      }
      const clock = twin.tracks.clock;
      if (clock) {
        if (clock.timeField) {
          // A twin whose decisions are not evenly spaced (meal times) reads its clock from a field: it must
          // move forward with every step.
          steps.forEach((s, k) => {
            if (k > 0) expect(stepClockMinute(clock, s), `${spec.id} step ${k}`).toBeGreaterThan(stepClockMinute(clock, steps[k - 1] as never));
          });
          if (clock.minutesPerStep > 0 && !isIrregular(spec.id))
            steps.forEach((s, k) => {
              expect(stepClockMinute(clock, s), `${spec.id} step ${k}`).toBeCloseTo(clock.startMinute + (k + 1) * clock.minutesPerStep, 6);
            });
        } else
          steps.forEach((s, k) => {
            expect(stepClockMinute(clock, s), `${spec.id} step ${k}`).toBeCloseTo(clock.startMinute + (k + 1) * clock.minutesPerStep, 6);
          });
      }
    }
  });

  it('vancomycin: the clock reads info.hour, so hour is the x axis and not a data track', () => {
    const twin = twinForEnv('pkpd/vancomycin-v1') as TwinDefinition;
    expect(twin.tracks?.tracks.some((t) => t.field === 'info.hour')).toBe(false);
    expect(twin.tracks?.clock?.timeField).toBe('info.hour');
    expect(twin.tracks?.tracks.find((t) => t.field === 'info.auc24')).toMatchObject({ unit: 'mg·h/L', band: { low: 400, high: 600 } });
  });

  it('a twin without declarations gets every numeric field as its own unlabelled continuous track', () => {
    const { steps, labels } = rollout('classic/cartpole-v1', 5);
    const tracks = genericTracks(steps, labels);
    expect(tracks.map((t) => t.field)).toEqual(['obs.x', 'obs.x_dot', 'obs.theta', 'obs.theta_dot', 'action', 'reward']);
    for (const t of tracks) expect(t).toMatchObject({ kind: 'continuous', unit: '', label: t.field, panel: t.field });
    expect(tracks.some((t) => t.band)).toBe(false);
  });
});

describe('episode track charts (rendered to SVG)', () => {
  let warnings: string[];
  beforeEach(() => {
    warnings = [];
    const keep = (...args: unknown[]) => warnings.push(args.map(String).join(' '));
    vi.spyOn(console, 'warn').mockImplementation(keep);
    vi.spyOn(console, 'error').mockImplementation(keep);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const render = async (envId: string, maxSteps: number) => {
    const { steps, labels } = rollout(envId, maxSteps);
    const chart = episodeTracksSpec(twinForEnv(envId)?.tracks, steps, { width: 500, observationLabels: labels });
    return { chart, texts: svgTexts(await renderSvg(chart.spec)) };
  };

  it('sepsis: categorical vitals on category axes, integer step ticks, no glucose band', async () => {
    const { texts } = await render('sepsis/oberst-v1', 20);
    for (const t of ['heart rate', 'systolic BP', 'glucose level', 'antibiotics', 'low', 'normal', 'high', 'very-low', 'off', 'on', 'step']) expect(texts).toContain(t);
    expect(texts.join(' ')).not.toMatch(/mg\/dL|70–180|0\.000000/);
    const numericTicks = texts.filter((t) => /^-?\d+(\.\d+)?$/.test(t));
    expect(numericTicks.length).toBeGreaterThan(0);
    for (const t of numericTicks) expect(t, 'tick label').toMatch(/^-?\d+$/);
    expect(warnings).toEqual([]);
  });

  it('vancomycin: dose in mg, levels in mg/L, AUC24 in mg·h/L with the 400–600 band, x in days', async () => {
    const { texts } = await render('pkpd/vancomycin-v1', 14);
    for (const t of ['dose (mg)', 'concentration (mg/L)', 'AUC24 (mg·h/L)', 'target 400–600 (MIC 1 mg/L)', 'acute kidney injury', 'no', 'yes', 'clock time', 'day 1', 'day 2', 'day 8']) expect(texts).toContain(t);
    expect(texts.some((t) => /hour/.test(t))).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('glucose: mg/dL with the 70–180 band, insulin U, carbs g, IOB U, x in clock time', async () => {
    const { chart, texts } = await render('glucose/t1d-v1', 288);
    for (const t of ['glucose (mg/dL)', 'target 70–180', 'insulin (U)', 'carbohydrate (g)', 'insulin on board (U)', 'CGM', 'plasma glucose', 'clock time', '03:00', '12:00', 'day 2']) expect(texts).toContain(t);
    expect(chart.x[0]).toBe(5);
    expect(chart.x[287]).toBe(1440);
    expect(warnings).toEqual([]);
  });

  it('cartpole (no declarations): one generic track per observation component, action and reward, on integer steps', async () => {
    const { chart, texts } = await render('classic/cartpole-v1', 12);
    expect(chart.clock).toBeUndefined();
    for (const t of ['obs.x', 'obs.x_dot', 'obs.theta', 'obs.theta_dot', 'action', 'reward', 'step']) expect(texts).toContain(t);
    expect(texts.join(' ')).not.toMatch(/mg\/dL|target/);
    expect(warnings).toEqual([]);
  });

  it('side by side (shareY): each panel\'s y domain spans both episodes, the band, and 0 for doses', () => {
    const declared = twinForEnv('glucose/t1d-v1')?.tracks;
    const a = rollout('glucose/t1d-v1', 288).steps;
    const b = rollout('glucose/t1d-v1', 288, { patient: 'adolescent#003' }).steps;
    const domains = (steps: TrackStep[], other: TrackStep[]) =>
      (episodeTracksSpec(declared, steps, { width: 400, shareY: [other] }).spec as unknown as { vconcat: { layer: { encoding: { y?: { scale?: { domain?: number[] } } } }[] }[] }).vconcat.map(
        (p) => p.layer.map((l) => l.encoding.y?.scale?.domain).find((d) => d !== undefined),
      );
    const ab = domains(a, b);
    expect(domains(b, a)).toEqual(ab); // the same scales in both panes
    const glucose = (declared?.tracks ?? []).filter((t) => t.panel === declared?.tracks[0]?.panel);
    const values = [...a, ...b].flatMap((s) => glucose.map((t) => trackValue(s, t.field))).filter((v): v is number => v !== null);
    const band = glucose.find((t) => t.band)?.band as { low: number; high: number };
    expect(ab[0]).toEqual([Math.min(band.low, ...values), Math.max(band.high, ...values)]);
    // the insulin panel (doses) starts at 0
    const insulinPanel = (declared?.tracks ?? []).find((t) => t.kind === 'dose')?.panel;
    const panels = [...new Set((declared?.tracks ?? []).map((t) => t.panel))];
    expect(ab[panels.indexOf(insulinPanel as string)]?.[0]).toBe(0);
    // without shareY a panel's domain is vega's own (from its data)
    const alone = episodeTracksSpec(declared, a, { width: 400 }).spec as unknown as { vconcat: { layer: { encoding: { y?: { scale?: { domain?: number[] } } } }[] }[] };
    expect(alone.vconcat[0]?.layer.map((l) => l.encoding.y?.scale?.domain).find((d) => d !== undefined)).toBeUndefined();
  });

  it('a categorical track\'s last state gets half a step of width (step-after lines ended at the last step)', () => {
    for (const [envId, n] of [
      ['oncology/opc-sequencing-v1', 3],
      ['pkpd/vancomycin-v1', 14],
    ] as const) {
      const { steps, labels } = rollout(envId, n);
      const declared = twinForEnv(envId)?.tracks;
      const chart = episodeTracksSpec(declared, steps, { width: 400, observationLabels: labels });
      const rows = (chart.spec as unknown as { datasets: { rows: Record<string, number | null>[] } }).datasets.rows;
      expect(rows).toHaveLength(steps.length + 1);
      const extra = rows[rows.length - 1] as Record<string, number | null>;
      const half = declared?.clock ? declared.clock.minutesPerStep / 2 : 0.5;
      expect(extra.t).toBe((chart.x[chart.x.length - 1] as number) + half);
      chart.tracks.forEach((t, k) => {
        expect(extra[`v${k}`]).toBe(t.kind === 'categorical' ? trackValue(steps[steps.length - 1] as TrackStep, t.field, labels) : null);
      });
      // and the x domain reaches it
      const domain = (chart.spec as unknown as { vconcat: { layer: { encoding: { x?: { scale?: { domain?: number[] } } } }[] }[] }).vconcat
        .flatMap((p) => p.layer.map((l) => l.encoding.x?.scale?.domain))
        .find((d) => d !== undefined) as number[];
      expect(domain[1]).toBeGreaterThanOrEqual(extra.t as number);
    }
  });

  it('HIV, chemotherapy and OPC render their declared tracks without warnings', async () => {
    const hiv = await render('hiv/sti-v1', 40);
    for (const t of ['viral load (log10 copies/mL)', 'drugs', 'RTI+PI', 'day 1']) expect(hiv.texts).toContain(t);
    const chemo = await render('oncology/chemo-v1', 40);
    for (const t of ['dose rate v (fraction of maximum)', 'tumour cells T (normalised)', 'clock time']) expect(chemo.texts).toContain(t);
    const opc = await render('oncology/opc-sequencing-v1', 3);
    for (const t of ['next decision', 'chemoradiation', 'treatment given', 'step']) expect(opc.texts).toContain(t);
    expect(warnings).toEqual([]);
  });
});

/** Envs whose decision times are irregular by design (meals at jittered clock times). */
function isIrregular(envId: string): boolean {
  return envId === 'glucose/t2d-nutrition-v1' || envId === 'glucose/t2d-nutrition-agents-v0';
}
