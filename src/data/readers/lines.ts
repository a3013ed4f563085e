import type { RecordSource } from "../types.js";
import { readerError } from "./errors.js";

/**
 * Line splitting for JSON Lines. Bytes are split at "\n" before decoding: in UTF-8 that byte
 * never occurs inside a multi-byte character, so this is safe, and decoding line by line lets
 * an invalid-UTF-8 error name its line. A "\r" before "\n" needs no handling: it is JSON
 * whitespace, and blank-line detection trims it.
 */

const NEWLINE = 0x0a;

/** Lines of an in-memory text, without their "\n". A final line without "\n" is included. */
export function* textLines(text: string): Generator<string> {
  let start = 0;
  for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
    yield text.slice(start, nl);
    start = nl + 1;
  }
  if (start < text.length) yield text.slice(start);
}

/** The bytes of `parts`, joined. */
export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Lines of a byte stream (without their "\n"), as one batch per chunk: a batch costs one
 * `await` instead of one per line. Only the current chunk and an unfinished line are held, so
 * memory does not grow with the file.
 */
export async function* byteLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array[]> {
  // Pieces of a line that spans chunks, joined once its "\n" arrives.
  let pending: Uint8Array[] = [];
  for await (const chunk of chunks) {
    let start = 0;
    let nl = chunk.indexOf(NEWLINE);
    if (nl === -1) {
      if (chunk.length > 0) pending.push(chunk);
      continue;
    }
    const batch: Uint8Array[] = [];
    while (nl !== -1) {
      const piece = chunk.subarray(start, nl);
      batch.push(pending.length === 0 ? piece : concat([...pending, piece]));
      pending = [];
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    // Copy the tail: a subarray would keep the whole chunk alive until the line completes.
    if (start < chunk.length) pending.push(chunk.slice(start));
    yield batch;
  }
  if (pending.length > 0) yield [concat(pending)];
}

// fatal: invalid bytes must be reported, not silently replaced by U+FFFD.
const decoder = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 text of `bytes`, or an `invalid_encoding` error at `source`. */
export function decodeUtf8(bytes: Uint8Array, source: RecordSource): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw readerError("invalid_encoding", "expected UTF-8 text, received invalid bytes", source);
  }
}

/**
 * UTF-8 text of a whole file, or an `invalid_encoding` error naming the first line that holds
 * invalid bytes (found by decoding line by line, only after the whole decode failed).
 */
export function decodeUtf8File(bytes: Uint8Array, file: string): string {
  try {
    return decoder.decode(bytes);
  } catch {
    let line = 1;
    for (let start = 0; start <= bytes.length; line++) {
      const nl = bytes.indexOf(NEWLINE, start);
      const end = nl === -1 ? bytes.length : nl;
      decodeUtf8(bytes.subarray(start, end), { file, line });
      start = end + 1;
    }
    // Unreachable unless the failure spans a line break, which UTF-8 makes impossible.
    throw readerError("invalid_encoding", "expected UTF-8 text, received invalid bytes", { file });
  }
}
