/**
 * Dataset readers: Alpaca / GPTeacher, GSM8K, chat messages and ShareGPT, from JSON Lines or
 * JSON arrays, validated record by record. `node.ts` adds file access; the rest has no Node
 * imports (Workers import `read.ts` / `formats.ts` directly).
 */
export type { ReadReport, SkipReason } from "./collector.js";
export type { ReaderErrorCode } from "./errors.js";
export { detectFileType, type FileType } from "./file-type.js";
export {
  DATASET_FORMATS,
  type DatasetFormat,
  detectFormat,
  parseRecord,
} from "./formats.js";
export { loadDataset, readDataset } from "./node.js";
export type { InvalidPolicy, ReadOptions } from "./options.js";
export {
  type DatasetStream,
  type LoadedDataset,
  readRecordsFromChunks,
  readRecordsFromText,
} from "./read.js";
