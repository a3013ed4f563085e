import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { afterAll, describe, expect, it } from "vitest";
import { DataError } from "../types.js";
import { loadHfTokenizer } from "./files.js";
import { hfTokenizerFromJson } from "./hf.js";
import { gpt2Folder, gpteacherTexts, gsm8kTexts, roundTripFailures } from "./test-data.js";

const gpt2 = loadHfTokenizer(gpt2Folder);
const scratch = mkdtempSync(join(tmpdir(), "infobatch-hf-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("Hugging Face tokenizer.json (GPT-2)", () => {
  it("gives GPT-2's known ids and special tokens", () => {
    expect(gpt2.name).toBe("hf:gpt2");
    expect(gpt2.encode("Hello")).toEqual([15496]);
    expect(gpt2.encode(" world")).toEqual([995]);
    expect(gpt2.encode("Hello world")).toEqual([15496, 995]);
    expect(gpt2.encode("")).toEqual([]);
    expect(gpt2.vocabSize).toBe(50257);
    expect(gpt2.eosId).toBe(50256);
    expect(gpt2.padId).toBe(50256);
    // GPT-2 declares bos_token but never prepends it.
    expect(gpt2.bosId).toBeNull();
  });

  it("round-trips every GSM8K test question and answer, and GPTeacher code", () => {
    const texts = gsm8kTexts("test");
    expect(roundTripFailures(texts, gpt2)).toEqual([]);
    const code = gpteacherTexts();
    expect(roundTripFailures(code, gpt2)).toEqual([]);
    // GPT-2's config asks for "clean up tokenization spaces", which would give "a. b?".
    expect(gpt2.decode(gpt2.encode("a . b ? don 't"))).toBe("a . b ? don 't");
  });

  it("gives the library's own ids, with and without the speed-ups", () => {
    const json = JSON.parse(readFileSync(join(gpt2Folder, "tokenizer.json"), "utf8"));
    const plain = new HfTokenizer(json, {});
    // GSM8K test has 154 texts with non-ASCII characters (the speed-up's slow path).
    const texts = [
      ...gsm8kTexts("test"),
      ...gpteacherTexts().slice(0, 3000),
      "naïve 😀 日本語 \u00a0x",
    ];
    const library = (text: string) => plain.encode(text, { add_special_tokens: false }).ids;
    expect(texts.filter((text) => gpt2.encode(text).join() !== library(text).join())).toEqual([]);
    const slow = loadHfTokenizer(gpt2Folder, { speedups: false });
    const some = texts.slice(0, 300);
    expect(some.filter((text) => gpt2.encode(text).join() !== slow.encode(text).join())).toEqual(
      [],
    );
  });

  it("treats special-token text in the data as ordinary text", () => {
    const text = "a<|endoftext|>b";
    const ids = gpt2.encode(text);
    expect(ids).not.toContain(50256);
    expect(gpt2.decode(ids)).toBe(text);
  });

  it("skips special tokens when decoding and rejects ids outside the vocabulary", () => {
    expect(gpt2.decode([15496, 50256, 995])).toBe("Hello world");
    expect(gpt2.decode([50256])).toBe("");
    expect(gpt2.decode([])).toBe("");
    for (const id of [50257, -1, 2.5]) {
      expect(() => gpt2.decode([id])).toThrowError(
        expect.objectContaining({ code: "invalid_token_id" }),
      );
    }
  });

  it("finds the end-of-sequence token without tokenizer_config.json", () => {
    const folder = mkdtempSync(join(scratch, "gpt2-no-config-"));
    copyFileSync(join(gpt2Folder, "tokenizer.json"), join(folder, "tokenizer.json"));
    const bare = loadHfTokenizer(folder);
    expect([bare.eosId, bare.padId, bare.bosId]).toEqual([50256, 50256, null]);
    expect(bare.encode("Hello world")).toEqual([15496, 995]);
  });

  it("takes BOS from a post-processor template, EOS and padding from the config", () => {
    const tokenizer = {
      version: "1.0",
      added_tokens: [
        { id: 0, content: "<unk>", special: true },
        { id: 1, content: "<s>", special: true },
        { id: 2, content: "</s>", special: true },
        { id: 6, content: "<pad>", special: true },
      ],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: {
        type: "TemplateProcessing",
        single: [
          { SpecialToken: { id: "<s>", type_id: 0 } },
          { Sequence: { id: "A", type_id: 0 } },
        ],
        pair: [],
        special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
      },
      decoder: null,
      model: {
        type: "BPE",
        unk_token: "<unk>",
        vocab: { "<unk>": 0, "<s>": 1, "</s>": 2, a: 3, b: 4, ab: 5 },
        merges: ["a b"],
      },
    };
    const config = { eos_token: { content: "</s>" }, pad_token: "<pad>" };
    const tiny = hfTokenizerFromJson(tokenizer, config, "tiny");
    expect(tiny.name).toBe("hf:tiny");
    expect([tiny.bosId, tiny.eosId, tiny.padId, tiny.vocabSize]).toEqual([1, 2, 6, 7]);
    expect(tiny.encode("ab")).toEqual([5]);
    expect(tiny.encode("ab</s>")).not.toContain(2);
  });

  it("names the path of a missing tokenizer.json", () => {
    const folder = join(scratch, "nowhere");
    expect(() => loadHfTokenizer(folder)).toThrowError(DataError);
    expect(() => loadHfTokenizer(folder)).toThrowError(
      expect.objectContaining({
        code: "tokenizer_not_found",
        message: expect.stringContaining(join(folder, "tokenizer.json")),
      }),
    );
  });

  it("rejects a tokenizer.json that is not one", () => {
    const folder = mkdtempSync(join(scratch, "bad-"));
    writeFileSync(join(folder, "tokenizer.json"), "{ not json");
    expect(() => loadHfTokenizer(folder)).toThrowError(
      expect.objectContaining({ code: "invalid_tokenizer" }),
    );
    writeFileSync(join(folder, "tokenizer.json"), "[1, 2]");
    expect(() => loadHfTokenizer(folder)).toThrowError(
      expect.objectContaining({ code: "invalid_tokenizer" }),
    );
  });
});
