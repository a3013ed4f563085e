/**
 * The InfoBatch engine: a score per example, a plan per epoch, loss feedback, the savings ledger
 * and exact snapshots. Owns its randomness (derived from the seed and the epoch, never global)
 * and does no I/O: callers hand it typed arrays and take bytes back.
 *
 * @example
 * const engine = new InfoBatch({ size: 1000, epochs: 8, seed: 1 });
 * for (let e = 0; e < 8; e++) {
 *   const plan = engine.planEpoch(e);
 *   for (const batch of plan.batches(32)) {
 *     const losses = train(batch.ids, batch.weights); // Σ w_i·l_i / B is the batch loss
 *     engine.update(batch.ids, losses);
 *   }
 * }
 * console.log(engine.savings({ batchSize: 32 }).total.examples.savedFraction);
 */
import { choosePolicy, lengthRule } from "./drop-policy.js";
import { InfoBatchError } from "./errors.js";
import {
  type EpochRecord,
  type SavingsOptions,
  type SavingsReport,
  savingsReport,
} from "./ledger.js";
import {
  annealStart,
  type InfoBatchOptions,
  type ResolvedOptions,
  resolveOptions,
} from "./options.js";
import { IndexShuffle } from "./permutation.js";
import { EpochPlan, type PlanBatch } from "./plan.js";
import { deriveKey } from "./rng.js";
import {
  classify,
  classifyAndSample,
  type DropRule,
  Q_ONE,
  quantise,
  type Survivors,
  sampleWell,
} from "./sampling.js";
import { ScoreTable } from "./scores.js";
import { decodeSnapshot, encodeSnapshot } from "./snapshot.js";

export interface UpdateOptions {
  /**
   * Forward-only scores (a warm start, an evaluation pass): any id in range is accepted, not only
   * those the current plan holds, and nothing counts as trained. Default false.
   */
  scoringOnly?: boolean;
  /** When given, the update is rejected unless it belongs to the current epoch. */
  epoch?: number;
}

export interface UpdateResult {
  /** Losses stored in the score table. */
  applied: number;
  /** NaN/±Inf losses left out (policy "skip"). */
  nonFinite: number;
}

export class InfoBatch {
  readonly options: ResolvedOptions;
  /** First annealing epoch, floor(δ·E): from there on every example trains with weight 1. */
  readonly annealStart: number;
  private readonly table: ScoreTable;
  private readonly records: EpochRecord[] = [];
  private current: EpochPlan | null = null;
  private position = 0;
  /** Survivor and bitset buffers, reused by every epoch (planning invalidates the last plan). */
  private readonly kept: Uint32Array;
  private readonly inPlan: Uint32Array;
  private readonly well: Uint32Array;
  private generation = 0;
  /** True when the current plan holds every example (annealing, or nothing scored yet). */
  private planHoldsAll = true;
  private readonly unplanned = { scoringOnly: 0, nonFinite: 0 };

  constructor(options: InfoBatchOptions) {
    this.options = resolveOptions(options);
    this.annealStart = annealStart(this.options.epochs, this.options.delta);
    this.table = new ScoreTable(this.options.size, options.lengths);
    const words = Math.ceil(this.options.size / 32);
    this.kept = new Uint32Array(this.options.size);
    this.inPlan = new Uint32Array(words);
    this.well = new Uint32Array(words);
  }

  /** Bytes of typed arrays the engine holds (scores, lengths, plan buffers). */
  residentBytes(): number {
    const lengths = this.table.lengths?.byteLength ?? 0;
    return (
      this.table.values.byteLength +
      lengths +
      this.kept.byteLength +
      this.inPlan.byteLength +
      this.well.byteLength
    );
  }

  get size(): number {
    return this.options.size;
  }

  /** The epoch last planned, or −1 before the first. */
  get epoch(): number {
    return this.current === null ? -1 : this.current.epoch;
  }

  /** The current epoch's plan, or null before the first `planEpoch`. */
  get plan(): EpochPlan | null {
    return this.current;
  }

  /** Positions of the current plan already handed out by `nextBatch`. */
  get cursor(): number {
    return this.position;
  }

  /** Scores (last loss per example, NaN = never scored). A live view: do not write to it. */
  get scores(): Float32Array {
    return this.table.values;
  }

  /** Tokens per example, or null. A live view: do not write to it. */
  get lengths(): Uint32Array | null {
    return this.table.lengths;
  }

  /** The pruning threshold now: mean of the finite scores (NaN when none). */
  threshold(): number {
    return this.table.mean();
  }

  /**
   * Plans epoch `epoch` (epochs are planned in order, 0 … E−1; asking again for the current
   * epoch returns its plan unchanged). The plan's size and step counts are known at once.
   * The previous epoch's plan is invalidated (its buffers are reused); arrays already taken from
   * it (`ids`, `weights`, batches) stay valid.
   */
  planEpoch(epoch: number): EpochPlan {
    if (this.current !== null && epoch === this.current.epoch) return this.current;
    const expected = this.records.length;
    if (epoch !== expected || epoch >= this.options.epochs) {
      throw new InfoBatchError(
        "epoch_order",
        expected >= this.options.epochs
          ? `all ${this.options.epochs} epochs are planned; received epoch ${epoch}`
          : `epochs are planned in order: expected epoch ${expected}, received ${epoch}`,
        ["epoch"],
      );
    }
    const { size, seed } = this.options;
    const lengths = this.table.lengths;
    const annealing = epoch >= this.annealStart;
    const mean = this.table.mean();
    const threshold = Number.isNaN(mean) ? null : mean;
    const key = deriveKey(seed, epoch, 0);
    const record: EpochRecord = {
      epoch,
      annealing,
      threshold,
      pruneRatio: 0,
      scale: null,
      wellLearned: 0,
      examples: size,
      tokens: this.table.totalTokens,
      reported: 0,
      scoringOnly: 0,
      nonFinite: 0,
    };

    let survivors: Survivors | null = null;
    let well: Uint32Array | null = null;
    let rule: DropRule | null = null;
    if (!annealing && threshold !== null) {
      if (this.options.budget === null && this.options.lengthAware === null) {
        const q = quantise(this.options.pruneRatio);
        const fused = classifyAndSample(
          this.table.values,
          threshold,
          q,
          key,
          this.kept,
          this.inPlan,
          this.well,
        );
        survivors = fused;
        well = fused.well;
        rule = { kind: "constant", q };
        record.wellLearned = fused.wellCount;
        record.pruneRatio = q / Q_ONE;
      } else {
        const classes = classify(this.table.values, threshold, lengths, this.well);
        const policy = choosePolicy(
          this.options,
          {
            epoch,
            annealStart: this.annealStart,
            wellCount: classes.count,
            wellTokens: classes.tokens,
            savedSoFar: this.savedSoFar(),
            epochAmount: this.options.budget?.unit === "tokens" ? this.table.totalTokens : size,
            histogram: this.options.lengthAware === null ? null : this.wellHistogram(classes.well),
          },
          lengths,
        );
        survivors = sampleWell(size, classes.well, policy.rule, key, this.kept, this.inPlan);
        well = classes.well;
        rule = policy.rule;
        record.wellLearned = classes.count;
        record.pruneRatio = policy.pruneRatio;
        record.scale = policy.scale;
      }
      record.examples = survivors.count;
      record.tokens = this.tokensOf(survivors);
    }
    this.records.push(record);
    this.current = this.buildPlan(record, survivors, well, rule);
    this.position = 0;
    return this.current;
  }

  /** The next batch of the current epoch (advancing the cursor), or null when it is done. */
  nextBatch(batchSize: number): PlanBatch | null {
    const plan = this.requirePlan();
    if (this.position >= plan.size) return null;
    const start = this.position;
    const end = Math.min(plan.size, start + batchSize);
    const batch = plan.slice(start, end, Math.floor(start / batchSize));
    this.position = end;
    return batch;
  }

  /** Moves the cursor of the current epoch (e.g. to replay from a trainer's own checkpoint). */
  seek(position: number): void {
    const plan = this.requirePlan();
    if (!Number.isInteger(position) || position < 0 || position > plan.size) {
      throw new InfoBatchError(
        "invalid_argument",
        `expected a position in [0, ${plan.size}], received ${position}`,
        ["position"],
      );
    }
    this.position = position;
  }

  /**
   * Stores per-example losses: s_i = l_i. Validates everything first and applies nothing on
   * error: ids must be integers in [0, N) held by the current plan (unless `scoringOnly`);
   * NaN/±Inf losses are never stored (skipped and counted, or thrown, per `nonFinite`).
   */
  update(
    ids: ArrayLike<number>,
    losses: ArrayLike<number>,
    options: UpdateOptions = {},
  ): UpdateResult {
    if (ids.length !== losses.length) {
      throw new InfoBatchError(
        "invalid_argument",
        `expected one loss per id: ${ids.length} ids, ${losses.length} losses`,
        ["losses"],
      );
    }
    const scoringOnly = options.scoringOnly === true;
    const plan = this.current;
    if (plan === null && !scoringOnly) {
      throw new InfoBatchError(
        "no_plan",
        "no epoch is planned: call planEpoch(e) first, or pass { scoringOnly: true }",
      );
    }
    if (options.epoch !== undefined && options.epoch !== this.epoch) {
      throw new InfoBatchError(
        "epoch_order",
        `update is for epoch ${options.epoch} but the current epoch is ${this.epoch}`,
        ["epoch"],
      );
    }
    const size = this.options.size;
    const checkPlan = !scoringOnly && !this.planHoldsAll;
    const inPlan = this.inPlan;
    let nonFinite = 0;
    let firstNonFinite = -1;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id >>> 0 !== id || id >= size) {
        throw new InfoBatchError(
          "id_out_of_range",
          `expected an integer id in [0, ${size}), received ${String(id)}`,
          ["ids", i],
        );
      }
      if (checkPlan && ((inPlan[id >>> 5] >>> (id & 31)) & 1) === 0) {
        throw new InfoBatchError(
          "id_not_in_plan",
          `example ${id} is not in epoch ${plan!.epoch}'s plan (pass { scoringOnly: true } for forward-only scores)`,
          ["ids", i],
        );
      }
      // Finite as a float32 score: 1e39 is a finite double but Infinity once stored.
      const loss = Math.fround(losses[i]);
      if (!(loss - loss === 0)) {
        if (firstNonFinite < 0) firstNonFinite = i;
        nonFinite++;
      }
    }
    if (nonFinite > 0 && this.options.nonFinite === "throw") {
      throw new InfoBatchError(
        "non_finite_loss",
        `loss ${String(losses[firstNonFinite])} for example ${ids[firstNonFinite]} is not finite (${nonFinite} in this update); nothing was applied`,
        ["losses", firstNonFinite],
      );
    }
    const values = this.table.values;
    for (let i = 0; i < ids.length; i++) {
      const loss = Math.fround(losses[i]);
      if (loss - loss === 0) values[ids[i]] = loss;
    }
    const applied = ids.length - nonFinite;
    const record = this.records[this.records.length - 1];
    const target = record === undefined ? this.unplanned : record;
    if (scoringOnly) target.scoringOnly += applied;
    else (target as EpochRecord).reported += applied;
    target.nonFinite += nonFinite;
    return { applied, nonFinite };
  }

  /**
   * Per-token losses `[B, T]` (row-major, B = ids.length) with a mask of the same shape
   * (non-zero = a response token): each example's score is the mean of its masked losses.
   * An example with no masked token yields NaN and is handled by the non-finite policy.
   */
  updateTokens(
    ids: ArrayLike<number>,
    tokenLosses: ArrayLike<number>,
    mask: ArrayLike<number> | null,
    options: UpdateOptions = {},
  ): UpdateResult {
    const rows = ids.length;
    if (rows === 0 || tokenLosses.length % rows !== 0) {
      throw new InfoBatchError(
        "invalid_argument",
        `expected [B, T] losses with B = ${rows} ids, received ${tokenLosses.length} values`,
        ["tokenLosses"],
      );
    }
    if (mask !== null && mask.length !== tokenLosses.length) {
      throw new InfoBatchError(
        "invalid_argument",
        `expected a mask of the losses' shape (${tokenLosses.length} values), received ${mask.length}`,
        ["mask"],
      );
    }
    return this.update(ids, meanTokenLosses(rows, tokenLosses, mask), options);
  }

  /** Savings so far: every planned epoch against the full-data run. */
  savings(options: SavingsOptions = {}): SavingsReport {
    const report = savingsReport(
      this.records,
      this.options.size,
      this.table.lengths === null ? null : this.table.totalTokens,
      options,
    );
    report.nonFiniteLosses += this.unplanned.nonFinite;
    return report;
  }

  /** The whole state as bytes; `InfoBatch.restore` gives an engine with identical futures. */
  snapshot(): Uint8Array {
    const well = this.current?.wellBits ?? null;
    return encodeSnapshot({
      header: {
        format: 1,
        options: this.options,
        records: this.records,
        position: this.position,
        unplanned: this.unplanned,
        hasWell: well !== null,
      },
      scores: this.table.values,
      lengths: this.table.lengths,
      well,
    });
  }

  static restore(bytes: Uint8Array): InfoBatch {
    const { header, scores, lengths, well } = decodeSnapshot(bytes);
    const o = header.options;
    const engine = new InfoBatch({
      size: o.size,
      epochs: o.epochs,
      pruneRatio: o.pruneRatio,
      delta: o.delta,
      seed: o.seed,
      nonFinite: o.nonFinite,
      ...(lengths === null ? {} : { lengths }),
      ...(o.budget === null ? {} : { budget: o.budget }),
      ...(o.lengthAware === null ? {} : { lengthAware: o.lengthAware }),
    });
    engine.table.values.set(scores);
    engine.records.push(...header.records);
    Object.assign(engine.unplanned, header.unplanned);
    const record = header.records[header.records.length - 1];
    if (record !== undefined) {
      let survivors: Survivors | null = null;
      let rule: DropRule | null = null;
      if (well !== null) {
        // JSON has no Infinity: a length-aware scale of ∞ (every member of W at the cap) comes
        // back as null, so the rule's kind follows the options, not the stored scale.
        rule =
          o.lengthAware === null
            ? { kind: "constant", q: quantise(record.pruneRatio) }
            : lengthRule(
                o,
                record.scale ?? Number.POSITIVE_INFINITY,
                engine.table.maxLength,
                engine.table.lengths!,
              );
        engine.well.set(well);
        survivors = sampleWell(
          o.size,
          engine.well,
          rule,
          deriveKey(o.seed, record.epoch, 0),
          engine.kept,
          engine.inPlan,
        );
      }
      engine.current = engine.buildPlan(
        record,
        survivors,
        well === null ? null : engine.well,
        rule,
      );
      engine.position = header.position;
    }
    return engine;
  }

  private buildPlan(
    record: EpochRecord,
    survivors: Survivors | null,
    well: Uint32Array | null,
    rule: DropRule | null,
  ): EpochPlan {
    this.generation++;
    this.planHoldsAll = survivors === null;
    const generation = this.generation;
    return new EpochPlan(
      {
        epoch: record.epoch,
        annealing: record.annealing,
        threshold: record.threshold,
        pruneRatio: record.pruneRatio,
        wellLearned: record.wellLearned,
        size: record.examples,
        tokens: record.tokens,
      },
      {
        kept: survivors === null ? null : survivors.kept.subarray(0, survivors.count),
        inPlan: survivors === null ? null : survivors.inPlan,
        well,
        rule,
        shuffle: new IndexShuffle(record.examples, deriveKey(this.options.seed, record.epoch, 1)),
        isCurrent: () => generation === this.generation,
      },
    );
  }

  private requirePlan(): EpochPlan {
    if (this.current === null) {
      throw new InfoBatchError("no_plan", "no epoch is planned: call planEpoch(e) first");
    }
    return this.current;
  }

  /** Saving realised by the plans so far, in the budget's unit. */
  private savedSoFar(): number {
    const byTokens = this.options.budget?.unit === "tokens";
    let saved = 0;
    for (const r of this.records) {
      saved += byTokens ? this.table.totalTokens - r.tokens : this.options.size - r.examples;
    }
    return saved;
  }

  private tokensOf(survivors: Survivors): number {
    const lengths = this.table.lengths;
    if (lengths === null) return 0;
    let total = 0;
    for (let i = 0; i < survivors.count; i++) total += lengths[survivors.kept[i]];
    return total;
  }

  private wellHistogram(well: Uint32Array): Uint32Array {
    const lengths = this.table.lengths!;
    const histogram = new Uint32Array(this.table.maxLength + 1);
    for (let word = 0; word < well.length; word++) {
      let bits = well[word];
      while (bits !== 0) {
        const j = 31 - Math.clz32(bits & -bits);
        histogram[lengths[word * 32 + j]]++;
        bits &= bits - 1;
      }
    }
    return histogram;
  }
}

/**
 * Per-example means of per-token losses `[rows, T]` (row-major) over the tokens where `mask` is
 * non-zero (all tokens without a mask); NaN for a row with no such token.
 */
export function meanTokenLosses(
  rows: number,
  tokenLosses: ArrayLike<number>,
  mask: ArrayLike<number> | null,
): Float64Array {
  const width = tokenLosses.length / rows;
  const means = new Float64Array(rows);
  for (let b = 0; b < rows; b++) {
    let total = 0;
    let count = 0;
    for (let t = b * width, end = t + width; t < end; t++) {
      if (mask === null || mask[t] !== 0) {
        total += tokenLosses[t];
        count++;
      }
    }
    means[b] = count > 0 ? total / count : Number.NaN;
  }
  return means;
}
