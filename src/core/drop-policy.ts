/**
 * How much of W to drop this epoch: the prune ratio as given, a ratio chosen to meet a run-level
 * budget, or per-length probabilities (long, well-learned examples dropped more often). All stay
 * inside the unbiased scheme: only members of W are dropped, each kept one weighs 1/(1 − r_i).
 */
import type { ResolvedOptions } from "./options.js";
import { type DropRule, Q_ONE, quantise } from "./sampling.js";

/** What the policy knows when an epoch is planned. */
export interface PolicyInput {
  epoch: number;
  /** First annealing epoch, floor(δ·E). */
  annealStart: number;
  /** |W| and its tokens. */
  wellCount: number;
  wellTokens: number;
  /** Saving already realised by earlier epochs' plans, in the budget's unit. */
  savedSoFar: number;
  /** Size of one full-data epoch in the budget's unit (N, or total tokens). */
  epochAmount: number;
  /** Lengths of the members of W, as a histogram (`histogram[len]` = count); length-aware only. */
  histogram: Uint32Array | null;
}

export interface EpochPolicy {
  rule: DropRule;
  /** Expected fraction of W dropped. */
  pruneRatio: number;
  /** Length-aware scale c in r_i = min(r_max, c·len_i^γ); null otherwise. */
  scale: number | null;
}

/** Saving the budget still asks of this epoch, spread evenly over the pruning epochs left. */
export function budgetNeed(options: ResolvedOptions, input: PolicyInput): number {
  const budget = options.budget!;
  const goal = budget.target * options.epochs * input.epochAmount;
  const epochsLeft = Math.max(1, input.annealStart - input.epoch);
  return Math.max(0, (goal - input.savedSoFar) / epochsLeft);
}

export function choosePolicy(
  options: ResolvedOptions,
  input: PolicyInput,
  lengths: Uint32Array | null,
): EpochPolicy {
  const la = options.lengthAware;
  if (la === null) {
    let ratio = options.pruneRatio;
    if (options.budget !== null) {
      const amount = options.budget.unit === "tokens" ? input.wellTokens : input.wellCount;
      const need = budgetNeed(options, input);
      ratio = amount > 0 ? Math.min(options.budget.maxPruneRatio, need / amount) : 0;
    }
    const q = quantise(ratio);
    return { rule: { kind: "constant", q }, pruneRatio: q / Q_ONE, scale: null };
  }

  const histogram = input.histogram!;
  const maxRatio = Math.min(la.maxPruneRatio, options.budget?.maxPruneRatio ?? 1);
  const byTokens = options.budget !== null && options.budget.unit === "tokens";
  // Target of Σ_W a_i·r_i: a budget's need (a_i = tokens or 1), else r·|W| (a_i = 1).
  const target =
    options.budget !== null ? budgetNeed(options, input) : options.pruneRatio * input.wellCount;
  const scale = solveScale(histogram, la.exponent, maxRatio, byTokens, target);
  const table = new Uint32Array(histogram.length);
  let expectedDrops = 0;
  for (let len = 0; len < histogram.length; len++) {
    const q = quantise(lengthRatio(scale, len, la.exponent, maxRatio));
    table[len] = q;
    expectedDrops += (histogram[len] * q) / Q_ONE;
  }
  return {
    rule: { kind: "by_length", table, lengths: lengths! },
    pruneRatio: input.wellCount > 0 ? expectedDrops / input.wellCount : 0,
    scale,
  };
}

/** Rebuilds a length-aware rule from its scale (snapshots store the scale, not the table). */
export function lengthRule(
  options: ResolvedOptions,
  scale: number,
  maxLength: number,
  lengths: Uint32Array,
): DropRule {
  const la = options.lengthAware!;
  const maxRatio = Math.min(la.maxPruneRatio, options.budget?.maxPruneRatio ?? 1);
  const table = new Uint32Array(maxLength + 1);
  for (let len = 0; len <= maxLength; len++) {
    table[len] = quantise(lengthRatio(scale, len, la.exponent, maxRatio));
  }
  return { kind: "by_length", table, lengths };
}

function lengthRatio(scale: number, len: number, exponent: number, maxRatio: number): number {
  const base = len ** exponent;
  if (base === 0 || scale === 0) return 0;
  return Math.min(maxRatio, scale * base);
}

/** Smallest c with Σ_len count·a(len)·min(r_max, c·len^γ) ≥ target (bisection; c = ∞ if unreachable). */
function solveScale(
  histogram: Uint32Array,
  exponent: number,
  maxRatio: number,
  byTokens: boolean,
  target: number,
): number {
  if (target <= 0) return 0;
  const lens: number[] = [];
  for (let len = 0; len < histogram.length; len++) if (histogram[len] > 0) lens.push(len);
  const amount = (scale: number): number => {
    let total = 0;
    for (const len of lens) {
      total += histogram[len] * (byTokens ? len : 1) * lengthRatio(scale, len, exponent, maxRatio);
    }
    return total;
  };
  if (amount(Number.POSITIVE_INFINITY) <= target) return Number.POSITIVE_INFINITY;
  let lo = 0;
  let hi = 1;
  while (amount(hi) < target) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > hi * 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (amount(mid) < target) lo = mid;
    else hi = mid;
  }
  return hi;
}
