/**
 * The Llama forward pass in TensorFlow.js, all of it in this file (attention's layout in
 * attention.ts, RoPE in rope.ts): token ids (B, T) → logits (B, T, vocab).
 *
 *   x = embed(ids)
 *   per block:  x += o(attention(rope(q(norm(x))), rope(k(norm(x))), v(norm(x))))
 *               x += down(silu(gate(norm(x))) · up(norm(x)))
 *   logits = head(norm(x))
 *
 * Activations stay flat, (N = B·T, width), so that every projection is one plain 2-D matmul,
 * the only product the wasm backend runs fast (10–20 GFLOP/s; with a transposed operand ~1.5).
 * Hence the weights are stored input-major (in, out), unlike checkpoints. They are not fused
 * (q|k|v, gate|up): on wasm, splitting a fused output costs more than the separate products.
 */
import * as tf from "@tensorflow/tfjs-core";
import { ModelError } from "../errors.js";
import { type AttentionShape, attend, attentionBias, splitHeads } from "./attention.js";
import { headSize, kvDim, type LlamaConfig } from "./config.js";
import { frozenMatMul, Transposes, trainableMatMul } from "./frozen.js";
import type { KvCache } from "./kv-cache.js";
import { checkParams, type LlamaCheckpoint } from "./params.js";
import { applyRope, disposeRopeTable, type RopeTable, ropeTable } from "./rope.js";

/** The frozen projections of a block, by their Hugging Face / PEFT module names. */
export type ProjectionName =
  | "q_proj"
  | "k_proj"
  | "v_proj"
  | "o_proj"
  | "gate_proj"
  | "up_proj"
  | "down_proj";

/**
 * Adds trainable deltas (LoRA) to the frozen projections. Called with a group of projections that
 * share the input x (N, in) — today always one projection — and returns the delta of the group's
 * outputs side by side (N, Σ out), or null when none of them is adapted. (Groups let a fused
 * layout call it once for q|k|v without changing adapters.)
 */
export type ProjectionAdapter = (
  layer: number,
  group: readonly ProjectionName[],
  x: tf.Tensor2D,
) => tf.Tensor2D | null;

/** One block's weights, input-major (in, out): x·W is a plain product. */
export interface LlamaLayerWeights {
  attentionNorm: tf.Tensor1D; // (dim)
  wq: tf.Tensor2D; // (dim, dim)
  wk: tf.Tensor2D; // (dim, kvDim)
  wv: tf.Tensor2D; // (dim, kvDim)
  wo: tf.Tensor2D; // (dim, dim)
  ffnNorm: tf.Tensor1D; // (dim)
  w1: tf.Tensor2D; // (dim, hiddenDim): gate
  w2: tf.Tensor2D; // (hiddenDim, dim): down
  w3: tf.Tensor2D; // (dim, hiddenDim): up
}

/** The weights of a model, as tensors in a plain object. */
export interface LlamaWeights {
  /** (vocab, dim): rows gathered by token id. */
  embedding: tf.Tensor2D;
  layers: LlamaLayerWeights[];
  norm: tf.Tensor1D; // (dim)
  /** (dim, vocab): the embedding transposed when tied (a copy: x·Eᵀ would be a slow product). */
  head: tf.Tensor2D;
}

/** A model ready to run: config, weights and RoPE tables. */
export interface Llama {
  config: LlamaConfig;
  weights: LlamaWeights;
  /** RoPE of q (width dim, scaled by the scores' 1/√headSize) and of k (width kvDim). */
  rope: { q: RopeTable; k: RopeTable };
  /** Transposed frozen weights for backward passes (see frozen.ts), made when first needed. */
  transposes: Transposes;
}

/** Options of `forward`. */
export interface ForwardOptions {
  /** (B, past + T): 1 for tokens, 0 for padding. Positions count from column 0: pad on the right. */
  mask?: tf.Tensor2D;
  /** Deltas added to the frozen projections (LoRA). */
  adapter?: ProjectionAdapter;
  /** Earlier positions' keys and values; this call's tokens start at `cache.length` and are added. */
  cache?: KvCache;
  /**
   * Lets gradients reach the weights, for full-parameter training (pretraining): the embedding
   * lookup becomes a one-hot product (gather's gradient needs UnsortedSegmentSum, which wasm
   * lacks), projections `trainableMatMul`, a tied classifier the embedding's transpose. The
   * weights must be `tf.Variable`s for `tf.variableGrads` to return their gradients. Default false.
   */
  trainable?: boolean;
}

/** Tensors for `checkpoint` (validated first); free them with `disposeLlama`. */
export function createLlama(checkpoint: LlamaCheckpoint): Llama {
  const { config, params } = checkpoint;
  checkParams(config, params);
  const { dim, hiddenDim, vocabSize } = config;
  const kv = kvDim(config);
  const weights: LlamaWeights = {
    embedding: tf.tensor2d(params.tokEmbeddings, [vocabSize, dim]),
    layers: params.layers.map((p) => ({
      attentionNorm: tf.tensor1d(p.attentionNorm),
      wq: inputMajor(p.wq, dim, dim),
      wk: inputMajor(p.wk, kv, dim),
      wv: inputMajor(p.wv, kv, dim),
      wo: inputMajor(p.wo, dim, dim),
      ffnNorm: tf.tensor1d(p.ffnNorm),
      w1: inputMajor(p.w1, hiddenDim, dim),
      w2: inputMajor(p.w2, dim, hiddenDim),
      w3: inputMajor(p.w3, hiddenDim, dim),
    })),
    norm: tf.tensor1d(params.norm),
    head: inputMajor(params.output ?? params.tokEmbeddings, vocabSize, dim),
  };
  const rope = {
    q: ropeTable(config, dim, 1 / Math.sqrt(headSize(config))),
    k: ropeTable(config, kv),
  };
  return { config, weights, rope, transposes: new Transposes() };
}

/** Frees every tensor of `model`. */
export function disposeLlama(model: Llama): void {
  const { weights, rope } = model;
  tf.dispose([weights.embedding, weights.norm, weights.head]);
  for (const layer of weights.layers) tf.dispose(Object.values(layer));
  disposeRopeTable(rope.q);
  disposeRopeTable(rope.k);
  model.transposes.dispose();
}

/**
 * Logits (B, T, vocab) of the int32 token ids `tokens` (B, T). Every intermediate is freed;
 * the caller owns the result. Throws a `ModelError` "invalid_input" when the ids are not int32,
 * the sequence is longer than `seqLen`, or the mask does not match.
 */
export function forward(
  model: Llama,
  tokens: tf.Tensor2D,
  options: ForwardOptions = {},
): tf.Tensor3D {
  const { config, weights, rope } = model;
  const { mask, adapter, cache, trainable = false } = options;
  const [B, T] = tokens.shape;
  const past = cache?.length ?? 0;
  checkInputs(config, tokens, past, mask);
  const { nKvHeads, normEps, vocabSize } = config;
  const N = B * T;
  const shape: AttentionShape = {
    B,
    T,
    groups: config.nHeads / nKvHeads,
    nKvHeads,
    headSize: headSize(config),
  };

  const product = trainable
    ? trainableMatMul
    : (x: tf.Tensor2D, w: tf.Tensor2D) => frozenMatMul(x, w, model.transposes);

  const logits = tf.tidy(() => {
    // Embeddings: gather when frozen; its gradient needs UnsortedSegmentSum, which wasm lacks,
    // so a trainable lookup is a one-hot product. (wasm's OneHot writes int bits into a float32
    // output: it is made int32, then cast.)
    const ids = tf.reshape(tokens, [N]);
    let x = trainable
      ? trainableMatMul(
          tf.cast(tf.oneHot(ids, vocabSize), "float32") as tf.Tensor2D,
          weights.embedding,
        )
      : (tf.gather(weights.embedding, ids) as tf.Tensor2D); // (N, dim)
    const bias = attentionBias(T, past, shape.groups, mask); // (B or 1, 1, T·groups, past + T)

    weights.layers.forEach((w, layer) => {
      const linear = (name: ProjectionName, input: tf.Tensor2D, weight: tf.Tensor2D) =>
        project(input, weight, product, adapter, layer, name);

      // Attention block.
      const h = rmsNorm(x, w.attentionNorm, normEps); // (N, dim)
      const q = applyRope(linear("q_proj", h, w.wq), rope.q, B, T, past); // (N, dim)
      const k = applyRope(linear("k_proj", h, w.wk), rope.k, B, T, past); // (N, kvDim)
      const v = linear("v_proj", h, w.wv); // (N, kvDim)
      const heads = splitHeads(q, k, v, shape);
      const all = cache === undefined ? heads : cache.append(layer, heads.kT, heads.v);
      const att = attend(heads.q, all.kT, all.v, bias, shape); // (N, dim)
      x = tf.add(x, linear("o_proj", att, w.wo)); // (N, dim)

      // Feed-forward block (SwiGLU).
      const h2 = rmsNorm(x, w.ffnNorm, normEps); // (N, dim)
      const gate = linear("gate_proj", h2, w.w1); // (N, hiddenDim)
      const up = linear("up_proj", h2, w.w3); // (N, hiddenDim)
      const hidden = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D; // silu(gate)·up
      x = tf.add(x, linear("down_proj", hidden, w.w2)); // (N, dim)
    });

    const out = rmsNorm(x, weights.norm, normEps); // (N, dim)
    // A tied classifier is the embedding: `head` is a copy, stale once the embedding trains.
    const head =
      trainable && config.tiedEmbeddings
        ? (tf.transpose(weights.embedding) as tf.Tensor2D)
        : weights.head;
    const logits2d = product(out, head); // (N, vocab)
    return tf.reshape(logits2d, [B, T, vocabSize]) as tf.Tensor3D;
  });
  if (cache !== undefined) cache.length = past + T;
  return logits;
}

/** x·W plus the adapter's delta for `name`, if any. x (N, in), W (in, out) → (N, out). */
function project(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  product: (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D,
  adapter: ProjectionAdapter | undefined,
  layer: number,
  name: ProjectionName,
): tf.Tensor2D {
  const y = product(x, w);
  const delta = adapter?.(layer, [name], x) ?? null;
  return delta === null ? y : (tf.add(y, delta) as tf.Tensor2D);
}

/** RMSNorm over the last axis: x / √(mean(x²) + eps) · gain. x (N, dim). */
function rmsNorm(x: tf.Tensor2D, gain: tf.Tensor1D, eps: number): tf.Tensor2D {
  const meanSquare = tf.mean(tf.square(x), -1, true); // (N, 1)
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), gain) as tf.Tensor2D;
}

/** A row-major (out, in) matrix as an input-major (in, out) tensor. */
function inputMajor(matrix: Float32Array, outDim: number, inDim: number): tf.Tensor2D {
  const data = new Float32Array(inDim * outDim);
  for (let o = 0; o < outDim; o++) {
    for (let i = 0; i < inDim; i++) data[i * outDim + o] = matrix[o * inDim + i];
  }
  return tf.tensor2d(data, [inDim, outDim]);
}

function checkInputs(config: LlamaConfig, tokens: tf.Tensor2D, past: number, mask?: tf.Tensor2D) {
  const [B, T] = tokens.shape;
  if (tokens.dtype !== "int32") {
    throw new ModelError("invalid_input", `token ids must be int32, got ${tokens.dtype}`, [
      "tokens",
    ]);
  }
  if (past + T > config.seqLen) {
    throw new ModelError(
      "invalid_input",
      `cannot forward sequence of length ${past + T}, seqLen is only ${config.seqLen}`,
      ["tokens"],
    );
  }
  if (mask !== undefined && (mask.shape[0] !== B || mask.shape[1] !== past + T)) {
    throw new ModelError(
      "invalid_input",
      `mask must be [${B}, ${past + T}] (batch, cached + new positions), got [${mask.shape}]`,
      ["mask"],
    );
  }
}
