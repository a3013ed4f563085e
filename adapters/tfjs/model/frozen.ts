/**
 * x·W whose backward passes are plain products. Autodiff of matMul(x, W) computes dx = dy·Wᵀ with
 * a transposed operand, which the wasm backend runs ~10× slower than a plain product (measured:
 * 1.5 vs 15 GFLOP/s on (4096, 344)·(344, 64)). For a frozen W (LoRA), Wᵀ is stored once and the
 * backward is matMul(dy, Wᵀ); no gradient flows to W. For full-parameter training,
 * `trainableMatMul` transposes explicitly and gives both gradients.
 */
import * as tf from "@tensorflow/tfjs-core";

/** Wᵀ of each frozen weight, made on first use and kept for the model's lifetime. */
export class Transposes {
  private readonly cache = new Map<tf.Tensor, tf.Tensor2D>();

  of(w: tf.Tensor2D): tf.Tensor2D {
    let t = this.cache.get(w);
    if (t === undefined) {
      t = tf.keep(tf.transpose(w));
      this.cache.set(w, t);
    }
    return t;
  }

  dispose(): void {
    for (const t of this.cache.values()) t.dispose();
    this.cache.clear();
  }
}

/** x (N, in) · W (in, out) → (N, out); the gradient reaches x only. */
export function frozenMatMul(x: tf.Tensor2D, w: tf.Tensor2D, transposes: Transposes): tf.Tensor2D {
  const product = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.matMul(inputs[0] as tf.Tensor2D, w),
    gradFunc: (dy: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, transposes.of(w)),
  }));
  return product(x) as tf.Tensor2D;
}

/**
 * x (N, in) · W (in, out) → (N, out) with gradients for both, each a plain product of explicit
 * transposes: dx = dy·Wᵀ, dW = xᵀ·dy (for full-parameter training; W a tf.Variable).
 */
export function trainableMatMul(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const product = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [a, b, save] = inputs as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([a, b]); // kept for the backward pass (the forward's tidy frees intermediates)
    return {
      value: tf.matMul(a, b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [
          tf.matMul(dy as tf.Tensor2D, tf.transpose(sb)),
          tf.matMul(tf.transpose(sa), dy as tf.Tensor2D),
        ];
      },
    };
  });
  return product(x, w) as tf.Tensor2D;
}
