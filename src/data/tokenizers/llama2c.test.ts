import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DataError } from "../types.js";
import { loadLlama2cTokenizer } from "./files.js";
import { llama2cTokenizerFromBytes } from "./llama2c.js";
import { gpteacherTexts, gsm8k, gsm8kTexts, roundTripFailures, tok512Path } from "./test-data.js";

const tok = loadLlama2cTokenizer(tok512Path);

/** tok512.bin parsed here independently of the code under test: pieces as latin1 strings. */
function readVocab(path: string): { pieces: string[]; scores: number[] } {
  const bytes = readFileSync(path);
  const pieces: string[] = [];
  const scores: number[] = [];
  for (let at = 4; at < bytes.length; ) {
    scores.push(bytes.readFloatLE(at));
    const length = bytes.readInt32LE(at + 4);
    pieces.push(bytes.subarray(at + 8, at + 8 + length).toString("latin1"));
    at += 8 + length;
  }
  return { pieces, scores };
}
const vocab = readVocab(tok512Path);
const ids = new Map<string, number>();
vocab.pieces.forEach((piece, id) => {
  if (!ids.has(piece)) ids.set(piece, id);
});
const lookup = (latin1: string) => ids.get(latin1) ?? -1;
const idOf = (piece: string) => lookup(Buffer.from(piece).toString("latin1"));

/** run.c `encode`, transcribed as written (quadratic rescan after every merge). */
function runcEncode(text: string, bos: boolean): number[] {
  const tokens: number[] = bos ? [1] : [];
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > 0) tokens.push(lookup(" "));
  let buffer: number[] = [];
  for (let c = 0; c < bytes.length; c++) {
    if ((bytes[c] & 0xc0) !== 0x80) buffer = [];
    buffer.push(bytes[c]);
    if (c + 1 < bytes.length && (bytes[c + 1] & 0xc0) === 0x80 && buffer.length < 4) continue;
    const id = lookup(Buffer.from(buffer).toString("latin1"));
    if (id !== -1) tokens.push(id);
    else for (const b of buffer) tokens.push(b + 3);
    buffer = [];
  }
  for (;;) {
    let bestScore = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup(vocab.pieces[tokens[i]] + vocab.pieces[tokens[i + 1]]);
      if (id !== -1 && vocab.scores[id] > bestScore) {
        bestScore = vocab.scores[id];
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}

describe("llama2.c tok512", () => {
  it("reads the file's header and special ids", () => {
    expect(tok.name).toBe("llama2c:tok512");
    expect(tok.vocabSize).toBe(512);
    expect(tok.maxTokenLength).toBe(7);
    expect([tok.bosId, tok.eosId, tok.padId]).toEqual([1, 2, 0]);
    expect(tok.piece(265)).toBe(" the");
    expect(tok.score(260)).toBe(-1);
  });

  it("encodes a word as its piece with the dummy prefix space", () => {
    expect(idOf(" the")).toBe(265);
    expect(tok.encode("the")).toEqual([idOf(" the")]);
    expect(tok.encodeWithBos("the")).toEqual([1, idOf(" the")]);
    expect(tok.encode("")).toEqual([]);
    expect(tok.encodeWithBos("")).toEqual([1]);
    expect(tok.encode(" ")).toEqual([idOf(" "), idOf(" ")]);
  });

  it("falls back to byte ids (byte + 3) for codepoints not in the vocabulary", () => {
    // U+1F600 is F0 9F 98 80, ÿ is C3 BF, a newline is 0A: none of them is a piece.
    expect(idOf("😀")).toBe(-1);
    expect(idOf("ÿ")).toBe(-1);
    expect(tok.encode("😀")).toEqual([idOf(" "), 0xf0 + 3, 0x9f + 3, 0x98 + 3, 0x80 + 3]);
    expect(tok.encode("ÿ\n")).toEqual([idOf(" "), 0xc3 + 3, 0xbf + 3, 0x0a + 3]);
    expect(tok.decode(tok.encode("ÿ😀\n"))).toBe("ÿ😀\n");
  });

  it("gives the ids of run.c (compiled from karpathy/llama2.c, encode with BOS)", () => {
    expect(tok.encodeWithBos("Hello world")).toEqual([1, 346, 306, 414, 263, 304, 341]);
    // Equal scores: the leftmost pair merges first ("ll" then "l", not "l" then "ll").
    expect(tok.encodeWithBos("xllly")).toEqual([1, 410, 444, 306, 421, 422]);
    expect(tok.encodeWithBos("Once upon a time, there was a little girl.")).toEqual([
      1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 426,
    ]);
    expect(tok.encodeWithBos("Question: What is 2+3?\nAnswer: 2+3 = <<2+3=5>>5\n#### 5")).toEqual([
      1, 410, 473, 425, 411, 356, 417, 289, 467, 410, 448, 415, 294, 410, 293, 410, 479, 496, 472,
      450, 13, 447, 416, 419, 424, 285, 467, 410, 479, 496, 472, 410, 64, 410, 504, 504, 479, 496,
      472, 64, 480, 505, 505, 480, 13, 38, 38, 38, 38, 410, 480,
    ]);
    const janet = gsm8k("test")[0].question;
    expect(janet.startsWith("Janet’s ducks")).toBe(true);
    const expected = [
      1, 410, 454, 303, 316, 468, 419, 279, 425, 340, 419, 278, 283, 410, 475, 490, 344, 428, 428,
      419, 282, 285, 328, 426, 338, 344, 294, 419, 308, 276, 411, 387, 268, 276, 412, 433, 431, 412,
      356, 344, 363, 284, 304, 416, 299, 269, 268, 412, 354, 419, 284, 425, 431, 431, 271, 419, 387,
      311, 374, 419, 344, 363, 328, 335, 272, 277, 420, 426, 338, 262, 411, 306, 419, 265, 410, 276,
      423, 412, 417, 264, 285, 261, 413, 265, 272, 295, 423, 285, 419, 439, 284, 295, 433, 316, 279,
      412, 310, 387, 410, 494, 479, 282, 285, 272, 276, 419, 415, 279, 425, 340, 344, 428, 428, 426,
      320, 327, 284, 425, 402, 322, 400, 306, 295, 419, 400, 406, 358, 284, 412, 354, 344, 363, 328,
      261, 413, 265, 272, 295, 423, 285, 419, 439, 284, 295, 433, 316, 450,
    ];
    expect(tok.encodeWithBos(janet)).toEqual(expected);
    expect(tok.encode(janet)).toEqual(expected.slice(1));
  });

  it("merges exactly as run.c's quadratic loop on real data", () => {
    const texts = [
      ...gsm8kTexts("test").slice(0, 400),
      ...gpteacherTexts().slice(0, 150),
      "  leading spaces",
      "\t\ttabs\r\n",
      "naïve café 😀 日本語",
      "<s>x</s>",
      "xllly xooooy ppp",
    ];
    for (const text of texts) {
      expect(tok.encodeWithBos(text), JSON.stringify(text.slice(0, 60))).toEqual(
        runcEncode(text, true),
      );
    }
  });

  it("round-trips every GSM8K test question and answer, and GPTeacher code", () => {
    const texts = gsm8kTexts("test");
    expect(texts.length).toBe(2 * 1319);
    expect(roundTripFailures(texts, tok)).toEqual([]);
    expect(
      roundTripFailures(texts.slice(0, 200), {
        encode: (t) => tok.encodeWithBos(t),
        decode: (ids) => tok.decode(ids),
      }),
    ).toEqual([]);
    const code = gpteacherTexts();
    expect(roundTripFailures(code, tok)).toEqual([]);
  });

  it("decodes as run.c: no space after BOS or at the start, byte pieces as bytes", () => {
    expect(tok.decode([1, idOf(" the")])).toBe("the");
    expect(tok.decode([idOf(" the"), idOf(" the")])).toBe("the the");
    expect(tok.decode([idOf(" "), idOf(" "), idOf("x")])).toBe(" x");
    expect(tok.decode([0xe2 + 3, 0x80 + 3, 0x99 + 3])).toBe("’");
    // <unk>, BOS and EOS are skipped.
    expect(tok.decode([1, idOf(" the"), 2, 0])).toBe("the");
    expect(tok.decode([])).toBe("");
  });

  it("rejects ids outside the vocabulary", () => {
    for (const id of [512, -1, 1.5]) {
      expect(() => tok.decode([id])).toThrowError(
        expect.objectContaining({ code: "invalid_token_id" }),
      );
    }
  });

  it("manages about 1.49 bytes per token on GSM8K train (the benchmark protocol's figure)", () => {
    const texts = gsm8kTexts("train");
    expect(texts.length).toBe(2 * 7473);
    let bytes = 0;
    let tokens = 0;
    for (const text of texts) {
      bytes += Buffer.byteLength(text, "utf8");
      tokens += tok.encode(text).length;
    }
    // Measured: 3,903,418 bytes / 2,599,948 tokens = 1.501 (question and answer apart).
    expect(bytes / tokens).toBeGreaterThan(1.45);
    expect(bytes / tokens).toBeLessThan(1.53);
  });

  it("continues earlier text without a dummy prefix, so prompt + response round-trips", () => {
    expect(tok.encodeContinuation("the")).not.toContain(ids.get(" the"));
    for (const { question, answer } of gsm8k("test").slice(0, 300)) {
      const prompt = `Question: ${question}\nAnswer: `;
      const joined = [...tok.encode(prompt), ...tok.encodeContinuation(answer)];
      expect(tok.decode(joined)).toBe(prompt + answer);
    }
  });

  it("parses bytes without a file system", () => {
    const fromBytes = llama2cTokenizerFromBytes(new Uint8Array(readFileSync(tok512Path)), "tok512");
    expect(fromBytes.name).toBe("llama2c:tok512");
    const text = gsm8k("test")[1].answer;
    expect(fromBytes.encode(text)).toEqual(tok.encode(text));
  });

  it("names the path of a missing file", () => {
    const missing = join(tok512Path, "..", "tok999.bin");
    expect(() => loadLlama2cTokenizer(missing)).toThrowError(DataError);
    expect(() => loadLlama2cTokenizer(missing)).toThrowError(
      expect.objectContaining({
        code: "tokenizer_not_found",
        message: expect.stringContaining(missing),
      }),
    );
  });

  it("rejects truncated and non-tokenizer bytes", () => {
    const bytes = new Uint8Array(readFileSync(tok512Path));
    for (const bad of [bytes.subarray(0, 2), bytes.subarray(0, 100), bytes.subarray(0, 3000)]) {
      expect(() => llama2cTokenizerFromBytes(bad, "bad")).toThrowError(
        expect.objectContaining({ code: "invalid_tokenizer" }),
      );
    }
  });
});
