import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../../core/index.js";
import { locateJsonError } from "./json-locate.js";

/** Seeded uniform draws in [0, 1) (the engine's xoshiro128**): the same fuzz cases every run. */
function seededRandom(seed: number): () => number {
  const rng = new Xoshiro128(seed);
  return () => rng.nextFloat();
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe("locateJsonError", () => {
  it.each([
    ['[1, 2,\n{"a":}]', 2, 6, 2, "a JSON value", "'}'"],
    ["[1,2", 1, 5, 1, "',' or ']'", "end of input"],
    ['{"a" 1}', 1, 6, null, "':' after the property name", "'1'"],
    ['{"a": 1,}', 1, 9, null, "a property name in double quotes", "'}'"],
    ['[{"a": 1}, {"a": 2}]\n[', 2, 1, 1, "end of input", "'['"],
    ['["x" "y"]', 1, 6, 0, "',' or ']'", "'\"'"],
    ['["tab\there"]', 1, 2, 0, "a JSON value", "'\"'"],
    ["[[1, 2], [3,, 4]]", 1, 13, 1, "a JSON value", "','"],
    ["", 1, 1, null, "a JSON value", "end of input"],
    ["[01]", 1, 3, 0, "',' or ']'", "'1'"],
  ])("%j", (text, line, column, element, expected, received) => {
    expect(parses(text)).toBe(false);
    expect(locateJsonError(text)).toMatchObject({ line, column, element, expected, received });
  });

  it("finds nothing wrong in valid JSON, however deeply nested", () => {
    for (const text of [
      '{"a": [1, -2.5e+3, true, false, null, "\\u00e9\\n", {}], "b": {"c": []}}',
      " [ ] ",
      '"\ud800 lone surrogates are valid JSON"',
      `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
    ]) {
      expect(parses(text)).toBe(true);
      expect(locateJsonError(text)).toBeNull();
    }
  });

  it("agrees with JSON.parse on 5,000 random corruptions of valid JSON", () => {
    const random = seededRandom(1);
    const base = JSON.stringify([
      { instruction: 'Sum "a" and b.', input: "a: 1\nb: 2", output: "3", n: -0.5e2 },
      { messages: [{ role: "user", content: "hé" }], ok: true, none: null },
    ]);
    const pieces = [
      '"',
      "\\",
      ",",
      ":",
      "[",
      "]",
      "{",
      "}",
      " ",
      "\n",
      "1",
      "-",
      "e",
      "t",
      "\u0001",
    ];
    let invalid = 0;
    for (let i = 0; i < 5_000; i++) {
      let text = base;
      for (let k = 1 + Math.floor(random() * 3); k > 0; k--) {
        const at = Math.floor(random() * text.length);
        const op = random();
        const piece = pieces[Math.floor(random() * pieces.length)];
        if (op < 0.4) text = text.slice(0, at) + text.slice(at + 1);
        else if (op < 0.8) text = text.slice(0, at) + piece + text.slice(at);
        else text = text.slice(0, at) + piece + text.slice(at + 1);
      }
      const location = locateJsonError(text);
      expect(location === null, text).toBe(parses(text));
      if (location !== null) {
        invalid++;
        // Everything before the offset is a viable JSON prefix: it is valid, or it only lacks
        // its continuation (so the reported position is the first wrong one).
        const prefix = text.slice(0, location.offset);
        const before = locateJsonError(prefix);
        expect(before === null || before.offset === prefix.length, text).toBe(true);
      }
    }
    // Most corruptions break the text: the comparison exercised the error paths.
    expect(invalid).toBeGreaterThan(3_000);
  });
});
