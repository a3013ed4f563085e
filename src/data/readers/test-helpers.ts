/** Shared by the reader tests (not exported from the package). */
import { expect } from "vitest";
import { DataError } from "../types.js";

/** The DataError `fn` throws (fails the test when it throws nothing or something else). */
export function errorOf(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error("expected a DataError, got none");
}
