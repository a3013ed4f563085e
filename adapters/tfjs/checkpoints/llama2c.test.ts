import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { llamaConfig } from "../model/config.js";
import { parameterCount } from "../model/params.js";
import { dataPath, maxAbsDiff, randomCheckpoint } from "../test-helpers.js";
import { parseLlama2c, serializeLlama2c } from "./llama2c.js";
import { loadLlama2cCheckpoint } from "./node.js";

const STORIES = dataPath("models", "stories260K", "stories260K.bin");

describe("llama2.c checkpoints", () => {
  it("reads stories260K's header and weights", () => {
    const { config, params } = loadLlama2cCheckpoint(STORIES);
    expect(config).toEqual({
      dim: 64,
      hiddenDim: 172,
      nLayers: 5,
      nHeads: 8,
      nKvHeads: 4,
      vocabSize: 512,
      seqLen: 512,
      normEps: 1e-5,
      ropeTheta: 10000,
      tiedEmbeddings: true,
    });
    expect(params.output).toBeNull();
    expect(params.layers[4].wk.length).toBe(32 * 64);
    expect(parameterCount(config)).toBe(32_768 + 5 * 45_440 + 64);
    // The first float after the header, read independently.
    const bytes = readFileSync(STORIES);
    expect(params.tokEmbeddings[0]).toBe(bytes.readFloatLE(28));
    // The final norm sits right before the legacy RoPE tables, 64 floats from the end of the weights.
    const normAt = 28 + 4 * (32_768 + 5 * 45_440);
    expect(params.norm[63]).toBe(bytes.readFloatLE(normAt + 4 * 63));
  });

  it("writes what it reads: stories260K byte for byte, weights and RoPE tables", () => {
    const bytes = new Uint8Array(readFileSync(STORIES));
    const written = serializeLlama2c(parseLlama2c(bytes));
    expect(written.byteLength).toBe(bytes.byteLength);
    // The RoPE tables are recomputed (float32 cos/sin of the same angles): equal to ~1 ulp.
    const ropeStart = 28 + 4 * (32_768 + 5 * 45_440 + 64);
    expect(Buffer.compare(written.subarray(0, ropeStart), bytes.subarray(0, ropeStart))).toBe(0);
    const ours = new Float32Array(written.slice(ropeStart).buffer);
    const theirs = new Float32Array(bytes.slice(ropeStart).buffer);
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-6);
  });

  it("round-trips an unshared classifier (negative vocab_size)", () => {
    const config = llamaConfig({
      dim: 16,
      hiddenDim: 24,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 1,
      vocabSize: 20,
      seqLen: 8,
      tiedEmbeddings: false,
    });
    const checkpoint = randomCheckpoint(config, 3);
    const bytes = serializeLlama2c(checkpoint);
    expect(new DataView(bytes.buffer).getInt32(20, true)).toBe(-20);
    expect(parseLlama2c(bytes)).toEqual(checkpoint);
  });

  it("says how many floats it expected when the size does not match", () => {
    const bytes = new Uint8Array(readFileSync(STORIES));
    expect(() => parseLlama2c(bytes.subarray(0, bytes.byteLength - 4))).toThrow(
      "expected 264128 floats after the header [64,172,5,8,4,512,512], file has 264127",
    );
    expect(() => parseLlama2c(bytes.subarray(0, 20))).toThrow(/shorter than the 28-byte header/);
    const versioned = bytes.slice();
    new DataView(versioned.buffer).setUint32(0, 0x616b3432, true);
    expect(() => parseLlama2c(versioned)).toThrow(/versioned llama2.c file/);
    const badHeads = bytes.slice();
    new DataView(badHeads.buffer).setInt32(16, 3, true);
    expect(() => parseLlama2c(badHeads)).toThrow(/not a multiple of nKvHeads 3/);
  });
});
