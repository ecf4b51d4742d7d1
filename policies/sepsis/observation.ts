import type { Env } from '../../engine/env.js';
import { TwinlabError } from '../../engine/errors.js';
import type { Box } from '../../engine/spaces.js';

/**
 * Reads the state index back from a `sepsis/oberst-v1` observation, in each of its documented
 * encodings (environments/sepsis/README.md): factored one-hot per variable (19 floats observed, 14
 * projected), one-hot of the state (720 / 144) or the index itself (1 float, high = 719 / 143).
 * Observed index = ((((((hr·3 + sysbp)·2 + o2)·5 + glucose)·2 + abx)·2 + vaso)·2 + vent); the projected
 * index drops the glucose digit.
 */
export type SepsisView = 'observed' | 'projected';

export interface SepsisDecoder {
  view: SepsisView;
  /** State index in the view (0..719 observed, 0..143 projected). */
  decode(observation: Float32Array): number;
}

function argmax(o: Float32Array, from: number, n: number): number {
  let best = 0;
  for (let k = 1; k < n; k++) if ((o[from + k] as number) > (o[from + best] as number)) best = k;
  return best;
}

export function sepsisDecoder(space: Box): SepsisDecoder {
  const size = space.size;
  if (size === 19 || size === 14) {
    const g = size === 19;
    return {
      view: g ? 'observed' : 'projected',
      decode: (o) => {
        const hr = argmax(o, 0, 3);
        const bp = argmax(o, 3, 3);
        const o2 = argmax(o, 6, 2);
        const off = g ? 13 : 8;
        const glucose = g ? argmax(o, 8, 5) : 0;
        const abx = argmax(o, off, 2);
        const vaso = argmax(o, off + 2, 2);
        const vent = argmax(o, off + 4, 2);
        const base = (hr * 3 + bp) * 2 + o2;
        return g ? (((base * 5 + glucose) * 2 + abx) * 2 + vaso) * 2 + vent : ((base * 2 + abx) * 2 + vaso) * 2 + vent;
      },
    };
  }
  if (size === 720 || size === 144) return { view: size === 720 ? 'observed' : 'projected', decode: (o) => argmax(o, 0, size) };
  if (size === 1) {
    const high = space.high[0] as number;
    if (high === 719 || high === 143) return { view: high === 719 ? 'observed' : 'projected', decode: (o) => Math.round(o[0] as number) };
  }
  throw new TwinlabError('INVALID_ARGUMENT', `sepsis policies: observation space ${space.toString()} is not a sepsis/oberst-v1 encoding (factored 19/14, one-hot 720/144 or index)`);
}

/** Projected index of an observed index. */
export function projectObserved(obs: number): number {
  return Math.floor(obs / 40) * 8 + (obs % 8);
}

/** What the sepsis env offers policies: greedy action tables from value iteration on its exact tensors. */
export interface SepsisActionTableSource {
  sepsisActionTable(kind: 'full' | 'observed' | 'projected'): Int32Array;
}

/** Finds the innermost env that offers action tables (through wrappers), or throws. */
export function actionTableSource(env: Env): SepsisActionTableSource {
  let e: unknown = env;
  for (let depth = 0; depth < 32 && e; depth++) {
    if (typeof (e as Partial<SepsisActionTableSource>).sepsisActionTable === 'function') return e as SepsisActionTableSource;
    e = (e as { env?: unknown }).env;
  }
  throw new TwinlabError('INVALID_ARGUMENT', `sepsis policies need a sepsis/oberst-v1 env (it provides the value-iteration tables); got ${env.id}`);
}
