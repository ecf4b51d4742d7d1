import { createHash, type Hash } from 'node:crypto';
import type { Action } from './spaces.js';

/**
 * Trajectory hash: SHA-256 over the canonical bytes of a trajectory. Canonical form, per record:
 * a tag byte (0x4f 'O' observation, 0x41 'A' action, 0x52 'R' reward, 0x45 'E' episode boundary),
 * then little-endian bytes — observations as float32, actions and rewards as float64. Two runs have
 * the same hash exactly when they saw bit-identical observations, actions and rewards in the same order.
 */
export class TrajectoryHasher {
  private readonly hash: Hash = createHash('sha256');
  private readonly scratch = new DataView(new ArrayBuffer(9));
  private readonly scratchBytes = new Uint8Array(this.scratch.buffer);
  private records = 0;

  observation(obs: Float32Array): this {
    this.tag(0x4f);
    const bytes = new Uint8Array(obs.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < obs.length; i++) view.setFloat32(i * 4, obs[i] as number, true);
    this.hash.update(bytes);
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

  get recordCount(): number {
    return this.records;
  }

  digest(): string {
    return this.hash.copy().digest('hex');
  }

  private tag(byte: number): void {
    this.records++;
    this.scratchBytes[0] = byte;
    this.hash.update(this.scratchBytes.subarray(0, 1));
  }

  private float64(value: number): void {
    this.scratch.setFloat64(1, value, true);
    this.hash.update(this.scratchBytes.subarray(1, 9));
  }
}

/** SHA-256 of a UTF-8 string (used for spec and config fingerprints). */
export function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}
