/**
 * The gradient of one batch (or one shard of it) with respect to the LoRA parameters, as plain
 * arrays: the unit of work that the trainer does itself or hands to worker threads.
 */
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core registers no gradient functions itself; the union package does, for every kernel,
// in a form both Node (CJS bundle) and bundlers (ESM) load. Its other parts are not used.
import "@tensorflow/tfjs";
import type { TokenBatch } from "../../../src/data/batching.js";
import { forward, type Llama } from "../model/llama.js";
import type { LoraAdapter } from "./lora.js";
import { perExampleLoss } from "./loss.js";

export interface ShardGradients {
  /** Mean response-token loss of each example of the shard. */
  perExample: Float32Array;
  /** Σ w_i·l_i / denominator over the shard. */
  loss: number;
  /** d(loss)/d(parameter), by PEFT tensor name. */
  grads: Map<string, Float32Array>;
}

/** Rows [start, end) of a batch (the same arrays, narrowed). */
export function sliceBatch(batch: TokenBatch, start: number, end: number): TokenBatch {
  const T = batch.seqLen;
  const rows = (a: Uint8Array) => a.subarray(start * T, end * T);
  let tokens = 0;
  let targetTokens = 0;
  const attention = rows(batch.attentionMask);
  const targets = rows(batch.targetMask);
  for (let i = 0; i < attention.length; i++) {
    tokens += attention[i];
    targetTokens += targets[i];
  }
  return {
    ids: batch.ids.subarray(start, end),
    weights: batch.weights.subarray(start, end),
    batchSize: end - start,
    seqLen: T,
    inputIds: batch.inputIds.subarray(start * T, end * T),
    attentionMask: attention,
    targetMask: targets,
    tokens,
    targetTokens,
  };
}

/**
 * Forward and backward of Σ_i w_i·l_i / denominator over `batch`. With the whole batch and
 * denominator B this is the InfoBatch batch loss; shards of it with the same denominator sum to it.
 */
export function shardGradients(
  model: Llama,
  lora: LoraAdapter,
  batch: TokenBatch,
  denominator: number,
  dropoutSeed: number,
): ShardGradients {
  const { batchSize: B, seqLen: T } = batch;
  const names = [...lora.variables.keys()];
  const variables = names.map((n) => lora.variables.get(n)!);
  let perExample: Float32Array = new Float32Array(B);
  const { value, grads } = tf.tidy(() => {
    const tokens = tf.tensor2d(batch.inputIds, [B, T], "int32");
    const attention = tf.tensor2d(Float32Array.from(batch.attentionMask), [B, T]);
    const targets = tf.tensor2d(Float32Array.from(batch.targetMask), [B, T]);
    const weights = tf.tensor1d(batch.weights);
    const hook = lora.hook(model, dropoutSeed);
    return tf.variableGrads(() => {
      const logits = forward(model, tokens, { mask: attention, adapter: hook });
      const losses = perExampleLoss(logits, tokens, targets);
      perExample = Float32Array.from(losses.dataSync());
      return tf.div(tf.sum(tf.mul(losses, weights)), denominator) as tf.Scalar;
    }, variables);
  });
  const loss = value.dataSync()[0];
  value.dispose();
  const out = new Map<string, Float32Array>();
  variables.forEach((v, i) => {
    out.set(names[i], Float32Array.from(grads[v.name].dataSync()));
  });
  tf.dispose(Object.values(grads));
  return { perExample, loss, grads: out };
}
