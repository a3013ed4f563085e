import { describe, expect, it } from "vitest";
import { DataError } from "../types.js";
import { byteLines, decodeUtf8, decodeUtf8File, textLines } from "./lines.js";

const encoder = new TextEncoder();

/** `bytes` as an async stream of chunks of `size` bytes. */
async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function linesOf(bytes: Uint8Array, size: number): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of byteLines(chunked(bytes, size))) {
    for (const line of batch) out.push(decodeUtf8(line, { file: "t", line: out.length + 1 }));
  }
  return out;
}

describe("textLines", () => {
  it.each([
    ["a\nb\n", ["a", "b"]],
    ["a\nb", ["a", "b"]],
    ["a\n\n\nb\n", ["a", "", "", "b"]],
    ["\n", [""]],
    ["", []],
    ["a\r\nb\r\n", ["a\r", "b\r"]],
  ])("%j", (text, lines) => {
    expect([...textLines(text)]).toEqual(lines);
  });
});

describe("byteLines", () => {
  // Multi-byte characters (2, 3 and 4 bytes), CRLF, blank lines and no final newline.
  const text = 'é{"a":"ü"}\r\n\n{"b":"日本語"}\n   \n{"c":"🦙"}\nlast';
  const bytes = encoder.encode(text);

  it("splits lines the same at every chunk size, characters split across chunks included", async () => {
    for (let size = 1; size <= bytes.length + 1; size++) {
      expect(await linesOf(bytes, size)).toEqual([...textLines(text)]);
    }
  });

  it("yields one batch per chunk that completes a line", async () => {
    const batches: number[] = [];
    for await (const batch of byteLines(chunked(encoder.encode("a\nb\nc\nd"), 4))) {
      batches.push(batch.length);
    }
    // Chunks "a\nb\n" and "c\nd": two lines, then one, then the unterminated "d".
    expect(batches).toEqual([2, 1, 1]);
  });

  it("handles an empty stream and a stream of empty chunks", async () => {
    expect(await linesOf(new Uint8Array(0), 4)).toEqual([]);
    const empty = async function* () {
      yield new Uint8Array(0);
      yield new Uint8Array(0);
    };
    const batches = [];
    for await (const b of byteLines(empty())) batches.push(b);
    expect(batches).toEqual([]);
  });
});

describe("UTF-8 decoding", () => {
  it("rejects invalid bytes instead of replacing them, naming the line", () => {
    const bad = Uint8Array.from([0x7b, 0xff, 0x7d]);
    expect(() => decodeUtf8(bad, { file: "x.jsonl", line: 4 })).toThrow(
      /x\.jsonl:4: expected UTF-8/,
    );
    const file = Uint8Array.from([
      ...encoder.encode("[1,\n2,\n"),
      0xc3,
      0x28,
      ...encoder.encode("]"),
    ]);
    try {
      decodeUtf8File(file, "x.json");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      expect((e as DataError).code).toBe("invalid_encoding");
      expect((e as DataError).source).toEqual({ file: "x.json", line: 3 });
    }
  });

  it("strips a byte-order mark and keeps U+FFFD that is really in the text", () => {
    const withBom = Uint8Array.from([0xef, 0xbb, 0xbf, ...encoder.encode("{}\uFFFD")]);
    expect(decodeUtf8File(withBom, "x")).toBe("{}\uFFFD");
  });
});
