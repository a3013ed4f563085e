import { describe, expect, it } from "vitest";
import { encodeSegments } from "./encode.js";
import { charTokenizer } from "./test-tokenizer.js";

const tok = charTokenizer();
const seg = (prompt: string, response: string) => [
  { text: prompt, trainable: false },
  { text: response, trainable: true },
];

describe("encodeSegments", () => {
  it("puts BOS first, EOS last, and targets exactly on the response and EOS", () => {
    const r = encodeSegments(tok, seg("Q: ", "42"), { maxLength: 64 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(tok.decode(r.tokens)).toBe("Q: 42");
    expect(r.tokens[0]).toBe(1);
    expect(r.tokens.at(-1)).toBe(2);
    expect(Array.from(r.mask)).toEqual([0, 0, 0, 0, 1, 1, 1]);
    expect(r.truncated).toBe(false);
  });

  it('"prompt-left" drops the prompt from the left (keeping BOS) before touching the response', () => {
    const r = encodeSegments(tok, seg("abcdefgh", "XYZ"), { maxLength: 8 });
    if (!r.ok) throw new Error("dropped");
    expect(r.tokens.length).toBe(8);
    expect(r.tokens[0]).toBe(1);
    expect(tok.decode(r.tokens)).toBe("fghXYZ"); // BOS f g h X Y Z EOS
    expect(Array.from(r.mask)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(r.truncated).toBe(true);
    // Prompt gone entirely, then the response's end is cut (EOS first).
    const tight = encodeSegments(tok, seg("abcdefgh", "XYZ"), { maxLength: 3 });
    if (!tight.ok) throw new Error("dropped");
    expect(Array.from(tight.tokens)).toEqual([1, "X".charCodeAt(0) + 3, "Y".charCodeAt(0) + 3]);
  });

  it('"right" keeps the first tokens and drops examples with no target left', () => {
    const r = encodeSegments(tok, seg("abcd", "XYZ"), { maxLength: 6, truncation: "right" });
    if (!r.ok) throw new Error("dropped");
    expect(tok.decode(r.tokens)).toBe("abcdX");
    expect(Array.from(r.mask)).toEqual([0, 0, 0, 0, 0, 1]);
    expect(
      encodeSegments(tok, seg("abcdefgh", "XYZ"), { maxLength: 6, truncation: "right" }),
    ).toEqual({
      ok: false,
      reason: "no_target",
    });
  });

  it('"drop" leaves long examples out', () => {
    expect(
      encodeSegments(tok, seg("abcdefgh", "XYZ"), { maxLength: 6, truncation: "drop" }),
    ).toEqual({
      ok: false,
      reason: "too_long",
    });
  });

  it("masks several assistant turns and maps special-token text to ids", () => {
    const chat = charTokenizer({ specials: { "<e>": 9000 } });
    const r = encodeSegments(
      chat,
      [
        { text: "u:hi\na:", trainable: false },
        { text: "yo<e>", trainable: true },
        { text: "u:ok\na:", trainable: false },
        { text: "k<e>", trainable: true },
      ],
      { maxLength: 100 },
    );
    if (!r.ok) throw new Error("dropped");
    const targets = Array.from(r.tokens).filter((_, i) => r.mask[i] === 1);
    expect(chat.decode(targets.filter((t) => t !== 9000))).toBe("yok");
    expect(targets.filter((t) => t === 9000)).toHaveLength(2);
    expect(targets.at(-1)).toBe(2);
  });

  it("never makes position 0 a target, with or without BOS", () => {
    const r = encodeSegments(charTokenizer({ bos: false }), [{ text: "ab", trainable: true }], {
      maxLength: 10,
    });
    if (!r.ok) throw new Error("dropped");
    expect(Array.from(r.mask)).toEqual([0, 1, 1]);
  });
});
