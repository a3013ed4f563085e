import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ASCII_VOCAB_SIZE } from "../../src/data/synthetic/tokenizer.js";
import { initBackend } from "./backend.js";
import { serializeLlama2c } from "./checkpoints/llama2c.js";
import { llamaConfig } from "./model/config.js";
import { forward } from "./model/llama.js";
import {
  BASE_MODEL_CONFIG,
  baseModelCacheName,
  loadOrPretrainBaseModel,
  PRETRAIN_DEFAULTS,
  type PretrainOptions,
  pretrainBaseModel,
} from "./pretrain.js";
import { checkGradients } from "./test-helpers.js";
import { perExampleLoss } from "./train/loss.js";
import { randomModel } from "./train/test-model.js";

/** A tiny model over the built-in tokenizer: a few steps take well under a second. */
const tiny: PretrainOptions = {
  seed: 5,
  config: {
    dim: 16,
    hiddenDim: 32,
    nLayers: 1,
    nHeads: 2,
    nKvHeads: 1,
    vocabSize: ASCII_VOCAB_SIZE,
    seqLen: 24,
    tiedEmbeddings: true,
  },
  steps: 12,
  batchSize: 4,
  lr: 2e-2,
};

let cacheDir: string;

beforeAll(async () => {
  await initBackend("wasm");
  cacheDir = mkdtempSync(join(tmpdir(), "infobatch-pretrain-"));
});

afterAll(() => {
  rmSync(cacheDir, { recursive: true, force: true });
});

describe("forward with trainable weights", () => {
  it("gives the frozen forward's logits and the finite-difference gradient of every weight", () => {
    const model = randomModel(3);
    const tokens = tf.tensor2d(
      [
        [1, 5, 9, 3, 7, 2, 11, 4],
        [1, 6, 6, 8, 3, 2, 0, 0],
      ],
      [2, 8],
      "int32",
    );
    const mask = tf.tensor2d(
      [
        [1, 1, 1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 1, 0, 0],
      ],
      [2, 8],
    );
    const frozen = forward(model, tokens, { mask });
    const trainable = forward(model, tokens, { mask, trainable: true });
    expect(tf.max(tf.abs(tf.sub(frozen, trainable))).dataSync()[0]).toBeLessThan(1e-5);

    // Every weight a variable (the tied classifier is the embedding), then central differences.
    const w = model.weights;
    const variables: tf.Variable[] = [];
    const asVariable = <T extends tf.Tensor>(t: T): T => {
      const v = tf.variable(t, true);
      variables.push(v);
      return v as unknown as T;
    };
    w.embedding = asVariable(w.embedding);
    w.norm = asVariable(w.norm);
    for (const layer of w.layers) {
      for (const key of Object.keys(layer) as (keyof typeof layer)[]) {
        (layer as unknown as Record<string, tf.Tensor>)[key] = asVariable(layer[key]);
      }
    }
    const lossOf = () =>
      tf.tidy(
        () =>
          tf.sum(
            perExampleLoss(forward(model, tokens, { mask, trainable: true }), tokens, mask),
          ) as tf.Scalar,
      );
    const checked = checkGradients(variables, lossOf, 0.03);
    expect(checked).toBe(2 * (2 + 2 * 9));
  });
});

describe("pretrainBaseModel", () => {
  it("lowers the next-token loss, deterministically from the seed", async () => {
    const losses: number[] = [];
    const a = await pretrainBaseModel({ ...tiny, onProgress: (p) => losses.push(p.loss) });
    expect(losses).toHaveLength(tiny.steps);
    expect(losses[0]).toBeCloseTo(Math.log(ASCII_VOCAB_SIZE), 1); // small initial weights
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(losses.slice(-3))).toBeLessThan(mean(losses.slice(0, 3)) - 0.5);

    const b = await pretrainBaseModel(tiny);
    expect(Buffer.from(serializeLlama2c(b)).equals(Buffer.from(serializeLlama2c(a)))).toBe(true);
    const c = await pretrainBaseModel({ ...tiny, seed: 6 });
    expect(Buffer.from(serializeLlama2c(c)).equals(Buffer.from(serializeLlama2c(a)))).toBe(false);
  });

  it("gives the same bytes when a worker thread computes half of every batch", async () => {
    const losses: number[] = [];
    const single = await pretrainBaseModel({ ...tiny, onProgress: (p) => losses.push(p.loss) });
    const withWorker: number[] = [];
    const parallel = await pretrainBaseModel({
      ...tiny,
      workers: 1,
      onProgress: (p) => withWorker.push(p.loss),
    });
    expect(withWorker).toEqual(losses);
    expect(
      Buffer.from(serializeLlama2c(parallel)).equals(Buffer.from(serializeLlama2c(single))),
    ).toBe(true);
  });

  it("validates its options", async () => {
    await expect(
      pretrainBaseModel({ ...tiny, config: { ...tiny.config!, vocabSize: 50 } }),
    ).rejects.toThrow(/vocabSize 50 is smaller than the built-in tokenizer's 99/);
    await expect(pretrainBaseModel({ ...tiny, steps: 0 })).rejects.toThrow(/steps/);
    await expect(pretrainBaseModel({ ...tiny, lr: 0 })).rejects.toThrow(/lr/);
  });

  it("has defaults that fit the built-in data", () => {
    expect(PRETRAIN_DEFAULTS.config).toBe(BASE_MODEL_CONFIG);
    expect(llamaConfig(BASE_MODEL_CONFIG).vocabSize).toBe(ASCII_VOCAB_SIZE);
  });
});

describe("loadOrPretrainBaseModel", () => {
  it("pretrains once, then returns the same bytes from the cache without training", async () => {
    let steps = 0;
    const first = await loadOrPretrainBaseModel(cacheDir, { ...tiny, onProgress: () => steps++ });
    expect(first.cached).toBe(false);
    expect(steps).toBe(tiny.steps);
    expect(first.path).toBe(join(cacheDir, baseModelCacheName(tiny)));
    expect(first.path).toMatch(/base-[0-9a-f]{16}\.bin$/);
    const bytes = readFileSync(first.path);
    expect(bytes.equals(Buffer.from(serializeLlama2c(first.checkpoint)))).toBe(true);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith(".tmp"))).toEqual([]);

    const second = await loadOrPretrainBaseModel(cacheDir, { ...tiny, onProgress: () => steps++ });
    expect(second.cached).toBe(true);
    expect(steps).toBe(tiny.steps); // not retrained
    expect(Buffer.from(serializeLlama2c(second.checkpoint)).equals(bytes)).toBe(true);
  });

  it("keys the file by every option that changes the weights, not by the progress callback", () => {
    const name = baseModelCacheName(tiny);
    expect(baseModelCacheName({ ...tiny, onProgress: () => {} })).toBe(name);
    for (const change of [
      { seed: 6 },
      { steps: 13 },
      { batchSize: 5 },
      { lr: 1e-2 },
      { clipNorm: 2 },
      { config: { ...tiny.config!, nLayers: 2 } },
    ]) {
      expect(baseModelCacheName({ ...tiny, ...change })).not.toBe(name);
    }
  });

  it("replaces a corrupt cache file", async () => {
    const options = { ...tiny, steps: 3 };
    const path = join(cacheDir, baseModelCacheName(options));
    writeFileSync(path, new Uint8Array(40));
    const result = await loadOrPretrainBaseModel(cacheDir, options);
    expect(result.cached).toBe(false);
    expect(existsSync(path)).toBe(true);
    expect(readFileSync(path).equals(Buffer.from(serializeLlama2c(result.checkpoint)))).toBe(true);
  });
});
