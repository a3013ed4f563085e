/**
 * The learning-rate schedule as a pure function of training progress in [0, 1]: linear warmup,
 * then cosine to zero. Progress is counted per epoch, (e + (s + 1) / steps_e) / E for step s of
 * epoch e, because a pruned run's later step counts are unknown until each epoch is planned; the
 * schedule therefore ends exactly at the run's true last step, whatever pruning did.
 */

export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  /** Fraction of progress spent warming up linearly from 0. Default 0.05. */
  warmupFraction?: number;
  /** Floor of the cosine, as a fraction of `lr`. Default 0. */
  minRatio?: number;
}

/** Progress after step `step` (0-based) of epoch `epoch` with `steps` steps, of `epochs` epochs. */
export function progressAt(epoch: number, step: number, steps: number, epochs: number): number {
  return (epoch + (step + 1) / steps) / epochs;
}

export function learningRateAt(progress: number, options: ScheduleOptions): number {
  const warmup = options.warmupFraction ?? 0.05;
  if (!(warmup >= 0 && warmup < 1)) {
    throw new RangeError(`warmupFraction must be in [0, 1), received ${warmup}`);
  }
  const floor = (options.minRatio ?? 0) * options.lr;
  if (progress < warmup) return (options.lr * progress) / warmup;
  const t = Math.min(1, (progress - warmup) / (1 - warmup));
  return floor + (options.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * t));
}
