export { type BatchSpec, batchBoundaries, collate, type TokenBatch } from "./batching.js";
export { buildCorpus, type CorpusOptions, type CorpusReport, TokenizedCorpus } from "./corpus.js";
export {
  type EncodeOptions,
  type EncodeResult,
  encodeSegments,
  type TruncationPolicy,
} from "./encode.js";
export * from "./readers/index.js";
export * from "./synthetic/index.js";
export * from "./templates/index.js";
export * from "./tokenizers/index.js";
export * from "./types.js";
