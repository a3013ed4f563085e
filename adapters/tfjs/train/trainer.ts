/**
 * The in-process LoRA trainer: the reference loop every other trainer is checked against.
 * Frozen Llama + LoRA, per-example masked cross-entropy on response tokens, InfoBatch weights
 * (loss = Σ w_i·l_i / B), AdamW with optional clipping and gradient accumulation, warmup + cosine
 * over the run's true (pruned) steps, held-out evaluation after every epoch.
 */
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core registers no gradient functions itself; the union package does, for every kernel,
// in a form both Node (CJS bundle) and bundlers (ESM) load. Its other parts are not used.
import "@tensorflow/tfjs";
import { deriveKey } from "../../../src/core/index.js";
import { collate, type TokenBatch } from "../../../src/data/batching.js";
import type { TokenizedCorpus } from "../../../src/data/corpus.js";
import type { Pipeline } from "../../../src/pipeline/pipeline.js";
import { ModelError } from "../errors.js";
import { forward, type Llama } from "../model/llama.js";
import { AdamW, type AdamWOptions } from "./adamw.js";
import { LoraAdapter, type LoraConfig } from "./lora.js";
import { perExampleLoss, weightedMean } from "./loss.js";
import { learningRateAt, progressAt } from "./schedule.js";

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
  private pending: Record<string, tf.Tensor> | null = null;
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

  /** Forward + backward on one batch; the optimizer steps every `gradientAccumulation` batches. */
  trainStep(batch: TokenBatch, lr: number): StepResult {
    const { batchSize: B, seqLen: T } = batch;
    if (T > this.model.config.seqLen) {
      throw new ModelError(
        "invalid_input",
        `batch of ${T} positions exceeds the model's seqLen ${this.model.config.seqLen}`,
      );
    }
    const names = [...this.lora.variables.keys()];
    const variables = names.map((n) => this.lora.variables.get(n)!);
    const seed =
      deriveKey(this.options.seed ?? 0, 0x5eed, this.steps * this.accumulate + this.micro) %
      2 ** 31;
    let perExample: Float32Array = new Float32Array(B);
    const { value, grads } = tf.tidy(() => {
      const tokens = tf.tensor2d(batch.inputIds, [B, T], "int32");
      const attention = tf.tensor2d(Float32Array.from(batch.attentionMask), [B, T]);
      const targets = tf.tensor2d(Float32Array.from(batch.targetMask), [B, T]);
      const weights = tf.tensor1d(batch.weights);
      const hook = this.lora.hook(this.model, seed);
      return tf.variableGrads(() => {
        const logits = forward(this.model, tokens, { mask: attention, adapter: hook });
        const losses = perExampleLoss(logits, tokens, targets);
        perExample = losses.dataSync() as Float32Array;
        return tf.div(weightedMean(losses, weights), this.accumulate) as tf.Scalar;
      }, variables);
    });
    const loss = value.dataSync()[0] * this.accumulate;
    value.dispose();
    const byKey: Record<string, tf.Tensor> = {};
    variables.forEach((v, i) => {
      byKey[names[i]] = grads[v.name];
    });
    if (this.pending === null) this.pending = byKey;
    else {
      const summed: Record<string, tf.Tensor> = {};
      for (const k of names) summed[k] = tf.add(this.pending[k], byKey[k]);
      tf.dispose([...Object.values(this.pending), ...Object.values(byKey)]);
      this.pending = summed;
    }
    this.micro++;
    let applied = false;
    if (this.micro === this.accumulate) {
      this.optimizer.apply(this.lora.variables, this.pending, lr);
      tf.dispose(Object.values(this.pending));
      this.pending = null;
      this.micro = 0;
      this.steps++;
      applied = true;
    }
    return { perExample: Float32Array.from(perExample), loss, applied };
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
    for (
      let epoch = Math.max(0, pipeline.engine.epoch);
      epoch < options.epochs;
      epoch++
    ) {
      const steps = pipeline.steps(epoch);
      const keptFraction = pipeline.engine.plan!.size / size;
      const started = performance.now();
      let tokens = 0;
      let lossSum = 0;
      let count = 0;
      for await (const batch of pipeline.epoch(epoch)) {
        if (options.shouldStop?.()) return history;
        const lr = learningRateAt(progressAt(epoch, batch.index, steps, options.epochs), schedule);
        const result = this.trainStep(batch, lr);
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

  dispose(): void {
    if (this.pending !== null) tf.dispose(Object.values(this.pending));
    this.optimizer.dispose();
    this.lora.dispose();
  }
}
