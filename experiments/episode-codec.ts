import { gunzipSync, gzipSync } from 'node:zlib';
import type { Info } from '../engine/env.js';
import type { EpisodeLog, EpisodeStepRecord } from '../engine/episode-log.js';
import { describeValue, TwinlabError } from '../engine/errors.js';
import { decodeExactJson, encodeExactJson } from './exact-json.js';

/**
 * Compact, lossless storage encoding of an `EpisodeLog` ("columnar v1"): the step records become
 * columns instead of one JSON object per step.
 *
 *   bytes = gzip( "TWEP" | u32 format version | u32 header length | header (UTF-8 exact JSON) |
 *                 zero padding to 8 | column 0 | column 1 | … )        (little-endian, 8-aligned)
 *
 * The header holds everything that is not per step — envId, seed, initial observation, reset info,
 * keyframes, totals, hash — plus the column layout. Columns: `reward` (float64), `observation`
 * (length × dim, float32 when every value is exactly a float32 — RecordEpisode's are — else
 * float64), `action` (float64; scalars or fixed-length vectors), `flags` (uint8: bit 0 terminated,
 * bit 1 truncated) and one float64 column per info field that holds numbers wherever present.
 * Float64 columns are byte-shuffled (all first bytes, then all second bytes, …: slowly varying
 * series then share their high bytes, which deflate compresses well). Info fields holding anything
 * else (strings such as `patientId`, `termination`; objects) are stored once per change as
 * `[firstStep, value]` runs; the ordered key sets of the infos likewise ("shapes", usually one).
 * A `step` column is only written when some `steps[i].step ≠ i`.
 *
 * Lossless: numbers keep their bits (NaN, ±∞, −0) in binary columns and through `encodeExactJson`
 * in the header; key order of every record and info is restored. A log whose steps do not fit the
 * columnar shape (other keys, ragged observations, mixed action kinds) is stored with its steps as
 * exact JSON inside the same container, so any log round-trips.
 *
 * Header numbers: plain arrays of ≥ 16 numbers anywhere in the header (keyframe states: an
 * insulin-on-board ring, a sensor's noise batch) are moved to one float64 column as `{"$f64":[offset, n]}`.
 *
 * A glucose/t1d-v1 day (288 steps, 18 info fields, 7 keyframes) is ≈ 250 KB as JSON, ≈ 36 KB as
 * gzip-compressed JSON (the previous format, still read) and ≈ 24 KB in this encoding, and encodes in
 * ≈ 1 ms instead of ≈ 4.5 ms (experiments/README.md "Store"; test/experiments/episode-codec.test.ts).
 */
export interface EncodedEpisode {
  /** gzip-compressed columnar bytes, stored as is. */
  bytes: Uint8Array;
  /** Number of steps (the store indexes it). */
  length: number;
}

const MAGIC = [0x54, 0x57, 0x45, 0x50]; // "TWEP"
const FORMAT_VERSION = 1;
/** gzip level 1: level 6 makes a glucose day ≈ 7 % smaller (23.1 vs 24.9 KB) at ≈ 2× the encoding time. */
const GZIP_LEVEL = 1;
const STEP_KEYS = ['step', 'action', 'reward', 'observation', 'terminated', 'truncated', 'info'] as const;

type ColumnType = 'f64' | 'f32' | 'u8';
interface ColumnSpec {
  type: ColumnType;
  count: number;
}
type InfoField = { col: number } | { runs: [number, unknown][] };
interface ColumnarSteps {
  step: number | null;
  action: { col: number; dim: number | null };
  reward: number;
  observation: { col: number; dim: number };
  flags: number;
  info: { keys: string[]; shapes: number[][]; shapeRuns: [number, number][]; fields: InfoField[] };
}
interface Header {
  /** The log's own keys in their order (restored on decode). */
  order: string[];
  /** The log without steps and keyframes, then the keyframes; long number arrays in both packed (`packNumbers`). */
  log: unknown;
  keyframes: unknown;
  /** Column holding the packed numbers, if any. */
  numbers: number | null;
  n: number;
  columns: ColumnSpec[];
  steps: ColumnarSteps | { json: EpisodeStepRecord[] };
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function requireLittleEndian(): void {
  if (!littleEndian) throw new TwinlabError('INTERNAL', 'the episode encoding assumes a little-endian platform');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** Kept by JSON inside an object: undefined, functions and symbols are dropped, as JSON.stringify does. */
function kept(v: unknown): boolean {
  return v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return encodeExactJson(a) === encodeExactJson(b);
}

function allNumbers(a: unknown): a is number[] {
  if (!Array.isArray(a)) return false;
  for (let i = 0; i < a.length; i++) if (typeof a[i] !== 'number') return false;
  return true;
}

class ColumnWriter {
  readonly specs: ColumnSpec[] = [];
  readonly data: Uint8Array[] = [];
  add(array: Float64Array | Float32Array | Uint8Array): number {
    const type: ColumnType = array instanceof Float64Array ? 'f64' : array instanceof Float32Array ? 'f32' : 'u8';
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    this.specs.push({ type, count: array.length });
    this.data.push(type === 'f64' ? shuffle(bytes, 8) : bytes);
    return this.specs.length - 1;
  }
}

/** Byte transposition: out[b·n + i] = in[i·width + b]. */
function shuffle(bytes: Uint8Array, width: number): Uint8Array {
  const n = bytes.length / width;
  const out = new Uint8Array(bytes.length);
  for (let b = 0; b < width; b++) {
    const base = b * n;
    for (let i = 0; i < n; i++) out[base + i] = bytes[i * width + b] as number;
  }
  return out;
}

function unshuffle(bytes: Uint8Array, width: number): Uint8Array {
  const n = bytes.length / width;
  const out = new Uint8Array(bytes.length);
  for (let b = 0; b < width; b++) {
    const base = b * n;
    for (let i = 0; i < n; i++) out[i * width + b] = bytes[base + i] as number;
  }
  return out;
}

/** The columnar layout of the steps, or null when they do not fit it (then they go as JSON). */
function columnarSteps(steps: EpisodeStepRecord[], w: ColumnWriter): ColumnarSteps | null {
  const n = steps.length;
  const first = steps[0];
  if (first === undefined) return null;
  const obsDim = Array.isArray(first.observation) ? first.observation.length : -1;
  const actionDim = typeof first.action === 'number' ? null : Array.isArray(first.action) ? first.action.length : -1;
  if (obsDim < 0 || actionDim === -1) return null;
  let sequential = true;
  let obs32 = true;
  const keyIndex = new Map<string, number>();
  const keys: string[] = [];
  const shapeIds = new Map<string, number>();
  const shapes: number[][] = [];
  const shapeRuns: [number, number][] = [];
  const stepShape = new Int32Array(n);
  // Object.keys of the previous info, when all its values were kept (then an equal key list = same shape).
  let prevKeys: string[] | null = null;
  for (let i = 0; i < n; i++) {
    const s = steps[i] as EpisodeStepRecord;
    if (!isPlainObject(s)) return null;
    const stepKeys = Object.keys(s);
    if (stepKeys.length !== STEP_KEYS.length) return null;
    for (let k = 0; k < STEP_KEYS.length; k++) if (stepKeys[k] !== STEP_KEYS[k]) return null;
    if (typeof s.step !== 'number' || typeof s.reward !== 'number' || typeof s.terminated !== 'boolean' || typeof s.truncated !== 'boolean') return null;
    if (s.step !== i || Object.is(s.step, -0)) sequential = false;
    const obs = s.observation;
    if (!allNumbers(obs) || obs.length !== obsDim) return null;
    if (obs32) for (let j = 0; j < obsDim; j++) if (!Object.is(Math.fround(obs[j] as number), obs[j])) obs32 = false;
    if (actionDim === null ? typeof s.action !== 'number' : !allNumbers(s.action) || s.action.length !== actionDim) return null;
    if (!isPlainObject(s.info)) return null;
    const infoKeys = Object.keys(s.info);
    let same = prevKeys !== null && infoKeys.length === prevKeys.length;
    for (let k = 0; same && k < infoKeys.length; k++) if (infoKeys[k] !== (prevKeys as string[])[k] || !kept(s.info[infoKeys[k] as string])) same = false;
    prevKeys = infoKeys;
    if (same) {
      stepShape[i] = stepShape[i - 1] as number;
      continue;
    }
    const shape: number[] = [];
    for (const key of infoKeys) {
      if (!kept(s.info[key])) continue;
      if (key === '__proto__') return null;
      let id = keyIndex.get(key);
      if (id === undefined) {
        id = keys.length;
        keyIndex.set(key, id);
        keys.push(key);
      }
      shape.push(id);
    }
    const signature = shape.join(',');
    let sid = shapeIds.get(signature);
    if (sid === undefined) {
      sid = shapes.length;
      shapeIds.set(signature, sid);
      shapes.push(shape);
    }
    stepShape[i] = sid;
    if (i === 0 || stepShape[i - 1] !== sid) shapeRuns.push([i, sid]);
    if (shape.length !== infoKeys.length) prevKeys = null;
  }

  const reward = new Float64Array(n);
  const flags = new Uint8Array(n);
  const observation = obs32 ? new Float32Array(n * obsDim) : new Float64Array(n * obsDim);
  const action = new Float64Array(n * (actionDim ?? 1));
  const stepCol = sequential ? null : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = steps[i] as EpisodeStepRecord;
    reward[i] = s.reward;
    flags[i] = (s.terminated ? 1 : 0) | (s.truncated ? 2 : 0);
    observation.set(s.observation, i * obsDim);
    if (actionDim === null) action[i] = s.action as number;
    else action.set(s.action as number[], i * actionDim);
    if (stepCol) stepCol[i] = s.step;
  }

  const pending: Array<Float64Array | { runs: [number, unknown][] }> = [];
  for (const key of keys) {
    const col = new Float64Array(n);
    let numeric = true;
    for (let i = 0; i < n; i++) {
      const v = (steps[i] as EpisodeStepRecord).info[key];
      if (typeof v === 'number') col[i] = v;
      else if (kept(v)) {
        numeric = false;
        break;
      }
    }
    if (numeric) {
      pending.push(col);
    } else {
      const runs: [number, unknown][] = [];
      let last: unknown;
      let has = false;
      for (let i = 0; i < n; i++) {
        const v = (steps[i] as EpisodeStepRecord).info[key];
        if (!kept(v)) continue;
        if (!has || !sameValue(v, last)) runs.push([i, v]);
        last = v;
        has = true;
      }
      pending.push({ runs });
    }
  }
  const out: ColumnarSteps = {
    step: stepCol ? w.add(stepCol) : null,
    action: { col: w.add(action), dim: actionDim },
    reward: w.add(reward),
    observation: { col: w.add(observation), dim: obsDim },
    flags: w.add(flags),
    info: { keys, shapes, shapeRuns, fields: pending.map((p) => (p instanceof Float64Array ? { col: w.add(p) } : p)) },
  };
  return out;
}

/** Encodes (and gzips) a log; see the module comment for the layout. */
export function encodeEpisode(log: EpisodeLog): EncodedEpisode {
  requireLittleEndian();
  const { steps, keyframes, ...rest } = log;
  if (!Array.isArray(steps) || !Array.isArray(keyframes)) {
    throw new TwinlabError('INVALID_ARGUMENT', `episode log needs steps and keyframes arrays, got ${describeValue(log)}`);
  }
  const w = new ColumnWriter();
  const columnar = columnarSteps(steps, w);
  const numbers: number[] = [];
  const packedLog = packNumbers(rest, numbers, 0);
  const packedKeyframes = packNumbers(keyframes, numbers, 0);
  const numbersCol = numbers.length > 0 ? w.add(Float64Array.from(numbers)) : null;
  const header: Header = {
    order: Object.keys(log),
    log: packedLog,
    keyframes: packedKeyframes,
    numbers: numbersCol,
    n: steps.length,
    columns: w.specs,
    steps: columnar ?? { json: steps },
  };
  const headerBytes = Buffer.from(encodeExactJson(header), 'utf8');
  const data = w.data;
  const headerEnd = align8(12 + headerBytes.length);
  let total = headerEnd;
  for (const d of data) total = align8(total + d.length);
  const buf = Buffer.alloc(total);
  buf.set(MAGIC, 0);
  buf.writeUInt32LE(FORMAT_VERSION, 4);
  buf.writeUInt32LE(headerBytes.length, 8);
  buf.set(headerBytes, 12);
  let offset = headerEnd;
  for (const d of data) {
    buf.set(d, offset);
    offset = align8(offset + d.length);
  }
  const zipped = gzipSync(buf, { level: GZIP_LEVEL });
  // A Buffer may be a view into a shared pool; hand out bytes that own their ArrayBuffer (transferable).
  const bytes = zipped.byteOffset === 0 && zipped.byteLength === zipped.buffer.byteLength ? zipped : new Uint8Array(zipped);
  return { bytes, length: Number.isInteger(log.length) ? log.length : steps.length };
}

/** Arrays of at least this many numbers (in keyframe states: e.g. an insulin-on-board ring) go to the number column. */
const PACK_MIN = 16;

/**
 * A copy of `value` in which every plain array of ≥ PACK_MIN numbers is replaced by
 * `{ $f64: [offset, length] }`, its numbers appended to `numbers` (stored as a float64 column, exact).
 * Keyframe states are mostly such arrays: as binary they are ≈ 3× smaller than as decimal text and
 * far cheaper to write than to stringify.
 */
function packNumbers(value: unknown, numbers: number[], depth: number): unknown {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || depth > 64) return value;
  if (Array.isArray(value)) {
    if (value.length >= PACK_MIN && allNumbers(value)) {
      const offset = numbers.length;
      for (let i = 0; i < value.length; i++) numbers.push(value[i] as number);
      return { $f64: [offset, value.length] };
    }
    return value.map((v) => packNumbers(v, numbers, depth + 1));
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return value;
    out[key] = packNumbers((value as Record<string, unknown>)[key], numbers, depth + 1);
  }
  return out;
}

function unpackNumbers(value: unknown, numbers: Float64Array | undefined): unknown {
  if (numbers === undefined || value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = unpackNumbers(value[i], numbers);
    return value;
  }
  const o = value as Record<string, unknown>;
  const ref = o.$f64;
  if (Array.isArray(ref) && ref.length === 2 && Object.keys(o).length === 1) {
    const [offset, length] = ref as [number, number];
    return Array.from(numbers.subarray(offset, offset + length));
  }
  for (const key of Object.keys(o)) o[key] = unpackNumbers(o[key], numbers);
  return o;
}

function align8(x: number): number {
  return (x + 7) & ~7;
}

/** True when `bytes` (decompressed) start with the columnar magic. */
function hasMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && MAGIC.every((b, i) => bytes[i] === b);
}

/** True for gzip data (what `saveEpisode` accepts as an encoded log). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 18 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decodes what the store holds: the columnar encoding, or (stores written before it) gzip-compressed
 * exact JSON of the whole log.
 */
export function decodeEpisode(stored: Uint8Array): EpisodeLog {
  const raw = gunzipSync(stored);
  if (!hasMagic(raw)) return decodeExactJson(raw.toString('utf8')) as EpisodeLog;
  requireLittleEndian();
  const version = raw.readUInt32LE(4);
  if (version !== FORMAT_VERSION) throw new TwinlabError('INVALID_STATE', `episode encoding version ${version} is not supported (expected ${FORMAT_VERSION})`);
  const headerLength = raw.readUInt32LE(8);
  const header = decodeExactJson(raw.toString('utf8', 12, 12 + headerLength)) as Header;
  const columns = readColumns(raw, align8(12 + headerLength), header.columns);
  const steps = 'json' in header.steps ? header.steps.json : buildSteps(columns, header.n, header.steps);
  const numbers = header.numbers === null ? undefined : (columns[header.numbers] as Float64Array);
  const rest = unpackNumbers(header.log, numbers) as Record<string, unknown>;
  const parts: Record<string, unknown> = { ...rest, steps, keyframes: unpackNumbers(header.keyframes, numbers) };
  const log: Record<string, unknown> = {};
  for (const key of header.order ?? Object.keys(parts)) if (Object.hasOwn(parts, key)) log[key] = parts[key];
  return log as unknown as EpisodeLog;
}

type Column = Float64Array | Float32Array | Uint8Array;

function readColumns(raw: Buffer, start: number, specs: ColumnSpec[]): Column[] {
  const columns: Column[] = [];
  let offset = start;
  for (const spec of specs) {
    const width = spec.type === 'f64' ? 8 : spec.type === 'f32' ? 4 : 1;
    const byteLength = spec.count * width;
    if (offset + byteLength > raw.length)
      throw new TwinlabError('INVALID_STATE', `episode encoding is truncated (column needs bytes ${offset}..${offset + byteLength}, have ${raw.length})`);
    const slice = raw.subarray(offset, offset + byteLength);
    const bytes = spec.type === 'f64' ? unshuffle(slice, 8) : new Uint8Array(slice);
    columns.push(
      spec.type === 'f64' ? new Float64Array(bytes.buffer, 0, spec.count) : spec.type === 'f32' ? new Float32Array(bytes.buffer, 0, spec.count) : bytes,
    );
    offset = align8(offset + byteLength);
  }
  return columns;
}

function buildSteps(columns: Column[], n: number, c: ColumnarSteps): EpisodeStepRecord[] {
  const reward = columns[c.reward] as Float64Array;
  const flags = columns[c.flags] as Uint8Array;
  const obs = columns[c.observation.col] as Float64Array | Float32Array;
  const obsDim = c.observation.dim;
  const action = columns[c.action.col] as Float64Array;
  const actionDim = c.action.dim;
  const stepCol = c.step === null ? null : (columns[c.step] as Float64Array);
  const { keys, shapes, shapeRuns, fields } = c.info;
  // Per field: the value of each step (numeric columns read directly, runs expanded lazily).
  const runCursor = fields.map(() => 0);
  const steps = new Array<EpisodeStepRecord>(n);
  let shapeRun = 0;
  for (let i = 0; i < n; i++) {
    while (shapeRun + 1 < shapeRuns.length && (shapeRuns[shapeRun + 1] as [number, number])[0] <= i) shapeRun++;
    const shape = shapes[(shapeRuns[shapeRun] as [number, number])[1]] as number[];
    const info: Info = {};
    for (const f of shape) {
      const field = fields[f] as InfoField;
      if ('col' in field) info[keys[f] as string] = (columns[field.col] as Float64Array)[i];
      else {
        const runs = field.runs;
        let r = runCursor[f] as number;
        while (r + 1 < runs.length && (runs[r + 1] as [number, unknown])[0] <= i) r++;
        runCursor[f] = r;
        const v = (runs[r] as [number, unknown])[1];
        info[keys[f] as string] = v !== null && typeof v === 'object' ? structuredClone(v) : v;
      }
    }
    const f = flags[i] as number;
    steps[i] = {
      step: stepCol ? (stepCol[i] as number) : i,
      action: actionDim === null ? (action[i] as number) : Array.from(action.subarray(i * actionDim, (i + 1) * actionDim)),
      reward: reward[i] as number,
      observation: Array.from(obs.subarray(i * obsDim, (i + 1) * obsDim)),
      terminated: (f & 1) !== 0,
      truncated: (f & 2) !== 0,
      info,
    };
  }
  return steps;
}
