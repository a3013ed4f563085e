/**
 * The middleware: an InfoBatch engine over a tokenized corpus, handing any trainer weighted,
 * padded batches and taking per-example (or per-token) losses back.
 *
 * @example
 * for (let e = 0; e < epochs; e++) {
 *   scheduler.setTotal(pipeline.steps(e));          // known before the epoch
 *   for await (const batch of pipeline.epoch(e)) {
 *     const perExample = trainStep(batch);         // loss = Σ w_i·l_i / B
 *     batch.reportLoss(perExample);
 *   }
 * }
 */
import {
  InfoBatch,
  type InfoBatchOptions,
  type SavingsReport,
  type UpdateResult,
} from "../core/index.js";
import type { EpochPlan } from "../core/plan.js";
import {
  type BatchSpec,
  batchBoundaries,
  checkBatchSpec,
  collate,
  type TokenBatch,
} from "../data/batching.js";
import type { TokenizedCorpus } from "../data/corpus.js";
import { DataError } from "../data/types.js";

/** Engine settings; size and lengths come from the corpus. */
export type EngineSettings = Omit<InfoBatchOptions, "size" | "lengths">;

export interface EpochStartEvent {
  epoch: number;
  steps: number;
  examples: number;
  tokens: number;
  annealing: boolean;
  /** True when the epoch resumes from a state dict, mid-way. */
  resumed: boolean;
}

export interface EpochEndEvent {
  epoch: number;
  steps: number;
  examples: number;
  tokens: number;
}

export interface PipelineHooks {
  onEpochStart?(event: EpochStartEvent): void | Promise<void>;
  onEpochEnd?(event: EpochEndEvent): void | Promise<void>;
}

export interface PipelineOptions {
  corpus: TokenizedCorpus;
  /** Padding id of the tokenizer. */
  padId: number;
  batch: BatchSpec;
  engine: EngineSettings;
  /**
   * Which tokens the savings ledger (and token budgets, length-aware pruning) counts:
   * `"all"` — every token forwarded, BOS … EOS (compute: the default); `"target"` — response tokens.
   */
  tokenAccounting?: "all" | "target";
  hooks?: PipelineHooks;
}

export interface PipelineBatch extends TokenBatch {
  epoch: number;
  /** Batch index in the epoch. */
  index: number;
  /** Stores per-example losses (mean response-token loss of each example, in batch order). */
  reportLoss(losses: ArrayLike<number>): UpdateResult;
  /**
   * Stores per-token losses `[B, T]` aligned with `targetMask` (entry t = loss of predicting
   * token t); each example's score is the mean over its target tokens (or over `mask`).
   */
  reportTokenLosses(tokenLosses: ArrayLike<number>, mask?: ArrayLike<number>): UpdateResult;
}

/** Resume state: constant keys, validated on load (as PyTorch samplers' state_dict). */
export interface PipelineState {
  format: "infobatch-pipeline/1";
  engine: Uint8Array;
  /** Positions of the current epoch whose losses were reported. */
  position: number;
  corpus: string;
  steps: Record<number, number>;
}

export class Pipeline {
  readonly corpus: TokenizedCorpus;
  private readonly options: PipelineOptions;
  private infobatch: InfoBatch;
  private order: Uint32Array | null = null;
  /** Every position's weight, taken when the epoch was planned (a plan is replaced later). */
  private weights: Float32Array | null = null;
  /** Batches of the current epoch whose losses were reported (resume starts after the prefix). */
  private readonly reportedBatches = new Set<number>();
  private boundaries: Uint32Array | null = null;
  private plannedEpoch = -1;
  private reported = 0;
  private readonly stepsByEpoch: Record<number, number> = {};

  constructor(options: PipelineOptions) {
    this.options = options;
    this.corpus = options.corpus;
    if (this.corpus.size === 0)
      throw new DataError("empty_dataset", "the corpus holds no examples");
    let longest = 0;
    for (let i = 0; i < this.corpus.size; i++) longest = Math.max(longest, this.corpus.lengthOf(i));
    checkBatchSpec(options.batch, longest);
    const lengths =
      options.tokenAccounting === "target" ? this.corpus.targetLengths() : this.corpus.lengths();
    this.infobatch = new InfoBatch({ ...options.engine, size: this.corpus.size, lengths });
  }

  /** The engine (scores, plans, ledger). Replaced by `loadStateDict`. */
  get engine(): InfoBatch {
    return this.infobatch;
  }

  /** Optimizer steps of epoch `e`, known before it runs (plans the epoch if needed). */
  steps(epoch: number): number {
    this.ensurePlanned(epoch);
    return this.boundaries!.length - 1;
  }

  /** The weighted batches of epoch `e`, resuming after the last reported batch. */
  async *epoch(epoch: number): AsyncGenerator<PipelineBatch, void, undefined> {
    const plan = this.ensurePlanned(epoch);
    const boundaries = this.boundaries!;
    const order = this.order!;
    const allWeights = this.weights!;
    const steps = boundaries.length - 1;
    let first = 0;
    while (first < steps && boundaries[first] < this.reported) first++;
    if (first < steps && boundaries[first] !== this.reported) {
      throw new DataError(
        "bad_state",
        `resume position ${this.reported} is not a batch boundary of epoch ${epoch}`,
      );
    }
    const hooks = this.options.hooks;
    await hooks?.onEpochStart?.({
      epoch,
      steps,
      examples: plan.size,
      tokens: plan.info.tokens,
      annealing: plan.info.annealing,
      resumed: first > 0,
    });
    for (let index = first; index < steps; index++) {
      const ids = order.subarray(boundaries[index], boundaries[index + 1]);
      const weights = allWeights.slice(boundaries[index], boundaries[index + 1]);
      yield this.makeBatch(epoch, index, collate(this.corpus, ids, weights, this.options.padId));
    }
    await hooks?.onEpochEnd?.({ epoch, steps, examples: plan.size, tokens: plan.info.tokens });
  }

  /** Savings so far (steps as actually batched, including token-budget batching). */
  savings(options: { parameterCount?: number } = {}): SavingsReport {
    const report = this.infobatch.savings(options);
    const full = this.fullSteps();
    let trained = 0;
    for (const e of report.epochs) {
      const steps = this.stepsByEpoch[e.epoch] ?? 0;
      trained += steps;
      e.steps = { full, trained: steps, saved: full - steps, savedFraction: (full - steps) / full };
    }
    const total = full * report.epochs.length;
    report.total.steps = {
      full: total,
      trained,
      saved: total - trained,
      savedFraction: total > 0 ? (total - trained) / total : 0,
    };
    return report;
  }

  stateDict(): PipelineState {
    return {
      format: "infobatch-pipeline/1",
      engine: this.infobatch.snapshot(),
      position: this.reported,
      corpus: this.corpus.fingerprint(),
      steps: { ...this.stepsByEpoch },
    };
  }

  loadStateDict(state: PipelineState): void {
    if (state?.format !== "infobatch-pipeline/1") {
      throw new DataError(
        "bad_state",
        `expected a state with format "infobatch-pipeline/1", received ${String(state?.format)}`,
      );
    }
    if (state.corpus !== this.corpus.fingerprint()) {
      throw new DataError(
        "bad_state",
        `the state was saved over different data (corpus ${state.corpus}, this one ${this.corpus.fingerprint()})`,
      );
    }
    const engine = InfoBatch.restore(state.engine);
    if (engine.size !== this.corpus.size) {
      throw new DataError(
        "bad_state",
        `the state holds ${engine.size} examples, the corpus ${this.corpus.size}`,
      );
    }
    this.infobatch = engine;
    Object.assign(this.stepsByEpoch, state.steps);
    this.plannedEpoch = -1;
    this.order = null;
    this.boundaries = null;
    if (engine.plan !== null) {
      this.adoptPlan(engine.plan);
      this.reported = state.position;
    }
  }

  private ensurePlanned(epoch: number): EpochPlan {
    if (this.plannedEpoch === epoch) return this.infobatch.plan!;
    const plan = this.infobatch.planEpoch(epoch);
    this.adoptPlan(plan);
    this.reported = 0;
    return plan;
  }

  private adoptPlan(plan: EpochPlan): void {
    this.order = plan.ids;
    this.weights = plan.weights;
    this.reportedBatches.clear();
    this.boundaries = batchBoundaries(this.corpus, this.order, this.options.batch);
    this.plannedEpoch = plan.epoch;
    this.stepsByEpoch[plan.epoch] = this.boundaries.length - 1;
  }

  private fullSteps(): number {
    const all = new Uint32Array(this.corpus.size);
    for (let i = 0; i < all.length; i++) all[i] = i;
    return batchBoundaries(this.corpus, all, this.options.batch).length - 1;
  }

  private makeBatch(epoch: number, index: number, batch: TokenBatch): PipelineBatch {
    let done = false;
    const finish = (result: UpdateResult): UpdateResult => {
      done = true;
      // The resume position only moves past batches reported without a gap before them.
      this.reportedBatches.add(index);
      const boundaries = this.boundaries!;
      let next = 0;
      while (next < boundaries.length - 1 && boundaries[next] < this.reported) next++;
      while (this.reportedBatches.has(next)) next++;
      this.reported = boundaries[Math.min(next, boundaries.length - 1)];
      return result;
    };
    const check = () => {
      if (done)
        throw new DataError(
          "already_reported",
          `losses of batch ${index} of epoch ${epoch} were already reported`,
        );
    };
    return {
      ...batch,
      epoch,
      index,
      reportLoss: (losses) => {
        check();
        return finish(this.infobatch.update(batch.ids, losses, { epoch }));
      },
      reportTokenLosses: (tokenLosses, mask) => {
        check();
        return finish(
          this.infobatch.updateTokens(batch.ids, tokenLosses, mask ?? batch.targetMask, { epoch }),
        );
      },
    };
  }
}
