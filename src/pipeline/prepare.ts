/**
 * From a dataset file to a ready pipeline, on Node: read (streaming JSONL), template, tokenize,
 * mask, truncate, then wrap the corpus with an engine. The steps stay usable one by one
 * (`readDataset`, `buildCorpus`, `new Pipeline`) for anything this does not cover.
 */
import { buildCorpus, type TokenizedCorpus } from "../data/corpus.js";
import type { TruncationPolicy } from "../data/encode.js";
import { type DatasetFormat, type ReadReport, readDataset } from "../data/readers/index.js";
import {
  alpacaTemplate,
  chatTemplate,
  plainTemplate,
  questionAnswerTemplate,
  type Template,
} from "../data/templates/index.js";
import { loadTokenizer } from "../data/tokenizers/index.js";
import { DataError, type SourcedRecord, type Tokenizer } from "../data/types.js";
import { Pipeline, type PipelineOptions } from "./pipeline.js";

/** Built-in templates by name; `"chat"` is ChatML unless `chatTemplate` gives a Jinja source. */
export type TemplateName = "alpaca" | "plain" | "qa" | "chat";

export interface PrepareOptions {
  /** A dataset file (JSONL or JSON array), or records already read. */
  dataset: string | Iterable<SourcedRecord> | AsyncIterable<SourcedRecord>;
  /** Dataset format. Default "auto" (detected from the first record). */
  format?: DatasetFormat | "auto";
  /** Read only the first `limit` valid records (a quick run, a smoke test). Default: all. */
  limit?: number;
  /** Invalid records: "error" (default) stops at the first; "skip" counts and reports them. */
  onInvalid?: "error" | "skip";
  /** A tokenizer, or a spec for `loadTokenizer` ("cl100k_base", "hf:<folder>", "llama2c:<file>"). */
  tokenizer: Tokenizer | string;
  /** Default "alpaca". */
  template?: Template | TemplateName;
  /** Jinja chat template source for `template: "chat"` (e.g. tokenizer_config.json's). */
  chatTemplate?: string;
  /** Longest example in tokens (BOS … EOS). */
  maxLength: number;
  /** Default "prompt-left". */
  truncation?: TruncationPolicy;
}

export interface PreparedCorpus {
  corpus: TokenizedCorpus;
  tokenizer: Tokenizer;
  /** The reader's report (null when records were passed in). */
  read: ReadReport | null;
}

export function resolveTemplate(
  template: Template | TemplateName | undefined,
  chatSource?: string,
): Template {
  if (template === undefined) return alpacaTemplate;
  if (typeof template !== "string") return template;
  switch (template) {
    case "alpaca":
      return alpacaTemplate;
    case "plain":
      return plainTemplate;
    case "qa":
      return questionAnswerTemplate;
    case "chat":
      return chatTemplate(chatSource === undefined ? {} : { source: chatSource });
    default:
      throw new DataError(
        "unknown_template",
        `unknown template "${String(template)}"; expected "alpaca", "plain", "qa" or "chat"`,
      );
  }
}

export async function prepareCorpus(options: PrepareOptions): Promise<PreparedCorpus> {
  const tokenizer =
    typeof options.tokenizer === "string" ? loadTokenizer(options.tokenizer) : options.tokenizer;
  const template = resolveTemplate(options.template, options.chatTemplate);
  const onInvalid = options.onInvalid ?? "error";
  const stream =
    typeof options.dataset === "string"
      ? readDataset(options.dataset, { format: options.format ?? "auto", onInvalid })
      : null;
  const records = stream ?? (options.dataset as Iterable<SourcedRecord>);
  const corpus = await buildCorpus(
    options.limit === undefined ? records : take(records, options.limit),
    {
      tokenizer,
      template,
      maxLength: options.maxLength,
      truncation: options.truncation,
      onInvalid,
    },
  );
  return { corpus, tokenizer, read: stream === null ? null : stream.report() };
}

async function* take<T>(source: AsyncIterable<T> | Iterable<T>, limit: number): AsyncGenerator<T> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new DataError("invalid_option", `limit must be a positive integer, received ${limit}`);
  }
  let n = 0;
  for await (const item of source) {
    yield item;
    if (++n >= limit) return;
  }
}

export interface CreatePipelineOptions
  extends PrepareOptions,
    Omit<PipelineOptions, "corpus" | "padId"> {}

/** Reads, tokenizes and wraps a dataset: the one call most training loops need. */
export async function createPipeline(
  options: CreatePipelineOptions,
): Promise<PreparedCorpus & { pipeline: Pipeline }> {
  const prepared = await prepareCorpus(options);
  const pipeline = new Pipeline({
    corpus: prepared.corpus,
    padId: prepared.tokenizer.padId,
    batch: options.batch,
    engine: options.engine,
    tokenAccounting: options.tokenAccounting,
    hooks: options.hooks,
  });
  return { ...prepared, pipeline };
}
