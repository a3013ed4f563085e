/**
 * The data layer's shared vocabulary: what a reader yields, what a tokenizer does, and the
 * errors both raise. Readers, templates, tokenizers and the pipeline only meet through these.
 */

/** One chat turn. Roles are normalised to system / user / assistant. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/**
 * A training example as read from disk, before any template. Instruction formats (Alpaca,
 * GPTeacher, GSM8K) become `instruction`; chat formats (messages, ShareGPT) become `chat`.
 */
export type ExampleRecord =
  | { kind: "instruction"; instruction: string; input: string; output: string }
  | { kind: "chat"; messages: ChatMessage[] };

/** Where a record came from: for error messages and reports. */
export interface RecordSource {
  file: string;
  /** 1-based line for JSONL; for a JSON array, the 0-based index is in `index`. */
  line?: number;
  index?: number;
}

export interface SourcedRecord {
  record: ExampleRecord;
  source: RecordSource;
}

/** One tokenizer interface over tiktoken, Hugging Face tokenizer.json and llama2.c tok*.bin. */
export interface Tokenizer {
  /** e.g. "cl100k_base", "hf:gpt2", "llama2c:tok512". */
  readonly name: string;
  readonly vocabSize: number;
  /** Beginning-of-sequence id, or null when the tokenizer has none. */
  readonly bosId: number | null;
  /** End-of-sequence id (appended after every response). */
  readonly eosId: number;
  /** Padding id for batches (labels at padding are always ignored). */
  readonly padId: number;
  /** Token ids of `text`, with no special tokens added. */
  encode(text: string): number[];
  /**
   * Token ids of `text` when it continues earlier text (no SentencePiece "dummy prefix" space).
   * Absent when it would equal `encode`.
   */
  encodeContinuation?(text: string): number[];
  /**
   * Special tokens that chat templates write as text (e.g. "<|im_end|>"): such strings in a
   * rendered template become these ids instead of being tokenized as characters.
   */
  readonly specialTokens?: ReadonlyMap<string, number>;
  /** Text of `ids`; special tokens are skipped. decode(encode(x)) === x. */
  decode(ids: ArrayLike<number>): string;
  /** Frees native (wasm) memory, where the tokenizer holds any; later calls throw. */
  dispose?(): void;
}

/** A data error that names where it happened and what was expected. */
export class DataError extends Error {
  override readonly name = "DataError";
  readonly code: string;
  readonly source: RecordSource | null;
  readonly field: string | null;

  constructor(
    code: string,
    message: string,
    source: RecordSource | null = null,
    field: string | null = null,
  ) {
    const where =
      source === null
        ? ""
        : `${source.file}${source.line !== undefined ? `:${source.line}` : ""}${source.index !== undefined ? ` [${source.index}]` : ""}`;
    const prefix = [where, field === null ? "" : `field "${field}"`]
      .filter((s) => s !== "")
      .join(", ");
    super(prefix === "" ? message : `${prefix}: ${message}`);
    this.code = code;
    this.source = source;
    this.field = field;
  }

  toJSON() {
    return { code: this.code, message: this.message, source: this.source, field: this.field };
  }
}
