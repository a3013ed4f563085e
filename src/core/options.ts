import { InfoBatchError } from "./errors.js";

/** What a run's saving target is measured in. */
export type BudgetUnit = "tokens" | "examples";

/** What to do with a NaN or ±Inf loss: drop it (counted in the ledger) or throw. */
export type NonFinitePolicy = "skip" | "throw";

export interface BudgetOptions {
  /** Fraction of the full-data run to save, in (0, 1). */
  target: number;
  /** Unit of the target. Default: `"tokens"` when lengths are given, else `"examples"`. */
  unit?: BudgetUnit;
  /** Largest per-epoch drop probability the budget may choose. Default 0.9. */
  maxPruneRatio?: number;
}

export interface LengthAwareOptions {
  /** Drop probability grows as length^exponent among well-learned examples. Default 1. */
  exponent?: number;
  /** Cap on any example's drop probability. Default 0.9. */
  maxPruneRatio?: number;
}

export interface InfoBatchOptions {
  /** Number of training examples N; ids are 0 … N−1 (unsigned 32-bit). */
  size: number;
  /** Number of epochs E of the run. */
  epochs: number;
  /** Prune ratio r in [0, 1): drop probability of a well-learned example. Default 0.5. */
  pruneRatio?: number;
  /** Annealing fraction δ in [0, 1]: epochs e ≥ floor(δ·E) train on all data. Default 0.875. */
  delta?: number;
  /** Seed (unsigned 32-bit integer) from which every random choice derives. Default 0. */
  seed?: number;
  /** Per-example token counts (for token accounting, token budgets and length-aware pruning). */
  lengths?: ArrayLike<number>;
  /** Policy for NaN/±Inf losses. Default `"skip"` (counted, never stored). */
  nonFinite?: NonFinitePolicy;
  /** Target saving per run; the prune ratio is then chosen per epoch. Default: none. */
  budget?: BudgetOptions;
  /** Prune long well-learned examples more often (weights 1/(1−r_i)). Default: off. */
  lengthAware?: boolean | LengthAwareOptions;
}

/** Options after defaults and validation; plain data so it can be serialised in snapshots. */
export interface ResolvedOptions {
  size: number;
  epochs: number;
  pruneRatio: number;
  delta: number;
  seed: number;
  hasLengths: boolean;
  nonFinite: NonFinitePolicy;
  budget: { target: number; unit: BudgetUnit; maxPruneRatio: number } | null;
  lengthAware: { exponent: number; maxPruneRatio: number } | null;
}

const MAX_SIZE = 4294967295;

function fail(path: string, message: string): never {
  throw new InfoBatchError("invalid_option", message, [path]);
}

function checkRatio(path: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value >= 1) {
    fail(path, `expected a number in [0, 1), received ${String(value)}`);
  }
  return value;
}

function checkInteger(path: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    fail(path, `expected an integer in [${min}, ${max}], received ${String(value)}`);
  }
  return value;
}

/** Validates options once and fills in every default. */
export function resolveOptions(options: InfoBatchOptions): ResolvedOptions {
  if (options === null || typeof options !== "object") fail("options", "expected an object");
  const size = checkInteger("size", options.size, 1, MAX_SIZE);
  const epochs = checkInteger("epochs", options.epochs, 1, 1_000_000);
  const pruneRatio = checkRatio("pruneRatio", options.pruneRatio, 0.5);
  const delta = options.delta ?? 0.875;
  if (typeof delta !== "number" || !Number.isFinite(delta) || delta < 0 || delta > 1) {
    fail("delta", `expected a number in [0, 1], received ${String(delta)}`);
  }
  const seed = checkInteger("seed", options.seed ?? 0, 0, MAX_SIZE);
  const nonFinite = options.nonFinite ?? "skip";
  if (nonFinite !== "skip" && nonFinite !== "throw") {
    fail("nonFinite", `expected "skip" or "throw", received ${String(nonFinite)}`);
  }

  const hasLengths = options.lengths !== undefined;
  if (hasLengths && options.lengths!.length !== size) {
    fail(
      "lengths",
      `expected ${size} lengths (one per example), received ${options.lengths!.length}`,
    );
  }

  let budget: ResolvedOptions["budget"] = null;
  if (options.budget !== undefined) {
    const b = options.budget;
    if (typeof b.target !== "number" || !(b.target > 0 && b.target < 1)) {
      fail("budget.target", `expected a fraction in (0, 1), received ${String(b.target)}`);
    }
    const unit = b.unit ?? (hasLengths ? "tokens" : "examples");
    if (unit !== "tokens" && unit !== "examples") {
      fail("budget.unit", `expected "tokens" or "examples", received ${String(unit)}`);
    }
    if (unit === "tokens" && !hasLengths) {
      fail("budget.unit", 'a "tokens" budget needs per-example lengths');
    }
    budget = {
      target: b.target,
      unit,
      maxPruneRatio: checkRatio("budget.maxPruneRatio", b.maxPruneRatio, 0.9),
    };
  }

  let lengthAware: ResolvedOptions["lengthAware"] = null;
  if (options.lengthAware) {
    if (!hasLengths) fail("lengthAware", "length-aware pruning needs per-example lengths");
    const la = options.lengthAware === true ? {} : options.lengthAware;
    const exponent = la.exponent ?? 1;
    if (
      typeof exponent !== "number" ||
      !Number.isFinite(exponent) ||
      exponent < 0 ||
      exponent > 8
    ) {
      fail("lengthAware.exponent", `expected a number in [0, 8], received ${String(exponent)}`);
    }
    lengthAware = {
      exponent,
      maxPruneRatio: checkRatio("lengthAware.maxPruneRatio", la.maxPruneRatio, 0.9),
    };
  }

  return { size, epochs, pruneRatio, delta, seed, hasLengths, nonFinite, budget, lengthAware };
}

/**
 * First annealing epoch: floor(δ·E). The tiny epsilon keeps products such as 0.29·100
 * (= 28.999999999999996 in binary floating point) at the whole number the user wrote.
 */
export function annealStart(epochs: number, delta: number): number {
  return Math.min(epochs, Math.floor(delta * epochs + 1e-9));
}
