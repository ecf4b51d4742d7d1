import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../../experiments/store.js';
import { corruptStore } from './fixtures/damaged-store.js';

describe('store integrity on open', () => {
  it('a store damaged mid-file is refused on open, naming the file, before anything is written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'twinlab-damaged-'));
    const file = corruptStore(dir);
    const size = statSync(file).size;
    expect(() => Store.open(dir)).toThrow(expect.objectContaining({ code: 'INVALID_STATE', message: expect.stringContaining(`store ${file} is damaged (PRAGMA quick_check: `) }));
    expect(statSync(file).size).toBe(size);
    // verify: false opens it anyway (forensics)
    const raw = Store.open(dir, { verify: false });
    expect(raw.integrityCheck()).not.toBe('ok');
    raw.close();
  });

  it('a healthy store opens as before', () => {
    const dir = mkdtempSync(join(tmpdir(), 'twinlab-healthy-'));
    Store.open(dir).close();
    const store = Store.open(dir);
    expect(store.integrityCheck()).toBe('ok');
    store.close();
  });
});
