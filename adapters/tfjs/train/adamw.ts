/**
 * AdamW (decoupled weight decay, as torch.optim.AdamW) over tf.Variables, with optional
 * gradient clipping by global norm. Its state is plain tensors so it can be saved.
 */
import * as tf from "@tensorflow/tfjs-core";

export interface AdamWOptions {
  beta1?: number; // default 0.9
  beta2?: number; // default 0.999
  eps?: number; // default 1e-8
  weightDecay?: number; // default 0.01
  /** Clip gradients to this global L2 norm; null (default) = no clipping. */
  clipNorm?: number | null;
}

export class AdamW {
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private readonly clipNorm: number | null;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  /** Steps taken (for bias correction). */
  step = 0;

  constructor(options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.clipNorm = options.clipNorm ?? null;
  }

  /** Applies `grads` (by variable name) with learning rate `lr`; returns the pre-clip grad norm. */
  apply(variables: Map<string, tf.Variable>, grads: Record<string, tf.Tensor>, lr: number): number {
    this.step++;
    const t = this.step;
    const norm = tf.tidy(() => {
      const squares = Object.values(grads).map((g) => tf.sum(tf.square(g)));
      return Math.sqrt(tf.addN(squares).dataSync()[0]);
    });
    const scale =
      this.clipNorm !== null && norm > this.clipNorm ? this.clipNorm / (norm + 1e-6) : 1;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    tf.tidy(() => {
      for (const [name, variable] of variables) {
        const raw = grads[name];
        if (raw === undefined) continue;
        const g = scale === 1 ? raw : tf.mul(raw, scale);
        const m = this.slot(this.m, name, variable);
        const v = this.slot(this.v, name, variable);
        m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
        v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.eps));
        const decayed = tf.mul(variable, 1 - lr * this.weightDecay);
        variable.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    });
    return norm;
  }

  /** Moments by variable name and the step count, copied out (for checkpoints). */
  stateDict(): { step: number; m: Map<string, Float32Array>; v: Map<string, Float32Array> } {
    const copy = (slots: Map<string, tf.Variable>) =>
      new Map([...slots].map(([name, s]) => [name, s.dataSync().slice() as Float32Array]));
    return { step: this.step, m: copy(this.m), v: copy(this.v) };
  }

  /** Restores `stateDict()`'s output; `variables` give each moment's shape. */
  loadStateDict(
    state: { step: number; m: Map<string, Float32Array>; v: Map<string, Float32Array> },
    variables: Map<string, tf.Variable>,
  ): void {
    this.dispose();
    this.step = state.step;
    for (const [slots, values] of [
      [this.m, state.m],
      [this.v, state.v],
    ] as const) {
      for (const [name, data] of values) {
        const like = variables.get(name);
        if (like === undefined || like.size !== data.length) {
          throw new RangeError(`optimizer state for ${name} does not match the adapter`);
        }
        slots.set(name, tf.variable(tf.tensor(data, like.shape), false));
      }
    }
  }

  dispose(): void {
    for (const slot of [...this.m.values(), ...this.v.values()]) slot.dispose();
    this.m.clear();
    this.v.clear();
  }

  private slot(slots: Map<string, tf.Variable>, name: string, like: tf.Variable): tf.Variable {
    let s = slots.get(name);
    if (s === undefined) {
      s = tf.variable(tf.zerosLike(like), false);
      slots.set(name, s);
    }
    return s;
  }
}
