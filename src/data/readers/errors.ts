import { DataError, type RecordSource } from "../types.js";

/**
 * Every code a reader raises. `DataError.code` is a plain string (shared with tokenizers and
 * templates); this union keeps the readers' own codes typo-free and lists them in one place.
 *
 * - `invalid_json`: a JSONL line or a JSON file is not valid JSON.
 * - `invalid_encoding`: the bytes are not valid UTF-8.
 * - `invalid_top_level`: a JSON file is not an array, or a record is not an object.
 * - `missing_field`: a required field is absent (or null).
 * - `invalid_field`: a field has the wrong type or a value outside the allowed set.
 * - `empty_field`: a required text field (instruction, question) is empty or whitespace.
 * - `empty_response`: a response (output, answer, assistant content) is empty or whitespace.
 * - `missing_response`: a conversation has no assistant message to learn from.
 * - `unknown_format`: the format cannot be told from a record's keys, or is not a known name.
 * - `empty_dataset`: the file holds no record at all.
 * - `no_valid_records`: every record was invalid (skipped under `onInvalid: "skip"`).
 * - `invalid_option`: a reader option is out of range.
 */
export type ReaderErrorCode =
  | "invalid_json"
  | "invalid_encoding"
  | "invalid_top_level"
  | "missing_field"
  | "invalid_field"
  | "empty_field"
  | "empty_response"
  | "missing_response"
  | "unknown_format"
  | "empty_dataset"
  | "no_valid_records"
  | "invalid_option";

/** A `DataError` with a reader code (the message gets "file:line [index], field …" prepended). */
export function readerError(
  code: ReaderErrorCode,
  message: string,
  source: RecordSource | null = null,
  field: string | null = null,
): DataError {
  return new DataError(code, message, source, field);
}
