/**
 * The shared reference data the tokenizer tests read (not exported from the package):
 * `$INFOBATCH_DATA`, else `../shared/data` beside the repository.
 */
import { readFileSync } from "node:fs";

import { dataPath } from "../../../test/data-dir.js";

export { DATA_DIR as dataDir, dataPath } from "../../../test/data-dir.js";

export const gpt2Folder = dataPath("tokenizers", "gpt2");
export const tok512Path = dataPath("models", "stories260K", "tok512.bin");

export interface Gsm8kRecord {
  question: string;
  answer: string;
}

/** GSM8K records in file order. */
export function gsm8k(split: "train" | "test"): Gsm8kRecord[] {
  const text = readFileSync(dataPath("datasets", `gsm8k_${split}.jsonl`), "utf8");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Gsm8kRecord);
}

/** Question and answer texts of a GSM8K split: q0, a0, q1, a1, … */
export function gsm8kTexts(split: "train" | "test"): string[] {
  return gsm8k(split).flatMap((record) => [record.question, record.answer]);
}

/** GPTeacher Codegen instruction, input and response texts (code: tabs, braces, Unicode). */
export function gpteacherTexts(): string[] {
  const records = JSON.parse(
    readFileSync(dataPath("datasets", "gpteacher_codegen-instruct.json"), "utf8"),
  ) as Array<{ instruction: string; input: string; response: string }>;
  return records.flatMap((record) => [record.instruction, record.input, record.response]);
}

/** Indices of the texts where decode(encode(text)) differs (empty when all round-trip). */
export function roundTripFailures(
  texts: readonly string[],
  tokenizer: { encode(text: string): number[]; decode(ids: number[]): string },
): number[] {
  const failures: number[] = [];
  texts.forEach((text, i) => {
    if (tokenizer.decode(tokenizer.encode(text)) !== text) failures.push(i);
  });
  return failures;
}
