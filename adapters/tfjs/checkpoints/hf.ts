/**
 * Hugging Face `LlamaForCausalLM` checkpoints (`config.json` + safetensors tensors) ↔ our
 * checkpoints, from and to data (node.ts reads and writes folders).
 *
 * RoPE: llama2.c rotates consecutive pairs (2i, 2i+1) of each head; HF's `rotate_half` rotates
 * (i, i + headSize/2). HF's conversion scripts therefore permute the rows of q_proj and k_proj
 * within each head (llama2.c `export.py` `permute_original`, transformers
 * `convert_llama_weights_to_hf.py` `permute`): llama2.c row 2i + j becomes HF row j·headSize/2 + i.
 * Both compute the same function. We export permuted and un-permute on load, so the model (which
 * follows llama2.c) is identical whichever format it came from.
 */
import { ModelError } from "../errors.js";
import { headSize, type LlamaConfig, llamaConfig } from "../model/config.js";
import {
  checkParams,
  type LlamaCheckpoint,
  type LlamaLayerParams,
  layerParamShapes,
} from "../model/params.js";
import type { SafetensorsTensor, TensorToWrite } from "./safetensors.js";

/** HF name of each block weight, after `model.layers.{i}.`. */
const HF_LAYER_NAMES: Record<keyof LlamaLayerParams, string> = {
  attentionNorm: "input_layernorm.weight",
  wq: "self_attn.q_proj.weight",
  wk: "self_attn.k_proj.weight",
  wv: "self_attn.v_proj.weight",
  wo: "self_attn.o_proj.weight",
  ffnNorm: "post_attention_layernorm.weight",
  w1: "mlp.gate_proj.weight",
  w2: "mlp.down_proj.weight",
  w3: "mlp.up_proj.weight",
};
const EMBEDDING = "model.embed_tokens.weight";
const NORM = "model.norm.weight";
const HEAD = "lm_head.weight";
/** Buffers some older checkpoints store; recomputed from the config, so ignored. */
const IGNORED = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;

/**
 * Our config from an HF `config.json` object. Throws a `ModelError` "invalid_config" naming the
 * field for a missing size or a feature this model does not implement (biases, rope_scaling, an
 * activation other than silu, a head_dim other than hidden_size / num_attention_heads).
 */
export function configFromHf(json: unknown): LlamaConfig {
  if (typeof json !== "object" || json === null)
    throw badConfig("config.json is not an object", []);
  const c = json as Record<string, unknown>;
  const num = (field: string, fallback?: number): number => {
    const value = c[field] ?? fallback;
    if (typeof value !== "number") throw badConfig(`${field} is missing or not a number`, [field]);
    return value;
  };
  if (c.model_type !== undefined && c.model_type !== "llama") {
    throw badConfig(`model_type "${String(c.model_type)}" is not "llama"`, ["model_type"]);
  }
  const unsupported: [string, boolean][] = [
    ["hidden_act", c.hidden_act !== undefined && c.hidden_act !== "silu"],
    ["attention_bias", c.attention_bias === true],
    ["mlp_bias", c.mlp_bias === true],
    ["rope_scaling", c.rope_scaling !== undefined && c.rope_scaling !== null],
  ];
  for (const [field, bad] of unsupported) {
    if (bad) throw badConfig(`${field} = ${JSON.stringify(c[field])} is not supported`, [field]);
  }
  const nHeads = num("num_attention_heads");
  const config = llamaConfig({
    dim: num("hidden_size"),
    hiddenDim: num("intermediate_size"),
    nLayers: num("num_hidden_layers"),
    nHeads,
    nKvHeads: num("num_key_value_heads", nHeads),
    vocabSize: num("vocab_size"),
    // transformers' LlamaConfig defaults, for the fields it lets configs omit.
    seqLen: num("max_position_embeddings", 2048),
    normEps: num("rms_norm_eps", 1e-6),
    ropeTheta: num("rope_theta", 10000),
    tiedEmbeddings: c.tie_word_embeddings === true,
  });
  if (c.head_dim !== undefined && c.head_dim !== null && c.head_dim !== headSize(config)) {
    throw badConfig(`head_dim ${String(c.head_dim)} is not hidden_size / num_attention_heads`, [
      "head_dim",
    ]);
  }
  return config;
}

/** The HF `config.json` object of `config` (every field explicit, no transformers defaults relied on). */
export function configToHf(config: LlamaConfig): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: config.dim,
    intermediate_size: config.hiddenDim,
    num_hidden_layers: config.nLayers,
    num_attention_heads: config.nHeads,
    num_key_value_heads: config.nKvHeads,
    head_dim: headSize(config),
    vocab_size: config.vocabSize,
    max_position_embeddings: config.seqLen,
    rms_norm_eps: config.normEps,
    rope_theta: config.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: config.tiedEmbeddings,
    hidden_act: "silu",
    attention_bias: false,
    mlp_bias: false,
    // llama2.c's sentencepiece ids; a tokenizer's own config may say otherwise.
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: "float32",
  };
}

/**
 * A checkpoint from an HF config object and its tensors (e.g. `parseSafetensors(...).tensors`,
 * shards merged). Every tensor's name and shape is checked: a `ModelError` "missing_tensor",
 * "shape_mismatch" ("expected [32, 64], got [64, 64]") or "unexpected_tensor" names it.
 */
export function checkpointFromHf(
  configJson: unknown,
  tensors: ReadonlyMap<string, SafetensorsTensor>,
): LlamaCheckpoint {
  const config = configFromHf(configJson);
  const { dim, vocabSize, nHeads, nKvHeads } = config;
  const used = new Set<string>();
  const take = (name: string, shape: number[]): Float32Array => {
    const tensor = tensors.get(name);
    if (tensor === undefined) {
      throw new ModelError("missing_tensor", `tensor ${name} [${shape}] is missing`, [name]);
    }
    if (tensor.shape.length !== shape.length || tensor.shape.some((s, i) => s !== shape[i])) {
      throw new ModelError(
        "shape_mismatch",
        `tensor ${name}: expected shape [${shape}], got [${tensor.shape}]`,
        [name],
      );
    }
    used.add(name);
    return tensor.data;
  };

  const shapes = layerParamShapes(config);
  const tokEmbeddings = take(EMBEDDING, [vocabSize, dim]);
  const layers = Array.from({ length: config.nLayers }, (_, i) => {
    const layer = {} as LlamaLayerParams;
    for (const [key, suffix] of Object.entries(HF_LAYER_NAMES) as [
      keyof LlamaLayerParams,
      string,
    ][]) {
      layer[key] = take(`model.layers.${i}.${suffix}`, shapes[key]);
    }
    layer.wq = unpermuteRotaryRows(layer.wq, nHeads, dim);
    layer.wk = unpermuteRotaryRows(layer.wk, nKvHeads, dim);
    return layer;
  });
  const norm = take(NORM, [dim]);
  // With tied embeddings transformers ignores a stored lm_head (it is the embedding); so do we.
  const output = tensors.has(HEAD) || !config.tiedEmbeddings ? take(HEAD, [vocabSize, dim]) : null;
  for (const name of tensors.keys()) {
    if (!used.has(name) && !IGNORED.test(name)) {
      throw new ModelError("unexpected_tensor", `tensor ${name} is not part of a Llama`, [name]);
    }
  }
  return {
    config,
    params: { tokEmbeddings, layers, norm, output: config.tiedEmbeddings ? null : output },
  };
}

/** The HF `config.json` object and named tensors (HF row order) of `checkpoint`. */
export function checkpointToHf(checkpoint: LlamaCheckpoint): {
  config: Record<string, unknown>;
  tensors: Map<string, TensorToWrite>;
} {
  const { config, params } = checkpoint;
  checkParams(config, params);
  const { dim, vocabSize, nHeads, nKvHeads } = config;
  const shapes = layerParamShapes(config);
  const tensors = new Map<string, TensorToWrite>();
  tensors.set(EMBEDDING, { shape: [vocabSize, dim], data: params.tokEmbeddings });
  params.layers.forEach((layer, i) => {
    for (const [key, suffix] of Object.entries(HF_LAYER_NAMES) as [
      keyof LlamaLayerParams,
      string,
    ][]) {
      let data = layer[key];
      if (key === "wq") data = permuteRotaryRows(data, nHeads, dim);
      if (key === "wk") data = permuteRotaryRows(data, nKvHeads, dim);
      tensors.set(`model.layers.${i}.${suffix}`, { shape: shapes[key], data });
    }
  });
  tensors.set(NORM, { shape: [dim], data: params.norm });
  if (params.output !== null) tensors.set(HEAD, { shape: [vocabSize, dim], data: params.output });
  return { config: configToHf(config), tensors };
}

/**
 * llama2.c → HF row order of a q or k projection (nHeads · headSize, cols): within each head,
 * row 2i + j moves to j·headSize/2 + i. PyTorch:
 * `w.view(n_heads, hs // 2, 2, cols).transpose(1, 2).reshape(rows, cols)`.
 */
export function permuteRotaryRows(w: Float32Array, nHeads: number, cols: number): Float32Array {
  return moveRows(w, nHeads, cols, (i, j, half) => [2 * i + j, j * half + i]);
}

/** HF → llama2.c row order: the inverse of `permuteRotaryRows`. */
export function unpermuteRotaryRows(w: Float32Array, nHeads: number, cols: number): Float32Array {
  return moveRows(w, nHeads, cols, (i, j, half) => [j * half + i, 2 * i + j]);
}

/** Copies row `from` to row `to` of each head, for every pair index i < half and j ∈ {0, 1}. */
function moveRows(
  w: Float32Array,
  nHeads: number,
  cols: number,
  rows: (i: number, j: number, half: number) => [from: number, to: number],
): Float32Array {
  const hs = w.length / cols / nHeads;
  const half = hs / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const [from, to] = rows(i, j, half);
        out.set(
          w.subarray((h * hs + from) * cols, (h * hs + from + 1) * cols),
          (h * hs + to) * cols,
        );
      }
    }
  }
  return out;
}

function badConfig(message: string, path: string[]): ModelError {
  return new ModelError("invalid_config", `config.json: ${message}`, path);
}
