/**
 * A checkpoint as plain data: the config and every weight as a float32 array, with no tensors
 * and no backend, so loaders and exporters stay pure functions over bytes (Node, Workers,
 * browsers). `createLlama` turns it into tensors.
 *
 * Layout is PyTorch's and llama2.c's: a matrix is row-major `(out, in)`, and the rows of `wq`/`wk`
 * are in llama2.c's RoPE order (consecutive pairs rotate together). Hugging Face stores them
 * permuted; hf.ts converts.
 */
import { ModelError } from "../errors.js";
import { kvDim, type LlamaConfig } from "./config.js";

/** The weights of one transformer block; names as llama2.c's model.py. */
export interface LlamaLayerParams {
  /** RMSNorm gain before attention (dim). HF `input_layernorm`. */
  attentionNorm: Float32Array;
  /** Query projection (dim, dim). */
  wq: Float32Array;
  /** Key projection (kvDim, dim). */
  wk: Float32Array;
  /** Value projection (kvDim, dim). */
  wv: Float32Array;
  /** Attention output projection (dim, dim). */
  wo: Float32Array;
  /** RMSNorm gain before the feed-forward block (dim). HF `post_attention_layernorm`. */
  ffnNorm: Float32Array;
  /** SwiGLU gate (hiddenDim, dim). HF `gate_proj`. */
  w1: Float32Array;
  /** SwiGLU down projection (dim, hiddenDim). HF `down_proj`. */
  w2: Float32Array;
  /** SwiGLU up projection (hiddenDim, dim). HF `up_proj`. */
  w3: Float32Array;
}

/** All weights of a Llama; see the file comment for the layout. */
export interface LlamaParams {
  /** Token embedding (vocabSize, dim). */
  tokEmbeddings: Float32Array;
  layers: LlamaLayerParams[];
  /** Final RMSNorm gain (dim). */
  norm: Float32Array;
  /** Classifier (vocabSize, dim); null when tied to `tokEmbeddings`. */
  output: Float32Array | null;
}

/** A model as data: what the loaders return and the exporters take. */
export interface LlamaCheckpoint {
  config: LlamaConfig;
  params: LlamaParams;
}

/** The names of a block's weights, in llama2.c's file order. */
export const LAYER_PARAM_NAMES = [
  "attentionNorm",
  "wq",
  "wk",
  "wv",
  "wo",
  "ffnNorm",
  "w1",
  "w2",
  "w3",
] as const satisfies readonly (keyof LlamaLayerParams)[];

/** Shape of each block weight for `config`, e.g. `wk` → [kvDim, dim]. */
export function layerParamShapes(config: LlamaConfig): Record<keyof LlamaLayerParams, number[]> {
  const { dim, hiddenDim } = config;
  const kv = kvDim(config);
  return {
    attentionNorm: [dim],
    wq: [dim, dim],
    wk: [kv, dim],
    wv: [kv, dim],
    wo: [dim, dim],
    ffnNorm: [dim],
    w1: [hiddenDim, dim],
    w2: [dim, hiddenDim],
    w3: [hiddenDim, dim],
  };
}

/** Number of float32 values in a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Number of parameters of the model (the classifier counted once when tied). */
export function parameterCount(config: LlamaConfig): number {
  const perLayer = Object.values(layerParamShapes(config)).reduce((n, s) => n + sizeOf(s), 0);
  const embedding = config.vocabSize * config.dim;
  return (
    embedding + config.nLayers * perLayer + config.dim + (config.tiedEmbeddings ? 0 : embedding)
  );
}

/**
 * Checks that `params` has every weight `config` needs, each of the right size, and a classifier
 * exactly when the embeddings are untied. Throws a `ModelError` "shape_mismatch" or
 * "missing_tensor" whose path names the weight (e.g. `["layers", 3, "wk"]`).
 */
export function checkParams(config: LlamaConfig, params: LlamaParams): void {
  const { dim, vocabSize } = config;
  const check = (data: Float32Array | undefined, shape: number[], path: (string | number)[]) => {
    if (!(data instanceof Float32Array)) {
      throw new ModelError("missing_tensor", `missing weight, expected [${shape}]`, path);
    }
    if (data.length !== sizeOf(shape)) {
      throw new ModelError(
        "shape_mismatch",
        `expected [${shape}] = ${sizeOf(shape)} floats, got ${data.length}`,
        path,
      );
    }
  };
  check(params.tokEmbeddings, [vocabSize, dim], ["tokEmbeddings"]);
  if (params.layers.length !== config.nLayers) {
    throw new ModelError(
      "shape_mismatch",
      `expected ${config.nLayers} layers, got ${params.layers.length}`,
      ["layers"],
    );
  }
  const shapes = layerParamShapes(config);
  params.layers.forEach((layer, i) => {
    for (const name of LAYER_PARAM_NAMES) check(layer[name], shapes[name], ["layers", i, name]);
  });
  check(params.norm, [dim], ["norm"]);
  if (config.tiedEmbeddings) {
    if (params.output !== null) {
      throw new ModelError("unexpected_tensor", "tied embeddings take no classifier", ["output"]);
    }
  } else {
    check(params.output ?? undefined, [vocabSize, dim], ["output"]);
  }
}
