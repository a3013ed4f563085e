import { get_encoding } from "tiktoken";
import { afterAll, describe, expect, it } from "vitest";
import { gpteacherTexts, gsm8kTexts, roundTripFailures } from "./test-data.js";
import { tiktokenTokenizer } from "./tiktoken.js";

const cl100k = tiktokenTokenizer("cl100k_base");
const o200k = tiktokenTokenizer("o200k_base");
afterAll(() => {
  cl100k.dispose();
  o200k.dispose();
});

describe("tiktoken", () => {
  it("gives cl100k_base's known ids and special tokens", () => {
    expect(cl100k.name).toBe("cl100k_base");
    expect(cl100k.encode("hello world")).toEqual([15339, 1917]);
    expect(cl100k.encode("")).toEqual([]);
    expect(cl100k.eosId).toBe(100257);
    expect(cl100k.padId).toBe(100257);
    expect(cl100k.bosId).toBeNull();
    expect(cl100k.vocabSize).toBe(100277);
  });

  it("gives o200k_base's known ids and special tokens", () => {
    expect(o200k.name).toBe("o200k_base");
    expect(o200k.encode("hello world")).toEqual([24912, 2375]);
    expect(o200k.eosId).toBe(199999);
    expect(o200k.vocabSize).toBe(200019);
  });

  it("knows how many ordinary tokens each encoding has (decode relies on it)", () => {
    for (const [name, count] of [
      ["cl100k_base", 100_256],
      ["o200k_base", 199_998],
    ] as const) {
      const encoder = get_encoding(name);
      expect(encoder.token_byte_values().length).toBe(count);
      encoder.free();
    }
  });

  it("treats special-token text in the data as ordinary text", () => {
    const text = "end<|endoftext|>start <|endofprompt|>";
    const ids = cl100k.encode(text);
    expect(ids).not.toContain(100257);
    expect(ids).not.toContain(100276);
    expect(cl100k.decode(ids)).toBe(text);
    expect(o200k.encode(text)).not.toContain(199999);
  });

  it("skips special tokens when decoding and rejects ids outside the encoding", () => {
    expect(cl100k.decode([15339, 100257, 1917, 100276])).toBe("hello world");
    expect(cl100k.decode([])).toBe("");
    // 100256 is the gap between the ordinary ranks and <|endoftext|>.
    for (const id of [100256, 100277, -1, 0.5]) {
      expect(() => cl100k.decode([id])).toThrowError(
        expect.objectContaining({ code: "invalid_token_id" }),
      );
    }
    expect(() => o200k.decode([199998])).toThrowError(
      expect.objectContaining({ code: "invalid_token_id" }),
    );
  });

  it("round-trips GSM8K test and GPTeacher code with both encodings", () => {
    const texts = [...gsm8kTexts("test"), ...gpteacherTexts()];
    for (const tok of [cl100k, o200k]) {
      expect(roundTripFailures(texts, tok)).toEqual([]);
    }
    // A character split across tokens comes back whole once the bytes are joined.
    expect(cl100k.decode(cl100k.encode("日本語 😀"))).toBe("日本語 😀");
  });

  it("refuses to work once disposed", () => {
    const tok = tiktokenTokenizer("cl100k_base");
    tok.dispose();
    tok.dispose();
    expect(() => tok.encode("x")).toThrowError(
      expect.objectContaining({ code: "tokenizer_disposed" }),
    );
  });
});
