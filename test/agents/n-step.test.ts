import { describe, expect, it } from 'vitest';
import { NStepAccumulator } from '../../agents/n-step.js';

interface Emitted {
  obs: number;
  action: number;
  ret: number;
  next: number;
  done: boolean;
  discount: number;
}

function collector(): { out: Emitted[]; sink: ConstructorParameters<typeof NStepAccumulator>[4] } {
  const out: Emitted[] = [];
  return {
    out,
    sink: (obs, o, action, ret, next, no, done, discount) => out.push({ obs: obs[o] as number, action, ret, next: next[no] as number, done, discount }),
  };
}

const g = 0.9;
const f = (x: number) => Float32Array.of(x);

describe('NStepAccumulator', () => {
  it('emits n-step returns mid-episode, oldest first', () => {
    const { out, sink } = collector();
    const acc = new NStepAccumulator(3, g, 1, 1, sink);
    const rewards = [1, 2, 3, 4, 5];
    rewards.forEach((r, t) => acc.push(0, f(t), 0, t % 2, r, f(t + 1), 0, false, false));
    expect(out.length).toBe(3);
    expect(out[0]).toEqual({ obs: 0, action: 0, ret: expect.closeTo(1 + g * 2 + g * g * 3, 12), next: 3, done: false, discount: expect.closeTo(g ** 3, 12) });
    expect(out[1]?.ret).toBeCloseTo(2 + g * 3 + g * g * 4, 12);
    expect(out[1]?.next).toBe(4);
    expect(out[2]?.ret).toBeCloseTo(3 + g * 4 + g * g * 5, 12);
    expect(out[2]?.action).toBe(0);
    expect(acc.pending(0)).toBe(2);
  });

  it('termination inside the window: flush every pending step with k < n and no bootstrap', () => {
    const { out, sink } = collector();
    const acc = new NStepAccumulator(4, g, 1, 1, sink);
    acc.push(0, f(0), 0, 0, 1, f(1), 0, false, false);
    acc.push(0, f(1), 0, 1, 2, f(2), 0, false, false);
    acc.push(0, f(2), 0, 0, 10, f(-1), 0, true, false); // terminated on the third step
    expect(out.map((e) => e.obs)).toEqual([0, 1, 2]);
    expect(out[0]?.ret).toBeCloseTo(1 + g * 2 + g * g * 10, 12);
    expect(out[0]?.discount).toBeCloseTo(g ** 3, 12);
    expect(out[1]?.ret).toBeCloseTo(2 + g * 10, 12);
    expect(out[1]?.discount).toBeCloseTo(g ** 2, 12);
    expect(out[2]?.ret).toBe(10);
    expect(out[2]?.discount).toBeCloseTo(g, 12);
    expect(out.every((e) => e.done && e.next === -1)).toBe(true);
    expect(acc.pending(0)).toBe(0);
    // the next episode starts clean
    acc.push(0, f(100), 0, 0, 7, f(101), 0, false, true);
    expect(out[3]).toEqual({ obs: 100, action: 0, ret: 7, next: 101, done: false, discount: expect.closeTo(g, 12) });
  });

  it('truncation inside the window: flush with done = 0 and the true final observation', () => {
    const { out, sink } = collector();
    const acc = new NStepAccumulator(3, g, 1, 1, sink);
    acc.push(0, f(0), 0, 0, 1, f(1), 0, false, false);
    acc.push(0, f(1), 0, 0, 1, f(2), 0, false, false);
    acc.push(0, f(2), 0, 0, 1, f(3), 0, false, false); // emits step 0 (full window)
    acc.push(0, f(3), 0, 0, 1, f(42), 0, false, true); // truncated: flush steps 1..3
    expect(out.length).toBe(4);
    expect(out.slice(1).map((e) => [e.obs, e.next, e.done])).toEqual([
      [1, 42, false],
      [2, 42, false],
      [3, 42, false],
    ]);
    expect(out[1]?.ret).toBeCloseTo(1 + g + g * g, 12);
    expect(out[1]?.discount).toBeCloseTo(g ** 3, 12);
    expect(out[2]?.discount).toBeCloseTo(g ** 2, 12);
    expect(out[3]?.discount).toBeCloseTo(g, 12);
  });

  it('keeps envs of a vector env apart and saves/restores its windows', () => {
    const a = collector();
    const acc = new NStepAccumulator(2, g, 2, 1, a.sink);
    acc.push(0, f(0), 0, 0, 1, f(1), 0, false, false);
    acc.push(1, f(10), 0, 1, 5, f(11), 0, false, false);
    const b = collector();
    const copy = new NStepAccumulator(2, g, 2, 1, b.sink);
    copy.restoreState(acc.saveState());
    for (const x of [acc, copy]) {
      x.push(1, f(11), 0, 0, 6, f(12), 0, true, false);
      x.push(0, f(1), 0, 1, 2, f(2), 0, false, false);
    }
    expect(b.out).toEqual(a.out);
    expect(a.out.map((e) => e.obs)).toEqual([10, 11, 0]);
    expect(a.out[0]?.ret).toBeCloseTo(5 + g * 6, 12);
    expect(a.out[2]?.ret).toBeCloseTo(1 + g * 2, 12);
  });

  it('n = 1 is the one-step transition with discount γ', () => {
    const { out, sink } = collector();
    const acc = new NStepAccumulator(1, 0.99, 1, 1, sink);
    acc.push(0, f(3), 0, 1, -2, f(4), 0, false, false);
    expect(out).toEqual([{ obs: 3, action: 1, ret: -2, next: 4, done: false, discount: 0.99 }]);
  });
});
