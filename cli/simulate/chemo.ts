import { type Command, InvalidArgumentError } from 'commander';
import { Rk4 } from '../../engine/ode.js';
import { CHEMO_CLEARANCE_THRESHOLD, CHEMO_DEATH_FRACTION, CHEMO_RK4_STEP_DAYS, CHEMO_STEP_DAYS } from '../../environments/oncology/chemo-env.js';
import { CUMULATIVE_TOXICITY, chemoParams, chemoRhs, DTR_BENCH_INITIAL } from '../../environments/oncology/chemo-model.js';
import { parseNumber } from '../program.js';

interface ChemoSimulateOptions {
  days: number;
  dose: number;
  until?: number;
  toxicity: 'published' | 'cumulative';
  n0: number;
  t0: number;
  i0: number;
  csv?: boolean;
}

function parseDose(value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || v < 0 || v > 1) throw new InvalidArgumentError(`--dose must be an infusion rate in [0, 1], got "${value}"`);
  return v;
}

function parseToxicity(value: string): 'published' | 'cumulative' {
  if (value !== 'published' && value !== 'cumulative') throw new InvalidArgumentError(`--toxicity must be published or cumulative, got "${value}"`);
  return value;
}

/** `twinlab simulate chemo …`: open-loop de Pillis–Radunskaya 2003 model under a constant infusion. */
export function registerChemoSimulate(simulate: Command): void {
  simulate
    .command('chemo')
    .description('open-loop tumour–immune–normal-cell model (de Pillis & Radunskaya 2003) under a constant infusion rate')
    .option('--days <n>', 'days to simulate (rows every 6 h)', parseNumber('--days', { min: 0 }), 150)
    .option('--dose <v>', 'infusion rate v in [0, 1] (1 = maximal dose)', parseDose, 0)
    .option('--until <day>', 'stop the infusion at this day ("dose then stop")', parseNumber('--until', { min: 0 }))
    .option('--toxicity <published|cumulative>', 'published model or the synthetic cumulative-exposure toxicity', parseToxicity, 'published')
    .option('--n0 <N>', 'initial normal cells', parseNumber('--n0', { min: 0 }), DTR_BENCH_INITIAL.N)
    .option('--t0 <T>', 'initial tumour cells', parseNumber('--t0', { min: 0 }), DTR_BENCH_INITIAL.T)
    .option('--i0 <I>', 'initial immune cells', parseNumber('--i0', { min: 0 }), DTR_BENCH_INITIAL.I)
    .option('--csv', 'print the 6-hourly table as CSV (day, N, T, I, B, X, v)')
    .action((o: ChemoSimulateOptions) => {
      const rhs = chemoRhs(chemoParams(o.toxicity === 'cumulative' ? { ...CUMULATIVE_TOXICITY } : {}));
      const y = Float64Array.of(o.n0, o.t0, o.i0, 0, 0);
      const rk4 = new Rk4(5);
      const steps = Math.round(o.days / CHEMO_STEP_DAYS);
      const rows: string[] = ['day,N,T,I,B,X,v'];
      const row = (day: number, v: number) => rows.push(`${day},${Array.from(y, (x) => x.toPrecision(8)).join(',')},${v}`);
      let nadir = y[0] as number;
      let nadirDay = 0;
      let clearedDay: number | undefined;
      let breachDay: number | undefined;
      for (let k = 0; k < steps; k++) {
        const day = k * CHEMO_STEP_DAYS;
        const v = o.until !== undefined && day + 1e-9 >= o.until ? 0 : o.dose;
        if (o.csv) row(day, v);
        rhs.v = v;
        rk4.integrate(rhs.f, y, day, day + CHEMO_STEP_DAYS, CHEMO_RK4_STEP_DAYS);
        for (let i = 0; i < 5; i++) if ((y[i] as number) < 0) y[i] = 0;
        const end = (k + 1) * CHEMO_STEP_DAYS;
        if ((y[0] as number) < nadir) {
          nadir = y[0] as number;
          nadirDay = end;
        }
        if (clearedDay === undefined && (y[1] as number) < CHEMO_CLEARANCE_THRESHOLD) clearedDay = end;
        if (breachDay === undefined && (y[0] as number) < CHEMO_DEATH_FRACTION * o.n0) breachDay = end;
      }
      if (o.csv) {
        row(steps * CHEMO_STEP_DAYS, o.until !== undefined && steps * CHEMO_STEP_DAYS >= o.until ? 0 : o.dose);
        process.stdout.write(`${rows.join('\n')}\n`);
        return;
      }
      const f = (x: number) => x.toPrecision(4);
      process.stdout.write(
        [
          `de Pillis–Radunskaya 2003 (${o.toxicity}): ${steps * CHEMO_STEP_DAYS} days, infusion v = ${o.dose}${o.until !== undefined ? ` until day ${o.until}` : ''}, start (N, T, I) = (${o.n0}, ${o.t0}, ${o.i0})`,
          `end state N ${f(y[0] as number)}  T ${f(y[1] as number)}  I ${f(y[2] as number)}  B ${f(y[3] as number)}`,
          `tumour cleared (T < 1e-3): ${clearedDay === undefined ? 'no' : `day ${clearedDay}`}`,
          `normal-cell nadir ${f(nadir)} (${f(nadir / o.n0)}·N0) at day ${nadirDay}; below 0.7·N0: ${breachDay === undefined ? 'never' : `day ${breachDay}`}`,
          'hint: add --csv for the 6-hourly table',
        ].join('\n') + '\n',
      );
    });
}
