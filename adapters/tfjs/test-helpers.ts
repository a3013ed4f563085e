/**
 * Shared by the adapter's tests (not exported from the package): where the reference data lives,
 * random checkpoints, and an independent scalar forward pass written after llama2.c's run.c.
 */
import * as tf from "@tensorflow/tfjs-core";
import { expect } from "vitest";
import { Xoshiro128 } from "../../src/core/index.js";
import { headSize, kvDim, type LlamaConfig } from "./model/config.js";
import {
  LAYER_PARAM_NAMES,
  type LlamaCheckpoint,
  type LlamaLayerParams,
  layerParamShapes,
  sizeOf,
} from "./model/params.js";

export { DATA_DIR, dataPath } from "../../test/data-dir.js";

/** A seeded uniform generator in [0, 1) (the engine's own xoshiro128**), for test data. */
export function seededRandom(seed: number): () => number {
  const rng = new Xoshiro128(seed);
  return () => rng.nextFloat();
}

/** A checkpoint of `config` with uniform weights in ±scale (norm gains around 1). */
export function randomCheckpoint(config: LlamaConfig, seed = 1, scale = 0.3): LlamaCheckpoint {
  const random = seededRandom(seed);
  const fill = (n: number, center = 0) =>
    Float32Array.from({ length: n }, () => center + (random() * 2 - 1) * scale);
  const shapes = layerParamShapes(config);
  const layers = Array.from({ length: config.nLayers }, () => {
    const layer = {} as LlamaLayerParams;
    for (const name of LAYER_PARAM_NAMES) {
      layer[name] = fill(sizeOf(shapes[name]), name.endsWith("Norm") ? 1 : 0);
    }
    return layer;
  });
  const embedding = config.vocabSize * config.dim;
  return {
    config,
    params: {
      tokEmbeddings: fill(embedding),
      layers,
      norm: fill(config.dim, 1),
      output: config.tiedEmbeddings ? null : fill(embedding),
    },
  };
}

/**
 * Logits of one sequence, position by position with a key/value cache, in float64: a direct
 * transcription of run.c's `forward` (kv head h / (nHeads / nKvHeads)), sharing no code with the
 * TensorFlow.js model. RoPE rotates consecutive pairs (llama2.c, "pairs") or the two halves of
 * each head (Hugging Face's rotate_half, "halves": for weights in HF row order).
 */
export function referenceLogits(
  checkpoint: LlamaCheckpoint,
  tokens: readonly number[],
  rope: "pairs" | "halves" = "pairs",
): Float64Array[] {
  const { config: c, params: p } = checkpoint;
  const { dim, hiddenDim } = c;
  const hs = headSize(c);
  const kv = kvDim(c);
  const kvMul = c.nHeads / c.nKvHeads;
  // out[i] = Σ_j W[i·n + j] · x[j], W row-major (d, n).
  const matvec = (W: Float32Array, x: Float64Array, d: number) => {
    const n = x.length;
    const out = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += W[i * n + j] * x[j];
      out[i] = s;
    }
    return out;
  };
  const rmsnorm = (x: Float64Array, w: Float32Array) => {
    let ss = 0;
    for (const v of x) ss += v * v;
    const inv = 1 / Math.sqrt(ss / x.length + c.normEps);
    return x.map((v, i) => w[i] * v * inv);
  };
  const keys: Float64Array[][] = p.layers.map(() => []);
  const values: Float64Array[][] = p.layers.map(() => []);
  return tokens.map((token, pos) => {
    let x = Float64Array.from(p.tokEmbeddings.subarray(token * dim, (token + 1) * dim));
    p.layers.forEach((w, l) => {
      const xb = rmsnorm(x, w.attentionNorm);
      const q = matvec(w.wq, xb, dim);
      const k = matvec(w.wk, xb, kv);
      const v = matvec(w.wv, xb, kv);
      for (let i = 0; i < dim; i += 2) {
        const freq = 1 / c.ropeTheta ** ((i % hs) / hs);
        const [fcr, fci] = [Math.cos(pos * freq), Math.sin(pos * freq)];
        // The two entries of pair (i mod hs) / 2 of this head.
        const head = i - (i % hs);
        const [a, b] =
          rope === "pairs" ? [i, i + 1] : [head + (i % hs) / 2, head + (i % hs) / 2 + hs / 2];
        for (const vec of i < kv ? [q, k] : [q]) {
          const [v0, v1] = [vec[a], vec[b]];
          vec[a] = v0 * fcr - v1 * fci;
          vec[b] = v0 * fci + v1 * fcr;
        }
      }
      keys[l].push(k);
      values[l].push(v);
      const att = new Float64Array(dim);
      for (let h = 0; h < c.nHeads; h++) {
        const kvh = Math.floor(h / kvMul);
        const scores = keys[l].map((kt) => {
          let s = 0;
          for (let i = 0; i < hs; i++) s += q[h * hs + i] * kt[kvh * hs + i];
          return s / Math.sqrt(hs);
        });
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const sum = exps.reduce((a, b) => a + b, 0);
        exps.forEach((e, t) => {
          for (let i = 0; i < hs; i++) att[h * hs + i] += (e / sum) * values[l][t][kvh * hs + i];
        });
      }
      x = x.map((xi, i) => xi + matvec(w.wo, att, dim)[i]);
      const xf = rmsnorm(x, w.ffnNorm);
      const gate = matvec(w.w1, xf, hiddenDim);
      const up = matvec(w.w3, xf, hiddenDim);
      const hidden = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = matvec(w.w2, hidden, dim);
      x = x.map((xi, i) => xi + down[i]);
    });
    return matvec(p.output ?? p.tokEmbeddings, rmsnorm(x, p.norm), c.vocabSize);
  });
}

/** Largest |a − b| over two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/**
 * Checks autodiff against central differences (h = 0.01) at the first and last element of each
 * variable: |numeric − analytic| < 2e-3 + relativeTolerance·|numeric|. Returns how many it checked.
 */
export function checkGradients(
  variables: tf.Variable[],
  lossOf: () => tf.Scalar,
  relativeTolerance: number,
): number {
  const { grads } = tf.variableGrads(lossOf, variables);
  let checked = 0;
  for (const v of variables) {
    const values = v.dataSync().slice();
    const analytic = grads[v.name].dataSync();
    for (const index of [0, values.length - 1]) {
      const h = 1e-2;
      const at = (delta: number) => {
        const copy = values.slice();
        copy[index] += delta;
        v.assign(tf.tensor(copy, v.shape));
        return lossOf().dataSync()[0];
      };
      const numeric = (at(h) - at(-h)) / (2 * h);
      v.assign(tf.tensor(values, v.shape));
      expect(Math.abs(numeric - analytic[index])).toBeLessThan(
        2e-3 + relativeTolerance * Math.abs(numeric),
      );
      checked++;
    }
  }
  tf.dispose(Object.values(grads));
  return checked;
}
