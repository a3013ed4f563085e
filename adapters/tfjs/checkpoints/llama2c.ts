/**
 * llama2.c checkpoints (`.bin`, the legacy "version 0" float32 format of run.c): parse from bytes
 * and serialize, runtime-agnostic. `loadLlama2cCheckpoint` in node.ts reads a file.
 *
 * Layout (little-endian): 7 × int32 header — dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size (negative: the classifier is stored, not shared), seq_len — then float32 arrays:
 * token embedding (vocab, dim); per-layer stacks of rms_att (dim), wq (dim, dim), wk, wv
 * (kvDim, dim), wo (dim, dim), rms_ffn (dim), w1 (hidden, dim), w2 (dim, hidden), w3 (hidden, dim);
 * rms_final (dim); the legacy RoPE tables freq_cis_real and _imag (seq_len · headSize/2 each,
 * unused: RoPE is computed); the classifier (vocab, dim) when vocab_size < 0.
 */
import { ModelError } from "../errors.js";
import { headSize, type LlamaConfig, llamaConfig } from "../model/config.js";
import {
  checkParams,
  LAYER_PARAM_NAMES,
  type LlamaCheckpoint,
  type LlamaLayerParams,
  layerParamShapes,
  sizeOf,
} from "../model/params.js";
import { readFloat32LE, writeFloat32LE } from "./bytes.js";

const HEADER_BYTES = 7 * 4;
/** First int32 of llama2.c's newer "version 1/2" files ("ak42"). */
const VERSIONED_MAGIC = 0x616b3432;

/**
 * A checkpoint from the bytes of a llama2.c `.bin` file. Throws a `ModelError`
 * "invalid_checkpoint" when the header is not a valid config or the size does not match it
 * ("expected N floats after the header, file has M").
 */
export function parseLlama2c(bytes: Uint8Array): LlamaCheckpoint {
  if (bytes.byteLength < HEADER_BYTES) {
    throw invalid(`file has ${bytes.byteLength} bytes, shorter than the 28-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const header = Array.from({ length: 7 }, (_, i) => view.getInt32(4 * i, true));
  if (header[0] === VERSIONED_MAGIC) {
    throw invalid(
      "a versioned llama2.c file (magic ak42); only the legacy version-0 format is read",
    );
  }
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, signedVocab, seqLen] = header;
  let config: LlamaConfig;
  try {
    config = llamaConfig({
      dim,
      hiddenDim,
      nLayers,
      nHeads,
      nKvHeads,
      vocabSize: Math.abs(signedVocab),
      seqLen,
      tiedEmbeddings: signedVocab > 0,
    });
  } catch (error) {
    throw invalid(`header [${header}] is not a Llama config: ${(error as Error).message}`);
  }

  const expected = floatCount(config);
  const available = (bytes.byteLength - HEADER_BYTES) / 4;
  if (available !== expected) {
    throw invalid(
      `expected ${expected} floats after the header [${header}], file has ${available}` +
        ` (${bytes.byteLength} bytes)`,
    );
  }
  let offset = HEADER_BYTES;
  const take = (count: number): Float32Array => {
    const values = readFloat32LE(bytes, offset, count);
    offset += 4 * count;
    return values;
  };

  const shapes = layerParamShapes(config);
  const tokEmbeddings = take(config.vocabSize * dim);
  // The file stores each weight for all layers, one after another: (n_layers, …).
  const stacks = {} as Record<keyof LlamaLayerParams, Float32Array[]>;
  for (const name of LAYER_PARAM_NAMES) {
    stacks[name] = Array.from({ length: nLayers }, () => take(sizeOf(shapes[name])));
  }
  const layers = Array.from({ length: nLayers }, (_, i) => {
    const layer = {} as LlamaLayerParams;
    for (const name of LAYER_PARAM_NAMES) layer[name] = stacks[name][i];
    return layer;
  });
  const norm = take(dim);
  offset += 4 * legacyRopeFloats(config);
  const output = config.tiedEmbeddings ? null : take(config.vocabSize * dim);
  return { config, params: { tokEmbeddings, layers, norm, output } };
}

/**
 * The legacy `.bin` bytes of `checkpoint` (as llama2.c's `legacy_export`), RoPE tables included,
 * so that run.c and `parseLlama2c` read it. llama2.c has no field for `normEps` or `ropeTheta`:
 * a config other than 1e-5 and 10000 is refused rather than silently changed.
 */
export function serializeLlama2c(checkpoint: LlamaCheckpoint): Uint8Array {
  const { config, params } = checkpoint;
  checkParams(config, params);
  if (config.normEps !== 1e-5 || config.ropeTheta !== 10000) {
    throw new ModelError(
      "invalid_config",
      `llama2.c files imply normEps 1e-5 and ropeTheta 10000, got ${config.normEps} and ${config.ropeTheta}`,
    );
  }
  const bytes = new Uint8Array(HEADER_BYTES + 4 * floatCount(config));
  const view = new DataView(bytes.buffer);
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen } = config;
  const vocab = config.tiedEmbeddings ? vocabSize : -vocabSize;
  [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen].forEach((v, i) => {
    view.setInt32(4 * i, v, true);
  });
  let offset = HEADER_BYTES;
  const put = (values: Float32Array) => {
    writeFloat32LE(bytes, offset, values);
    offset += values.byteLength;
  };
  put(params.tokEmbeddings);
  for (const name of LAYER_PARAM_NAMES) for (const layer of params.layers) put(layer[name]);
  put(params.norm);
  const { real, imag } = legacyRopeTables(config);
  put(real);
  put(imag);
  if (params.output !== null) put(params.output);
  return bytes;
}

/** Floats after the header for `config`: weights, legacy RoPE tables, classifier if unshared. */
function floatCount(config: LlamaConfig): number {
  const perLayer = Object.values(layerParamShapes(config)).reduce((n, s) => n + sizeOf(s), 0);
  const embedding = config.vocabSize * config.dim;
  const classifier = config.tiedEmbeddings ? 0 : embedding;
  return embedding + config.nLayers * perLayer + config.dim + legacyRopeFloats(config) + classifier;
}

/** freq_cis_real + freq_cis_imag: (seq_len, headSize/2) each. */
function legacyRopeFloats(config: LlamaConfig): number {
  return 2 * config.seqLen * (headSize(config) / 2);
}

/** llama2.c model.py `precompute_freqs_cis(headSize, seqLen)`: cos and sin of pos · freq_i. */
function legacyRopeTables(config: LlamaConfig): { real: Float32Array; imag: Float32Array } {
  const half = headSize(config) / 2;
  const real = new Float32Array(config.seqLen * half);
  const imag = new Float32Array(config.seqLen * half);
  for (let i = 0; i < half; i++) {
    const freq = Math.fround(1 / config.ropeTheta ** ((2 * i) / headSize(config)));
    for (let pos = 0; pos < config.seqLen; pos++) {
      const angle = Math.fround(pos * freq);
      real[pos * half + i] = Math.cos(angle);
      imag[pos * half + i] = Math.sin(angle);
    }
  }
  return { real, imag };
}

function invalid(message: string): ModelError {
  return new ModelError("invalid_checkpoint", `not a llama2.c checkpoint: ${message}`);
}
