/**
 * The built-in character tokenizer: one id per character of printable ASCII and the newline,
 * plus PAD, BOS and EOS. Small and fixed (99 ids), so a model over it is tiny, and exact:
 * `decode(encode(x)) === x` for every text over those characters. Any other character is an
 * error, never silently replaced (a replacement would break the round trip).
 */
import { DataError, type Tokenizer } from "../types.js";

/** Id 0: padding (never a target). */
export const PAD_ID = 0;
/** Id 1: beginning of sequence. */
export const BOS_ID = 1;
/** Id 2: end of sequence (after every response). */
export const EOS_ID = 2;
/** Id of "\n"; printable ASCII 32 … 126 follow as 4 … 98. */
const NEWLINE_ID = 3;
const FIRST_PRINTABLE = 32;
const LAST_PRINTABLE = 126;

/** Characters the tokenizer knows: "\n" and printable ASCII, in id order from 3. */
export const ASCII_ALPHABET =
  "\n" +
  String.fromCharCode(
    ...Array.from({ length: LAST_PRINTABLE - FIRST_PRINTABLE + 1 }, (_, i) => FIRST_PRINTABLE + i),
  );

/** 3 special ids + the alphabet. */
export const ASCII_VOCAB_SIZE = 3 + ASCII_ALPHABET.length;

function idOf(code: number): number {
  if (code === 10) return NEWLINE_ID;
  if (code >= FIRST_PRINTABLE && code <= LAST_PRINTABLE) return code - FIRST_PRINTABLE + 4;
  return -1;
}

/**
 * The character tokenizer of the built-in quickstart (name "ascii-chars", vocabulary 99).
 * `encode` throws a `DataError` "unknown_character" naming the character and its position when
 * the text holds anything but "\n" and printable ASCII.
 *
 * @example
 * const tok = asciiTokenizer();
 * tok.encode("Hi\n"); // [44, 77, 3]
 * tok.decode([1, 44, 77, 2]); // "Hi" (BOS and EOS skipped)
 */
export function asciiTokenizer(): Tokenizer {
  return {
    name: "ascii-chars",
    vocabSize: ASCII_VOCAB_SIZE,
    bosId: BOS_ID,
    eosId: EOS_ID,
    padId: PAD_ID,
    encode(text: string): number[] {
      const ids = new Array<number>(text.length);
      for (let i = 0; i < text.length; i++) {
        const id = idOf(text.charCodeAt(i));
        if (id < 0) {
          throw new DataError(
            "unknown_character",
            `character ${JSON.stringify(text[i])} (U+${text.charCodeAt(i).toString(16).padStart(4, "0")}) at position ${i} is not in the ascii-chars vocabulary ("\\n" and printable ASCII)`,
          );
        }
        ids[i] = id;
      }
      return ids;
    },
    decode(ids: ArrayLike<number>): string {
      let out = "";
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (id > EOS_ID && id < ASCII_VOCAB_SIZE) out += ASCII_ALPHABET[id - 3];
      }
      return out;
    },
  };
}
