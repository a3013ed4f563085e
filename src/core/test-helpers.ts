/** Small helpers shared by the core tests (not exported from the package). */
import { InfoBatch } from "./engine.js";
import type { InfoBatchOptions } from "./options.js";
import { Xoshiro128 } from "./rng.js";

/** Deterministic per-example values in [lo, hi). */
export function randomValues(n: number, seed: number, lo = 0, hi = 1): Float64Array {
  const rng = new Xoshiro128(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.nextFloat();
  return out;
}

/** An engine whose epoch 0 has been trained with `losses` (so epoch 1 prunes). */
export function scoredEngine(options: InfoBatchOptions, losses: ArrayLike<number>): InfoBatch {
  const engine = new InfoBatch(options);
  const plan = engine.planEpoch(0);
  const ids = plan.ids;
  const values = Array.from(ids, (id) => losses[id]);
  engine.update(ids, values);
  return engine;
}

/** Mean and standard error of a sample. */
export function meanAndError(samples: number[]): { mean: number; se: number } {
  const n = samples.length;
  const mean = samples.reduce((a, b) => a + b, 0) / n;
  const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, se: Math.sqrt(variance / n) };
}
