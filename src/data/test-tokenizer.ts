/**
 * A character-level tokenizer for unit tests of masking and batching: one id per UTF-16 unit
 * (offset by 3; 0 = pad, 1 = BOS, 2 = EOS), so expected token counts can be read off the text.
 */
import type { Tokenizer } from "./types.js";

export function charTokenizer(
  options: { bos?: boolean; specials?: Record<string, number> } = {},
): Tokenizer {
  const specials = new Map(Object.entries(options.specials ?? {}));
  const byId = new Map([...specials].map(([s, id]) => [id, s]));
  return {
    name: "chars",
    vocabSize: 70_000,
    bosId: options.bos === false ? null : 1,
    eosId: 2,
    padId: 0,
    specialTokens: specials,
    encode: (text) => Array.from(text, (c) => c.charCodeAt(0) + 3),
    decode: (ids) =>
      Array.from(ids, (id) => (id < 3 ? "" : (byId.get(id) ?? String.fromCharCode(id - 3)))).join(
        "",
      ),
  };
}
