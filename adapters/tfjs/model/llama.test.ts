import * as tf from "@tensorflow/tfjs-core";
// Gradients are registered by whoever trains; the gradient test below needs them.
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { maxAbsDiff, randomCheckpoint, referenceLogits, seededRandom } from "../test-helpers.js";
import { llamaConfig } from "./config.js";
import { KvCache } from "./kv-cache.js";
import { createLlama, disposeLlama, forward, type Llama, type ProjectionName } from "./llama.js";

// Grouped-query attention (2 query heads per kv head), untied head, head size 8.
const gqa = llamaConfig({
  dim: 32,
  hiddenDim: 48,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 40,
  seqLen: 16,
  tiedEmbeddings: false,
});
// Plain multi-head attention, tied head, another RoPE base and epsilon.
const mha = llamaConfig({
  dim: 24,
  hiddenDim: 40,
  nLayers: 3,
  nHeads: 2,
  nKvHeads: 2,
  vocabSize: 30,
  seqLen: 12,
  normEps: 1e-6,
  ropeTheta: 500,
  tiedEmbeddings: true,
});

function randomTokens(B: number, T: number, vocab: number, seed: number): number[][] {
  const random = seededRandom(seed);
  return Array.from({ length: B }, () =>
    Array.from({ length: T }, () => Math.floor(random() * vocab)),
  );
}

function logitsOf(model: Llama, rows: number[][], mask?: number[][]): number[][][] {
  const tokens = tf.tensor2d(rows, undefined, "int32");
  const maskTensor = mask === undefined ? undefined : tf.tensor2d(mask, undefined, "int32");
  const logits = forward(model, tokens, { mask: maskTensor });
  const out = logits.arraySync();
  tf.dispose([tokens, logits, maskTensor ?? []]);
  return out;
}

describe("Llama forward", () => {
  beforeAll(async () => {
    await initBackend("wasm");
  });

  for (const [name, config] of [
    ["grouped-query attention, untied head", gqa],
    ["multi-head attention, tied head", mha],
  ] as const) {
    it(`matches a scalar run.c-style forward (${name})`, () => {
      const checkpoint = randomCheckpoint(config, 7);
      const model = createLlama(checkpoint);
      const rows = randomTokens(3, config.seqLen, config.vocabSize, 3);
      const logits = logitsOf(model, rows);
      rows.forEach((row, b) => {
        const expected = referenceLogits(checkpoint, row);
        expect(
          maxAbsDiff(
            logits[b].flat(),
            expected.flatMap((l) => [...l]),
          ),
        ).toBeLessThan(1e-4);
      });
      disposeLlama(model);
    });
  }

  it("matches the scalar forward past one attention chunk (T = 150), padded and cached", () => {
    const long = llamaConfig({ ...gqa, nLayers: 1, seqLen: 160, nHeads: 4, nKvHeads: 1 });
    const checkpoint = randomCheckpoint(long, 8);
    const model = createLlama(checkpoint);
    const [row] = randomTokens(1, 150, long.vocabSize, 4);
    const expected = referenceLogits(checkpoint, row).flatMap((l) => [...l]);
    // Second row: the same tokens, right-padded from 140 on; compare its real positions.
    const mask = [row.map(() => 1), row.map((_, t) => (t < 140 ? 1 : 0))];
    const logits = logitsOf(model, [row, row], mask);
    expect(maxAbsDiff(logits[0].flat(), expected)).toBeLessThan(1e-4);
    expect(
      maxAbsDiff(logits[1].slice(0, 140).flat(), expected.slice(0, 140 * long.vocabSize)),
    ).toBeLessThan(1e-4);
    // 70 positions, then 80 more through the cache: chunks that start after cached keys.
    const cache = new KvCache(long.nLayers);
    const pieces = [row.slice(0, 70), row.slice(70)].flatMap((piece) => {
      const tokens = tf.tensor2d([piece], undefined, "int32");
      const out = forward(model, tokens, { cache });
      const values = out.arraySync()[0];
      tf.dispose([tokens, out]);
      return values;
    });
    cache.dispose();
    expect(maxAbsDiff(pieces.flat(), expected)).toBeLessThan(1e-4);
    disposeLlama(model);
  });

  it("has correct gradients through attention and RoPE (adapter weights vs finite differences)", () => {
    const model = createLlama(randomCheckpoint(gqa, 12));
    const tokens = tf.tensor2d(randomTokens(2, 10, gqa.vocabSize, 6), undefined, "int32");
    const width = gqa.dim + 2 * 16; // q | k | v of this config (kvDim 16)
    const probe = tf.randomNormal([2, 10, gqa.vocabSize], 0, 1, "float32", 3);
    const loss = (M: tf.Tensor) =>
      tf.tidy(() => {
        // Columns of M: the deltas of q | k | v (kvDim 16).
        const columns = { q_proj: [0, gqa.dim], k_proj: [gqa.dim, 16], v_proj: [gqa.dim + 16, 16] };
        const adapter = (layer: number, group: readonly ProjectionName[], x: tf.Tensor2D) => {
          const range = columns[group[0] as keyof typeof columns];
          if (layer !== 0 || range === undefined) return null;
          return tf.matMul(x, tf.slice(M, [0, range[0]], [-1, range[1]])) as tf.Tensor2D;
        };
        return tf.sum(tf.mul(forward(model, tokens, { adapter }), probe));
      });
    const M = tf.zeros([gqa.dim, width]);
    const grad = tf.grad(loss)(M).arraySync() as number[][];
    const eps = 1e-2;
    // Entries feeding q (rotated), k (rotated) and v.
    for (const [i, j] of [
      [0, 3],
      [5, 17],
      [9, gqa.dim + 2],
      [30, gqa.dim + 9],
      [12, gqa.dim + 20],
    ]) {
      const bump = (delta: number) => {
        const values = M.arraySync() as number[][];
        values[i][j] = delta;
        const m = tf.tensor2d(values);
        const value = loss(m).dataSync()[0];
        m.dispose();
        return value;
      };
      const numeric = (bump(eps) - bump(-eps)) / (2 * eps);
      expect(Math.abs(grad[i][j] - numeric)).toBeLessThan(2e-2 * Math.max(1, Math.abs(numeric)));
    }
    tf.dispose([tokens, probe, M]);
    disposeLlama(model);
  });

  describe("on one model", () => {
    let model: Llama;
    beforeAll(() => {
      model = createLlama(randomCheckpoint(gqa, 11));
    });
    afterAll(() => disposeLlama(model));

    it("ignores right padding: real positions get the logits of the unpadded sequence", () => {
      const rows = randomTokens(2, 10, gqa.vocabSize, 5);
      const lengths = [10, 6];
      const mask = lengths.map((n) => Array.from({ length: 10 }, (_, t) => (t < n ? 1 : 0)));
      const padded = logitsOf(model, rows, mask);
      const alone = logitsOf(model, [rows[1].slice(0, 6)]);
      expect(maxAbsDiff(padded[1].slice(0, 6).flat(), alone[0].flat())).toBeLessThan(1e-5);
      // Padding the key positions of a full row changes nothing either.
      expect(maxAbsDiff(padded[0].flat(), logitsOf(model, [rows[0]])[0].flat())).toBeLessThan(1e-5);
      // A query whose every key is masked still gives finite numbers (no NaN from the softmax).
      const allPadding = logitsOf(model, [rows[0]], [rows[0].map(() => 0)]);
      expect(allPadding.flat(2).every(Number.isFinite)).toBe(true);
    });

    it("gives the same logits fed in pieces through a KV cache", () => {
      const [row] = randomTokens(1, 12, gqa.vocabSize, 9);
      const full = logitsOf(model, [row]);
      const cache = new KvCache(gqa.nLayers);
      const pieces: number[][] = [];
      for (const [start, end] of [
        [0, 5],
        [5, 6],
        [6, 12],
      ]) {
        const tokens = tf.tensor2d([row.slice(start, end)], undefined, "int32");
        const logits = forward(model, tokens, { cache });
        pieces.push(...logits.arraySync()[0]);
        tf.dispose([tokens, logits]);
      }
      expect(cache.length).toBe(12);
      cache.dispose();
      expect(maxAbsDiff(pieces.flat(), full[0].flat())).toBeLessThan(1e-5);
    });

    it("adds an adapter's delta to the projection outputs (as a merged weight would)", () => {
      const groups: string[] = [];
      // delta = x·M on down_proj equals replacing w2 (out, in) by w2 + Mᵀ.
      const M = tf.randomNormal([gqa.hiddenDim, gqa.dim], 0, 0.1, "float32", 4) as tf.Tensor2D;
      const adapter = (layer: number, group: readonly ProjectionName[], x: tf.Tensor2D) => {
        groups.push(`${layer}:${group.join("+")}`);
        return layer === 1 && group[0] === "down_proj" ? (tf.matMul(x, M) as tf.Tensor2D) : null;
      };
      const tokens = tf.tensor2d(randomTokens(2, 8, gqa.vocabSize, 2), undefined, "int32");
      const adapted = forward(model, tokens, { adapter });
      expect(groups.slice(0, 8)).toEqual([
        "0:q_proj",
        "0:k_proj",
        "0:v_proj",
        "0:o_proj",
        "0:gate_proj",
        "0:up_proj",
        "0:down_proj",
        "1:q_proj",
      ]);

      const checkpoint = randomCheckpoint(gqa, 11);
      const w2 = checkpoint.params.layers[1].w2; // (dim, hiddenDim)
      const m = M.dataSync();
      for (let o = 0; o < gqa.dim; o++) {
        for (let i = 0; i < gqa.hiddenDim; i++) w2[o * gqa.hiddenDim + i] += m[i * gqa.dim + o];
      }
      const merged = createLlama(checkpoint);
      const expected = forward(merged, tokens);
      expect(maxAbsDiff(adapted.dataSync(), expected.dataSync())).toBeLessThan(1e-4);
      tf.dispose([M, tokens, adapted, expected]);
      disposeLlama(merged);
    });

    it("frees every intermediate tensor", () => {
      const tokens = tf.tensor2d(randomTokens(2, 8, gqa.vocabSize, 1), undefined, "int32");
      const before = tf.memory().numTensors;
      const logits = forward(model, tokens, { mask: undefined });
      expect(tf.memory().numTensors).toBe(before + 1);
      tf.dispose([tokens, logits]);
    });

    it("refuses sequences past seqLen, float ids and mismatched masks", () => {
      const long = tf.zeros([1, gqa.seqLen + 1], "int32") as tf.Tensor2D;
      expect(() => forward(model, long)).toThrow(/length 17, seqLen is only 16/);
      const floats = tf.zeros([1, 4], "float32") as tf.Tensor2D;
      expect(() => forward(model, floats)).toThrow(/must be int32/);
      const ids = tf.zeros([2, 4], "int32") as tf.Tensor2D;
      const mask = tf.ones([2, 5], "int32") as tf.Tensor2D;
      expect(() => forward(model, ids, { mask })).toThrow(/mask must be \[2, 4\]/);
      tf.dispose([long, floats, ids, mask]);
    });
  });
});

describe("llamaConfig", () => {
  const base = {
    dim: 64,
    hiddenDim: 172,
    nLayers: 5,
    nHeads: 8,
    nKvHeads: 4,
    vocabSize: 512,
    seqLen: 512,
    tiedEmbeddings: true,
  };

  it("fills llama2.c's defaults", () => {
    expect(llamaConfig(base)).toMatchObject({ normEps: 1e-5, ropeTheta: 10000 });
  });

  it("names the field that is wrong", () => {
    expect(() => llamaConfig({ ...base, nKvHeads: 3 })).toThrow(
      /nHeads 8 is not a multiple of nKvHeads 3/,
    );
    expect(() => llamaConfig({ ...base, dim: 60 })).toThrow(/dim 60 is not a multiple of nHeads 8/);
    expect(() => llamaConfig({ ...base, dim: 72, nHeads: 8 })).toThrow(/head size 9 is odd/);
    expect(() => llamaConfig({ ...base, seqLen: 0 })).toThrow(/seqLen must be a positive integer/);
  });
});
