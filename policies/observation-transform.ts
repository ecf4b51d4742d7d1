import { TwinlabError } from '../engine/errors.js';

/**
 * The observation normalisation a saved learned policy applies before its network, as recorded in
 * `policy.json` (`observation.normalization`). Preferred form: the affine map the trainer used,
 * x' = clip(scale·x + shift, ±clip). Without `scale`/`shift` it is derived from the kind:
 * - `bounds`: x' = 2(x − low)/(high − low) − 1 where both bounds are finite (and high − low < 1e30,
 *   gymnasium's float32-max stand-in for "unbounded"); other components pass through;
 * - `running`: x' = (x − mean)/std;
 * - `none`: identity.
 */
export interface NormalizationSpec {
  kind: 'bounds' | 'running' | 'none';
  mean?: number[];
  std?: number[];
  /** Box bounds; null (how JSON stores ±Infinity) = unbounded. */
  low?: (number | null)[];
  high?: (number | null)[];
  scale?: number[];
  shift?: number[];
  clip?: number | null;
}

export type ObservationTransform = (obs: Float32Array, offset: number, out: Float32Array) => void;

/** JSON has no ±Infinity (JSON.stringify writes null): a null bound means "unbounded". */
function vector(name: string, v: (number | null)[] | undefined, size: number, nullAs?: number): number[] {
  if (Array.isArray(v) && nullAs !== undefined) v = v.map((x) => (x === null ? nullAs : x));
  if (!Array.isArray(v) || v.length !== size || v.some((x) => typeof x !== 'number')) {
    throw new TwinlabError('INVALID_SPEC', `normalization.${name} must be an array of ${size} numbers, got ${JSON.stringify(v)?.slice(0, 80)}`);
  }
  return v as number[];
}

/** Compile a normalisation spec for observations of `size` components; null for the identity. */
export function compileObservationTransform(spec: NormalizationSpec | undefined, size: number): ObservationTransform | null {
  if (!spec || (spec.kind === 'none' && spec.scale === undefined)) return null;
  if (spec.kind !== 'bounds' && spec.kind !== 'running' && spec.kind !== 'none') {
    throw new TwinlabError('INVALID_SPEC', `normalization.kind must be "bounds", "running" or "none", got ${JSON.stringify(spec.kind)}`);
  }
  const scale = new Float64Array(size).fill(1);
  const shift = new Float64Array(size);
  if (spec.scale !== undefined || spec.shift !== undefined) {
    scale.set(vector('scale', spec.scale, size));
    shift.set(vector('shift', spec.shift, size));
  } else if (spec.kind === 'bounds') {
    const low = vector('low', spec.low, size, Number.NEGATIVE_INFINITY);
    const high = vector('high', spec.high, size, Number.POSITIVE_INFINITY);
    for (let i = 0; i < size; i++) {
      const lo = low[i] as number;
      const hi = high[i] as number;
      if (Number.isFinite(lo) && Number.isFinite(hi) && hi > lo && hi - lo < 1e30) {
        scale[i] = 2 / (hi - lo);
        shift[i] = -1 - (2 * lo) / (hi - lo);
      }
    }
  } else if (spec.kind === 'running') {
    const mean = vector('mean', spec.mean, size);
    const std = vector('std', spec.std, size);
    for (let i = 0; i < size; i++) {
      if (!((std[i] as number) > 0)) throw new TwinlabError('INVALID_SPEC', `normalization.std[${i}] must be > 0, got ${std[i]}`);
      scale[i] = 1 / (std[i] as number);
      shift[i] = -(mean[i] as number) / (std[i] as number);
    }
  }
  const clip = spec.clip ?? null;
  return (obs, offset, out) => {
    for (let i = 0; i < size; i++) {
      let v = (scale[i] as number) * (obs[offset + i] as number) + (shift[i] as number);
      if (clip !== null) v = v > clip ? clip : v < -clip ? -clip : v;
      out[offset + i] = v;
    }
  };
}
