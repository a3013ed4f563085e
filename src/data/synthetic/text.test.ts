import { describe, expect, it } from "vitest";
import { TASK_NAMES } from "./tasks.js";
import { pretrainingLines, pretrainingText } from "./text.js";
import { asciiTokenizer } from "./tokenizer.js";

describe("pretrainingText", () => {
  const lines = pretrainingText({ seed: 3, lines: 2000 });

  it("is a pure function of the seed, and a prefix of the endless stream", () => {
    expect(pretrainingText({ seed: 3, lines: 2000 })).toEqual(lines);
    expect(pretrainingText({ seed: 4, lines: 50 })).not.toEqual(lines.slice(0, 50));
    const stream = pretrainingLines(3);
    expect(Array.from({ length: 10 }, () => stream.next().value)).toEqual(lines.slice(0, 10));
  });

  it("is varied text over the built-in tokenizer's characters, one line per sentence", () => {
    const tok = asciiTokenizer();
    for (const line of lines) {
      expect(line).not.toContain("\n");
      expect(tok.decode(tok.encode(line))).toBe(line);
    }
    expect(new Set(lines).size).toBeGreaterThan(1900);
    const text = lines.join("\n");
    expect(text).toMatch(/[A-Z]{3}/);
    expect(text).toMatch(/\d/);
  });

  it("is not in the instruction format (no task prompt line)", () => {
    const prompt = new RegExp(`^(${TASK_NAMES.join("|")})\\b[^:]*:`);
    expect(lines.filter((line) => prompt.test(line))).toEqual([]);
    expect(lines.filter((line) => /^(first|last) letter:/.test(line))).toEqual([]);
  });

  it("refuses a negative or fractional line count", () => {
    expect(() => pretrainingText({ seed: 0, lines: -1 })).toThrow(/lines/);
    expect(() => pretrainingText({ seed: 0, lines: 0.5 })).toThrow(/lines/);
  });
});
