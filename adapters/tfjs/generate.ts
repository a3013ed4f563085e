/**
 * Greedy decoding (temperature 0), as llama2.c's run.c does it: feed the prompt, then append the
 * argmax of the last position's logits until a stop token or the token budget.
 */
import * as tf from "@tensorflow/tfjs-core";
import { ModelError } from "./errors.js";
import { KvCache } from "./model/kv-cache.js";
import { forward, type Llama } from "./model/llama.js";

/** Options of `generateGreedy`. */
export interface GenerateOptions {
  /** Ids that end generation when produced (not returned), e.g. [1] as run.c stops at BOS. */
  stopTokens?: readonly number[];
  /**
   * Keep keys and values of earlier positions (default true): each step feeds one token. False
   * recomputes the whole sequence every step (slower; a check of the cache).
   */
  cache?: boolean;
}

/**
 * Up to `maxNewTokens` ids that follow `promptIds`, each the argmax of the logits (the lowest id on
 * ties, as run.c). The prompt and all but the last new token must fit in `seqLen`.
 *
 * @example
 * const ids = generateGreedy(model, [1], 256, { stopTokens: [1] }); // run.c -t 0.0 from BOS
 */
export function generateGreedy(
  model: Llama,
  promptIds: readonly number[],
  maxNewTokens: number,
  options: GenerateOptions = {},
): number[] {
  const { stopTokens = [], cache: useCache = true } = options;
  const { seqLen, vocabSize } = model.config;
  if (promptIds.length === 0) {
    throw new ModelError("invalid_input", "the prompt is empty; start from BOS", ["promptIds"]);
  }
  if (promptIds.length + maxNewTokens - 1 > seqLen) {
    throw new ModelError(
      "invalid_input",
      `prompt ${promptIds.length} + ${maxNewTokens} new tokens exceed seqLen ${seqLen}`,
      ["maxNewTokens"],
    );
  }
  for (const [i, id] of promptIds.entries()) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new ModelError("invalid_input", `token id ${id} is not in 0…${vocabSize - 1}`, [
        "promptIds",
        i,
      ]);
    }
  }

  const cache = useCache ? new KvCache(model.config.nLayers) : undefined;
  const sequence = [...promptIds];
  const generated: number[] = [];
  try {
    let pending = sequence; // tokens not yet fed to the model
    while (generated.length < maxNewTokens) {
      const tokens = tf.tensor2d(pending, [1, pending.length], "int32");
      const logits = forward(model, tokens, { cache });
      // Only the last position's logits come back to JS.
      const last = tf.slice(logits, [0, pending.length - 1, 0], [1, 1, vocabSize]);
      const next = argmax(last.dataSync() as Float32Array);
      tf.dispose([tokens, logits, last]);
      if (stopTokens.includes(next)) break;
      generated.push(next);
      sequence.push(next);
      pending = useCache ? [next] : sequence;
    }
  } finally {
    cache?.dispose();
  }
  return generated;
}

/** Index of the largest value; the first one on ties (run.c `sample_argmax`). */
function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
