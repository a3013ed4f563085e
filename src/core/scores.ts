/**
 * The score table: one float32 loss per example (NaN until the example is first scored, so it is
 * never in W and always trained), optional token lengths, and the threshold (mean of the finite
 * scores).
 */
import { InfoBatchError } from "./errors.js";

/** Longest example, in tokens, that length-aware tables index directly. */
export const MAX_LENGTH = 16777216;

export class ScoreTable {
  readonly size: number;
  /** Last observed loss per example; NaN = never scored (always kept, never in W). */
  readonly values: Float32Array;
  /** Tokens per example, or null when the caller gave none. */
  readonly lengths: Uint32Array | null;
  readonly totalTokens: number;
  readonly maxLength: number;

  constructor(size: number, lengths?: ArrayLike<number>) {
    this.size = size;
    this.values = new Float32Array(size).fill(Number.NaN);
    this.lengths = lengths === undefined ? null : copyLengths(lengths);
    let total = 0;
    let max = 0;
    if (this.lengths !== null) {
      for (let i = 0; i < size; i++) {
        const l = this.lengths[i];
        total += l;
        if (l > max) max = l;
      }
    }
    this.totalTokens = total;
    this.maxLength = max;
  }

  /**
   * Mean of the finite scores (NaN when none): the pruning threshold. One pass at plan time
   * (four partial sums, so the adds do not wait on each other) keeps `update` a plain store:
   * a running sum would need each example's old score, a cache miss per update.
   */
  mean(): number {
    const v = this.values;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let count = 0;
    let i = 0;
    for (; i + 4 <= v.length; i += 4) {
      const a = v[i];
      const b = v[i + 1];
      const c = v[i + 2];
      const d = v[i + 3];
      // NaN (never scored) is the only non-finite value the table holds; x === x drops it.
      if (a === a) {
        s0 += a;
        count++;
      }
      if (b === b) {
        s1 += b;
        count++;
      }
      if (c === c) {
        s2 += c;
        count++;
      }
      if (d === d) {
        s3 += d;
        count++;
      }
    }
    for (; i < v.length; i++) {
      if (v[i] === v[i]) {
        s0 += v[i];
        count++;
      }
    }
    return count > 0 ? (s0 + s1 + (s2 + s3)) / count : Number.NaN;
  }
}

function copyLengths(lengths: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(lengths.length);
  for (let i = 0; i < lengths.length; i++) {
    const l = lengths[i];
    if (!Number.isInteger(l) || l < 0 || l > MAX_LENGTH) {
      throw new InfoBatchError(
        "invalid_option",
        `expected a token count in [0, ${MAX_LENGTH}], received ${String(l)}`,
        ["lengths", i],
      );
    }
    out[i] = l;
  }
  return out;
}
