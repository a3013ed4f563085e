import { createReadStream } from "node:fs";
import type { ReadOptions } from "./options.js";
import { type DatasetStream, type LoadedDataset, readRecordsFromChunks } from "./read.js";

/**
 * The only file-system access of the readers (everything else runs without Node APIs).
 */

/** Chunk size of the file stream: large enough that per-chunk overhead vanishes. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Reads the dataset at `path` as records, streamed as they are iterated.
 *
 * - Container: `.jsonl` / `.ndjson` are JSON Lines, streamed (a 1M-line file never sits in
 *   memory); other names are decided by the first non-whitespace byte: `[` → one JSON array,
 *   read whole (JSON has no record boundaries before the array is parsed), `{` → JSON Lines.
 * - `options.format`: default `"auto"` (from the first record's keys); `"alpaca"` (also
 *   GPTeacher's `response`), `"gsm8k"`, `"chat"` or `"sharegpt"`.
 * - `options.onInvalid`: default `"error"` (the first invalid record throws a `DataError` naming
 *   file, line or index, field, expected and received); `"skip"` skips, counts and reports.
 * - Blank lines are ignored. A file with no record, or with no valid one, throws at its end.
 *
 * ```ts
 * const stream = readDataset("train.jsonl", { onInvalid: "skip" });
 * for await (const { record, source } of stream) { ... }
 * console.log(stream.report()); // { total, valid, skipped, skips: [...first 20], ... }
 * ```
 */
export function readDataset(path: string, options?: ReadOptions): DatasetStream {
  return readRecordsFromChunks(
    createReadStream(path, { highWaterMark: CHUNK_BYTES }),
    path,
    options,
  );
}

/** Reads the whole dataset at `path` into memory; options and errors as `readDataset`. */
export async function loadDataset(path: string, options?: ReadOptions): Promise<LoadedDataset> {
  const stream = readDataset(path, options);
  const records = [];
  for await (const record of stream) records.push(record);
  return { records, report: stream.report() };
}
