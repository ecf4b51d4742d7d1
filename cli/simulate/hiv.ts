import { type Command, InvalidArgumentError } from 'commander';
import { DormandPrince } from '../../engine/ode.js';
import { ADAMS_PARAMS, HIV_ACTIONS, HIV_STEADY_STATES, hivRhs } from '../../environments/hiv/model.js';
import { parseInteger } from '../program.js';

interface HivSimulateOptions {
  days: number;
  rti: boolean;
  pi: boolean;
  initial: keyof typeof HIV_STEADY_STATES;
  csv?: boolean;
}

function parseOnOff(name: string) {
  return (value: string): boolean => {
    if (value !== 'on' && value !== 'off') throw new InvalidArgumentError(`${name} must be on or off, got "${value}"`);
    return value === 'on';
  };
}

function parseInitial(value: string): keyof typeof HIV_STEADY_STATES {
  if (!(value in HIV_STEADY_STATES)) throw new InvalidArgumentError(`--initial must be one of ${Object.keys(HIV_STEADY_STATES).join(', ')}, got "${value}"`);
  return value as keyof typeof HIV_STEADY_STATES;
}

/** `twinlab simulate hiv …`: open-loop Adams et al. 2004 model with RTI/PI held on or off. */
export function registerHivSimulate(simulate: Command): void {
  simulate
    .command('hiv')
    .description('open-loop HIV model (Adams et al. 2004) with RTI (ε1 = 0.7) and PI (ε2 = 0.3) held on or off')
    .option('--days <n>', 'days to simulate (daily rows)', parseInteger('--days', { min: 0 }), 1000)
    .option('--rti <on|off>', 'reverse-transcriptase inhibitor', parseOnOff('--rti'), false)
    .option('--pi <on|off>', 'protease inhibitor', parseOnOff('--pi'), false)
    .option('--initial <state>', 'unhealthy, healthy or uninfected (+1 virion/mL) steady state', parseInitial, 'unhealthy')
    .option('--csv', 'print the daily table as CSV (day, T1, T1s, T2, T2s, V, E)')
    .action((o: HivSimulateOptions) => {
      const rhs = hivRhs(ADAMS_PARAMS);
      const drugs = HIV_ACTIONS[(o.rti ? 1 : 0) + (o.pi ? 2 : 0)] as { eps1: number; eps2: number };
      rhs.eps1 = drugs.eps1;
      rhs.eps2 = drugs.eps2;
      const y = Float64Array.from(HIV_STEADY_STATES[o.initial]);
      if (o.initial === 'uninfected') y[4] = 1;
      const solver = new DormandPrince(6, { rtol: 1e-8, atol: 1e-6 });
      const rows: string[] = ['day,T1,T1s,T2,T2s,V,E'];
      const row = (day: number) => rows.push(`${day},${Array.from(y, (x) => x.toPrecision(8)).join(',')}`);
      row(0);
      for (let d = 0; d < o.days; d++) {
        solver.integrate(rhs.f, y, d, d + 1);
        if (o.csv) row(d + 1);
      }
      if (o.csv) {
        process.stdout.write(`${rows.join('\n')}\n`);
        return;
      }
      const f = (x: number) => x.toPrecision(5);
      process.stdout.write(
        [
          `Adams et al. 2004 HIV model: ${o.days} days from the ${o.initial} state, RTI ${o.rti ? 'on' : 'off'}, PI ${o.pi ? 'on' : 'off'}`,
          `end T1 ${f(y[0] as number)}  T1* ${f(y[1] as number)}  T2 ${f(y[2] as number)}  T2* ${f(y[3] as number)}  V ${f(y[4] as number)}  E ${f(y[5] as number)} (per mL)`,
          `viral load log10 ${Math.log10(Math.max(1e-3, y[4] as number)).toFixed(3)} copies/mL; drug-days ${(o.rti ? o.days : 0) + (o.pi ? o.days : 0)}`,
          'hint: add --csv for the daily table',
        ].join('\n') + '\n',
      );
    });
}
