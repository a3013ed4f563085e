import { readFileSync } from "node:fs";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLlama2cTokenizer } from "../../src/data/tokenizers/files.js";
import { initBackend } from "./backend.js";
import { loadLlama2cCheckpoint } from "./checkpoints/node.js";
import { generateGreedy } from "./generate.js";
import { createLlama, disposeLlama, type Llama } from "./model/llama.js";
import { dataPath } from "./test-helpers.js";

const COMMAND = "$ ./run stories260K/stories260K.bin -z stories260K/tok512.bin -t 0.0";
const BOS = 1;

/** The text run.c printed for COMMAND: the code block lines after it, up to the closing fence. */
function referenceOutput(): string {
  const lines = readFileSync(dataPath("models", "stories260K", "stories260K.md"), "utf8").split(
    "\n",
  );
  const start = lines.indexOf(COMMAND);
  if (start < 0) throw new Error(`"${COMMAND}" not found in stories260K.md`);
  const end = lines.indexOf("```", start);
  return lines.slice(start + 1, end).join("\n");
}

describe("greedy generation with stories260K", () => {
  let model: Llama;
  beforeAll(async () => {
    await initBackend("wasm");
    model = createLlama(
      loadLlama2cCheckpoint(dataPath("models", "stories260K", "stories260K.bin")),
    );
  });
  afterAll(() => disposeLlama(model));

  it("reproduces run.c's reference output exactly (-t 0.0, 256 steps from BOS)", () => {
    const tokenizer = loadLlama2cTokenizer(dataPath("models", "stories260K", "tok512.bin"));
    const expected = referenceOutput();
    expect(expected.startsWith("Once upon a time, there was a little girl named Lily.")).toBe(true);
    // run.c: steps = 256 forwards at positions 0 … 255, each printing the token it samples,
    // stopping early if that token is BOS.
    const started = performance.now();
    const ids = generateGreedy(model, [BOS], 256, { stopTokens: [BOS] });
    const seconds = (performance.now() - started) / 1000;
    console.log(`stories260K: 256 greedy tokens in ${seconds.toFixed(2)} s (wasm, KV cache)`);
    expect(ids.length).toBe(256);
    expect(ids.slice(0, 10)).toEqual([403, 407, 261, 378, 432, 383, 286, 261, 376, 298]);
    expect(tokenizer.decode([BOS, ...ids])).toBe(expected);
  });

  it("generates the same tokens without the KV cache", () => {
    const withCache = generateGreedy(model, [BOS, 403, 407], 24);
    const without = generateGreedy(model, [BOS, 403, 407], 24, { cache: false });
    expect(without).toEqual(withCache);
  });

  it("leaves no tensor behind and checks its inputs", () => {
    const before = tf.memory().numTensors;
    generateGreedy(model, [BOS], 5);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => generateGreedy(model, [], 5)).toThrow(/prompt is empty/);
    expect(() => generateGreedy(model, [BOS, 512], 5)).toThrow(/token id 512 is not in 0…511/);
    expect(() => generateGreedy(model, [BOS], 513)).toThrow(/exceed seqLen 512/);
  });
});
