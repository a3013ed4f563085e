/**
 * The savings ledger: per planned epoch, what was trained versus the full-data run, in examples,
 * tokens, optimizer steps and FLOPs. Plain data, so it snapshots as JSON.
 */
import { type ShardPolicy, shardSize } from "./plan.js";

export interface EpochRecord {
  epoch: number;
  annealing: boolean;
  threshold: number | null;
  pruneRatio: number;
  /** Length-aware scale (null otherwise); kept so a snapshot can rebuild the plan. */
  scale: number | null;
  wellLearned: number;
  /** Examples and tokens in the plan. */
  examples: number;
  tokens: number;
  /** Losses stored from training updates, from scoring-only updates, and rejected as NaN/±Inf. */
  reported: number;
  scoringOnly: number;
  nonFinite: number;
}

export interface SavingsOptions {
  /** Batch size per rank, for step counts. Steps are omitted without it. */
  batchSize?: number;
  /** Number of ranks sharing each epoch. Default 1. */
  world?: number;
  /** How plans are split over ranks. Default "pad". */
  shardPolicy?: ShardPolicy;
  /** Whether trainers drop a last, incomplete batch. Default false. */
  dropLast?: boolean;
  /** Model parameters P, for FLOPs (needs lengths). */
  parameterCount?: number;
  /** FLOPs per token per parameter: 6 (forward 2, backward 4) for dense training. Default 6. */
  flopsPerTokenPerParameter?: number;
}

export interface Amount {
  full: number;
  trained: number;
  saved: number;
  /** saved / full (0 when full is 0). */
  savedFraction: number;
}

export interface EpochSavings {
  epoch: number;
  annealing: boolean;
  threshold: number | null;
  pruneRatio: number;
  wellLearned: number;
  examples: Amount;
  tokens: Amount | null;
  steps: Amount | null;
  reported: number;
  nonFinite: number;
}

export interface SavingsReport {
  epochsPlanned: number;
  epochs: EpochSavings[];
  total: {
    examples: Amount;
    tokens: Amount | null;
    steps: Amount | null;
    flops: Amount | null;
  };
  nonFiniteLosses: number;
}

export function amount(full: number, trained: number): Amount {
  const saved = full - trained;
  return { full, trained, saved, savedFraction: full > 0 ? saved / full : 0 };
}

function sum(amounts: Amount[]): Amount {
  let full = 0;
  let trained = 0;
  for (const a of amounts) {
    full += a.full;
    trained += a.trained;
  }
  return amount(full, trained);
}

export function savingsReport(
  records: readonly EpochRecord[],
  size: number,
  totalTokens: number | null,
  options: SavingsOptions = {},
): SavingsReport {
  const world = options.world ?? 1;
  const policy = options.shardPolicy ?? "pad";
  const batchSize = options.batchSize;
  const stepsOf = (count: number): number => {
    const perRank = shardSize(count, world, policy);
    return options.dropLast ? Math.floor(perRank / batchSize!) : Math.ceil(perRank / batchSize!);
  };
  const epochs = records.map(
    (r): EpochSavings => ({
      epoch: r.epoch,
      annealing: r.annealing,
      threshold: r.threshold,
      pruneRatio: r.pruneRatio,
      wellLearned: r.wellLearned,
      examples: amount(size, r.examples),
      tokens: totalTokens === null ? null : amount(totalTokens, r.tokens),
      steps: batchSize === undefined ? null : amount(stepsOf(size), stepsOf(r.examples)),
      reported: r.reported,
      nonFinite: r.nonFinite,
    }),
  );
  const tokens = totalTokens === null ? null : sum(epochs.map((e) => e.tokens!));
  let flops: Amount | null = null;
  if (tokens !== null && options.parameterCount !== undefined) {
    const perToken = options.parameterCount * (options.flopsPerTokenPerParameter ?? 6);
    flops = amount(tokens.full * perToken, tokens.trained * perToken);
  }
  return {
    epochsPlanned: records.length,
    epochs,
    total: {
      examples: sum(epochs.map((e) => e.examples)),
      tokens,
      steps: batchSize === undefined ? null : sum(epochs.map((e) => e.steps!)),
      flops,
    },
    nonFiniteLosses: records.reduce((n, r) => n + r.nonFinite, 0),
  };
}
