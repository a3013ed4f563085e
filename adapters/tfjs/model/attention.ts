/**
 * Causal grouped-query attention over flat (B·T, width) activations, and the additive bias that
 * carries the causal and padding masks.
 *
 * Layout, chosen for the wasm backend: its batched matmuls run at ~1–1.5 GFLOP/s whatever the
 * layout (2-D ones reach 10–20), so the aim is to do less of them: the g = nHeads / nKvHeads
 * query heads that share a kv head are stacked along the rows of one product (grouped-query
 * attention without copying k and v g times), keys are transposed once so the score product is
 * a plain one, and causal chunks skip most of the masked half. These products are still ~70% of
 * a stories260K forward at 16 × 256: this is the place for a faster kernel.
 */
import * as tf from "@tensorflow/tfjs-core";

/**
 * Added to the scores of masked pairs. Finite, so a row with every key masked (a padding query
 * under left padding) gives a uniform softmax instead of NaN; exp(−1e9) is exactly 0 in float32.
 */
export const MASKED = -1e9;

/** The sizes attention needs. */
export interface AttentionShape {
  /** Batch size. */
  B: number;
  /** New positions in this call (queries). */
  T: number;
  /** Query heads per kv head: nHeads / nKvHeads. */
  groups: number;
  nKvHeads: number;
  headSize: number;
}

/**
 * Splits rotated queries and keys into heads. Returns
 * q: (B, nKvHeads, T·groups, headSize), row t·groups + j being query head kvHead·groups + j at t;
 * kT: (B, nKvHeads, headSize, T); v: (B, nKvHeads, T, headSize).
 */
export function splitHeads(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  v: tf.Tensor2D,
  s: AttentionShape,
): { q: tf.Tensor4D; kT: tf.Tensor4D; v: tf.Tensor4D } {
  const { B, T, groups, nKvHeads: H, headSize: hs } = s;
  // (B·T, dim) → (B, T, H, groups·hs) → (B, H, T, groups·hs)
  const q4 = tf.transpose(tf.reshape(q, [B, T, H, groups * hs]), [0, 2, 1, 3]);
  return {
    q: tf.reshape(q4, [B, H, T * groups, hs]),
    // (B·T, kvDim) → (B, T, H, hs) → (B, H, hs, T)
    kT: tf.transpose(tf.reshape(k, [B, T, H, hs]), [0, 2, 3, 1]),
    // (B·T, kvDim) → (B, T, H, hs) → (B, H, T, hs)
    v: tf.transpose(tf.reshape(v, [B, T, H, hs]), [0, 2, 1, 3]),
  };
}

/** Query positions per attention chunk: chunk c only reads keys up to its own last position. */
const CHUNK = 64;

/**
 * softmax(q·kᵀ + bias)·v, heads merged back: (B·T, nHeads·headSize). Queries must already carry
 * the 1/√headSize scale. `kT` and `v` may be longer than the queries (S = past + T positions).
 *
 * Causal attention never reads a key after its query, so queries go in chunks of CHUNK positions
 * and chunk c multiplies only by the keys up to its end: at T = 256 that is 62.5% of the full
 * score matrix, and its softmax, for a few cheap slices.
 *
 * @param q (B, nKvHeads, T·groups, headSize)
 * @param kT (B, nKvHeads, headSize, S)
 * @param v (B, nKvHeads, S, headSize)
 * @param bias (B or 1, 1, T·groups, S), from `attentionBias`
 */
export function attend(
  q: tf.Tensor4D,
  kT: tf.Tensor4D,
  v: tf.Tensor4D,
  bias: tf.Tensor4D,
  s: AttentionShape,
): tf.Tensor2D {
  const { B, T, groups, nKvHeads: H, headSize: hs } = s;
  const S = kT.shape[3];
  const past = S - T;
  const outs: tf.Tensor4D[] = [];
  for (let t0 = 0; t0 < T; t0 += CHUNK) {
    const t1 = Math.min(T, t0 + CHUNK);
    const [rows, keys] = [[t0 * groups, (t1 - t0) * groups], past + t1];
    const whole = t0 === 0 && t1 === T;
    const qc = whole ? q : tf.slice(q, [0, 0, rows[0], 0], [-1, -1, rows[1], -1]);
    const kc = whole ? kT : tf.slice(kT, [0, 0, 0, 0], [-1, -1, -1, keys]);
    const vc = whole ? v : tf.slice(v, [0, 0, 0, 0], [-1, -1, keys, -1]);
    const bc = whole ? bias : tf.slice(bias, [0, 0, rows[0], 0], [-1, -1, rows[1], keys]);
    const scores = tf.add(tf.matMul(qc, kc), bc); // (B, H, rows, keys)
    outs.push(tf.matMul(tf.softmax(scores), vc) as tf.Tensor4D); // (B, H, rows, hs)
  }
  const out = outs.length === 1 ? outs[0] : tf.concat(outs, 2); // (B, H, T·groups, hs)
  // (B, H, T, groups·hs) → (B, T, H, groups·hs) → (B·T, dim): head h = kvHead·groups + j
  const merged = tf.transpose(tf.reshape(out, [B, H, T, groups * hs]), [0, 2, 1, 3]);
  return tf.reshape(merged, [B * T, H * groups * hs]);
}

/**
 * The additive mask (B or 1, 1, T·groups, past + T): query row t·groups + j, at position past + t,
 * sees key s when s ≤ past + t (causal) and `mask[b][s]` is not 0 (padding). `mask` is
 * (B, past + T), 1 for tokens and 0 for padding; without it only the causal part is built,
 * shared by the batch.
 */
export function attentionBias(
  T: number,
  past: number,
  groups: number,
  mask?: tf.Tensor2D,
): tf.Tensor4D {
  const S = past + T;
  const causal = new Float32Array(T * groups * S);
  for (let row = 0; row < T * groups; row++) {
    const t = Math.floor(row / groups);
    causal.fill(MASKED, row * S + past + t + 1, (row + 1) * S);
  }
  return tf.tidy(() => {
    const bias = tf.tensor4d(causal, [1, 1, T * groups, S]);
    if (mask === undefined) return bias;
    // 0 for tokens, MASKED for padding: (B, S) → (B, 1, 1, S)
    const padding = tf.mul(tf.sub(1, tf.cast(mask, "float32")), MASKED);
    return tf.add(bias, tf.reshape(padding, [mask.shape[0], 1, 1, S]));
  });
}
