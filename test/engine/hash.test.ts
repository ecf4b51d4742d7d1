import { describe, expect, it } from 'vitest';
import { sha256Hex, TrajectoryHasher } from '../../engine/hash.js';

describe('TrajectoryHasher', () => {
  const trajectory = (reward: number) => new TrajectoryHasher().observation(Float32Array.of(1, 2)).step(1, reward, Float32Array.of(3, 4)).digest();

  it('hashes the canonical bytes: equal inputs give equal hashes, any bit change differs', () => {
    expect(trajectory(0.5)).toBe(trajectory(0.5));
    expect(trajectory(0.5)).not.toBe(trajectory(0.5 + Number.EPSILON));
    // an action as a number and as a one-element typed array are the same canonical float64
    const a = new TrajectoryHasher().step(2, 1, Float32Array.of(0)).digest();
    const b = new TrajectoryHasher().step(Float32Array.of(2), 1, Float32Array.of(0)).digest();
    expect(a).toBe(b);
  });

  it('matches SHA-256 of the documented byte layout', () => {
    // 'O' + float32LE(1) ; 'A' + float64LE(0) ; 'R' + float64LE(1) ; 'O' + float32LE(2)
    const bytes = Buffer.alloc(1 + 4 + 1 + 8 + 1 + 8 + 1 + 4);
    let o = 0;
    bytes[o++] = 0x4f;
    bytes.writeFloatLE(1, o);
    o += 4;
    bytes[o++] = 0x41;
    bytes.writeDoubleLE(0, o);
    o += 8;
    bytes[o++] = 0x52;
    bytes.writeDoubleLE(1, o);
    o += 8;
    bytes[o++] = 0x4f;
    bytes.writeFloatLE(2, o);
    const expected = sha256Hex(bytes);
    expect(new TrajectoryHasher().observation(Float32Array.of(1)).step(0, 1, Float32Array.of(2)).digest()).toBe(expected);
  });

  it('separates records: moving a value between observation and reward changes the hash', () => {
    const x = new TrajectoryHasher().observation(Float32Array.of(1, 1)).digest();
    const y = new TrajectoryHasher().observation(Float32Array.of(1)).observation(Float32Array.of(1)).digest();
    expect(x).not.toBe(y);
  });
});

describe('TrajectoryHasher buffering', () => {
  it('gives the digest of the whole byte stream across chunk boundaries and repeated digests', () => {
    const hasher = new TrajectoryHasher();
    const parts: Buffer[] = [];
    const obs = Float32Array.from({ length: 33 }, (_, i) => i * 0.25 - 3);
    for (let t = 0; t < 400; t++) {
      // ~150 bytes per step: 400 steps cross several 16 KiB chunks at odd offsets
      hasher.step(t % 7, t / 3, obs);
      const a = Buffer.alloc(9);
      a[0] = 0x41;
      a.writeDoubleLE(t % 7, 1);
      const r = Buffer.alloc(9);
      r[0] = 0x52;
      r.writeDoubleLE(t / 3, 1);
      const o = Buffer.alloc(1 + 4 * obs.length);
      o[0] = 0x4f;
      obs.forEach((v, i) => o.writeFloatLE(v, 1 + 4 * i));
      parts.push(a, r, o);
      if (t === 100) expect(hasher.digest()).toBe(sha256Hex(Buffer.concat(parts)));
    }
    expect(hasher.digest()).toBe(sha256Hex(Buffer.concat(parts)));
    expect(hasher.digest()).toBe(sha256Hex(Buffer.concat(parts)));
  });
});

describe('TrajectoryHasher.reset', () => {
  it('starts a fresh trajectory: after reset the digest equals a new hasher’s, whatever was hashed or buffered before', () => {
    const fresh = new TrajectoryHasher().observation(Float32Array.of(5)).step(1, 2, Float32Array.of(6)).digest();
    const reused = new TrajectoryHasher();
    for (let t = 0; t < 300; t++) reused.step(t, t, Float32Array.of(t, t)); // several buffered chunks
    reused.digest();
    reused.observation(Float32Array.of(9)); // an unflushed record, dropped by reset
    expect(reused.reset().recordCount).toBe(0);
    expect(reused.observation(Float32Array.of(5)).step(1, 2, Float32Array.of(6)).digest()).toBe(fresh);
  });
});
