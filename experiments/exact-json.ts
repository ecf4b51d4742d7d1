/**
 * Lossless JSON for episode logs and their headers: plain JSON would turn NaN/±∞ into null, −0 into
 * 0 and typed arrays (e.g. a keyframe's ODE state) into index-keyed objects. These become tagged
 * objects — `{"$num":"NaN"|"Infinity"|"-Infinity"|"-0"}` and `{"$typed":"Float64Array","data":[…]}` —
 * that `decodeExactJson` turns back. Finite numbers round-trip exactly (shortest round-trip decimal form).
 */
export const TYPED_ARRAYS = {
  Float64Array,
  Float32Array,
  Int32Array,
  Uint32Array,
  Int16Array,
  Uint16Array,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
} as const;

/**
 * True when plain `JSON.stringify` would lose something the tags keep (a non-finite number, −0, a
 * typed array) or when a `toJSON` might produce one. Cheaper than a replacer, which JSON.stringify
 * calls for every value.
 */
function needsTags(v: unknown, depth = 0): boolean {
  if (typeof v === 'number') return !Number.isFinite(v) || Object.is(v, -0);
  if (v === null || typeof v !== 'object') return false;
  if (depth > 64 || ArrayBuffer.isView(v) || typeof (v as { toJSON?: unknown }).toJSON === 'function') return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (needsTags(v[i], depth + 1)) return true;
    return false;
  }
  for (const key in v) if (Object.hasOwn(v, key) && needsTags((v as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}

export function encodeExactJson(value: unknown): string {
  if (!needsTags(value)) return JSON.stringify(value);
  return JSON.stringify(value, (_key: string, v: unknown) => {
    if (typeof v === 'number') {
      if (Number.isNaN(v)) return { $num: 'NaN' };
      if (v === Number.POSITIVE_INFINITY) return { $num: 'Infinity' };
      if (v === Number.NEGATIVE_INFINITY) return { $num: '-Infinity' };
      if (Object.is(v, -0)) return { $num: '-0' };
      return v;
    }
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const name = v.constructor.name;
      if (name in TYPED_ARRAYS) return { $typed: name, data: Array.from(v as unknown as ArrayLike<number>) };
    }
    return v;
  });
}

export function decodeExactJson(text: string): unknown {
  if (!text.includes('"$num"') && !text.includes('"$typed"')) return JSON.parse(text);
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$num === 'string' && Object.keys(o).length === 1) return Number(o.$num);
      if (typeof o.$typed === 'string' && Array.isArray(o.data) && Object.keys(o).length === 2 && o.$typed in TYPED_ARRAYS) {
        return TYPED_ARRAYS[o.$typed as keyof typeof TYPED_ARRAYS].from(o.data as number[]);
      }
    }
    return v;
  });
}
