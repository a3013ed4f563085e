/**
 * OpenAI's tiktoken encodings (cl100k_base, o200k_base) through the `tiktoken` package, whose
 * wasm build bundles the ranks: nothing is fetched.
 */
import { get_encoding } from "tiktoken";
import { DataError, type Tokenizer } from "../types.js";

/** The tiktoken encodings offered. */
export type TiktokenEncodingName = "cl100k_base" | "o200k_base";

/** A tiktoken tokenizer; `dispose()` frees its wasm encoder (any later call throws). */
export interface TiktokenTokenizer extends Tokenizer {
  readonly bosId: null;
  /** Frees the wasm memory of the encoder (~tens of MB). Optional: without it, GC never does. */
  dispose(): void;
}

/**
 * Per encoding: how many ordinary (BPE) ranks it has, ids 0 … n−1, and its special tokens. Ids
 * outside these make the wasm decoder abort ("unreachable"), so decode checks against them.
 */
const ENCODINGS: Record<TiktokenEncodingName, { ordinary: number; special: readonly string[] }> = {
  cl100k_base: {
    ordinary: 100_256,
    special: [
      "<|endoftext|>",
      "<|fim_prefix|>",
      "<|fim_middle|>",
      "<|fim_suffix|>",
      "<|endofprompt|>",
    ],
  },
  o200k_base: { ordinary: 199_998, special: ["<|endoftext|>", "<|endofprompt|>"] },
};

/**
 * A tiktoken encoding as a `Tokenizer`: EOS and padding are `<|endoftext|>`, no BOS (the GPT
 * models have none). Encoding treats special-token text in the data (e.g. a literal
 * "<|endoftext|>") as ordinary text: it neither throws nor becomes a control token.
 * Each call builds a fresh encoder (~0.15 s); keep the tokenizer, and `dispose()` it when done.
 */
export function tiktokenTokenizer(encoding: TiktokenEncodingName): TiktokenTokenizer {
  const spec = ENCODINGS[encoding];
  if (spec === undefined) {
    throw new DataError(
      "unknown_tokenizer",
      `unknown tiktoken encoding "${encoding}" (expected ${Object.keys(ENCODINGS).join(" or ")})`,
    );
  }
  const encoder = get_encoding(encoding);
  // Resolve the special ids from the encoder itself rather than hard-coding them.
  const specialIds = new Set(spec.special.map((token) => encoder.encode(token, "all")[0]));
  const eosId = encoder.encode("<|endoftext|>", "all")[0];
  const vocabSize = Math.max(spec.ordinary - 1, ...specialIds) + 1;
  const utf8 = new TextDecoder();
  let disposed = false;
  const live = () => {
    if (disposed) throw new DataError("tokenizer_disposed", `${encoding} was disposed`);
  };

  return {
    name: encoding,
    vocabSize,
    bosId: null,
    eosId,
    padId: eosId,
    encode(text: string): number[] {
      live();
      // encode_ordinary = encode(text, allowed_special = none, disallowed_special = none).
      return Array.from(encoder.encode_ordinary(text));
    },
    decode(ids: ArrayLike<number>): string {
      live();
      const kept: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (specialIds.has(id)) continue;
        if (!Number.isInteger(id) || id < 0 || id >= spec.ordinary) {
          throw new DataError(
            "invalid_token_id",
            `token id ${id} (at ${i}) is not a ${encoding} token`,
          );
        }
        kept.push(id);
      }
      // Bytes first, then UTF-8: a character split across tokens is joined again.
      return utf8.decode(encoder.decode(Uint32Array.from(kept)));
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      encoder.free();
    },
  };
}
