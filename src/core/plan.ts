/**
 * An epoch plan: which examples are trained this epoch, in which order, with which weights.
 * Immutable once built. Position p holds example `kept[shuffle(p)]`; ids and weights are computed
 * per batch in O(batch), or materialised as whole typed arrays on first request.
 */
import { hasBit } from "./bitset.js";
import { InfoBatchError } from "./errors.js";
import type { IndexShuffle } from "./permutation.js";
import { type DropRule, dropQ, keepWeight } from "./sampling.js";

/** Per-epoch facts known when the plan is made. */
export interface PlanInfo {
  epoch: number;
  /** True in the last E − floor(δ·E) epochs: all examples, weight exactly 1. */
  annealing: boolean;
  /** Mean of the finite scores used to define W; null when nothing had been scored yet. */
  threshold: number | null;
  /** Expected fraction of W dropped (quantised to 2^-24). */
  pruneRatio: number;
  /** |W|: examples scored below the threshold. */
  wellLearned: number;
  /** Examples in the plan. */
  size: number;
  /** Tokens of the examples in the plan (0 without lengths). */
  tokens: number;
}

/** What happens to the last K mod world positions when a plan is split across ranks. */
export type ShardPolicy = "pad" | "drop";

export interface StepOptions {
  /** Drop a last, incomplete batch. Default false. */
  dropLast?: boolean;
}

export interface PlanBatch {
  epoch: number;
  /** Batch index within this (shard of the) epoch. */
  index: number;
  /** Position of the batch's first example within this (shard of the) epoch. */
  position: number;
  ids: Uint32Array;
  weights: Float32Array;
}

/** Anything that yields ids and weights by position: a whole plan or one rank's share. */
export abstract class WeightedOrder {
  abstract readonly epoch: number;
  abstract readonly size: number;
  /** Throws when the engine has replaced the plan this order reads from. */
  abstract assertCurrent(): void;
  abstract idAt(position: number): number;
  /** Weight of an example of this epoch (1 for examples outside W). */
  abstract weightOfId(id: number): number;

  weightAt(position: number): number {
    return this.weightOfId(this.idAt(position));
  }

  private idCache: Uint32Array | null = null;
  private weightCache: Float32Array | null = null;

  /** The whole order (materialised once, on first use). */
  get ids(): Uint32Array {
    if (this.idCache === null) {
      this.assertCurrent();
      this.idCache = this.materializeIds(new Uint32Array(this.size));
    }
    return this.idCache;
  }

  /** Fills `out` with the id at every position. */
  protected materializeIds(out: Uint32Array): Uint32Array {
    for (let p = 0; p < out.length; p++) out[p] = this.idAt(p);
    return out;
  }

  /** Every position's weight (materialised once, on first use). */
  get weights(): Float32Array {
    if (this.weightCache === null) {
      this.assertCurrent();
      const out = new Float32Array(this.size);
      const ids = this.ids;
      for (let p = 0; p < out.length; p++) out[p] = this.weightOfId(ids[p]);
      this.weightCache = out;
    }
    return this.weightCache;
  }

  /** Optimizer steps this epoch for a batch size (known before the epoch is iterated). */
  steps(batchSize: number, options: StepOptions = {}): number {
    checkBatchSize(batchSize);
    return options.dropLast ? Math.floor(this.size / batchSize) : Math.ceil(this.size / batchSize);
  }

  /** Batch `index` of size `batchSize` (the last one may be shorter). */
  batch(index: number, batchSize: number): PlanBatch {
    checkBatchSize(batchSize);
    const start = index * batchSize;
    if (!Number.isInteger(index) || index < 0 || start >= this.size) {
      throw new InfoBatchError(
        "invalid_argument",
        `batch ${index} is outside this epoch (${this.steps(batchSize)} batches of ${batchSize})`,
        ["index"],
      );
    }
    return this.slice(start, Math.min(this.size, start + batchSize), index);
  }

  /** Positions [start, end) as a batch. */
  slice(start: number, end: number, index = 0): PlanBatch {
    this.assertCurrent();
    const n = end - start;
    const ids = new Uint32Array(n);
    const weights = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const id = this.idAt(start + i);
      ids[i] = id;
      weights[i] = this.weightOfId(id);
    }
    return { epoch: this.epoch, index, position: start, ids, weights };
  }

  /** All batches in order. */
  *batches(batchSize: number, options: StepOptions = {}): IterableIterator<PlanBatch> {
    const steps = this.steps(batchSize, options);
    for (let i = 0; i < steps; i++) yield this.batch(i, batchSize);
  }
}

export class EpochPlan extends WeightedOrder {
  readonly info: PlanInfo;
  /** Survivors in ascending id order, or null in annealing epochs (every id). */
  private readonly kept: Uint32Array | null;
  private readonly inPlan: Uint32Array | null;
  private readonly well: Uint32Array | null;
  private readonly rule: DropRule | null;
  private readonly shuffle: IndexShuffle;
  private readonly isCurrent: () => boolean;

  constructor(
    info: PlanInfo,
    parts: {
      kept: Uint32Array | null;
      inPlan: Uint32Array | null;
      well: Uint32Array | null;
      rule: DropRule | null;
      shuffle: IndexShuffle;
      /** False once the engine has planned another epoch into the same buffers. */
      isCurrent: () => boolean;
    },
  ) {
    super();
    this.info = info;
    this.kept = parts.kept;
    this.inPlan = parts.inPlan;
    this.well = parts.well;
    this.rule = parts.rule;
    this.shuffle = parts.shuffle;
    this.isCurrent = parts.isCurrent;
  }

  /** Throws when a later `planEpoch` has reused this plan's buffers. */
  assertCurrent(): void {
    if (!this.isCurrent()) {
      throw new InfoBatchError(
        "stale_plan",
        `the plan of epoch ${this.info.epoch} was replaced by a later planEpoch; take ids and weights before planning the next epoch`,
      );
    }
  }

  get epoch(): number {
    return this.info.epoch;
  }

  get size(): number {
    return this.info.size;
  }

  idAt(position: number): number {
    this.assertCurrent();
    const i = this.shuffle.map(position);
    return this.kept === null ? i : this.kept[i];
  }

  protected override materializeIds(out: Uint32Array): Uint32Array {
    return this.shuffle.gather(this.kept, out);
  }

  weightOfId(id: number): number {
    this.assertCurrent();
    if (this.well === null || this.rule === null || !hasBit(this.well, id)) return 1;
    return keepWeight(dropQ(this.rule, id));
  }

  /** Position of `id` in this epoch's order, or −1 when the plan does not hold it. O(log K). */
  positionOf(id: number): number {
    if (!this.has(id)) return -1;
    let index = id;
    if (this.kept !== null) {
      // Survivors are stored in ascending id order: binary search.
      let lo = 0;
      let hi = this.kept.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.kept[mid] < id) lo = mid + 1;
        else hi = mid;
      }
      index = lo;
    }
    return this.shuffle.unmap(index);
  }

  /** True when `id` is trained this epoch. */
  has(id: number): boolean {
    this.assertCurrent();
    return this.inPlan === null ? id < this.info.size : hasBit(this.inPlan, id);
  }

  /** The W bitset this plan was drawn from (null when nothing was pruned); do not write to it. */
  get wellBits(): Uint32Array | null {
    return this.well;
  }

  /** True when `id` was in W (scored below the threshold) when this plan was made. */
  isWellLearned(id: number): boolean {
    this.assertCurrent();
    return this.well !== null && hasBit(this.well, id);
  }

  /**
   * Rank `rank` of `world`: positions rank, rank + world, … (as PyTorch's DistributedSampler).
   * `"pad"` wraps around to the plan's start so every rank gets ceil(K / world) positions (a few
   * examples train twice); `"drop"` leaves out the last K mod world positions (floor(K / world)).
   */
  shard(rank: number, world: number, policy: ShardPolicy = "pad"): PlanShard {
    if (!Number.isInteger(world) || world < 1) {
      throw new InfoBatchError("invalid_argument", `expected world ≥ 1, received ${world}`, [
        "world",
      ]);
    }
    if (!Number.isInteger(rank) || rank < 0 || rank >= world) {
      throw new InfoBatchError(
        "invalid_argument",
        `expected rank in [0, ${world}), received ${rank}`,
        ["rank"],
      );
    }
    if (policy !== "pad" && policy !== "drop") {
      throw new InfoBatchError(
        "invalid_argument",
        `expected "pad" or "drop", received ${String(policy)}`,
        ["policy"],
      );
    }
    return new PlanShard(this, rank, world, policy);
  }
}

export class PlanShard extends WeightedOrder {
  readonly plan: EpochPlan;
  readonly rank: number;
  readonly world: number;
  readonly policy: ShardPolicy;
  readonly size: number;

  constructor(plan: EpochPlan, rank: number, world: number, policy: ShardPolicy) {
    super();
    this.plan = plan;
    this.rank = rank;
    this.world = world;
    this.policy = policy;
    this.size = shardSize(plan.size, world, policy);
  }

  get epoch(): number {
    return this.plan.epoch;
  }

  assertCurrent(): void {
    this.plan.assertCurrent();
  }

  /** True when this rank's share holds `id` (a padded share may repeat a few ids of others). */
  holds(id: number): boolean {
    const p = this.plan.positionOf(id);
    if (p < 0) return false;
    // "drop" leaves the last K mod world positions to no rank.
    if (p % this.world === this.rank) return this.policy === "pad" || p < this.size * this.world;
    // "pad" wraps the first positions around to fill the last round of ranks.
    const padded = this.size * this.world - this.plan.size;
    return this.policy === "pad" && p < padded && (p + this.plan.size) % this.world === this.rank;
  }

  /** Position in the whole plan of this shard's position `position`. */
  planPosition(position: number): number {
    return (this.rank + position * this.world) % this.plan.size;
  }

  idAt(position: number): number {
    return this.plan.idAt(this.planPosition(position));
  }

  weightOfId(id: number): number {
    return this.plan.weightOfId(id);
  }
}

/** Examples per rank when K examples are split over `world` ranks. */
export function shardSize(total: number, world: number, policy: ShardPolicy): number {
  return policy === "pad" ? Math.ceil(total / world) : Math.floor(total / world);
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InfoBatchError(
      "invalid_argument",
      `expected a batch size ≥ 1, received ${batchSize}`,
      ["batchSize"],
    );
  }
}
