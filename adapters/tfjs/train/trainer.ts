/**
 * The in-process LoRA trainer: the reference loop every other trainer is checked against.
 * Frozen Llama + LoRA, per-example masked cross-entropy on response tokens, InfoBatch weights
 * (loss = Σ w_i·l_i / B), AdamW with optional clipping and gradient accumulation, warmup + cosine
 * over the run's true (pruned) steps, held-out evaluation after every epoch.
 */
import * as tf from "@tensorflow/tfjs-core";
import { deriveKey } from "../../../src/core/index.js";
import { collate, type TokenBatch } from "../../../src/data/batching.js";
import type { TokenizedCorpus } from "../../../src/data/corpus.js";
import type { Pipeline } from "../../../src/pipeline/pipeline.js";
import type { BackendName } from "../backend.js";
import { ModelError } from "../errors.js";
import { createLlama, forward, type Llama } from "../model/llama.js";
import type { LlamaCheckpoint } from "../model/params.js";
import { AdamW, type AdamWOptions } from "./adamw.js";
import { type ShardGradients, shardGradients, sliceBatch } from "./gradients.js";
import { LoraAdapter, type LoraConfig } from "./lora.js";
import { perExampleLoss } from "./loss.js";
import { learningRateAt, progressAt } from "./schedule.js";
import { decodeTrainerState, encodeTrainerState } from "./state.js";
import { GradientWorkers } from "./workers.js";

export interface TrainerOptions {
  lora: LoraConfig;
  /** Peak learning rate. */
  lr: number;
  /** Fraction of progress spent in linear warmup. Default 0.05. */
  warmupFraction?: number;
  optimizer?: AdamWOptions;
  /** Micro-batches per optimizer step. Default 1. */
  gradientAccumulation?: number;
  /** LoRA initialisation and dropout masks derive from it. Default 0. */
  seed?: number;
}

export interface StepResult {
  /** Mean response-token loss of each example (batch order): what the engine stores. */
  perExample: Float32Array;
  /** The weighted batch loss Σ w_i·l_i / B. */
  loss: number;
  /** True when this micro-batch completed an optimizer step. */
  applied: boolean;
}

export interface EvalResult {
  /** Mean over examples of each one's mean response-token loss. */
  loss: number;
  perplexity: number;
  examples: number;
}

export type TrainEvent =
  | {
      type: "step";
      epoch: number;
      step: number;
      steps: number;
      loss: number;
      lr: number;
      tokens: number;
      tokensPerSecond: number;
      keptFraction: number;
    }
  | {
      type: "epoch";
      epoch: number;
      steps: number;
      trainLoss: number;
      seconds: number;
      tokens: number;
      keptFraction: number;
      eval: EvalResult | null;
    };

export interface FitOptions {
  epochs: number;
  /** Held-out examples, evaluated after every epoch. */
  evalCorpus?: TokenizedCorpus;
  evalBatchSize?: number;
  onEvent?: (event: TrainEvent) => void;
  /** Stops between steps when it returns true (cancellation). */
  shouldStop?: () => boolean;
}

export class LoraTrainer {
  readonly model: Llama;
  readonly lora: LoraAdapter;
  private readonly options: TrainerOptions;
  private readonly optimizer: AdamW;
  private readonly accumulate: number;
  private pending: Map<string, Float32Array> | null = null;
  private workers: GradientWorkers | null = null;
  private micro = 0;
  private steps = 0;

  constructor(model: Llama, options: TrainerOptions) {
    this.model = model;
    this.options = options;
    this.lora = new LoraAdapter(model, options.lora, options.seed ?? 0);
    this.optimizer = new AdamW(options.optimizer);
    this.accumulate = options.gradientAccumulation ?? 1;
    if (!Number.isInteger(this.accumulate) || this.accumulate < 1) {
      throw new ModelError(
        "invalid_config",
        `gradientAccumulation must be a positive integer, received ${this.accumulate}`,
      );
    }
  }

  /**
   * A trainer whose steps also use `workers` worker threads (data parallel: each computes a
   * shard of every batch on its own replica of `checkpoint`). `workers: 0` is `new LoraTrainer`.
   */
  static async create(
    checkpoint: LlamaCheckpoint,
    options: TrainerOptions & { workers?: number; backend?: BackendName },
  ): Promise<LoraTrainer> {
    const trainer = new LoraTrainer(createLlama(checkpoint), options);
    const count = options.workers ?? 0;
    if (count > 0) {
      trainer.workers = await GradientWorkers.start(count, {
        checkpoint,
        lora: options.lora,
        backend: options.backend ?? "wasm",
      });
    }
    return trainer;
  }

  /** Forward + backward on one batch; the optimizer steps every `gradientAccumulation` batches. */
  trainStep(batch: TokenBatch, lr: number): StepResult {
    this.checkBatch(batch);
    const shard = shardGradients(
      this.model,
      this.lora,
      batch,
      batch.batchSize * this.accumulate,
      this.dropoutSeed(0),
    );
    return this.accumulateAndStep([shard], lr);
  }

  /**
   * `trainStep` with the batch split across the main thread and the worker threads (when the
   * trainer was made with `create(…, { workers })`). Dropout masks depend on the split.
   */
  async trainStepParallel(batch: TokenBatch, lr: number): Promise<StepResult> {
    if (this.workers === null) return this.trainStep(batch, lr);
    this.checkBatch(batch);
    const parts = Math.min(batch.batchSize, this.workers.size + 1);
    const bounds = Array.from({ length: parts + 1 }, (_, i) =>
      Math.round((i * batch.batchSize) / parts),
    );
    const denominator = batch.batchSize * this.accumulate;
    const values = new Map<string, Float32Array>();
    for (const [name, v] of this.lora.variables) values.set(name, v.dataSync() as Float32Array);
    const remote = bounds
      .slice(1, -1)
      .map((start, w) =>
        this.workers!.compute(
          w,
          sliceBatch(batch, start, bounds[w + 2]),
          denominator,
          this.dropoutSeed(w + 1),
          values,
        ),
      );
    const local = shardGradients(
      this.model,
      this.lora,
      sliceBatch(batch, 0, bounds[1]),
      denominator,
      this.dropoutSeed(0),
    );
    return this.accumulateAndStep([local, ...(await Promise.all(remote))], lr);
  }

  private checkBatch(batch: TokenBatch): void {
    if (batch.seqLen > this.model.config.seqLen) {
      throw new ModelError(
        "invalid_input",
        `batch of ${batch.seqLen} positions exceeds the model's seqLen ${this.model.config.seqLen}`,
      );
    }
  }

  private dropoutSeed(shard: number): number {
    return (
      deriveKey(this.options.seed ?? 0, 0x5eed, this.steps * this.accumulate + this.micro, shard) %
      2 ** 31
    );
  }

  /** Adds the shards' gradients to the pending sum; steps the optimizer when it is complete. */
  private accumulateAndStep(shards: ShardGradients[], lr: number): StepResult {
    const pending = this.pending ?? new Map<string, Float32Array>();
    for (const shard of shards) {
      for (const [name, g] of shard.grads) {
        const sum = pending.get(name);
        if (sum === undefined) pending.set(name, g);
        else for (let i = 0; i < g.length; i++) sum[i] += g[i];
      }
    }
    this.pending = pending;
    this.micro++;
    const applied = this.micro === this.accumulate && this.flush(lr);
    const perExample = new Float32Array(shards.reduce((n, s) => n + s.perExample.length, 0));
    let at = 0;
    for (const s of shards) {
      perExample.set(s.perExample, at);
      at += s.perExample.length;
    }
    const loss = shards.reduce((sum, s) => sum + s.loss, 0) * this.accumulate;
    return { perExample, loss, applied };
  }

  /**
   * Applies the gradients accumulated so far, if any: at the end of a full accumulation, or of an
   * epoch whose micro-batches did not fill the last one (rescaled to the micro-batches taken, so
   * nothing is dropped and no step straddles two epochs). Returns whether a step was taken.
   */
  flush(lr: number): boolean {
    if (this.pending === null || this.micro === 0) return false;
    const scale = this.accumulate / this.micro;
    const grads: Record<string, tf.Tensor> = {};
    for (const [name, g] of this.pending) {
      if (scale !== 1) for (let i = 0; i < g.length; i++) g[i] *= scale;
      grads[name] = tf.tensor(g, this.lora.variables.get(name)!.shape);
    }
    this.optimizer.apply(this.lora.variables, grads, lr);
    tf.dispose(Object.values(grads));
    this.pending = null;
    this.micro = 0;
    this.steps++;
    return true;
  }

  /** Mean response loss and perplexity over a corpus, forward only (no dropout, no weights). */
  evaluate(corpus: TokenizedCorpus, batchSize = 16): EvalResult {
    let total = 0;
    const hook = this.lora.hook(this.model, null);
    for (let start = 0; start < corpus.size; start += batchSize) {
      const ids = Uint32Array.from(
        { length: Math.min(batchSize, corpus.size - start) },
        (_, i) => start + i,
      );
      const batch = collate(corpus, ids, new Float32Array(ids.length).fill(1), 0);
      const losses = tf.tidy(() => {
        const shape: [number, number] = [batch.batchSize, batch.seqLen];
        const tokens = tf.tensor2d(batch.inputIds, shape, "int32");
        const logits = forward(this.model, tokens, {
          mask: tf.tensor2d(Float32Array.from(batch.attentionMask), shape),
          adapter: hook,
        });
        return perExampleLoss(
          logits,
          tokens,
          tf.tensor2d(Float32Array.from(batch.targetMask), shape),
        );
      });
      for (const l of losses.dataSync()) total += l;
      losses.dispose();
    }
    const loss = total / corpus.size;
    return { loss, perplexity: Math.exp(loss), examples: corpus.size };
  }

  /**
   * Trains `epochs` epochs through the pipeline: each batch's per-example losses go back to the
   * engine, the learning rate follows warmup + cosine over the true (pruned) steps.
   */
  async fit(
    pipeline: Pipeline,
    options: FitOptions,
  ): Promise<Array<Extract<TrainEvent, { type: "epoch" }>>> {
    const history: Array<Extract<TrainEvent, { type: "epoch" }>> = [];
    const schedule = { lr: this.options.lr, warmupFraction: this.options.warmupFraction };
    const size = pipeline.corpus.size;
    for (let epoch = Math.max(0, pipeline.engine.epoch); epoch < options.epochs; epoch++) {
      const steps = pipeline.steps(epoch);
      const keptFraction = pipeline.engine.plan!.size / size;
      const started = performance.now();
      let tokens = 0;
      let lossSum = 0;
      let count = 0;
      let lr = 0;
      for await (const batch of pipeline.epoch(epoch)) {
        if (options.shouldStop?.()) return history;
        lr = learningRateAt(progressAt(epoch, batch.index, steps, options.epochs), schedule);
        const result = await this.trainStepParallel(batch, lr);
        batch.reportLoss(result.perExample);
        tokens += batch.tokens;
        lossSum += result.loss;
        count++;
        options.onEvent?.({
          type: "step",
          epoch,
          step: batch.index,
          steps,
          loss: result.loss,
          lr,
          tokens,
          tokensPerSecond: tokens / ((performance.now() - started) / 1000),
          keptFraction,
        });
      }
      this.flush(lr);
      const event: Extract<TrainEvent, { type: "epoch" }> = {
        type: "epoch",
        epoch,
        steps,
        trainLoss: count > 0 ? lossSum / count : Number.NaN,
        seconds: (performance.now() - started) / 1000,
        tokens,
        keptFraction,
        eval: options.evalCorpus ? this.evaluate(options.evalCorpus, options.evalBatchSize) : null,
      };
      history.push(event);
      options.onEvent?.(event);
    }
    return history;
  }

  /**
   * The trainer's state as bytes (LoRA weights, AdamW moments, step counts, `meta`), taken
   * between optimizer steps. `loadState` restores it into a trainer made with the same options.
   */
  saveState(meta: Record<string, unknown> = {}): Uint8Array {
    if (this.micro !== 0) {
      throw new ModelError("invalid_input", "saveState between micro-batches: flush() first");
    }
    const optimizer = this.optimizer.stateDict();
    const lora = new Map(
      [...this.lora.variables].map(([name, v]) => [name, v.dataSync().slice() as Float32Array]),
    );
    return encodeTrainerState({
      steps: this.steps,
      optimizerStep: optimizer.step,
      lora,
      m: optimizer.m,
      v: optimizer.v,
      meta,
    });
  }

  /** Restores `saveState`'s bytes; returns their `meta`. */
  loadState(bytes: Uint8Array): Record<string, unknown> {
    const state = decodeTrainerState(bytes);
    for (const [name, variable] of this.lora.variables) {
      const values = state.lora.get(name);
      if (values === undefined || values.length !== variable.size) {
        throw new ModelError("invalid_input", `trainer state has no matching ${name}`);
      }
      variable.assign(tf.tensor(values, variable.shape));
    }
    this.optimizer.loadStateDict(
      { step: state.optimizerStep, m: state.m, v: state.v },
      this.lora.variables,
    );
    this.steps = state.steps;
    this.pending = null;
    this.micro = 0;
    return state.meta;
  }

  /** Frees tensors and stops worker threads. */
  async dispose(): Promise<void> {
    this.pending = null;
    this.optimizer.dispose();
    this.lora.dispose();
    await this.workers?.close();
    this.workers = null;
  }
}
