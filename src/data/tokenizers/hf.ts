/**
 * Hugging Face `tokenizer.json` tokenizers (GPT-2, Llama, Qwen, …) through the pure-JS
 * `@huggingface/tokenizers`. Built from the parsed files, never from the hub: no network, and no
 * file system here (`loadHfTokenizer` in files.ts reads a local folder).
 */
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { DataError, type Tokenizer } from "../types.js";

/** Options of `hfTokenizerFromJson` and `loadHfTokenizer`. */
export interface HfTokenizerOptions {
  /**
   * Replace two slow internals of `@huggingface/tokenizers` 0.2.0 with equivalent fast ones
   * (default true; the tests check the ids are identical). See `speedUp`.
   */
  speedups?: boolean;
}

/** A tokenizer.json entry of `added_tokens`. */
interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

/** The parts of tokenizer.json read here (the library reads the rest). */
interface TokenizerJson {
  model: Record<string, unknown>;
  added_tokens?: AddedTokenJson[];
  post_processor?: PostProcessorJson | null;
  [key: string]: unknown;
}

interface PostProcessorJson {
  type: string;
  single?: Array<{ SpecialToken?: { id: string }; Sequence?: { id: string } }>;
  special_tokens?: Record<string, { ids: number[] }>;
  cls?: [string, number];
  processors?: PostProcessorJson[];
}

/** tokenizer_config.json: tokens are strings or `{ content }` objects (older files). */
type TokenField = string | { content: string } | null | undefined;
interface TokenizerConfigJson {
  bos_token?: TokenField;
  eos_token?: TokenField;
  pad_token?: TokenField;
  add_bos_token?: boolean;
  [key: string]: unknown;
}

/** End-of-sequence tokens tried, in order, when tokenizer_config.json names none. */
const EOS_CANDIDATES = [
  "</s>",
  "<|endoftext|>",
  "<|end_of_text|>",
  "<eos>",
  "<|eot_id|>",
  "<|im_end|>",
];

/**
 * A tokenizer from the parsed `tokenizer.json` and `tokenizer_config.json` (null when there is
 * none). `name` becomes `hf:<name>`; `file` only labels errors.
 *
 * - `encode` adds no special tokens, and special-token text in the data (e.g. a literal
 *   "<|endoftext|>") is tokenized as ordinary text, as transformers' `split_special_tokens=True`:
 *   data can never inject a control token, and decode(encode(x)) === x holds.
 * - `decode` skips special tokens and does not "clean up tokenization spaces" (GPT-2's config
 *   asks for it, but it rewrites " ." to "." and breaks the round trip).
 * - `eosId`: the config's `eos_token`, else the first of `</s>`, `<|endoftext|>`, … present.
 *   `padId`: the config's `pad_token`, else `eosId`.
 * - `bosId`: set only when the tokenizer itself prepends one (a post-processor template, or
 *   `add_bos_token: true`), as transformers does: GPT-2 declares `bos_token` but never adds it,
 *   so here it is null.
 */
export function hfTokenizerFromJson(
  json: unknown,
  configJson: unknown,
  name: string,
  options: HfTokenizerOptions & { file?: string } = {},
): Tokenizer {
  const file = options.file ?? "tokenizer.json";
  if (!isObject(json) || !isObject(json.model)) {
    throw new DataError("invalid_tokenizer", "not a tokenizer.json: no model", { file });
  }
  const tokenizerJson = json as TokenizerJson;
  const config: TokenizerConfigJson = isObject(configJson) ? configJson : {};

  const added = tokenizerJson.added_tokens ?? [];
  const special = added.filter((token) => token.special === true);
  const specialIds = new Set(special.map((token) => token.id));
  const addedIds = new Map(added.map((token) => [token.content, token.id]));
  let library: HfTokenizer;
  try {
    // Without its special tokens the library's splitter cannot match them in the text (see
    // above). They are in `specialIds` for decode, which drops them before the library sees them.
    library = new HfTokenizer(
      { ...tokenizerJson, added_tokens: added.filter((token) => token.special !== true) },
      config,
    );
  } catch (error) {
    throw new DataError(
      "invalid_tokenizer",
      `unsupported tokenizer.json: ${(error as Error).message}`,
      { file },
    );
  }
  if (options.speedups ?? true) speedUp(library);

  const idOf = (field: TokenField): number | null => {
    const content = typeof field === "string" ? field : (field?.content ?? null);
    if (content === null) return null;
    return addedIds.get(content) ?? library.token_to_id(content) ?? null;
  };
  let eosId = idOf(config.eos_token);
  for (const candidate of EOS_CANDIDATES) eosId ??= idOf(candidate);
  if (eosId === null) {
    throw new DataError(
      "invalid_tokenizer",
      'no end-of-sequence token: give it a tokenizer_config.json with "eos_token"',
      { file },
    );
  }
  const bosId =
    prependedId(tokenizerJson.post_processor) ??
    (config.add_bos_token === true ? idOf(config.bos_token) : null);
  const padId = idOf(config.pad_token) ?? eosId;
  let maxId = -1;
  for (const id of library.get_vocab(true).values()) if (id > maxId) maxId = id;
  for (const token of added) if (token.id > maxId) maxId = token.id;
  const vocabSize = maxId + 1;

  return {
    name: `hf:${name}`,
    vocabSize,
    bosId,
    eosId,
    padId,
    encode(text: string): number[] {
      if (text === "") return [];
      return library.encode(text, { add_special_tokens: false }).ids;
    },
    decode(ids: ArrayLike<number>): string {
      const kept: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
          throw new DataError(
            "invalid_token_id",
            `token id ${id} (at ${i}) is not in 0…${vocabSize - 1}`,
          );
        }
        if (!specialIds.has(id)) kept.push(id);
      }
      // The library throws on an empty list.
      if (kept.length === 0) return "";
      return library.decode(kept, {
        skip_special_tokens: true,
        clean_up_tokenization_spaces: false,
      });
    },
  };
}

/** The id a post-processor puts before the text (BOS / CLS), or null. */
function prependedId(processor: PostProcessorJson | null | undefined): number | null {
  if (processor === null || processor === undefined) return null;
  switch (processor.type) {
    case "TemplateProcessing": {
      const first = processor.single?.[0]?.SpecialToken?.id;
      return first === undefined ? null : (processor.special_tokens?.[first]?.ids[0] ?? null);
    }
    case "BertProcessing":
    case "RobertaProcessing":
      return processor.cls?.[1] ?? null;
    case "Sequence":
      for (const inner of processor.processors ?? []) {
        const id = prependedId(inner);
        if (id !== null) return id;
      }
      return null;
    default:
      return null;
  }
}

/** A byte-level pre-tokenizer of the library, as far as `speedUp` uses it. */
interface ByteLevelInternals {
  add_prefix_space: boolean;
  use_regex: boolean;
  pattern: RegExp;
  byte_encoder: Record<number, string>;
  text_encoder: { encode(input: string): Uint8Array };
  pre_tokenize_text: (text: string, options?: unknown) => string[];
}

/**
 * Two fixes for `@huggingface/tokenizers` 0.2.0, measured on GPT-2 over GSM8K train (1.12M
 * tokens): 4.3–5.9 s before, 1.7–2.0 s after. Both keep the library's results (tested):
 * - The BPE word cache is an LRU that deletes and re-inserts a Map key on every hit; V8 pays
 *   ~1 µs a hit for it (a quarter of the time). A plain Map, emptied when full, is the same cache
 *   without the reordering.
 * - The byte-level pre-tokenizer maps every character through TextEncoder and an object lookup
 *   per byte (another third). ASCII pieces, nearly all of them, now use a 128-entry table.
 */
function speedUp(library: HfTokenizer): void {
  const model = library.model as unknown as { cache?: unknown } | null;
  if (model !== null && isCache(model.cache)) model.cache = new FlatCache(100_000);
  const visit = (preTokenizer: unknown): void => {
    if (!isObjectOrFunction(preTokenizer)) return;
    const inner = (preTokenizer as { tokenizers?: unknown }).tokenizers;
    if (Array.isArray(inner)) inner.forEach(visit);
    if (isByteLevel(preTokenizer)) fastByteLevel(preTokenizer);
  };
  visit(library.pre_tokenizer);
}

/** Same semantics as the library's ByteLevel `pre_tokenize_text`, without per-byte overheads. */
function fastByteLevel(pre: ByteLevelInternals): void {
  const ascii: string[] = [];
  for (let b = 0; b < 128; b++) ascii.push(pre.byte_encoder[b]);
  const toUnicode = (piece: string): string => {
    let out = "";
    for (let i = 0; i < piece.length; i++) {
      const c = piece.charCodeAt(i);
      if (c >= 128) {
        // Non-ASCII: the library's own mapping, byte by byte.
        let bytes = "";
        for (const byte of pre.text_encoder.encode(piece)) bytes += pre.byte_encoder[byte];
        return bytes;
      }
      out += ascii[c];
    }
    return out;
  };
  pre.pre_tokenize_text = (text: string): string[] => {
    if (pre.add_prefix_space && !text.startsWith(" ")) text = ` ${text}`;
    const pieces = pre.use_regex ? (text.match(pre.pattern) ?? []) : [text];
    return pieces.map(toUnicode);
  };
}

/** A size-bounded cache with the library LRU's `get` / `put` / `clear`. */
class FlatCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  put(key: string, value: V): void {
    if (this.map.size >= this.capacity) this.map.clear();
    this.map.set(key, value);
  }
  clear(): void {
    this.map.clear();
  }
}

function isCache(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value.get === "function" &&
    typeof value.put === "function" &&
    typeof value.clear === "function"
  );
}

function isByteLevel(value: object): value is ByteLevelInternals {
  const v = value as Partial<ByteLevelInternals>;
  return (
    typeof v.pre_tokenize_text === "function" &&
    v.pattern instanceof RegExp &&
    typeof v.use_regex === "boolean" &&
    typeof v.add_prefix_space === "boolean" &&
    isObject(v.byte_encoder) &&
    typeof v.text_encoder?.encode === "function"
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The library's components are callable objects (functions with fields). */
function isObjectOrFunction(value: unknown): value is object {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}
