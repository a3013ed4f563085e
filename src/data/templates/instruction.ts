/**
 * Instruction templates: Alpaca's prompt (with and without input) and a plain format-string
 * template ("Question: {instruction}\nAnswer: " and the like). The response is the output.
 */
import { DataError, type ExampleRecord } from "../types.js";
import type { Segment, Template } from "./segments.js";

export interface FormatTemplateOptions {
  name?: string;
  /** Prompt when the record has no input. Placeholders: {instruction}. */
  prompt: string;
  /** Prompt when the record has an input. Placeholders: {instruction}, {input}. Default: `prompt` with the input on its own line after the instruction. */
  promptWithInput?: string;
}

function fill(pattern: string, values: Record<string, string>): string {
  // One pass, so braces inside the values are never expanded.
  return pattern.replace(/\{(instruction|input)\}/g, (_, key: string) => values[key]);
}

function instructionOf(record: ExampleRecord, template: string) {
  if (record.kind !== "instruction") {
    throw new DataError(
      "template_mismatch",
      `the "${template}" template needs instruction records (instruction/input/output); this is a chat record: use a chat template`,
    );
  }
  return record;
}

/** A template from format strings. */
export function formatTemplate(options: FormatTemplateOptions): Template {
  const withInput =
    options.promptWithInput ?? options.prompt.replace("{instruction}", "{instruction}\n{input}");
  const name = options.name ?? "format";
  return {
    name,
    render(record): Segment[] {
      const r = instructionOf(record, name);
      const prompt = fill(r.input.trim() === "" ? options.prompt : withInput, {
        instruction: r.instruction,
        input: r.input,
      });
      return [
        { text: prompt, trainable: false },
        { text: r.output, trainable: true },
      ];
    },
  };
}

/** Stanford Alpaca's prompt template (tatsu-lab/stanford_alpaca, train.py PROMPT_DICT). */
export const alpacaTemplate: Template = formatTemplate({
  name: "alpaca",
  prompt:
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n",
  promptWithInput:
    "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n",
});

/** Prompt and response as they are: "{instruction}\n" (+ "{input}\n"), then the output. */
export const plainTemplate: Template = formatTemplate({ name: "plain", prompt: "{instruction}\n" });

/** The quality benchmark's GSM8K format (BENCH-PROTOCOL.md): "Question: {q}\nAnswer: " + answer. */
export const questionAnswerTemplate: Template = formatTemplate({
  name: "qa",
  prompt: "Question: {instruction}\nAnswer: ",
  promptWithInput: "Question: {instruction}\n{input}\nAnswer: ",
});
