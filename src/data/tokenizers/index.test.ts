import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTokenizer } from "./index.js";
import { gpt2Folder, tok512Path } from "./test-data.js";

const scratch = mkdtempSync(join(tmpdir(), "infobatch-spec-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("loadTokenizer", () => {
  it("picks tiktoken encodings by name", () => {
    expect(loadTokenizer("cl100k_base").encode("hello world")).toEqual([15339, 1917]);
    expect(loadTokenizer("o200k_base").name).toBe("o200k_base");
  });

  it("loads Hugging Face tokenizers from hf:<folder>, a folder or a tokenizer.json", () => {
    for (const spec of [`hf:${gpt2Folder}`, gpt2Folder, join(gpt2Folder, "tokenizer.json")]) {
      const tok = loadTokenizer(spec);
      expect(tok.name).toBe("hf:gpt2");
      expect(tok.encode("Hello")).toEqual([15496]);
    }
  });

  it("loads llama2.c tokenizers from llama2c:<path> or a .bin path", () => {
    for (const spec of [`llama2c:${tok512Path}`, tok512Path]) {
      const tok = loadTokenizer(spec);
      expect(tok.name).toBe("llama2c:tok512");
      expect(tok.encode("the")).toEqual([265]);
    }
  });

  it("lists the accepted forms for an unknown spec", () => {
    for (const spec of ["gpt-5", "p50k_base", "", scratch]) {
      expect(() => loadTokenizer(spec)).toThrowError(
        expect.objectContaining({
          code: "unknown_tokenizer",
          message: expect.stringMatching(/cl100k_base.*o200k_base.*hf:.*llama2c:/),
        }),
      );
    }
    expect(() => loadTokenizer(scratch)).toThrowError(/has no tokenizer\.json/);
  });

  it("names the missing file", () => {
    const missing = join(scratch, "tok1.bin");
    expect(() => loadTokenizer(missing)).toThrowError(
      expect.objectContaining({
        code: "tokenizer_not_found",
        message: expect.stringContaining(missing),
      }),
    );
    expect(() => loadTokenizer(`hf:${scratch}`)).toThrowError(
      expect.objectContaining({
        code: "tokenizer_not_found",
        message: expect.stringContaining(join(scratch, "tokenizer.json")),
      }),
    );
  });
});
