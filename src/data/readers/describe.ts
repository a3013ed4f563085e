/**
 * How error messages name a received value: its JSON type plus a short preview, so that
 * "expected a string, received number 42" tells the user what to fix without opening the file.
 */

/** JSON type names as users know them (`typeof` says "object" for arrays and null). */
export type JsonType = "null" | "array" | "object" | "string" | "number" | "boolean" | "undefined";

/** Longest string preview in a message; enough to recognise a value, short enough for a log. */
const PREVIEW_CHARS = 40;
/** Most keys listed when describing an object. */
const PREVIEW_KEYS = 8;

export function jsonType(value: unknown): JsonType {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  const t = typeof value;
  if (t === "string" || t === "number" || t === "boolean" || t === "undefined") return t;
  return "object";
}

/** A plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return jsonType(value) === "object";
}

/** `s` quoted as JSON, cut to PREVIEW_CHARS characters. */
export function previewString(s: string): string {
  return s.length <= PREVIEW_CHARS
    ? JSON.stringify(s)
    : `${JSON.stringify(s.slice(0, PREVIEW_CHARS))}… (${s.length} chars)`;
}

/** The keys of an object, listed for a message: `[a, b, c]`, cut to PREVIEW_KEYS. */
export function listKeys(obj: Record<string, unknown>): string {
  const keys = Object.keys(obj);
  const shown = keys.slice(0, PREVIEW_KEYS).join(", ");
  return keys.length > PREVIEW_KEYS ? `[${shown}, … ${keys.length} keys]` : `[${shown}]`;
}

/** `1 item`, `3 items`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** What was received, for "expected X, received Y": type plus a preview of the value. */
export function describeValue(value: unknown): string {
  const type = jsonType(value);
  switch (type) {
    case "undefined":
      return "nothing (absent)";
    case "null":
      return "null";
    case "string":
      return `string ${previewString(value as string)}`;
    case "number":
    case "boolean":
      return `${type} ${String(value)}`;
    case "array":
      return `array of ${plural((value as unknown[]).length, "item")}`;
    case "object":
      return `object with keys ${listKeys(value as Record<string, unknown>)}`;
  }
}
