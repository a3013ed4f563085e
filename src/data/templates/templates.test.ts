import { describe, expect, it } from "vitest";
import type { ExampleRecord } from "../types.js";
import { alpacaTemplate, chatTemplate, formatTemplate, questionAnswerTemplate } from "./index.js";

const instruction = (input = ""): ExampleRecord => ({
  kind: "instruction",
  instruction: "Add {x} and 2.",
  input,
  output: "4",
});

describe("instruction templates", () => {
  it("alpaca: prompt with and without input, response separate", () => {
    const [p, r] = alpacaTemplate.render(instruction());
    expect(p.trainable).toBe(false);
    expect(p.text).toContain("### Instruction:\nAdd {x} and 2.\n\n### Response:\n");
    expect(p.text).not.toContain("### Input:");
    expect(r).toEqual({ text: "4", trainable: true });
    const [withInput] = alpacaTemplate.render(instruction("x = 2"));
    expect(withInput.text).toContain("### Input:\nx = 2\n\n### Response:\n");
    expect(
      withInput.text.startsWith(
        "Below is an instruction that describes a task, paired with an input",
      ),
    ).toBe(true);
  });

  it("format strings fill placeholders once (braces in data stay literal)", () => {
    expect(questionAnswerTemplate.render(instruction())[0].text).toBe(
      "Question: Add {x} and 2.\nAnswer: ",
    );
    const t = formatTemplate({
      prompt: "<{instruction}>",
      promptWithInput: "<{instruction}|{input}>",
    });
    expect(t.render(instruction("{instruction}"))[0].text).toBe("<Add {x} and 2.|{instruction}>");
  });

  it("refuses chat records with a clear error", () => {
    const chat: ExampleRecord = { kind: "chat", messages: [{ role: "user", content: "hi" }] };
    expect(() => alpacaTemplate.render(chat)).toThrow(/chat template/);
  });
});

describe("chat templates", () => {
  const conversation: ExampleRecord = {
    kind: "chat",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "Bye" },
      { role: "assistant", content: "Bye." },
    ],
  };

  it("ChatML by default: each assistant turn is one trainable segment", () => {
    const segments = chatTemplate().render(conversation);
    const trainable = segments.filter((s) => s.trainable).map((s) => s.text);
    expect(trainable).toEqual(["Hello.<|im_end|>\n", "Bye.<|im_end|>\n"]);
    expect(segments.map((s) => s.text).join("")).toBe(
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\nBye.<|im_end|>\n",
    );
  });

  it("renders a Hugging Face chat_template with bos/eos tokens (Zephyr style)", () => {
    const zephyr =
      "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ '<|system|>\\n' + message['content'] + eos_token }}{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\\n'  + message['content'] + eos_token }}{% endif %}{% if loop.last and add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}{% endfor %}";
    // Zephyr's generation prompt lacks the "\n" its assistant turns start with: still a prefix.
    const segments = chatTemplate({ source: zephyr, eosToken: "</s>" }).render(conversation);
    expect(segments.filter((s) => s.trainable).map((s) => s.text)).toEqual([
      "\nHello.</s>",
      "\nBye.</s>",
    ]);
  });

  it("refuses templates that do not render growing prefixes", () => {
    const reordering =
      "{% for message in messages | reverse %}{{ message['content'] }}{% endfor %}";
    expect(() => chatTemplate({ source: reordering }).render(conversation)).toThrow(
      /growing prefixes/,
    );
  });

  it("turns instruction records into a user/assistant exchange", () => {
    const segments = chatTemplate().render(instruction("x = 2"));
    expect(segments.filter((s) => s.trainable).map((s) => s.text)).toEqual(["4<|im_end|>\n"]);
    expect(segments[0].text).toContain("Add {x} and 2.\n\nx = 2");
  });
});
