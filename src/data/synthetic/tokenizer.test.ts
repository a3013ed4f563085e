import { describe, expect, it } from "vitest";
import { DataError } from "../types.js";
import {
  ASCII_ALPHABET,
  ASCII_VOCAB_SIZE,
  asciiTokenizer,
  BOS_ID,
  EOS_ID,
  PAD_ID,
} from "./tokenizer.js";

describe("asciiTokenizer", () => {
  const tok = asciiTokenizer();

  it("has 99 ids: PAD, BOS, EOS, then the newline and printable ASCII", () => {
    expect(ASCII_VOCAB_SIZE).toBe(99);
    expect(tok.vocabSize).toBe(99);
    expect([tok.padId, tok.bosId, tok.eosId]).toEqual([PAD_ID, BOS_ID, EOS_ID]);
    expect([PAD_ID, BOS_ID, EOS_ID]).toEqual([0, 1, 2]);
    expect(tok.encode("\n")).toEqual([3]);
    expect(tok.encode(" ~")).toEqual([4, 98]);
    expect(tok.encode("Hi")).toEqual([4 + 72 - 32, 4 + 105 - 32]);
  });

  it("round-trips every text over its alphabet exactly", () => {
    const texts = [
      "",
      ASCII_ALPHABET,
      [...ASCII_ALPHABET].reverse().join(""),
      "copy: window\nwindow",
      "  leading and trailing spaces  \n\n",
      "add: 91+45\n136",
    ];
    for (const text of texts) {
      const ids = tok.encode(text);
      expect(ids).toHaveLength(text.length);
      expect(ids.every((id) => id >= 3 && id < 99)).toBe(true);
      expect(tok.decode(ids)).toBe(text);
    }
  });

  it("skips PAD, BOS and EOS when decoding", () => {
    expect(tok.decode([BOS_ID, ...tok.encode("ok"), EOS_ID, PAD_ID, PAD_ID])).toBe("ok");
  });

  it("refuses characters outside the vocabulary instead of replacing them", () => {
    for (const [text, where] of [
      ["café", 3],
      ["tab\there", 3],
      ["\r\n", 0],
    ] as const) {
      let error: unknown;
      try {
        tok.encode(text);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DataError);
      expect((error as DataError).code).toBe("unknown_character");
      expect((error as DataError).message).toContain(`position ${where}`);
    }
  });
});
