/**
 * Batches of token ids: grouping an epoch's ordered examples by count or by a token budget, and
 * collating a group into padded [B, T] arrays with attention and target masks.
 */
import type { TokenizedCorpus } from "./corpus.js";
import { DataError } from "./types.js";

/**
 * - `{ size: B }`: B examples per batch (the last may be smaller);
 * - `{ tokens: N }`: as many examples as fit in N tokens *including padding*
 *   (B × longest ≤ N), optionally at most `maxSize` examples.
 */
export type BatchSpec = { size: number } | { tokens: number; maxSize?: number };

export function checkBatchSpec(spec: BatchSpec, maxLength: number): void {
  if ("size" in spec) {
    if (!Number.isInteger(spec.size) || spec.size < 1) {
      throw new DataError(
        "invalid_option",
        `batch.size must be a positive integer, received ${spec.size}`,
      );
    }
    return;
  }
  if (!Number.isInteger(spec.tokens) || spec.tokens < maxLength) {
    throw new DataError(
      "invalid_option",
      `batch.tokens must be an integer ≥ maxLength (${maxLength}) so every example fits, received ${spec.tokens}`,
    );
  }
  if (spec.maxSize !== undefined && (!Number.isInteger(spec.maxSize) || spec.maxSize < 1)) {
    throw new DataError(
      "invalid_option",
      `batch.maxSize must be a positive integer, received ${spec.maxSize}`,
    );
  }
}

/**
 * Start positions of each batch over `order` (plus the end), so the number of steps is known
 * before the epoch runs: boundaries.length − 1.
 */
export function batchBoundaries(
  corpus: TokenizedCorpus,
  order: Uint32Array,
  spec: BatchSpec,
): Uint32Array {
  const n = order.length;
  if ("size" in spec) {
    const steps = Math.ceil(n / spec.size);
    const out = new Uint32Array(steps + 1);
    for (let i = 0; i < steps; i++) out[i] = i * spec.size;
    out[steps] = n;
    return out;
  }
  const starts: number[] = [];
  const maxSize = spec.maxSize ?? Number.POSITIVE_INFINITY;
  let count = 0;
  let longest = 0;
  for (let p = 0; p < n; p++) {
    const len = corpus.lengthOf(order[p]);
    const nextLongest = Math.max(longest, len);
    if (count === 0 || count + 1 > maxSize || (count + 1) * nextLongest > spec.tokens) {
      starts.push(p);
      count = 1;
      longest = len;
    } else {
      count++;
      longest = nextLongest;
    }
  }
  starts.push(n);
  return Uint32Array.from(starts);
}

export interface TokenBatch {
  /** Example ids, in batch order, and their InfoBatch weights. */
  ids: Uint32Array;
  weights: Float32Array;
  /** B examples × T positions (T = longest example in the batch). */
  batchSize: number;
  seqLen: number;
  /** [B, T] row-major; padding positions hold `padId`. */
  inputIds: Int32Array;
  /** [B, T]: 1 on real tokens, 0 on padding. */
  attentionMask: Uint8Array;
  /**
   * [B, T]: 1 where token t is a target (a response token, predicted from positions < t).
   * For a Hugging Face-style `labels` array: inputIds where 1, −100 elsewhere.
   */
  targetMask: Uint8Array;
  /** Real tokens (no padding) and target tokens in the batch. */
  tokens: number;
  targetTokens: number;
}

/** Right-pads the examples `ids` into [B, T] arrays. */
export function collate(
  corpus: TokenizedCorpus,
  ids: Uint32Array,
  weights: Float32Array,
  padId: number,
): TokenBatch {
  const { offsets, tokens: allTokens, targets: allTargets } = corpus;
  const batchSize = ids.length;
  let seqLen = 0;
  for (let b = 0; b < batchSize; b++)
    seqLen = Math.max(seqLen, offsets[ids[b] + 1] - offsets[ids[b]]);
  // One zeroed buffer for the three arrays (one allocation, not three); only padding needs
  // writing, and only when padId ≠ 0.
  const cells = batchSize * seqLen;
  const buffer = new ArrayBuffer(6 * cells);
  const inputIds = new Int32Array(buffer, 0, cells);
  const attentionMask = new Uint8Array(buffer, 4 * cells, cells);
  const targetMask = new Uint8Array(buffer, 5 * cells, cells);
  let tokens = 0;
  let targetTokens = 0;
  for (let b = 0; b < batchSize; b++) {
    const id = ids[b];
    const start = offsets[id];
    const length = offsets[id + 1] - start;
    const row = b * seqLen;
    inputIds.set(allTokens.subarray(start, start + length), row);
    targetMask.set(allTargets.subarray(start, start + length), row);
    attentionMask.fill(1, row, row + length);
    if (padId !== 0) inputIds.fill(padId, row + length, row + seqLen);
    tokens += length;
    targetTokens += corpus.targetCountOf(id);
  }
  return {
    ids,
    weights,
    batchSize,
    seqLen,
    inputIds,
    attentionMask,
    targetMask,
    tokens,
    targetTokens,
  };
}
