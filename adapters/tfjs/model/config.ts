/**
 * The Llama configuration: one plain object, every field commented, defaults filled by
 * `llamaConfig`. Names follow llama2.c (`dim`, `hidden_dim`, …); the Hugging Face names are given
 * in each comment.
 */
import { ModelError } from "../errors.js";

/** A Llama architecture, as llama2.c's `ModelArgs` / Hugging Face's `LlamaConfig` describe it. */
export interface LlamaConfig {
  /** Model width: size of every token's residual vector (HF `hidden_size`). */
  dim: number;
  /** Inner width of the SwiGLU feed-forward block (HF `intermediate_size`). */
  hiddenDim: number;
  /** Number of transformer blocks (HF `num_hidden_layers`). */
  nLayers: number;
  /** Query heads; head size = dim / nHeads (HF `num_attention_heads`). */
  nHeads: number;
  /**
   * Key/value heads (HF `num_key_value_heads`). Fewer than `nHeads` is grouped-query attention:
   * query head h reads kv head ⌊h / (nHeads / nKvHeads)⌋, as run.c does.
   */
  nKvHeads: number;
  /** Vocabulary size: rows of the token embedding and of the classifier (HF `vocab_size`). */
  vocabSize: number;
  /** Longest sequence the model may see (HF `max_position_embeddings`); forward refuses longer. */
  seqLen: number;
  /** Epsilon inside RMSNorm's square root (HF `rms_norm_eps`). Default 1e-5, as llama2.c. */
  normEps: number;
  /** RoPE base: pair i of a head turns at angle pos · theta^(−2i/headSize). Default 10000. */
  ropeTheta: number;
  /** The classifier is the token embedding (llama2.c: positive vocab_size in the header). */
  tiedEmbeddings: boolean;
}

/** What `llamaConfig` accepts: the fields that have defaults may be left out. */
export type LlamaConfigInput = Omit<LlamaConfig, "normEps" | "ropeTheta"> &
  Partial<Pick<LlamaConfig, "normEps" | "ropeTheta">>;

/**
 * A validated config with defaults (`normEps` 1e-5, `ropeTheta` 10000). Throws a `ModelError`
 * "invalid_config" naming the field when a size is not a positive integer, when `dim` is not a
 * multiple of `nHeads`, when `nHeads` is not a multiple of `nKvHeads`, or when the head size is odd
 * (RoPE rotates pairs).
 *
 * @example
 * const config = llamaConfig({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4,
 *   vocabSize: 512, seqLen: 512, tiedEmbeddings: true });
 */
export function llamaConfig(input: LlamaConfigInput): LlamaConfig {
  const config: LlamaConfig = { normEps: 1e-5, ropeTheta: 10000, ...input };
  const sizes = ["dim", "hiddenDim", "nLayers", "nHeads", "nKvHeads", "vocabSize", "seqLen"];
  for (const field of sizes as (keyof LlamaConfig)[]) {
    const value = config[field];
    if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
      throw invalid(`${field} must be a positive integer, got ${String(value)}`, field);
    }
  }
  for (const field of ["normEps", "ropeTheta"] as const) {
    if (!(config[field] > 0) || !Number.isFinite(config[field])) {
      throw invalid(`${field} must be a positive number, got ${config[field]}`, field);
    }
  }
  if (typeof config.tiedEmbeddings !== "boolean") {
    throw invalid(`tiedEmbeddings must be a boolean`, "tiedEmbeddings");
  }
  if (config.dim % config.nHeads !== 0) {
    throw invalid(`dim ${config.dim} is not a multiple of nHeads ${config.nHeads}`, "dim");
  }
  if (config.nHeads % config.nKvHeads !== 0) {
    throw invalid(
      `nHeads ${config.nHeads} is not a multiple of nKvHeads ${config.nKvHeads}`,
      "nKvHeads",
    );
  }
  if (headSize(config) % 2 !== 0) {
    throw invalid(`head size ${headSize(config)} is odd; RoPE rotates pairs`, "nHeads");
  }
  return config;
}

/** Width of one attention head: dim / nHeads. */
export function headSize(config: LlamaConfig): number {
  return config.dim / config.nHeads;
}

/** Width of the key (and of the value) projection: nKvHeads · headSize. */
export function kvDim(config: LlamaConfig): number {
  return config.nKvHeads * headSize(config);
}

function invalid(message: string, field: string): ModelError {
  return new ModelError("invalid_config", message, [field]);
}
