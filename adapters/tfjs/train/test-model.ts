/** A small random Llama for tests that need gradients checked quickly (not exported). */
import { llamaConfig } from "../model/config.js";
import { createLlama, type Llama } from "../model/llama.js";
import type { LlamaCheckpoint } from "../model/params.js";
import { randomCheckpoint as random } from "../test-helpers.js";

/** dim 16, 2 layers, 4 heads over 2 kv heads, vocab 32, tied head. */
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
  return random(config, seed, 0.4);
}

export function randomModel(seed = 1): Llama {
  return createLlama(randomCheckpoint(seed));
}
