import type { RecordSource } from "../types.js";
import { describeValue, listKeys } from "./describe.js";
import { readerError } from "./errors.js";

/**
 * How one text field of a record is read. The formats are tables of these rules, so a new
 * format (or a new alias) is a new row, not new code.
 */
export interface TextFieldRule {
  /**
   * Keys tried in this order; aliases for the same field (Alpaca `output`, GPTeacher
   * `response`). Empty for a field the format does not have (GSM8K has no `input`).
   */
  keys: readonly string[];
  /** Absent or null is an error (`missing_field`) when true; otherwise it reads as `fallback`. */
  required: boolean;
  /** Value of an optional field that is absent or null. Default `""`. */
  fallback?: string;
  /**
   * Code raised when the value is empty or whitespace only, or null when empty is allowed.
   * Responses use `empty_response`: an empty target trains the model to stop at once.
   */
  blank: "empty_field" | "empty_response" | null;
}

/**
 * Reads the field `rule` describes from `obj`, or throws a `DataError` naming the field, what
 * was expected and what was received. `path` prefixes the field name for nested values
 * (`messages[2].`). Null counts as absent: JSON exporters write null for a missing column.
 */
export function readText(
  obj: Record<string, unknown>,
  rule: TextFieldRule,
  source: RecordSource,
  path = "",
): string {
  const present = rule.keys.filter((k) => Object.hasOwn(obj, k) && obj[k] !== null);
  const expected = rule.blank === null ? "a string" : "a non-empty string";
  if (present.length === 0) {
    if (!rule.required) return rule.fallback ?? "";
    const aliases = rule.keys.slice(1).map((k) => `"${k}"`);
    const alias = aliases.length === 0 ? "" : ` (or its alias ${aliases.join(", ")})`;
    const got = Object.hasOwn(obj, rule.keys[0]!) ? "null" : "nothing";
    throw readerError(
      "missing_field",
      `expected ${expected}${alias}, received ${got}; the record has keys ${listKeys(obj)}`,
      source,
      path + rule.keys[0]!,
    );
  }
  // Two aliases that both carry a value: taking either would silently drop the other.
  if (present.length > 1) {
    throw readerError(
      "invalid_field",
      `expected only one of ${present.map((k) => `"${k}"`).join(", ")}, received ` +
        (present.length === 2 ? "both" : "all of them"),
      source,
      path + present[0]!,
    );
  }
  const key = present[0]!;
  const value = obj[key];
  if (typeof value !== "string") {
    throw readerError(
      "invalid_field",
      `expected ${expected}, received ${describeValue(value)}`,
      source,
      path + key,
    );
  }
  if (rule.blank !== null && value.trim() === "") {
    throw readerError(
      rule.blank,
      `expected ${expected}, received ${describeValue(value)} (empty or whitespace only)`,
      source,
      path + key,
    );
  }
  return value;
}

/**
 * Reads a string field whose value must be one of `choices`' keys and returns what it maps to
 * (ShareGPT `from: "gpt"` → `"assistant"`).
 */
export function readChoice<T>(
  obj: Record<string, unknown>,
  key: string,
  choices: Readonly<Record<string, T>>,
  source: RecordSource,
  path = "",
): T {
  const value = obj[key];
  // hasOwn, not `in`: "constructor" or "toString" must not pass as a role.
  if (typeof value === "string" && Object.hasOwn(choices, value)) return choices[value]!;
  const allowed = Object.keys(choices)
    .map((k) => JSON.stringify(k))
    .join(", ");
  const code = value === undefined || value === null ? "missing_field" : "invalid_field";
  throw readerError(
    code,
    `expected one of ${allowed}, received ${describeValue(value)}`,
    source,
    path + key,
  );
}
