/**
 * Keys and values of the positions already processed, so that generation feeds one new token per
 * step instead of the whole sequence again.
 */
import * as tf from "@tensorflow/tfjs-core";

/**
 * An accumulator owned by its caller: `forward(model, tokens, { cache })` appends that call's keys
 * and values and advances `length`. Free it with `dispose()`.
 */
export class KvCache {
  /** Positions held; the next call's tokens start at this position. */
  length = 0;
  private readonly keys: (tf.Tensor4D | null)[];
  private readonly values: (tf.Tensor4D | null)[];

  constructor(nLayers: number) {
    this.keys = new Array(nLayers).fill(null);
    this.values = new Array(nLayers).fill(null);
  }

  /**
   * Appends layer `layer`'s new keys kT (B, H, hs, T) and values v (B, H, T, hs); returns all of
   * them, (B, H, hs, length + T) and (B, H, length + T, hs). Safe inside `tf.tidy`: the stored
   * tensors are kept, the replaced ones disposed.
   */
  append(layer: number, kT: tf.Tensor4D, v: tf.Tensor4D): { kT: tf.Tensor4D; v: tf.Tensor4D } {
    const oldK = this.keys[layer];
    const oldV = this.values[layer];
    const allK = oldK === null ? tf.clone(kT) : tf.concat([oldK, kT], 3);
    const allV = oldV === null ? tf.clone(v) : tf.concat([oldV, v], 2);
    oldK?.dispose();
    oldV?.dispose();
    this.keys[layer] = tf.keep(allK);
    this.values[layer] = tf.keep(allV);
    return { kT: allK, v: allV };
  }

  /** Releases every cached tensor; the cache is empty afterwards. */
  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
    this.length = 0;
  }
}
