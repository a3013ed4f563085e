import { DataError, type RecordSource, type SourcedRecord } from "../types.js";
import { isJsonObject } from "./describe.js";
import { readerError } from "./errors.js";
import type { FileType } from "./file-type.js";
import {
  type DatasetFormat,
  detectFormat,
  notAnObjectError,
  parseRecord,
  unknownFormatError,
} from "./formats.js";
import type { RawItem } from "./json.js";
import type { ResolvedReadOptions } from "./options.js";

/** One skipped record: why, and where. */
export interface SkipReason {
  code: string;
  message: string;
  source: RecordSource;
  field: string | null;
}

/** What a read saw. Counts are exact; `skips` describes only the first few. */
export interface ReadReport {
  file: string;
  /** The container, once the file's first bytes were read (null before). */
  fileType: FileType | null;
  /** The format used: the one given, or the one detected (null until a record identified it). */
  format: DatasetFormat | null;
  /** True when the format comes from auto-detection (`format: "auto"`). */
  detected: boolean;
  /** Records seen: non-blank lines (JSON Lines) or array elements. */
  total: number;
  valid: number;
  skipped: number;
  /** Blank or whitespace-only lines, ignored (JSON Lines only). */
  blankLines: number;
  /** Skipped records per error code. */
  skippedByCode: Record<string, number>;
  /** The first `maxReportedSkips` skipped records, in file order. */
  skips: SkipReason[];
  /** True once the whole file has been read. */
  complete: boolean;
}

/**
 * Validates raw items one by one under a policy and keeps the report. Shared by the in-memory
 * and the streaming readers, so both count and skip identically.
 */
export class RecordCollector {
  private readonly options: ResolvedReadOptions;
  private readonly state: ReadReport;

  constructor(file: string, fileType: FileType | null, options: ResolvedReadOptions) {
    this.options = options;
    this.state = {
      file,
      fileType,
      format: options.format === "auto" ? null : options.format,
      detected: options.format === "auto",
      total: 0,
      valid: 0,
      skipped: 0,
      blankLines: 0,
      skippedByCode: {},
      skips: [],
      complete: false,
    };
  }

  /** Sets the container once a stream's first bytes have shown it. */
  setFileType(fileType: FileType): void {
    this.state.fileType = fileType;
  }

  blankLine(): void {
    this.state.blankLines++;
  }

  /**
   * The record of `item`, or null when it is invalid and skipped. Under `onInvalid: "error"`
   * an invalid item throws its `DataError`.
   */
  accept(item: RawItem): SourcedRecord | null {
    this.state.total++;
    try {
      if (item.error !== undefined) throw item.error;
      const record = parseRecord(item.value, this.formatFor(item), item.source);
      this.state.valid++;
      return { record, source: item.source };
    } catch (e) {
      if (!(e instanceof DataError) || this.options.onInvalid === "error") throw e;
      this.skip(e, item.source);
      return null;
    }
  }

  /** The fixed format, or the one `item` reveals (which then stays fixed). */
  private formatFor(item: RawItem & { error?: undefined }): DatasetFormat {
    if (this.state.format !== null) return this.state.format;
    if (!isJsonObject(item.value)) throw notAnObjectError(item.value, item.source);
    const format = detectFormat(item.value);
    if (format === null) throw unknownFormatError(item.value, item.source);
    this.state.format = format;
    return format;
  }

  private skip(error: DataError, source: RecordSource): void {
    const s = this.state;
    s.skipped++;
    s.skippedByCode[error.code] = (s.skippedByCode[error.code] ?? 0) + 1;
    if (s.skips.length < this.options.maxReportedSkips) {
      s.skips.push({ code: error.code, message: error.message, source, field: error.field });
    }
  }

  /**
   * Marks the read complete and returns the report. A file without records, or whose every
   * record was skipped, throws: training on nothing is never what was meant.
   */
  finish(): ReadReport {
    const s = this.state;
    s.complete = true;
    if (s.total === 0) {
      throw readerError(
        "empty_dataset",
        "expected at least one record, received an empty file (or only blank lines / [])",
        { file: s.file },
      );
    }
    if (s.valid === 0) {
      const first = s.skips[0]?.message ?? "";
      throw readerError(
        "no_valid_records",
        `expected at least one valid record, received ${s.total} invalid ones; first: ${first}`,
        { file: s.file },
      );
    }
    return this.report();
  }

  /** A copy of the report so far (final once `complete`). */
  report(): ReadReport {
    const s = this.state;
    return {
      ...s,
      skippedByCode: { ...s.skippedByCode },
      skips: s.skips.map((r) => ({ ...r, source: { ...r.source } })),
    };
  }
}
