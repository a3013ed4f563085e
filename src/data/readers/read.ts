import type { DataError, RecordSource, SourcedRecord } from "../types.js";
import { type ReadReport, RecordCollector } from "./collector.js";
import { detectFileType, type FileType, firstNonWhitespace, jsonLinesHint } from "./file-type.js";
import { parseJsonArray, parseJsonLine, type RawItem } from "./json.js";
import { byteLines, concat, decodeUtf8, decodeUtf8File, textLines } from "./lines.js";
import { type ReadOptions, resolveReadOptions } from "./options.js";

/**
 * Reading a dataset from text or bytes, without touching any file system: the same code runs
 * on Node (see `node.ts`), in Workers (over `fetch(...).body`) and in tests.
 */

/** A whole dataset in memory, with the report of its read. */
export interface LoadedDataset {
  records: SourcedRecord[];
  report: ReadReport;
}

/**
 * Records of a dataset, read as they are iterated. Iterate it once; `report()` gives the counts
 * so far, and the final ones (`complete: true`) after the loop ends. An invalid record throws
 * from the loop under `onInvalid: "error"`; a file with no valid record throws at its end.
 */
export interface DatasetStream extends AsyncIterable<SourcedRecord> {
  report(): ReadReport;
}

const BLANK = /^[ \t\r\n\uFEFF]*$/;

/** Raw items of a JSON Lines text (blank lines counted and left out). */
function* jsonLinesItems(
  lines: Iterable<string>,
  file: string,
  collector: RecordCollector,
): Generator<RawItem> {
  const hint = jsonLinesHint(file);
  let line = 0;
  for (const text of lines) {
    line++;
    if (BLANK.test(text)) collector.blankLine();
    else yield parseJsonLine(text, file, line, hint);
  }
}

/** Raw items of a JSON array text (throws when the text is not an array). */
function* jsonArrayItems(text: string, file: string): Generator<RawItem> {
  const values = parseJsonArray(text, file);
  for (let index = 0; index < values.length; index++) {
    yield { source: { file, index }, value: values[index] };
  }
}

function itemsOfText(
  text: string,
  file: string,
  type: FileType,
  collector: RecordCollector,
): Iterable<RawItem> {
  return type === "json"
    ? jsonArrayItems(text, file)
    : jsonLinesItems(textLines(text), file, collector);
}

/**
 * Reads a dataset held in memory. `fileName` names it in errors and decides the container
 * (see `file-type.ts`: `.jsonl` → JSON Lines; otherwise `[` → array, `{` → JSON Lines).
 * Options as `readDataset`; throws a `DataError` as described there.
 */
export function readRecordsFromText(
  text: string,
  fileName: string,
  options?: ReadOptions,
): LoadedDataset {
  const resolved = resolveReadOptions(options);
  const type = detectFileType(fileName, firstNonWhitespace(text));
  const collector = new RecordCollector(fileName, type, resolved);
  const records: SourcedRecord[] = [];
  // JSON.parse rejects a byte-order mark; editors on Windows write one.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (const item of itemsOfText(body, fileName, type, collector)) {
    const record = collector.accept(item);
    if (record !== null) records.push(record);
  }
  return { records, report: collector.finish() };
}

const WHITESPACE_BYTES = new Set([0x20, 0x09, 0x0a, 0x0d]);
const BOM = [0xef, 0xbb, 0xbf];

/** First non-whitespace character of a chunk as a one-char string (BOM skipped), or null. */
function firstNonWhitespaceByte(chunk: Uint8Array, atFileStart: boolean): string | null {
  let i = atFileStart && BOM.every((b, k) => chunk[k] === b) ? BOM.length : 0;
  while (i < chunk.length && WHITESPACE_BYTES.has(chunk[i]!)) i++;
  return i < chunk.length ? String.fromCharCode(chunk[i]!) : null;
}

/** `head` again, then the rest of `iterator`; returning from it closes `iterator`. */
async function* replay(
  head: Uint8Array[],
  iterator: AsyncIterator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  yield* head;
  yield* { [Symbol.asyncIterator]: () => iterator };
}

/** Raw item of one JSON Lines line; invalid UTF-8 becomes an item error (skippable). */
function lineItem(
  bytes: Uint8Array,
  source: RecordSource & { line: number },
  hint: string,
): RawItem | null {
  let text: string;
  try {
    text = decodeUtf8(bytes, source);
  } catch (e) {
    return { source, error: e as DataError };
  }
  return BLANK.test(text) ? null : parseJsonLine(text, source.file, source.line, hint);
}

async function* streamRecords(
  chunks: AsyncIterable<Uint8Array>,
  file: string,
  collector: RecordCollector,
): AsyncGenerator<SourcedRecord> {
  const iterator = chunks[Symbol.asyncIterator]();
  // Sniff the container from the first non-whitespace byte; keep what was read to replay it.
  const head: Uint8Array[] = [];
  let first: string | null = null;
  while (first === null) {
    const next = await iterator.next();
    if (next.done) break;
    first = firstNonWhitespaceByte(next.value, head.length === 0);
    head.push(next.value);
  }
  const type = detectFileType(file, first);
  collector.setFileType(type);
  const bytes = replay(head, iterator);

  if (type === "json") {
    // A JSON array is one value: it can only be parsed whole.
    const parts: Uint8Array[] = [];
    for await (const chunk of bytes) parts.push(chunk);
    const text = decodeUtf8File(concat(parts), file);
    for (const item of jsonArrayItems(text, file)) {
      const record = collector.accept(item);
      if (record !== null) yield record;
    }
  } else {
    const hint = jsonLinesHint(file);
    let line = 0;
    for await (const batch of byteLines(bytes)) {
      for (const lineBytes of batch) {
        line++;
        const item = lineItem(lineBytes, { file, line }, hint);
        if (item === null) {
          collector.blankLine();
          continue;
        }
        const record = collector.accept(item);
        if (record !== null) yield record;
      }
    }
  }
  collector.finish();
}

/**
 * Reads a dataset from a stream of UTF-8 bytes (a Node `Readable`, a web `ReadableStream`,
 * any async iterable of `Uint8Array`). JSON Lines are parsed line by line as the stream flows,
 * so memory stays bounded by one chunk plus one line; a JSON array is gathered and parsed
 * whole. `fileName` names the source in errors and, with the first byte, decides the container.
 */
export function readRecordsFromChunks(
  chunks: AsyncIterable<Uint8Array>,
  fileName: string,
  options?: ReadOptions,
): DatasetStream {
  const collector = new RecordCollector(fileName, null, resolveReadOptions(options));
  let iterated = false;
  return {
    report: () => collector.report(),
    [Symbol.asyncIterator]() {
      // A stream's bytes are consumed by the first pass; a second would silently see nothing.
      if (iterated) throw new Error(`${fileName}: already iterated; read it again for a new pass`);
      iterated = true;
      return streamRecords(chunks, fileName, collector);
    },
  };
}
