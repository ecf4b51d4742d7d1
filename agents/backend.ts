import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tfjs from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { TwinlabError } from '../engine/errors.js';

/**
 * TensorFlow.js backend selection, best first (docs/DESIGN.md "Real components"):
 *
 * 1. `tensorflow` — `@tensorflow/tfjs-node` (native libtensorflow). An optional dependency: its install
 *    downloads libtensorflow, so on offline machines the package is present but its binding is missing
 *    and importing it throws. We import it lazily inside try/catch.
 * 2. `wasm` — `@tensorflow/tfjs-backend-wasm` (XNNPACK, SIMD; single-threaded in Node). Its `.wasm`
 *    binaries ship in the package's `dist/` folder; in Node we point `setWasmPaths` at that folder
 *    so nothing is fetched over the network.
 * 3. `cpu` — the plain JavaScript backend of `@tensorflow/tfjs`.
 *
 * `initBackend()` is idempotent; the chosen backend name and the tfjs version are recorded with every
 * run (a run is a pure function of spec, seed, code version and backend).
 */
export const BACKENDS = { tensorflow: 'tensorflow', wasm: 'wasm', cpu: 'cpu' } as const;
export type BackendName = (typeof BACKENDS)[keyof typeof BACKENDS];

export function isBackendName(x: unknown): x is BackendName {
  return typeof x === 'string' && Object.hasOwn(BACKENDS, x);
}

export interface BackendInfo {
  backend: BackendName;
  tfjsVersion: string;
}

const AUTO_ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

let current: BackendInfo | null = null;
let wasmPathsSet = false;
let tfjsNodeFailure: Error | null = null;
let tfjsNodeLoaded = false;

/** Directory holding the wasm binaries (`…/tfjs-backend-wasm/dist/`), with a trailing slash. */
export function wasmBinaryDir(): string {
  const require = createRequire(import.meta.url);
  return `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`;
}

async function loadTfjsNode(): Promise<void> {
  if (tfjsNodeLoaded) return;
  if (tfjsNodeFailure) throw tfjsNodeFailure;
  const specifier = '@tensorflow/tfjs-node'; // a variable: the package is optional and has no types here
  try {
    await import(specifier);
    tfjsNodeLoaded = true;
  } catch (error) {
    tfjsNodeFailure = error instanceof Error ? error : new TwinlabError('INVALID_STATE', `@tensorflow/tfjs-node cannot be loaded: ${String(error)}`);
    throw tfjsNodeFailure;
  }
}

async function trySet(name: BackendName): Promise<void> {
  if (name === 'tensorflow') {
    await loadTfjsNode();
  } else if (name === 'wasm' && !wasmPathsSet) {
    if (typeof process !== 'undefined' && process.versions?.node) setWasmPaths(wasmBinaryDir());
    wasmPathsSet = true;
  }
  const ok = await tfjs.setBackend(name);
  if (!ok) throw new TwinlabError('INVALID_STATE', `tf.setBackend('${name}') returned false`, { backend: name });
  await tfjs.ready();
}

/**
 * Select and initialise a backend. `auto` (default) keeps an already initialised backend, otherwise
 * tries tensorflow → wasm → cpu. An explicit name switches to that backend or throws a TwinlabError
 * naming it and the cause.
 */
export async function initBackend(preferred: BackendName | 'auto' = 'auto'): Promise<BackendInfo> {
  if (preferred !== 'auto' && !isBackendName(preferred)) {
    throw new TwinlabError('INVALID_ARGUMENT', `backend must be one of auto, ${AUTO_ORDER.join(', ')}; got ${JSON.stringify(preferred)}`);
  }
  if (current && (preferred === 'auto' || preferred === current.backend)) return current;
  if (preferred !== 'auto') {
    try {
      await trySet(preferred);
    } catch (error) {
      const cause = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new TwinlabError('INVALID_STATE', `TensorFlow.js backend "${preferred}" cannot be loaded: ${cause}`, { backend: preferred });
    }
    current = { backend: preferred, tfjsVersion: tfjs.version.tfjs };
    return current;
  }
  const failures: string[] = [];
  for (const name of AUTO_ORDER) {
    try {
      await trySet(name);
      current = { backend: name, tfjsVersion: tfjs.version.tfjs };
      return current;
    } catch (error) {
      failures.push(`${name}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
  throw new TwinlabError('INTERNAL', `no TensorFlow.js backend could be initialised (${failures.join('; ')})`);
}

/** The backend chosen by `initBackend`, or null before it has run. */
export function backendInfo(): BackendInfo | null {
  return current;
}

/** The initialised `@tensorflow/tfjs` module. Throws until `initBackend()` has resolved. */
export function getTf(): typeof tfjs {
  if (!current) throw new TwinlabError('INVALID_STATE', 'TensorFlow.js is not initialised: await initBackend() before using networks');
  return tfjs;
}
