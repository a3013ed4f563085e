/**
 * Per-example masked cross-entropy: each example's mean next-token loss over its target
 * (response) tokens. Labels go in as one-hot rows rather than through `gather`, whose gradient
 * (UnsortedSegmentSum) the wasm backend lacks.
 */
import * as tf from "@tensorflow/tfjs-core";

/**
 * logits (B, T, V) at every position; tokens (B, T) int32; targetMask (B, T) float32 with 1 where
 * token t is a target (predicted from logits at t − 1). Returns (B): the mean loss over each
 * example's targets (0 for an example with none).
 */
export function perExampleLoss(
  logits: tf.Tensor3D,
  tokens: tf.Tensor2D,
  targetMask: tf.Tensor2D,
): tf.Tensor1D {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const predicting = tf.slice(logits, [0, 0, 0], [B, T - 1, V]); // (B, T−1, V)
    const targets = tf.slice(tokens, [0, 1], [B, T - 1]); // (B, T−1)
    const mask = tf.slice(targetMask, [0, 1], [B, T - 1]); // (B, T−1)
    const logp = tf.logSoftmax(tf.reshape(predicting, [B * (T - 1), V])); // (B·(T−1), V)
    const onehot = tf.oneHot(tf.reshape(targets, [B * (T - 1)]), V); // (B·(T−1), V)
    const nll = tf.reshape(tf.neg(tf.sum(tf.mul(logp, onehot), -1)), [B, T - 1]); // (B, T−1)
    const total = tf.sum(tf.mul(nll, mask), 1); // (B)
    const count = tf.maximum(tf.sum(mask, 1), 1); // (B)
    return tf.div(total, count) as tf.Tensor1D;
  });
}
