/**
 * Full-parameter training pieces shared by `pretrainBaseModel` and its worker thread: the initial
 * weights, a model whose weights are tf.Variables, and one shard's gradients as plain arrays.
 */
import * as tf from "@tensorflow/tfjs-core";
// Registers the gradient functions of every kernel (see train/gradients.ts).
import "@tensorflow/tfjs";
import { deriveKey, Xoshiro128 } from "../../../src/core/rng.js";
import type { LlamaConfig } from "../model/config.js";
import { createLlama, forward, type Llama } from "../model/llama.js";
import {
  LAYER_PARAM_NAMES,
  type LlamaCheckpoint,
  type LlamaLayerParams,
  layerParamShapes,
  sizeOf,
} from "../model/params.js";
import { perExampleLoss } from "../train/loss.js";

/** Weight initialisation as llama2.c's model.py: N(0, 0.02), residual outputs / √(2·layers). */
export function initialCheckpoint(config: LlamaConfig, seed: number): LlamaCheckpoint {
  const rng = new Xoshiro128(deriveKey(seed >>> 0, 0x1417));
  const normal = (n: number, std: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      // Box–Muller: two independent normals from two uniforms (1 − u is in (0, 1]).
      const r = Math.sqrt(-2 * Math.log(1 - rng.nextFloat()));
      const a = 2 * Math.PI * rng.nextFloat();
      out[i] = std * r * Math.cos(a);
      if (i + 1 < n) out[i + 1] = std * r * Math.sin(a);
    }
    return out;
  };
  const shapes = layerParamShapes(config);
  const residualStd = 0.02 / Math.sqrt(2 * config.nLayers);
  const layers = Array.from({ length: config.nLayers }, () => {
    const layer = {} as LlamaLayerParams;
    for (const name of LAYER_PARAM_NAMES) {
      const n = sizeOf(shapes[name]);
      layer[name] = name.endsWith("Norm")
        ? new Float32Array(n).fill(1)
        : normal(n, name === "wo" || name === "w2" ? residualStd : 0.02);
    }
    return layer;
  });
  const embedding = config.vocabSize * config.dim;
  return {
    config,
    params: {
      tokEmbeddings: normal(embedding, 0.02),
      layers,
      norm: new Float32Array(config.dim).fill(1),
      output: config.tiedEmbeddings ? null : normal(embedding, 0.02),
    },
  };
}

/** A model whose weights are tf.Variables, by name ("embedding", "layers.0.wq", …). */
export interface TrainableLlama {
  model: Llama;
  variables: Map<string, tf.Variable>;
}

/** `createLlama(checkpoint)` with every weight made a variable (a tied classifier is not one). */
export function trainableLlama(checkpoint: LlamaCheckpoint): TrainableLlama {
  const model = createLlama(checkpoint);
  const variables = new Map<string, tf.Variable>();
  const trainable = <T extends tf.Tensor>(name: string, tensor: T): T => {
    const v = tf.variable(tensor, true);
    tensor.dispose();
    variables.set(name, v);
    return v as unknown as T;
  };
  const w = model.weights;
  w.embedding = trainable("embedding", w.embedding);
  w.norm = trainable("norm", w.norm);
  if (!model.config.tiedEmbeddings) w.head = trainable("head", w.head);
  w.layers.forEach((layer, i) => {
    for (const name of LAYER_PARAM_NAMES) {
      (layer as unknown as Record<string, tf.Tensor>)[name] = trainable(
        `layers.${i}.${name}`,
        layer[name],
      );
    }
  });
  return { model, variables };
}

/** The variables' current values, in map order. */
export function readWeights(variables: Map<string, tf.Variable>): Float32Array[] {
  return [...variables.values()].map((v) => v.dataSync() as Float32Array);
}

/** Sets the variables (in map order) to `values`. */
export function writeWeights(variables: Map<string, tf.Variable>, values: Float32Array[]): void {
  [...variables.values()].forEach((v, i) => {
    const t = tf.tensor(values[i], v.shape);
    v.assign(t);
    t.dispose();
  });
}

/** The model's weights as a checkpoint (input-major tensors back to (out, in) rows). */
export function checkpointOf(model: Llama): LlamaCheckpoint {
  const { config, weights } = model;
  const rows = (t: tf.Tensor2D) => {
    const [inDim, outDim] = t.shape;
    const data = t.dataSync();
    const out = new Float32Array(inDim * outDim);
    for (let i = 0; i < inDim; i++) {
      for (let o = 0; o < outDim; o++) out[o * inDim + i] = data[i * outDim + o];
    }
    return out;
  };
  const plain = (t: tf.Tensor) => Float32Array.from(t.dataSync());
  return {
    config,
    params: {
      tokEmbeddings: plain(weights.embedding),
      layers: weights.layers.map((w) => ({
        attentionNorm: plain(w.attentionNorm),
        wq: rows(w.wq),
        wk: rows(w.wk),
        wv: rows(w.wv),
        wo: rows(w.wo),
        ffnNorm: plain(w.ffnNorm),
        w1: rows(w.w1),
        w2: rows(w.w2),
        w3: rows(w.w3),
      })),
      norm: plain(weights.norm),
      output: config.tiedEmbeddings ? null : rows(weights.head),
    },
  };
}

export interface ShardResult {
  /** Σ over the shard's rows of each row's mean next-token loss, / denominator. */
  loss: number;
  /** Its gradient for each variable, in map order. */
  grads: Float32Array[];
}

/**
 * Forward and backward over `rows` full rows of `tokens` (rows × seqLen, no padding): every
 * position after the first is a target. Shards of a batch with the same denominator (the batch's
 * rows) sum to the batch's mean loss and its gradient.
 */
export function shardGradients(
  { model, variables }: TrainableLlama,
  tokens: Int32Array,
  rows: number,
  denominator: number,
): ShardResult {
  const T = tokens.length / rows;
  const list = [...variables.values()];
  const { value, grads } = tf.tidy(() => {
    const ids = tf.tensor2d(tokens, [rows, T], "int32");
    const targets = tf.ones([rows, T]) as tf.Tensor2D;
    return tf.variableGrads(
      () =>
        tf.div(
          tf.sum(perExampleLoss(forward(model, ids, { trainable: true }), ids, targets)),
          denominator,
        ) as tf.Scalar,
      list,
    );
  });
  const loss = value.dataSync()[0];
  value.dispose();
  const out = list.map((v) => Float32Array.from(grads[v.name].dataSync()));
  tf.dispose(Object.values(grads));
  return { loss, grads: out };
}
