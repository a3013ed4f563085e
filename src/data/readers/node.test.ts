import { closeSync, openSync, statSync, writeSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATA_DIR } from "../../../test/data-dir.js";
import { DataError } from "../types.js";
import { loadDataset, readDataset } from "./node.js";
import type { ReadOptions } from "./options.js";

const dataset = (name: string) => join(DATA_DIR, "datasets", name);

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "infobatch-readers-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `text` to a fresh temp file and returns its path. */
async function temp(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** The DataError that loading `path` rejects with. */
async function loadError(path: string, options?: ReadOptions): Promise<DataError> {
  const error = await loadDataset(path, options).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  return error as DataError;
}

describe("the real datasets", () => {
  it("reads GSM8K train and test completely, detected as gsm8k", async () => {
    for (const [name, count] of [
      ["gsm8k_train.jsonl", 7_473],
      ["gsm8k_test.jsonl", 1_319],
    ] as const) {
      const { records, report } = await loadDataset(dataset(name));
      expect(records).toHaveLength(count);
      expect(report).toMatchObject({
        fileType: "jsonl",
        format: "gsm8k",
        detected: true,
        total: count,
        valid: count,
        skipped: 0,
        complete: true,
      });
      expect(records.at(-1)!.source).toEqual({ file: dataset(name), line: count });
      for (const { record } of records) {
        expect(record.kind === "instruction" && record.input === "").toBe(true);
        expect(record.kind === "instruction" && /#### /.test(record.output)).toBe(true);
      }
    }
    const { records } = await loadDataset(dataset("gsm8k_train.jsonl"));
    expect(records[0]!.record).toMatchObject({
      instruction: expect.stringMatching(/^Natalia sold clips to 48 of her friends/),
      output: expect.stringMatching(/#### 72$/),
    });
  });

  it("reads GPTeacher Codegen as a JSON array of Alpaca records with `response` outputs", async () => {
    const { records, report } = await loadDataset(dataset("gpteacher_codegen-instruct.json"));
    expect(records).toHaveLength(4_535);
    expect(report).toMatchObject({ fileType: "json", format: "alpaca", valid: 4_535, skipped: 0 });
    expect(records[0]!.source).toEqual({
      file: dataset("gpteacher_codegen-instruct.json"),
      index: 0,
    });
    const inputs = records.map(({ record }) =>
      record.kind === "instruction" ? record.input : null,
    );
    expect(inputs.filter((i) => i === "")).toHaveLength(955);
    expect(records[0]!.record).toMatchObject({
      kind: "instruction",
      input: "width: 5, height: 8",
      output: expect.stringContaining("#include <iostream>"),
    });
    for (const { record } of records) {
      expect(record.kind === "instruction" && record.output.trim() !== "").toBe(true);
    }
  });

  it("honours an explicit format and rejects the wrong one at the first record", async () => {
    const given = await loadDataset(dataset("gsm8k_test.jsonl"), { format: "gsm8k" });
    expect(given.report).toMatchObject({ format: "gsm8k", detected: false, valid: 1_319 });
    const error = await loadError(dataset("gsm8k_test.jsonl"), { format: "sharegpt" });
    expect(error.message).toMatch(/gsm8k_test\.jsonl:1, field "conversations": expected an array/);
  });
});

describe("bad input files", () => {
  const good = JSON.stringify({ instruction: "Say hi.", input: "", output: "hi" });

  it("names file, line and the problem for invalid JSON on line 3", async () => {
    const path = await temp("broken.jsonl", `${good}\n${good}\n{"instruction": "x", "output": }\n`);
    const error = await loadError(path);
    expect(error.code).toBe("invalid_json");
    expect(error.source).toEqual({ file: path, line: 3 });
    expect(error.message).toContain("broken.jsonl:3");
    expect(error.message).toContain("expected a JSON value, received '}'");
  });

  it.each([
    [
      "missing field",
      { instruction: "x", input: "" },
      "missing_field",
      "output",
      "received nothing",
    ],
    [
      "non-string field",
      { instruction: ["x"], output: "y" },
      "invalid_field",
      "instruction",
      "received array of 1 item",
    ],
    [
      "number response",
      { instruction: "x", response: 3 },
      "invalid_field",
      "response",
      "received number 3",
    ],
    [
      "empty response",
      { instruction: "x", output: "" },
      "empty_response",
      "output",
      'received string ""',
    ],
    [
      "whitespace response",
      { instruction: "x", output: " \n " },
      "empty_response",
      "output",
      "whitespace only",
    ],
  ])("%s", async (_name, record, code, field, received) => {
    const path = await temp(`${code}-${field}.jsonl`, `${good}\n\n${JSON.stringify(record)}\n`);
    const error = await loadError(path);
    expect(error.code).toBe(code);
    expect(error.field).toBe(field);
    expect(error.source).toEqual({ file: path, line: 3 });
    expect(error.message).toContain(`.jsonl:3, field "${field}": expected a`);
    expect(error.message).toContain(received);
  });

  it("rejects a file whose records match no format, listing the formats", async () => {
    const path = await temp(
      "unknown.jsonl",
      `${JSON.stringify({ prompt: "a", completion: "b" })}\n`,
    );
    const error = await loadError(path);
    expect(error.code).toBe("unknown_format");
    expect(error.message).toContain("unknown.jsonl:1");
    expect(error.message).toContain("keys [prompt, completion]");
    for (const f of ["chat", "sharegpt", "alpaca", "gsm8k"]) expect(error.message).toContain(f);
  });

  it("rejects a chat record with a role outside system / user / assistant", async () => {
    const messages = [
      { role: "user", content: "hi" },
      { role: "bot", content: "hello" },
    ];
    const path = await temp("chat.json", JSON.stringify([{ messages }]));
    const error = await loadError(path);
    expect(error.message).toBe(
      `${path} [0], field "messages[1].role": expected one of "system", "user", "assistant", received string "bot"`,
    );
  });

  it("maps ShareGPT speakers to roles", async () => {
    const conversations = [
      { from: "system", value: "Be brief." },
      { from: "human", value: "2+2?" },
      { from: "gpt", value: "4" },
      { from: "user", value: "3+3?" },
      { from: "chatgpt", value: "6" },
    ];
    const path = await temp("sharegpt.jsonl", `${JSON.stringify({ id: "x1", conversations })}\n`);
    const { records, report } = await loadDataset(path);
    expect(report.format).toBe("sharegpt");
    expect(records[0]!.record).toEqual({
      kind: "chat",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "2+2?" },
        { role: "assistant", content: "4" },
        { role: "user", content: "3+3?" },
        { role: "assistant", content: "6" },
      ],
    });
  });

  it("skips, counts and reports bad records under onInvalid: skip", async () => {
    const bad = JSON.stringify({ instruction: "x", output: "  " });
    const lines = Array.from({ length: 50 }, (_, i) => (i % 5 === 4 ? bad : good));
    lines.splice(10, 0, "", "not json");
    const path = await temp("mixed.jsonl", lines.join("\n"));
    const { records, report } = await loadDataset(path, { onInvalid: "skip", maxReportedSkips: 4 });
    expect(records).toHaveLength(40);
    expect(report).toMatchObject({ total: 51, valid: 40, skipped: 11, blankLines: 1 });
    expect(report.skippedByCode).toEqual({ empty_response: 10, invalid_json: 1 });
    expect(report.skips.map((s) => `${s.source.line}:${s.code}`)).toEqual([
      "5:empty_response",
      "10:empty_response",
      "12:invalid_json",
      "17:empty_response",
    ]);
    expect(report.skips.every((s) => s.message.startsWith(path))).toBe(true);
  });

  it("passes a missing file's error through", async () => {
    await expect(loadDataset(join(dir, "absent.jsonl"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

/** `gc()` when this runtime lets us expose it (V8 does), else undefined. */
function exposeGc(): (() => void) | undefined {
  try {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
}

describe("streaming", () => {
  it("reads a 200,000-line file with memory bounded far below its size", async () => {
    const lines = 200_000;
    const path = join(dir, "big.jsonl");
    const fd = openSync(path, "w");
    const padding = "x".repeat(400);
    for (let i = 0; i < lines; i += 1000) {
      const block = Array.from({ length: 1000 }, (_, k) =>
        JSON.stringify({ question: `Q${i + k} ${padding}`, answer: `A${i + k}` }),
      );
      writeSync(fd, `${block.join("\n")}\n`);
    }
    closeSync(fd);
    const size = statSync(path).size;
    expect(size).toBeGreaterThan(80e6);

    // Live memory, heap and buffers, after a full collection when gc() is available: garbage
    // does not count, only what the reader holds on to. Without gc() the peak includes
    // garbage, so the bound is looser but still far below the file's size.
    const gc = exposeGc();
    const live = () => {
      gc?.();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const base = live();
    let peak = 0;
    let count = 0;
    let last = "";
    for await (const { record, source } of readDataset(path)) {
      count++;
      if (count % 20_000 === 0) peak = Math.max(peak, live() - base);
      if (source.line === lines && record.kind === "instruction") last = record.output;
    }
    expect(count).toBe(lines);
    expect(last).toBe(`A${lines - 1}`);
    expect(peak).toBeLessThan(gc === undefined ? size / 3 : size / 10);
  });

  it("stops reading when the loop breaks early", async () => {
    const path = await temp(
      "early.jsonl",
      `${'{"question": "q", "answer": "a"}\n'.repeat(1000)}{bad`,
    );
    const stream = readDataset(path);
    let count = 0;
    for await (const _ of stream) if (++count === 10) break;
    // Had it read on, the bad last line would have thrown or been counted.
    expect(stream.report()).toMatchObject({ valid: 10, complete: false });
  });
});
