import { describe, expect, it } from "vitest";
import type { SourcedRecord } from "../types.js";
import type { ReadOptions } from "./options.js";
import { readRecordsFromChunks, readRecordsFromText } from "./read.js";
import { errorOf } from "./test-helpers.js";

const gsm = (q: string, a: string) => JSON.stringify({ question: q, answer: a });

async function* chunked(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(stream: AsyncIterable<SourcedRecord>): Promise<SourcedRecord[]> {
  const out: SourcedRecord[] = [];
  for await (const r of stream) out.push(r);
  return out;
}

describe("readRecordsFromText, JSON Lines", () => {
  it("ignores blank lines without counting them as records, and keeps physical line numbers", () => {
    const text = `\n${gsm("a", "1")}\n   \n\r\n${gsm("b", "2")}\n\n`;
    const { records, report } = readRecordsFromText(text, "t.jsonl");
    expect(records.map((r) => r.source)).toEqual([
      { file: "t.jsonl", line: 2 },
      { file: "t.jsonl", line: 5 },
    ]);
    expect(report).toMatchObject({ total: 2, valid: 2, skipped: 0, blankLines: 4 });
    expect(report).toMatchObject({ fileType: "jsonl", format: "gsm8k", detected: true });
  });

  it("reads CRLF files and a byte-order mark", () => {
    const { records } = readRecordsFromText(
      `\uFEFF${gsm("a", "1")}\r\n${gsm("b", "2")}\r\n`,
      "t.jsonl",
    );
    expect(records.map((r) => r.record)).toEqual([
      { kind: "instruction", instruction: "a", input: "", output: "1" },
      { kind: "instruction", instruction: "b", input: "", output: "2" },
    ]);
  });

  it("throws the first invalid record under the default policy", () => {
    const text = [gsm("a", "1"), gsm("b", " "), "{oops", ""].join("\n");
    const error = errorOf(() => readRecordsFromText(text, "t.jsonl"));
    expect(error.code).toBe("empty_response");
    expect(error.source).toEqual({ file: "t.jsonl", line: 2 });
  });

  it("skips, counts and reports every invalid record under onInvalid: skip", () => {
    const lines = [
      gsm("ok", "1"),
      "{not json",
      JSON.stringify({ question: "q" }),
      JSON.stringify({ question: 3, answer: "x" }),
      "",
      gsm("ok", "2"),
      JSON.stringify({ question: "q", answer: "\t" }),
      '"just a string"',
    ];
    const { records, report } = readRecordsFromText(lines.join("\n"), "t.jsonl", {
      onInvalid: "skip",
      maxReportedSkips: 3,
    });
    expect(records.map((r) => r.source.line)).toEqual([1, 6]);
    expect(report).toMatchObject({ total: 7, valid: 2, skipped: 5, blankLines: 1, complete: true });
    expect(report.skippedByCode).toEqual({
      invalid_json: 1,
      missing_field: 1,
      invalid_field: 1,
      empty_response: 1,
      invalid_top_level: 1,
    });
    // Only the first three are described; each names its line and field.
    expect(report.skips.map((s) => [s.source.line, s.code, s.field])).toEqual([
      [2, "invalid_json", null],
      [3, "missing_field", "answer"],
      [4, "invalid_field", "question"],
    ]);
    expect(report.skips[2]!.message).toBe(
      't.jsonl:4, field "question": expected a non-empty string, received number 3',
    );
  });

  it("detects the format from the first record that has identifying keys, then keeps it", () => {
    const lines = [
      JSON.stringify({ text: "no format here" }),
      JSON.stringify({ instruction: "a", response: "b" }),
      gsm("a gsm8k record", "in an alpaca file"),
    ];
    const { records, report } = readRecordsFromText(lines.join("\n"), "t.jsonl", {
      onInvalid: "skip",
    });
    expect(report.format).toBe("alpaca");
    expect(records).toHaveLength(1);
    expect(report.skips.map((s) => [s.source.line, s.code])).toEqual([
      [1, "unknown_format"],
      [3, "missing_field"],
    ]);
  });

  it("uses an explicit format without looking at the keys", () => {
    const text = JSON.stringify({ question: "q", answer: "a" });
    const error = errorOf(() => readRecordsFromText(text, "t.jsonl", { format: "alpaca" }));
    expect([error.code, error.field]).toEqual(["missing_field", "instruction"]);
    expect(readRecordsFromText(text, "t.jsonl", { format: "gsm8k" }).report).toMatchObject({
      format: "gsm8k",
      detected: false,
    });
  });

  it("fails a file with no records, or with no valid record, at its end", () => {
    expect(errorOf(() => readRecordsFromText("\n \n", "t.jsonl")).code).toBe("empty_dataset");
    expect(errorOf(() => readRecordsFromText("", "t.json")).code).toBe("empty_dataset");
    expect(errorOf(() => readRecordsFromText("[]", "t.json")).code).toBe("empty_dataset");
    const bad = errorOf(() =>
      readRecordsFromText(`${gsm("a", "")}\n${gsm("b", "")}`, "t.jsonl", { onInvalid: "skip" }),
    );
    expect(bad.code).toBe("no_valid_records");
    expect(bad.message).toContain("2 invalid");
    expect(bad.message).toContain("t.jsonl:1");
  });

  it.each<[ReadOptions, string, string]>([
    [
      { format: "jsonl" as never },
      "unknown_format",
      '"auto", "chat", "sharegpt", "alpaca", "gsm8k"',
    ],
    [{ onInvalid: "ignore" as never }, "invalid_option", 'received string "ignore"'],
    [{ maxReportedSkips: -1 }, "invalid_option", "non-negative integer"],
  ])("rejects bad options %j", (options, code, fragment) => {
    const error = errorOf(() => readRecordsFromText(gsm("a", "b"), "t.jsonl", options));
    expect(error.code).toBe(code);
    expect(error.message).toContain(fragment);
  });
});

describe("readRecordsFromText, JSON arrays", () => {
  it("names records by array index", () => {
    const text = JSON.stringify([
      { instruction: "a", output: "b" },
      { instruction: "c", input: 7, output: "d" },
    ]);
    const error = errorOf(() => readRecordsFromText(text, "t.json"));
    expect(error.source).toEqual({ file: "t.json", index: 1 });
    expect(error.message).toBe('t.json [1], field "input": expected a string, received number 7');
  });

  it("names line, column and element of a syntax error", () => {
    const text = '[\n  {"question": "a", "answer": "b"},\n  {"question": "c", "answer": }\n]';
    const error = errorOf(() => readRecordsFromText(text, "t.json", { onInvalid: "skip" }));
    expect(error.code).toBe("invalid_json");
    expect(error.source).toEqual({ file: "t.json", line: 3, index: 1 });
    expect(error.message).toBe(
      "t.json:3 [1]: invalid JSON at column 31: expected a JSON value, received '}'",
    );
  });

  it.each([
    ['"a string"', 'string "a string"'],
    ["42", "number 42"],
    ["null", "null"],
  ])("rejects a top-level %s", (text, received) => {
    const error = errorOf(() => readRecordsFromText(text, "t.json"));
    expect(error.code).toBe("invalid_top_level");
    expect(error.message).toBe(
      `t.json: expected a JSON array of records (or JSON Lines: one object per line), received ${received}`,
    );
  });

  it("rejects array elements that are not objects, by index", () => {
    const error = errorOf(() => readRecordsFromText('["a", "b"]', "t.json"));
    expect(error.code).toBe("invalid_top_level");
    expect(error.message).toBe(
      't.json [0]: expected a JSON object per record, received string "a"',
    );
  });

  it("reads a .json file that starts with { as JSON Lines, and says so when it is not", () => {
    const lines = `${gsm("a", "1")}\n${gsm("b", "2")}\n`;
    expect(readRecordsFromText(lines, "export.json").report).toMatchObject({
      fileType: "jsonl",
      total: 2,
    });
    const pretty = JSON.stringify({ data: [{ question: "a", answer: "b" }] }, null, 2);
    const error = errorOf(() => readRecordsFromText(pretty, "wrapped.json"));
    expect(error.code).toBe("invalid_json");
    expect(error.source).toEqual({ file: "wrapped.json", line: 1 });
    expect(error.message).toContain("read as JSON Lines");
  });
});

describe("readRecordsFromChunks", () => {
  const lines = [gsm("a", "1"), "", "{broken", gsm("b", "2"), JSON.stringify({ question: "é" })];

  it("matches the in-memory reader at any chunk size, for JSON Lines and arrays", async () => {
    const array = JSON.stringify([
      { instruction: "x", response: "ü" },
      { instruction: "y", output: "z" },
    ]);
    for (const [text, name] of [
      [lines.join("\n"), "t.jsonl"],
      [`  \n${array}`, "t.json"],
    ] as const) {
      const expected = readRecordsFromText(text, name, { onInvalid: "skip" });
      for (const size of [1, 3, 16, 1 << 16]) {
        const stream = readRecordsFromChunks(chunked(text, size), name, { onInvalid: "skip" });
        expect(await collect(stream)).toEqual(expected.records);
        expect(stream.report()).toEqual(expected.report);
      }
    }
  });

  it("reports progress during iteration and the final counts after", async () => {
    const stream = readRecordsFromChunks(chunked(lines.join("\n"), 8), "t.jsonl", {
      onInvalid: "skip",
    });
    expect(stream.report()).toMatchObject({ total: 0, complete: false, fileType: null });
    for await (const { source } of stream) {
      if (source.line === 1) expect(stream.report()).toMatchObject({ valid: 1, complete: false });
    }
    expect(stream.report()).toMatchObject({ total: 4, valid: 2, skipped: 2, complete: true });
  });

  it("throws the first invalid record from the loop under the default policy", async () => {
    const stream = readRecordsFromChunks(chunked(lines.join("\n"), 8), "t.jsonl");
    await expect(collect(stream)).rejects.toThrow(/^t\.jsonl:3: invalid JSON at column 2/);
  });

  it("skips a line of invalid UTF-8 like any invalid record", async () => {
    const bytes = [...new TextEncoder().encode(`${gsm("a", "1")}\n{"question": "`), 0xff];
    const stream = readRecordsFromChunks(
      (async function* () {
        yield Uint8Array.from(bytes);
      })(),
      "t.jsonl",
      { onInvalid: "skip" },
    );
    expect(await collect(stream)).toHaveLength(1);
    expect(stream.report().skips[0]).toMatchObject({
      code: "invalid_encoding",
      source: { line: 2 },
    });
  });

  it("closes its source when the loop breaks early", async () => {
    let closed = false;
    let pulled = 0;
    const source = async function* () {
      try {
        for (let i = 0; i < 100; i++) {
          pulled++;
          yield new TextEncoder().encode(`${gsm("q", "a")}\n`);
        }
      } finally {
        closed = true;
      }
    };
    const stream = readRecordsFromChunks(source(), "t.jsonl");
    for await (const { source: at } of stream) if (at.line === 3) break;
    expect(closed).toBe(true);
    expect(pulled).toBe(3);
    expect(stream.report()).toMatchObject({ valid: 3, complete: false });
  });

  it("can be iterated only once", async () => {
    const stream = readRecordsFromChunks(chunked(gsm("a", "1"), 8), "t.jsonl");
    await collect(stream);
    expect(() => stream[Symbol.asyncIterator]()).toThrow(/already iterated/);
  });
});
