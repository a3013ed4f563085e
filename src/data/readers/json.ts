import type { DataError, RecordSource } from "../types.js";
import { describeValue } from "./describe.js";
import { readerError } from "./errors.js";
import { locateJsonError } from "./json-locate.js";

/** One unvalidated item of a file: the parsed JSON value, or why it could not be parsed. */
export type RawItem =
  | { source: RecordSource; value: unknown; error?: undefined }
  | { source: RecordSource; error: DataError };

/** `JSON.parse`'s own words, minus the echo of the input that V8 appends. */
function syntaxMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/, ".*" is not valid JSON$/s, "");
}

/**
 * Parses one JSON Lines line (1-based `line`). A syntax error becomes an `invalid_json` item
 * (not a throw) so that the skip policy can count it like any other bad record.
 */
export function parseJsonLine(text: string, file: string, line: number, hint = ""): RawItem {
  const source: RecordSource = { file, line };
  try {
    return { source, value: JSON.parse(text) };
  } catch (e) {
    const at = locateJsonError(text);
    const where =
      at === null
        ? syntaxMessage(e)
        : `at column ${at.column}: expected ${at.expected}, received ${at.received}`;
    return {
      source,
      error: readerError(
        "invalid_json",
        `invalid JSON ${where} (expected one JSON object per line)${hint}`,
        source,
      ),
    };
  }
}

/**
 * Parses a whole JSON file that must be an array of records. A syntax error anywhere spoils
 * the whole file, so it throws (under either policy), naming the line, column and element.
 */
export function parseJsonArray(text: string, file: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const at = locateJsonError(text);
    if (at === null)
      throw readerError("invalid_json", `invalid JSON: ${syntaxMessage(e)}`, { file });
    const source: RecordSource =
      at.element === null ? { file, line: at.line } : { file, line: at.line, index: at.element };
    throw readerError(
      "invalid_json",
      `invalid JSON at column ${at.column}: expected ${at.expected}, received ${at.received}`,
      source,
    );
  }
  if (!Array.isArray(value)) {
    throw readerError(
      "invalid_top_level",
      `expected a JSON array of records (or JSON Lines: one object per line), received ` +
        describeValue(value),
      { file },
    );
  }
  return value;
}
