import { TwinlabError } from '../engine/errors.js';

/**
 * Sum-tree and min-tree over `capacity` non-negative leaves (Schaul et al. 2016, "Prioritized
 * Experience Replay", ICLR, Appendix B.2.1): an implicit binary tree in a Float64Array of 2·L nodes
 * (L = capacity rounded up to a power of two; node 1 is the root, leaves at L..2L−1). Update and
 * prefix-sum search are O(log L); the min tree gives min_i p_i for the largest importance weight.
 * Unused leaves hold 0 in the sum tree and +∞ in the min tree.
 */
export class SumTree {
  readonly capacity: number;
  private readonly leaves: number;
  private readonly sums: Float64Array;
  private readonly mins: Float64Array;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new TwinlabError('INVALID_ARGUMENT', `sum-tree capacity must be an integer ≥ 1, got ${capacity}`);
    }
    this.capacity = capacity;
    let l = 1;
    while (l < capacity) l *= 2;
    this.leaves = l;
    this.sums = new Float64Array(2 * l);
    this.mins = new Float64Array(2 * l).fill(Number.POSITIVE_INFINITY);
  }

  get total(): number {
    return this.sums[1] as number;
  }

  /** Smallest priority among leaves that were set (+∞ when none). */
  get min(): number {
    return this.mins[1] as number;
  }

  get(index: number): number {
    return this.sums[this.leaves + index] as number;
  }

  set(index: number, priority: number): void {
    if (!(index >= 0 && index < this.capacity)) throw new TwinlabError('INVALID_ARGUMENT', `sum-tree index ${index} outside [0, ${this.capacity})`);
    if (!(priority >= 0 && Number.isFinite(priority))) throw new TwinlabError('INVALID_ARGUMENT', `sum-tree priority must be finite and ≥ 0, got ${priority}`);
    let node = this.leaves + index;
    this.sums[node] = priority;
    this.mins[node] = priority;
    node >>= 1;
    while (node >= 1) {
      const l = 2 * node;
      this.sums[node] = (this.sums[l] as number) + (this.sums[l + 1] as number);
      const a = this.mins[l] as number;
      const b = this.mins[l + 1] as number;
      this.mins[node] = a < b ? a : b;
      node >>= 1;
    }
  }

  /**
   * The leaf i with prefix(i) ≤ mass < prefix(i) + p_i, where prefix(i) = Σ_{j<i} p_j. Masses at or
   * beyond the total (float rounding) return the last leaf with positive priority.
   */
  find(mass: number): number {
    let node = 1;
    let m = mass;
    while (node < this.leaves) {
      const l = 2 * node;
      const left = this.sums[l] as number;
      if (m < left || (this.sums[l + 1] as number) <= 0) node = l;
      else {
        m -= left;
        node = l + 1;
      }
    }
    return node - this.leaves;
  }

  /** Leaves [0, n) as a copy (for checkpoints). */
  leafValues(n = this.capacity): Float64Array {
    return this.sums.slice(this.leaves, this.leaves + n);
  }

  /** Rebuild from leaf values in O(L). */
  load(values: Float64Array): void {
    if (values.length > this.capacity) throw new TwinlabError('INVALID_ARGUMENT', `sum-tree load of ${values.length} values exceeds capacity ${this.capacity}`);
    this.sums.fill(0);
    this.mins.fill(Number.POSITIVE_INFINITY);
    for (let i = 0; i < values.length; i++) {
      this.sums[this.leaves + i] = values[i] as number;
      this.mins[this.leaves + i] = values[i] as number;
    }
    for (let node = this.leaves - 1; node >= 1; node--) {
      const l = 2 * node;
      this.sums[node] = (this.sums[l] as number) + (this.sums[l + 1] as number);
      const a = this.mins[l] as number;
      const b = this.mins[l + 1] as number;
      this.mins[node] = a < b ? a : b;
    }
  }

  bytes(): number {
    return this.sums.byteLength + this.mins.byteLength;
  }
}
