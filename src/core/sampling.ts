/**
 * The hot loops of epoch planning, branch-free over plain typed arrays.
 *
 * A member of W (s_i < t) is dropped when the low 24 bits of mix32(key + id) fall below its
 * quantised drop probability q, so P(drop) = q / 2^24 exactly and the keep weight
 * 2^24 / (2^24 − q) makes the weighted estimate exactly unbiased. Decisions are a pure function
 * of (key, id): a restored engine, another rank or a Worker recomputes them without a stream.
 * Survivors are written in ascending id order; `IndexShuffle` then gives the epoch's order.
 * Comparisons become 0/1 with unary `+` (not `?:`), which keeps V8 from emitting branches that
 * a 50/50 decision would mispredict half the time (measured: 3–4× slower).
 */
import { mix32 } from "./rng.js";

/** Drop probabilities are multiples of 2^-24. */
export const Q_ONE = 16777216;
const Q_MASK = 0xffffff;

/** A well-learned example's quantised drop probability: one constant, or a table by length. */
export type DropRule =
  | { readonly kind: "constant"; readonly q: number }
  | { readonly kind: "by_length"; readonly table: Uint32Array; readonly lengths: Uint32Array };

export function quantise(probability: number): number {
  const q = Math.round(probability * Q_ONE);
  return Math.min(Q_ONE - 1, Math.max(0, q));
}

/** Weight of a kept member of W whose drop probability is q / 2^24. */
export function keepWeight(q: number): number {
  return Q_ONE / (Q_ONE - q);
}

export function dropQ(rule: DropRule, id: number): number {
  return rule.kind === "constant" ? rule.q : rule.table[rule.lengths[id]];
}

/**
 * The survivors of one epoch: `kept[0..count)` ascending, and their membership bitset. Output
 * buffers are passed in so the engine reuses them across epochs: fresh 40 MB arrays per epoch
 * cost more in page faults than the pass itself.
 */
export interface Survivors {
  kept: Uint32Array;
  count: number;
  inPlan: Uint32Array;
}

/**
 * Marks W = { i : s_i < threshold } (NaN scores are never in W); returns the bitset, |W| and
 * its token sum. Used where |W| must be known before the drop probability (budgets, lengths).
 */
export function classify(
  scores: Float32Array,
  threshold: number,
  lengths: Uint32Array | null,
  well: Uint32Array,
): { well: Uint32Array; count: number; tokens: number } {
  const n = scores.length;
  well.fill(0);
  let count = 0;
  let tokens = 0;
  if (Number.isNaN(threshold)) return { well, count, tokens };
  for (let base = 0, word = 0; base < n; base += 32, word++) {
    const end = Math.min(32, n - base);
    let bits = 0;
    for (let j = 0; j < end; j++) {
      const inWell = +(scores[base + j] < threshold);
      bits |= inWell << j;
      count += inWell;
      if (lengths !== null) tokens += inWell * lengths[base + j];
    }
    well[word] = bits;
  }
  return { well, count, tokens };
}

/** Drops members of the given W bitset by `rule`; keeps every other example. */
export function sampleWell(
  size: number,
  well: Uint32Array,
  rule: DropRule,
  key: number,
  kept: Uint32Array,
  inPlan: Uint32Array,
): Survivors {
  const constant = rule.kind === "constant";
  const q0 = constant ? rule.q : 0;
  const table = constant ? null : rule.table;
  const lengths = constant ? null : rule.lengths;
  let count = 0;
  for (let base = 0, word = 0; base < size; base += 32, word++) {
    const end = Math.min(32, size - base);
    const wellBits = well[word];
    let planBits = 0;
    for (let j = 0; j < end; j++) {
      const id = base + j;
      const q = table === null ? q0 : table[lengths![id]];
      const drop = (wellBits >>> j) & 1 & +((mix32((id + key) | 0) & Q_MASK) < q);
      kept[count] = id;
      count += 1 - drop;
      planBits |= (1 - drop) << j;
    }
    inPlan[word] = planBits;
  }
  return { kept, count, inPlan };
}

/**
 * The plain-mode fast path: classify and drop in one pass (one read of each score).
 * Produces exactly what `classify` followed by `sampleWell` with a constant rule produces.
 */
export function classifyAndSample(
  scores: Float32Array,
  threshold: number,
  q: number,
  key: number,
  kept: Uint32Array,
  inPlan: Uint32Array,
  well: Uint32Array,
): Survivors & { well: Uint32Array; wellCount: number } {
  const size = scores.length;
  let count = 0;
  let wellCount = 0;
  for (let base = 0, word = 0; base < size; base += 32, word++) {
    const end = Math.min(32, size - base);
    let wellBits = 0;
    let planBits = 0;
    for (let j = 0; j < end; j++) {
      const id = base + j;
      const inWell = +(scores[id] < threshold);
      const drop = inWell & +((mix32((id + key) | 0) & Q_MASK) < q);
      kept[count] = id;
      count += 1 - drop;
      wellBits |= inWell << j;
      planBits |= (1 - drop) << j;
    }
    well[word] = wellBits;
    inPlan[word] = planBits;
    wellCount += popcount(wellBits);
  }
  return { kept, count, inPlan, well, wellCount };
}

export function popcount(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}
