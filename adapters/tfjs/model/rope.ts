/**
 * Rotary position embeddings in llama2.c's convention: within each head, the consecutive pair
 * (x[2i], x[2i+1]) turns by the angle pos · theta^(−2i/headSize). (Hugging Face rotates the two
 * halves of a head instead; its checkpoints permute the q/k rows to match: see checkpoints/hf.ts.)
 */
import * as tf from "@tensorflow/tfjs-core";
import { headSize, type LlamaConfig } from "./config.js";

/** Everything RoPE needs for one projection (q or k) of width C = heads · headSize. */
export interface RopeTable {
  /** cos of each position's angles, (seqLen, C), times `scale`. */
  cos: tf.Tensor2D;
  /** sin of the same angles, (seqLen, C), times `scale`. */
  sin: tf.Tensor2D;
  /** (C, C): x·pairs maps each pair (x0, x1) to (−x1, x0). */
  pairs: tf.Tensor2D;
}

/**
 * The table for a projection of `width` columns, every entry multiplied by `scale` (q takes the
 * 1/√headSize of the attention scores here, where it costs nothing). Angles are computed in
 * float32 steps as run.c does (powf, then pos · freq), so they match it to the last bit.
 */
export function ropeTable(config: LlamaConfig, width: number, scale = 1): RopeTable {
  const { seqLen, ropeTheta } = config;
  const hs = headSize(config);
  const cos = new Float32Array(seqLen * width);
  const sin = new Float32Array(seqLen * width);
  const pairs = new Float32Array(width * width);
  for (let c = 0; c < width; c++) {
    const i = c % hs;
    const exponent = Math.fround((i - (i % 2)) / hs);
    const freq = Math.fround(1 / Math.fround(ropeTheta ** exponent));
    for (let pos = 0; pos < seqLen; pos++) {
      const angle = Math.fround(pos * freq);
      cos[pos * width + c] = Math.cos(angle) * scale;
      sin[pos * width + c] = Math.sin(angle) * scale;
    }
    // Output column c of x·pairs: −x[c + 1] for the first of a pair, x[c − 1] for the second.
    if (c % 2 === 0) pairs[(c + 1) * width + c] = -1;
    else pairs[(c - 1) * width + c] = 1;
  }
  return {
    cos: tf.tensor2d(cos, [seqLen, width]),
    sin: tf.tensor2d(sin, [seqLen, width]),
    pairs: tf.tensor2d(pairs, [width, width]),
  };
}

/**
 * x rotated, scaled by the table's scale: (x0·cos − x1·sin, x1·cos + x0·sin) per pair, i.e.
 * x·cos + (x·pairs)·sin. x is (B·T, C) for positions past … past + T − 1.
 *
 * (−x1, x0) as a plain 2-D product: on wasm 4× faster than reversing the pairs, and since
 * pairsᵀ = −pairs its gradient dy·pairsᵀ = −dy·pairs is a plain product too (tfjs would otherwise
 * use a transposed one, several times slower).
 */
export function applyRope(
  x: tf.Tensor2D,
  table: RopeTable,
  B: number,
  T: number,
  past: number,
): tf.Tensor2D {
  const C = x.shape[1];
  const cos = tf.slice(table.cos, [past, 0], [T, C]); // (T, C)
  const sin = tf.slice(table.sin, [past, 0], [T, C]); // (T, C)
  const swap = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.matMul(inputs[0] as tf.Tensor2D, table.pairs),
    gradFunc: (dy: tf.Tensor) => tf.neg(tf.matMul(dy as tf.Tensor2D, table.pairs)),
  }));
  const rotated = tf.add(
    tf.mul(tf.reshape(x, [B, T, C]), cos),
    tf.mul(tf.reshape(swap(x), [B, T, C]), sin),
  ); // (B, T, C)
  return tf.reshape(rotated, [B * T, C]);
}

/** Frees the table's tensors. */
export function disposeRopeTable(table: RopeTable): void {
  tf.dispose([table.cos, table.sin, table.pairs]);
}
