import { describe, expect, it } from 'vitest';
import { registeredIds } from '../../engine/registry.js';
import { listTwins } from '../../engine/twin.js';
import { registerClassic } from '../../environments/classic/index.js';
import { registerGlucose } from '../../environments/glucose/index.js';
import { registerHiv } from '../../environments/hiv/index.js';
import { registerAll } from '../../environments/index.js';
import { registerChemo, registerOpc } from '../../environments/oncology/index.js';
import { registerVancomycin } from '../../environments/pkpd/index.js';
import { registerSepsis } from '../../environments/sepsis/index.js';

// Importing environments/index.js registers every twin once; a twin's tests, the CLI and benches call
// a twin's register function again. Every register function must be idempotent: a second call adds
// nothing and throws nothing (the registry refuses a duplicate id with CONFLICT).
describe('twin registration is idempotent', () => {
  const registers: Array<[string, () => void]> = [
    ['registerAll', registerAll],
    ['registerClassic', registerClassic],
    ['registerGlucose', registerGlucose],
    ['registerHiv', registerHiv],
    ['registerChemo', registerChemo],
    ['registerOpc', registerOpc],
    ['registerVancomycin', registerVancomycin],
    ['registerSepsis', registerSepsis],
  ];

  for (const [name, register] of registers) {
    it(`${name}() twice changes nothing`, () => {
      const ids = registeredIds();
      const twins = listTwins().map((t) => t.id);
      expect(ids.length).toBeGreaterThan(5);
      register();
      register();
      expect(registeredIds()).toEqual(ids);
      expect(listTwins().map((t) => t.id)).toEqual(twins);
    });
  }
});
