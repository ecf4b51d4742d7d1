import { createHash, type Hash } from 'node:crypto';
import type { Action } from './spaces.js';

/**
 * Trajectory hash: SHA-256 over the canonical bytes of a trajectory. Canonical form, per record:
 * a tag byte (0x4f 'O' observation, 0x41 'A' action, 0x52 'R' reward, 0x45 'E' episode boundary),
 * then little-endian bytes — observations as float32, actions and rewards as float64. Two runs have
 * the same hash exactly when they saw bit-identical observations, actions and rewards in the same order.
 *
 * Records are written into a reusable 16 KiB buffer that is fed to SHA-256 only when full (or at
 * `digest()`): SHA-256 is a streaming function, so the digest is the same as feeding every record
 * separately, at a fraction of the native calls (hashing runs on every step of every recorded episode).
 */
const CHUNK = 16 * 1024;

export class TrajectoryHasher {
  private hash: Hash = createHash('sha256');
  private readonly buffer = new ArrayBuffer(CHUNK);
  private readonly bytes = new Uint8Array(this.buffer);
  private readonly view = new DataView(this.buffer);
  private used = 0;
  private records = 0;

  observation(obs: Float32Array): this {
    this.tag(0x4f);
    for (let i = 0; i < obs.length; i++) {
      this.room(4);
      this.view.setFloat32(this.used, obs[i] as number, true);
      this.used += 4;
    }
    return this;
  }

  action(action: Action): this {
    this.tag(0x41);
    if (typeof action === 'number') this.float64(action);
    else for (let i = 0; i < action.length; i++) this.float64(action[i] as number);
    return this;
  }

  reward(reward: number): this {
    this.tag(0x52);
    this.float64(reward);
    return this;
  }

  /** One environment step: the action taken, then the reward and observation it produced. */
  step(action: Action, reward: number, observation: Float32Array): this {
    return this.action(action).reward(reward).observation(observation);
  }

  episodeBoundary(): this {
    this.tag(0x45);
    return this;
  }

  /** Start a new trajectory (a fresh digest), reusing the buffer. */
  reset(): this {
    this.hash = createHash('sha256');
    this.used = 0;
    this.records = 0;
    return this;
  }

  get recordCount(): number {
    return this.records;
  }

  digest(): string {
    this.flush();
    return this.hash.copy().digest('hex');
  }

  private tag(byte: number): void {
    this.records++;
    this.room(1);
    this.bytes[this.used++] = byte;
  }

  private float64(value: number): void {
    this.room(8);
    this.view.setFloat64(this.used, value, true);
    this.used += 8;
  }

  private room(n: number): void {
    if (this.used + n > CHUNK) this.flush();
  }

  private flush(): void {
    if (this.used === 0) return;
    this.hash.update(this.bytes.subarray(0, this.used));
    this.used = 0;
  }
}

/** SHA-256 of a UTF-8 string (used for spec and config fingerprints). */
export function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}
