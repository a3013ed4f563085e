/**
 * The tokenizers of the data layer behind one `Tokenizer` interface, and `loadTokenizer(spec)`,
 * which picks one from a string (as recipes and the CLI name them).
 */
import { existsSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { DataError, type Tokenizer } from "../types.js";
import { loadHfTokenizer, loadLlama2cTokenizer } from "./files.js";
import { type TiktokenEncodingName, tiktokenTokenizer } from "./tiktoken.js";

export { loadHfTokenizer, loadLlama2cTokenizer } from "./files.js";
export { type HfTokenizerOptions, hfTokenizerFromJson } from "./hf.js";
export { type Llama2cTokenizer, llama2cTokenizerFromBytes } from "./llama2c.js";
export {
  type TiktokenEncodingName,
  type TiktokenTokenizer,
  tiktokenTokenizer,
} from "./tiktoken.js";

const TIKTOKEN: readonly TiktokenEncodingName[] = ["cl100k_base", "o200k_base"];

const FORMS = [
  '"cl100k_base" or "o200k_base" (tiktoken)',
  '"hf:<folder with tokenizer.json>"',
  '"llama2c:<path to tok*.bin>"',
  "a path ending in .bin (llama2.c)",
  "a folder holding tokenizer.json, or the tokenizer.json itself (Hugging Face)",
].join("; ");

/**
 * The tokenizer a spec names: "cl100k_base" | "o200k_base" | "hf:<folder>" |
 * "llama2c:<path to tok*.bin>", or a bare path (`*.bin` → llama2.c, a folder holding
 * tokenizer.json or a tokenizer.json file → Hugging Face). Files are only read locally; a
 * missing one is a `DataError` "tokenizer_not_found", an unrecognised spec "unknown_tokenizer".
 */
export function loadTokenizer(spec: string): Tokenizer {
  if ((TIKTOKEN as readonly string[]).includes(spec)) {
    return tiktokenTokenizer(spec as TiktokenEncodingName);
  }
  if (spec.startsWith("hf:")) return loadHfTokenizer(spec.slice(3));
  if (spec.startsWith("llama2c:")) return loadLlama2cTokenizer(spec.slice(8));
  if (spec.endsWith(".bin")) return loadLlama2cTokenizer(spec);
  if (basename(spec) === "tokenizer.json") return loadHfTokenizer(dirname(spec));
  if (isDirectory(spec) && existsSync(join(spec, "tokenizer.json"))) return loadHfTokenizer(spec);
  const why = isDirectory(spec) ? ` (the folder ${spec} has no tokenizer.json)` : "";
  throw new DataError("unknown_tokenizer", `unknown tokenizer "${spec}"${why}; expected ${FORMS}`);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
