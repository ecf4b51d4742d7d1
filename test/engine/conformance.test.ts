import { describe, expect, it } from 'vitest';
import { checkEnv } from '../../engine/conformance.js';
import { make, registeredIds } from '../../engine/registry.js';
import '../../environments/index.js';

describe('Env conformance: every registered env', () => {
  it('has at least the reference env registered', () => {
    expect(registeredIds()).toContain('classic/cartpole-v1');
  });

  it('includes the oncology twins as agent compositions on the Simulation (issue #16)', () => {
    expect(registeredIds()).toEqual(expect.arrayContaining(['oncology/chemo-agents-v0', 'oncology/opc-sequencing-agents-v0']));
  });

  it('includes the sepsis and HIV twins as agent compositions on the Simulation (issue #16)', () => {
    expect(registeredIds()).toEqual(expect.arrayContaining(['sepsis/oberst-agents-v0', 'hiv/sti-agents-v0']));
  });

  for (const id of registeredIds()) {
    it(`${id} passes the conformance checker`, () => {
      expect(checkEnv(() => make(id), { steps: 300 })).toEqual([]);
    });
  }
});
