/**
 * A tokenized corpus: every kept example's tokens and target mask in two flat typed arrays with
 * offsets (no per-example objects: 1M examples stay a few arrays), plus the preparation report.
 * Example ids are 0 … size−1 in reading order; `sources` maps them back to file positions.
 */
import { type EncodeOptions, encodeSegments } from "./encode.js";
import type { Template } from "./templates/segments.js";
import { DataError, type RecordSource, type SourcedRecord, type Tokenizer } from "./types.js";

export interface CorpusReport {
  /** Records read from the dataset (after the reader's own skips). */
  records: number;
  /** Examples kept in the corpus. */
  examples: number;
  /** Kept examples that were shortened to fit `maxLength`. */
  truncated: number;
  /** Left out: longer than maxLength under the "drop" policy. */
  droppedTooLong: number;
  /** Left out: no target token left after truncation (or an empty response). */
  droppedNoTarget: number;
  /** Left out: the template refused the record (onInvalid "skip"). */
  droppedTemplate: number;
  /** Tokens (BOS … EOS) and target tokens over kept examples. */
  tokens: number;
  targetTokens: number;
  /** First few reasons examples were left out, with their sources. */
  samples: Array<{ reason: string; source: RecordSource }>;
}

export interface CorpusOptions extends EncodeOptions {
  tokenizer: Tokenizer;
  template: Template;
  /** What to do when the template refuses a record. Default "error". */
  onInvalid?: "error" | "skip";
}

class GrowableU32 {
  data = new Uint32Array(1024);
  length = 0;
  push(values: ArrayLike<number>): void {
    if (this.length + values.length > this.data.length) {
      let capacity = this.data.length * 2;
      while (capacity < this.length + values.length) capacity *= 2;
      const next = new Uint32Array(capacity);
      next.set(this.data.subarray(0, this.length));
      this.data = next;
    }
    this.data.set(values as ArrayLike<number>, this.length);
    this.length += values.length;
  }
  trimmed(): Uint32Array {
    return this.data.slice(0, this.length);
  }
}

export class TokenizedCorpus {
  readonly size: number;
  /** All tokens, example after example (Int32, the layout trainers feed to models as is). */
  readonly tokens: Int32Array;
  /** 1 where the token is a target. Same layout as `tokens`. */
  readonly targets: Uint8Array;
  /** Example i is tokens[offsets[i] … offsets[i+1]). */
  readonly offsets: Uint32Array;
  readonly sources: RecordSource[];
  readonly report: CorpusReport;

  private readonly targetCounts: Uint32Array;

  constructor(
    tokens: Int32Array,
    targets: Uint8Array,
    offsets: Uint32Array,
    sources: RecordSource[],
    report: CorpusReport,
  ) {
    this.size = offsets.length - 1;
    this.tokens = tokens;
    this.targets = targets;
    this.offsets = offsets;
    this.sources = sources;
    this.report = report;
    this.targetCounts = new Uint32Array(this.size);
    for (let i = 0; i < this.size; i++) {
      let n = 0;
      for (let t = offsets[i]; t < offsets[i + 1]; t++) n += targets[t];
      this.targetCounts[i] = n;
    }
  }

  lengthOf(id: number): number {
    return this.offsets[id + 1] - this.offsets[id];
  }

  /** Tokens (BOS … EOS) per example. */
  lengths(): Uint32Array {
    const out = new Uint32Array(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.offsets[i + 1] - this.offsets[i];
    return out;
  }

  /** Target (response) tokens per example. */
  targetLengths(): Uint32Array {
    return this.targetCounts.slice();
  }

  targetCountOf(id: number): number {
    return this.targetCounts[id];
  }

  example(id: number): { tokens: Int32Array; targets: Uint8Array } {
    const a = this.offsets[id];
    const b = this.offsets[id + 1];
    return { tokens: this.tokens.subarray(a, b), targets: this.targets.subarray(a, b) };
  }

  /** A 32-bit fingerprint of the tokens, to check a resumed run sees the same data. */
  fingerprint(): string {
    let h = 0x811c9dc5 ^ this.size;
    for (let i = 0; i < this.tokens.length; i++) h = Math.imul(h ^ this.tokens[i], 0x01000193);
    for (let i = 0; i < this.offsets.length; i++) h = Math.imul(h ^ this.offsets[i], 0x01000193);
    return (h >>> 0).toString(16).padStart(8, "0");
  }
}

const SAMPLE_LIMIT = 20;

/** Templates, tokenizes, masks and truncates every record. */
export async function buildCorpus(
  records: AsyncIterable<SourcedRecord> | Iterable<SourcedRecord>,
  options: CorpusOptions,
): Promise<TokenizedCorpus> {
  if (!Number.isInteger(options.maxLength) || options.maxLength < 2) {
    throw new DataError(
      "invalid_option",
      `maxLength must be an integer ≥ 2, received ${options.maxLength}`,
    );
  }
  const tokens = new GrowableU32();
  const targets: Uint8Array[] = [];
  const offsets = new GrowableU32();
  offsets.push([0]);
  const sources: RecordSource[] = [];
  const report: CorpusReport = {
    records: 0,
    examples: 0,
    truncated: 0,
    droppedTooLong: 0,
    droppedNoTarget: 0,
    droppedTemplate: 0,
    tokens: 0,
    targetTokens: 0,
    samples: [],
  };
  const note = (reason: string, source: RecordSource) => {
    if (report.samples.length < SAMPLE_LIMIT) report.samples.push({ reason, source });
  };
  for await (const { record, source } of records) {
    report.records++;
    let segments: ReturnType<Template["render"]>;
    try {
      segments = options.template.render(record);
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      if (options.onInvalid !== "skip") throw new DataError(error.code, error.message, source);
      report.droppedTemplate++;
      note(error.message, source);
      continue;
    }
    const encoded = encodeSegments(options.tokenizer, segments, options);
    if (!encoded.ok) {
      if (encoded.reason === "too_long") report.droppedTooLong++;
      else report.droppedNoTarget++;
      note(
        encoded.reason === "too_long"
          ? `longer than ${options.maxLength} tokens`
          : "no response token left after truncation",
        source,
      );
      continue;
    }
    tokens.push(encoded.tokens);
    targets.push(encoded.mask);
    offsets.push([tokens.length]);
    sources.push(source);
    report.examples++;
    if (encoded.truncated) report.truncated++;
    report.tokens += encoded.tokens.length;
    for (const m of encoded.mask) report.targetTokens += m;
  }
  const flatTargets = new Uint8Array(tokens.length);
  let at = 0;
  for (const m of targets) {
    flatTargets.set(m, at);
    at += m.length;
  }
  return new TokenizedCorpus(
    new Int32Array(tokens.trimmed().buffer),
    flatTargets,
    offsets.trimmed(),
    sources,
    report,
  );
}
