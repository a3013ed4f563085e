/**
 * Which container a dataset file is: JSON Lines (one record per line, streamed) or one JSON
 * array (read whole).
 *
 * Decision: `.jsonl` and `.ndjson` are always JSON Lines. Any other name (`.json` included)
 * is decided by its first non-whitespace character: `[` → a JSON array; `{` → JSON Lines,
 * because Hugging Face `Dataset.to_json` and many exporters write JSON Lines under `.json`;
 * anything else → read as a JSON file, which then fails with "expected a JSON array"; an empty
 * or blank file is JSON Lines with no lines (and fails with `empty_dataset`).
 * A single pretty-printed object in a `.json` file therefore fails on its line 1 (the hint in
 * that error says why); a dataset in one JSON document must be an array.
 */
export type FileType = "jsonl" | "json";

const JSONL_EXTENSIONS = [".jsonl", ".ndjson"];

/** True when the name alone says JSON Lines. */
export function isJsonLinesName(fileName: string): boolean {
  const lower = fileName.toLowerCase();
  return JSONL_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** The container of `fileName`, given its first non-whitespace character (null: none). */
export function detectFileType(fileName: string, firstChar: string | null): FileType {
  if (isJsonLinesName(fileName) || firstChar === "{" || firstChar === null) return "jsonl";
  return "json";
}

/** The hint appended to line-level JSON errors of a file read as JSON Lines by its content. */
export function jsonLinesHint(fileName: string): string {
  return isJsonLinesName(fileName)
    ? ""
    : `; ${fileName} starts with "{", so it is read as JSON Lines — a dataset in one JSON` +
        " document must be an array of records";
}

/** First character of `text` that is not JSON whitespace (or a byte-order mark), or null. */
export function firstNonWhitespace(text: string): string | null {
  const m = /[^ \t\n\r\uFEFF]/.exec(text);
  return m === null ? null : m[0];
}
