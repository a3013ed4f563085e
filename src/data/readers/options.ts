import { describeValue } from "./describe.js";
import { readerError } from "./errors.js";
import { DATASET_FORMATS, type DatasetFormat } from "./formats.js";

/** What to do with an invalid record: throw at the first one, or skip it (counted, reported). */
export type InvalidPolicy = "error" | "skip";

export interface ReadOptions {
  /**
   * Record format. Default `"auto"`: taken from the keys of the first record that has
   * `messages`, `conversations`, `instruction` or `question`, then fixed for the whole file
   * (records before it that identify no format are invalid).
   */
  format?: DatasetFormat | "auto";
  /** Default `"error"`: the first invalid record throws its `DataError`. */
  onInvalid?: InvalidPolicy;
  /** How many skipped records the report describes (all are counted). Default 20. */
  maxReportedSkips?: number;
}

export interface ResolvedReadOptions {
  format: DatasetFormat | "auto";
  onInvalid: InvalidPolicy;
  maxReportedSkips: number;
}

const POLICIES: readonly InvalidPolicy[] = ["error", "skip"];

/** Options with defaults applied; throws `unknown_format` / `invalid_option` on bad values. */
export function resolveReadOptions(options: ReadOptions = {}): ResolvedReadOptions {
  const { format = "auto", onInvalid = "error", maxReportedSkips = 20 } = options;
  if (format !== "auto" && !DATASET_FORMATS.includes(format)) {
    const names = ["auto", ...DATASET_FORMATS].map((f) => `"${f}"`).join(", ");
    throw readerError(
      "unknown_format",
      `expected one of ${names}, received ${describeValue(format)}`,
      null,
      "format",
    );
  }
  if (!POLICIES.includes(onInvalid)) {
    throw readerError(
      "invalid_option",
      `expected "error" or "skip", received ${describeValue(onInvalid)}`,
      null,
      "onInvalid",
    );
  }
  if (!Number.isSafeInteger(maxReportedSkips) || maxReportedSkips < 0) {
    throw readerError(
      "invalid_option",
      `expected a non-negative integer, received ${describeValue(maxReportedSkips)}`,
      null,
      "maxReportedSkips",
    );
  }
  return { format, onInvalid, maxReportedSkips };
}
