/**
 * The hot loops of epoch planning, branch-free over plain typed arrays.
 *
 * A member of W (s_i < t) is dropped with probability exactly q / 2^24 (q an integer), and a kept
 * one weighs 2^24 / (2^24 − q), which makes the weighted estimate exactly unbiased. Decisions are
 * a pure function of (key, id): a restored engine, another rank or a Worker recomputes them
 * without replaying a stream.
 * - One q for all of W: `dropMask` draws the 32 decisions of a bitset word together, one random
 *   word per binary digit of q (a single one for r = 0.5).
 * - q by length: example i is dropped when the low 24 bits of mix32(key + i) fall below q_i.
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

/**
 * 32 independent bits, each 1 with probability q / 2^24, for bitset word `word`. Reading q's
 * binary digits from the lowest set one up, x ← digit ? x | R : x & R with a fresh random word R
 * turns P(bit) into (digit + P) / 2, which ends at exactly q / 2^24.
 */
export function dropMask(q: number, key: number, word: number): number {
  if (q === 0) return 0;
  const base = mix32((word ^ key) | 0);
  let x = 0;
  for (let bit = 31 - Math.clz32(q & -q); bit < 24; bit++) {
    const random = mix32((base + Math.imul(bit + 1, 0x9e3779b9)) | 0);
    x = (q >>> bit) & 1 ? x | random : x & random;
  }
  return x;
}

/** Writes the ids of a word's set bits to `kept` from `count` on; returns the new count. */
function appendIds(bits: number, base: number, kept: Uint32Array, count: number): number {
  while (bits !== 0) {
    kept[count++] = base + 31 - Math.clz32(bits & -bits);
    bits &= bits - 1;
  }
  return count;
}

/** Mask of the valid bits of the word starting at `base`. */
function wordMask(size: number, base: number): number {
  return size - base >= 32 ? -1 : (1 << (size - base)) - 1;
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
  let count = 0;
  for (let base = 0, word = 0; base < size; base += 32, word++) {
    const wellBits = well[word];
    let dropBits = 0;
    if (rule.kind === "constant") {
      dropBits = wellBits & dropMask(rule.q, key, word);
    } else {
      const end = Math.min(32, size - base);
      for (let j = 0; j < end; j++) {
        const id = base + j;
        const q = rule.table[rule.lengths[id]];
        dropBits |= ((wellBits >>> j) & 1 & +((mix32((id + key) | 0) & Q_MASK) < q)) << j;
      }
    }
    const planBits = ~dropBits & wordMask(size, base);
    inPlan[word] = planBits;
    count = appendIds(planBits, base, kept, count);
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
    for (let j = 0; j < end; j++) wellBits |= +(scores[base + j] < threshold) << j;
    const planBits = ~(wellBits & dropMask(q, key, word)) & wordMask(size, base);
    well[word] = wellBits;
    inPlan[word] = planBits;
    wellCount += popcount(wellBits);
    count = appendIds(planBits, base, kept, count);
  }
  return { kept, count, inPlan, well, wellCount };
}

export function popcount(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}
