import { describe, expect, it } from 'vitest';
import { make } from '../../engine/registry.js';
import { SENSORS } from '../../environments/glucose/params.js';
import { expandJobs, type TrialJobConfig } from '../../experiments/jobs.js';
import { stepsForDays, validateSpec } from '../../experiments/spec.js';

const trial = (scenario: Record<string, unknown>, days: number) => ({
  kind: 'trial',
  name: 'days',
  seed: 5,
  cohort: { twin: 'glucose', population: 'adult', size: 1 },
  arms: [{ name: 'basal', policy: 'glucose/basal' }],
  scenario,
  duration: { days },
  endpoints: { primary: ['tir'] },
});

/** Simulated minutes of one episode of the first job (constant action, until the time limit). */
function simulatedMinutes(config: TrialJobConfig): number {
  const env = make(config.envId, config.envOptions);
  const { info: start } = env.reset({ seed: 1 });
  let last = start;
  for (let t = 0; t < 100_000; t++) {
    const r = env.step(2);
    last = r.info;
    if (r.terminated || r.truncated) break;
  }
  env.close?.();
  return (last.minute as number) - (start.minute as number);
}

describe('duration.days follows the env the spec builds', () => {
  it.each(Object.keys(SENSORS))('sensor %s: one day is 1,440 simulated minutes', (sensor) => {
    const sampleTime = (SENSORS[sensor] as { sampleTime: number }).sampleTime;
    const jobs = expandJobs('d', validateSpec(trial({ sensor, sensorNoise: false, scenario: 'none' }, 1)));
    const config = jobs[0]?.config as TrialJobConfig;
    expect(config.envOptions.maxEpisodeSteps).toBe(1440 / sampleTime);
    expect(simulatedMinutes(config)).toBe(1440);
  });

  it('an explicit decisionMinutes and half days count too; bad scenario values are refused up front', () => {
    expect(stepsForDays('glucose/t1d-v1', 0.5, { decisionMinutes: 15 })).toBe(48);
    expect(stepsForDays('glucose/t1d-v1', 2, { sensor: 'Dexcom' })).toBe(960);
    expect(stepsForDays('glucose/t1d-v1', 1)).toBe(288);
    expect(() => validateSpec(trial({ sensor: 'Libre9' }, 1))).toThrow(/scenario: glucose\/t1d-v1 rejects these options: sensor must be one of/);
  });
});
