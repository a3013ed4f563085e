/**
 * Chat templates: a Hugging Face `chat_template` (Jinja, rendered by @huggingface/jinja).
 * Assistant turns are found by rendering the conversation incrementally: the text a turn adds
 * after the generation prompt is that turn's trainable segment. A template that does not render
 * conversations as growing prefixes is refused rather than masked wrongly.
 */
import { Template as JinjaTemplate } from "@huggingface/jinja";
import { type ChatMessage, DataError, type ExampleRecord } from "../types.js";
import type { Segment, Template } from "./segments.js";

/** ChatML, used when a tokenizer ships no chat template of its own. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export interface ChatTemplateOptions {
  /** Jinja source (`chat_template` of tokenizer_config.json). Default: ChatML. */
  source?: string;
  name?: string;
  bosToken?: string;
  eosToken?: string;
}

/** Turns an instruction record into a two-message conversation. */
export function asConversation(record: ExampleRecord): ChatMessage[] {
  if (record.kind === "chat") return record.messages;
  const user =
    record.input.trim() === "" ? record.instruction : `${record.instruction}\n\n${record.input}`;
  return [
    { role: "user", content: user },
    { role: "assistant", content: record.output },
  ];
}

export function chatTemplate(options: ChatTemplateOptions = {}): Template {
  const jinja = new JinjaTemplate(options.source ?? CHATML_TEMPLATE);
  const name = options.name ?? "chat";
  const render = (messages: ChatMessage[], addGenerationPrompt: boolean): string =>
    jinja.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: options.bosToken ?? "",
      eos_token: options.eosToken ?? "",
    });
  return {
    name,
    render(record): Segment[] {
      const messages = asConversation(record);
      const segments: Segment[] = [];
      let done = "";
      for (let i = 0; i < messages.length; i++) {
        if (messages[i].role !== "assistant") continue;
        const prompt = render(messages.slice(0, i), true);
        const full = render(messages.slice(0, i + 1), false);
        if (!prompt.startsWith(done) || !full.startsWith(prompt)) {
          throw new DataError(
            "template_not_incremental",
            `chat template "${name}" does not render the conversation as growing prefixes at message ${i}; its assistant turns cannot be masked exactly`,
          );
        }
        segments.push({ text: prompt.slice(done.length), trainable: false });
        segments.push({ text: full.slice(prompt.length), trainable: true });
        done = full;
      }
      const rest = render(messages, false).slice(done.length);
      if (rest !== "") segments.push({ text: rest, trainable: false });
      return segments.filter((s) => s.text !== "");
    },
  };
}
