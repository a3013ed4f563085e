import { describe, expect, it } from "vitest";
import type { RecordSource } from "../types.js";
import { type DatasetFormat, detectFormat, parseRecord } from "./formats.js";
import { errorOf } from "./test-helpers.js";

const source: RecordSource = { file: "data.jsonl", line: 7 };

describe("detectFormat", () => {
  it.each<[unknown, DatasetFormat | null]>([
    [{ instruction: "a", input: "", output: "b" }, "alpaca"],
    [{ instruction: "a", input: "", response: "b" }, "alpaca"],
    [{ instruction: "a" }, "alpaca"],
    [{ question: "q", answer: "a" }, "gsm8k"],
    [{ messages: [] }, "chat"],
    [{ conversations: [], id: "x" }, "sharegpt"],
    [{ text: "raw" }, null],
    [[{ instruction: "a" }], null],
    ["instruction", null],
    [null, null],
  ])("%j → %s", (value, format) => {
    expect(detectFormat(value)).toBe(format);
  });

  it("ignores inherited keys", () => {
    const value = Object.create({ instruction: "a" }) as object;
    expect(detectFormat(value)).toBeNull();
  });
});

describe("parseRecord, valid records", () => {
  it.each<[string, unknown, DatasetFormat, unknown]>([
    [
      "alpaca",
      { instruction: "Add.", input: "2 and 3", output: "5", id: 1 },
      "alpaca",
      { kind: "instruction", instruction: "Add.", input: "2 and 3", output: "5" },
    ],
    [
      "alpaca without input",
      { instruction: "Say hi.", output: "hi" },
      "alpaca",
      { kind: "instruction", instruction: "Say hi.", input: "", output: "hi" },
    ],
    [
      "alpaca with null input",
      { instruction: "Say hi.", input: null, output: "hi" },
      "alpaca",
      { kind: "instruction", instruction: "Say hi.", input: "", output: "hi" },
    ],
    [
      "GPTeacher (response alias)",
      { instruction: "Code it.", input: "", response: "x = 1" },
      "alpaca",
      { kind: "instruction", instruction: "Code it.", input: "", output: "x = 1" },
    ],
    [
      "gsm8k",
      { question: "1+1?", answer: "2\n#### 2" },
      "gsm8k",
      { kind: "instruction", instruction: "1+1?", input: "", output: "2\n#### 2" },
    ],
    [
      "chat",
      {
        messages: [
          { role: "system", content: "" },
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello", name: "bot" },
        ],
      },
      "chat",
      {
        kind: "chat",
        messages: [
          { role: "system", content: "" },
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello" },
        ],
      },
    ],
    [
      "ShareGPT, every role name",
      {
        conversations: [
          { from: "system", value: "s" },
          { from: "human", value: "a" },
          { from: "gpt", value: "b" },
          { from: "user", value: "c" },
          { from: "chatgpt", value: "d" },
          { from: "user", value: "e" },
          { from: "assistant", value: "f" },
        ],
      },
      "sharegpt",
      {
        kind: "chat",
        messages: [
          { role: "system", content: "s" },
          { role: "user", content: "a" },
          { role: "assistant", content: "b" },
          { role: "user", content: "c" },
          { role: "assistant", content: "d" },
          { role: "user", content: "e" },
          { role: "assistant", content: "f" },
        ],
      },
    ],
  ])("%s", (_name, value, format, expected) => {
    expect(parseRecord(value, format, source)).toEqual(expected);
  });
});

describe("parseRecord, invalid records", () => {
  // [case, value, format, code, field, fragments the message must contain]
  it.each<[string, unknown, DatasetFormat, string, string | null, string[]]>([
    ["not an object", ["a"], "alpaca", "invalid_top_level", null, ["object", "array of 1 item"]],
    ["string record", "hello", "gsm8k", "invalid_top_level", null, ['string "hello"']],
    [
      "missing output",
      { instruction: "a", input: "" },
      "alpaca",
      "missing_field",
      "output",
      ['alias "response"', "received nothing", "keys [instruction, input]"],
    ],
    [
      "null output",
      { instruction: "a", output: null },
      "alpaca",
      "missing_field",
      "output",
      ["null"],
    ],
    [
      "missing instruction",
      { output: "b" },
      "alpaca",
      "missing_field",
      "instruction",
      ["non-empty string"],
    ],
    [
      "numeric instruction",
      { instruction: 42, output: "b" },
      "alpaca",
      "invalid_field",
      "instruction",
      ["expected a non-empty string", "received number 42"],
    ],
    [
      "object input",
      { instruction: "a", input: { x: 1 }, output: "b" },
      "alpaca",
      "invalid_field",
      "input",
      ["expected a string", "object with keys [x]"],
    ],
    [
      "both output and response",
      { instruction: "a", output: "b", response: "c" },
      "alpaca",
      "invalid_field",
      "output",
      ['"output", "response"', "both"],
    ],
    [
      "whitespace response",
      { instruction: "a", response: " \n\t " },
      "alpaca",
      "empty_response",
      "response",
      ["non-empty", "whitespace"],
    ],
    [
      "empty answer",
      { question: "q", answer: "" },
      "gsm8k",
      "empty_response",
      "answer",
      ['string ""'],
    ],
    ["blank question", { question: "  ", answer: "a" }, "gsm8k", "empty_field", "question", []],
    [
      "array answer",
      { question: "q", answer: ["a"] },
      "gsm8k",
      "invalid_field",
      "answer",
      ["array of 1 item"],
    ],
    [
      "messages not an array",
      { messages: "hi" },
      "chat",
      "invalid_field",
      "messages",
      ["array of turns", 'string "hi"'],
    ],
    [
      "turn not an object",
      { messages: [{ role: "user", content: "a" }, "b"] },
      "chat",
      "invalid_field",
      "messages[1]",
      ['{"role", "content"}'],
    ],
    [
      "bad role",
      { messages: [{ role: "tool", content: "x" }] },
      "chat",
      "invalid_field",
      "messages[0].role",
      ['"system", "user", "assistant"', 'string "tool"'],
    ],
    [
      "human is not a chat role",
      { messages: [{ role: "human", content: "x" }] },
      "chat",
      "invalid_field",
      "messages[0].role",
      ['"human"'],
    ],
    [
      "prototype key as role",
      { messages: [{ role: "constructor", content: "x" }] },
      "chat",
      "invalid_field",
      "messages[0].role",
      [],
    ],
    [
      "missing role",
      { messages: [{ content: "x" }] },
      "chat",
      "missing_field",
      "messages[0].role",
      ["nothing"],
    ],
    [
      "non-string content",
      { messages: [{ role: "user", content: [{ type: "text" }] }] },
      "chat",
      "invalid_field",
      "messages[0].content",
      ["array of 1 item"],
    ],
    [
      "empty assistant turn",
      {
        messages: [
          { role: "user", content: "a" },
          { role: "assistant", content: "ok" },
          { role: "user", content: "b" },
          { role: "assistant", content: "  " },
        ],
      },
      "chat",
      "empty_response",
      "messages[3].content",
      [],
    ],
    [
      "no assistant turn",
      {
        messages: [
          { role: "system", content: "s" },
          { role: "user", content: "a" },
        ],
      },
      "chat",
      "missing_response",
      "messages",
      ["2 turns", "[system, user]"],
    ],
    [
      "ShareGPT unknown speaker",
      { conversations: [{ from: "bot", value: "x" }] },
      "sharegpt",
      "invalid_field",
      "conversations[0].from",
      ['"human"', '"gpt"', '"chatgpt"', 'string "bot"'],
    ],
    [
      "ShareGPT empty gpt turn",
      {
        conversations: [
          { from: "human", value: "a" },
          { from: "gpt", value: "" },
        ],
      },
      "sharegpt",
      "empty_response",
      "conversations[1].value",
      [],
    ],
  ])("%s", (_name, value, format, code, field, fragments) => {
    const error = errorOf(() => parseRecord(value, format, source));
    expect(error.code).toBe(code);
    expect(error.field).toBe(field);
    expect(error.source).toEqual(source);
    expect(error.message).toContain("data.jsonl:7");
    if (field !== null) expect(error.message).toContain(`field "${field}"`);
    for (const fragment of fragments) expect(error.message).toContain(fragment);
  });
});
