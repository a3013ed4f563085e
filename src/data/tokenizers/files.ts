/**
 * Tokenizers from local files (Node): the only module of the tokenizers that touches the file
 * system, so hf.ts and llama2c.ts stay usable in Workers. Never any network.
 */
import { readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { DataError, type Tokenizer } from "../types.js";
import { type HfTokenizerOptions, hfTokenizerFromJson } from "./hf.js";
import { type Llama2cTokenizer, llama2cTokenizerFromBytes } from "./llama2c.js";

/**
 * A llama2.c tokenizer from a `tok*.bin` file, named `llama2c:<file name without .bin>`.
 * A missing file is a `DataError` "tokenizer_not_found" naming the path.
 */
export function loadLlama2cTokenizer(path: string): Llama2cTokenizer {
  const bytes = readTokenizerFile(path, "a llama2.c tok*.bin tokenizer");
  return llama2cTokenizerFromBytes(bytes, basename(path).replace(/\.bin$/, ""), path);
}

/**
 * A Hugging Face tokenizer from `<folder>/tokenizer.json` and, when present,
 * `<folder>/tokenizer_config.json` (special tokens), named `hf:<folder name>`. See
 * `hfTokenizerFromJson` for what encode and decode do. A missing tokenizer.json is a
 * `DataError` "tokenizer_not_found" naming the path.
 */
export function loadHfTokenizer(folder: string, options: HfTokenizerOptions = {}): Tokenizer {
  const file = join(folder, "tokenizer.json");
  const json = readTokenizerJson(file, "a Hugging Face tokenizer.json");
  let config: unknown = null;
  try {
    config = readTokenizerJson(join(folder, "tokenizer_config.json"), "tokenizer_config.json");
  } catch (error) {
    // The config is optional; a broken one is still an error.
    if (!(error instanceof DataError && error.code === "tokenizer_not_found")) throw error;
  }
  return hfTokenizerFromJson(json, config, basename(resolve(folder)), { ...options, file });
}

/** The bytes of `path`, or a "tokenizer_not_found" error saying what was expected there. */
function readTokenizerFile(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : `cannot read it (${code ?? String(error)})`;
    throw new DataError("tokenizer_not_found", `${reason} (expected ${what} here)`, {
      file: path,
    });
  }
}

/** `path` parsed as JSON; errors name the file ("tokenizer_not_found", "invalid_tokenizer"). */
function readTokenizerJson(path: string, what: string): unknown {
  const text = new TextDecoder().decode(readTokenizerFile(path, what));
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DataError("invalid_tokenizer", `not valid JSON: ${(error as Error).message}`, {
      file: path,
    });
  }
}
