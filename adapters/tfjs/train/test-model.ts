/** A small random Llama for tests that need gradients checked quickly (not exported). */
import { Xoshiro128 } from "../../../src/core/index.js";
import { llamaConfig } from "../model/config.js";
import { createLlama, type Llama } from "../model/llama.js";
import type { LlamaCheckpoint } from "../model/params.js";

export function randomCheckpoint(seed = 1): LlamaCheckpoint {
  const config = llamaConfig({
    dim: 16,
    hiddenDim: 24,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    vocabSize: 32,
    seqLen: 16,
    tiedEmbeddings: true,
  });
  const rng = new Xoshiro128(seed);
  const randn = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => (2 * rng.nextFloat() - 1) * scale);
  const { dim, hiddenDim, vocabSize } = config;
  const kv = (dim / config.nHeads) * config.nKvHeads;
  return {
    config,
    params: {
      tokEmbeddings: randn(vocabSize * dim, 1),
      layers: Array.from({ length: config.nLayers }, () => ({
        attentionNorm: Float32Array.from({ length: dim }, () => 1 + 0.1 * rng.nextFloat()),
        wq: randn(dim * dim, 0.4),
        wk: randn(kv * dim, 0.4),
        wv: randn(kv * dim, 0.4),
        wo: randn(dim * dim, 0.4),
        ffnNorm: Float32Array.from({ length: dim }, () => 1 + 0.1 * rng.nextFloat()),
        w1: randn(hiddenDim * dim, 0.4),
        w2: randn(dim * hiddenDim, 0.4),
        w3: randn(hiddenDim * dim, 0.4),
      })),
      norm: Float32Array.from({ length: dim }, () => 1),
      output: null,
    },
  };
}

export function randomModel(seed = 1): Llama {
  return createLlama(randomCheckpoint(seed));
}
