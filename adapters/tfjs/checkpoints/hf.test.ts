import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { headSize, llamaConfig } from "../model/config.js";
import { createLlama, disposeLlama, forward } from "../model/llama.js";
import {
  dataPath,
  maxAbsDiff,
  randomCheckpoint,
  referenceLogits,
  seededRandom,
} from "../test-helpers.js";
import { checkpointFromHf, checkpointToHf, permuteRotaryRows } from "./hf.js";
import { loadHfLlama, loadLlama2cCheckpoint, saveHfLlama } from "./node.js";
import { parseSafetensors, type SafetensorsTensor, serializeSafetensors } from "./safetensors.js";

const config = llamaConfig({
  dim: 32,
  hiddenDim: 40,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 24,
  seqLen: 16,
  tiedEmbeddings: false,
});

/** What a safetensors file of the HF export would hold. */
function hfTensors(checkpoint = randomCheckpoint(config, 2)): Map<string, SafetensorsTensor> {
  return parseSafetensors(serializeSafetensors(checkpointToHf(checkpoint).tensors)).tensors;
}

describe("Hugging Face Llama checkpoints", () => {
  let folder: string;
  beforeAll(async () => {
    await initBackend("wasm");
    folder = mkdtempSync(join(tmpdir(), "hf-llama-"));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it("permutes q/k rows so that HF's rotate_half RoPE gives llama2.c's attention scores", () => {
    // One position, one query head h and its kv head: score = rope(q)·rope(k) in both conventions.
    const hs = headSize(config);
    const random = seededRandom(3);
    const rand = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
    const [wq, wk, x] = [rand(config.dim * config.dim), rand(16 * config.dim), rand(config.dim)];
    const matvec = (w: Float32Array) =>
      Array.from({ length: w.length / config.dim }, (_, r) =>
        x.reduce((s, xi, i) => s + w[r * config.dim + i] * xi, 0),
      );
    const angle = (pos: number, i: number) => pos / 10000 ** ((2 * i) / hs);
    const pairwise = (v: number[], pos: number) =>
      v.map((_, c) => {
        const i = (c % hs) >> 1;
        const [cos, sin] = [Math.cos(angle(pos, i)), Math.sin(angle(pos, i))];
        return c % 2 === 0 ? v[c] * cos - v[c + 1] * sin : v[c] * cos + v[c - 1] * sin;
      });
    const rotateHalf = (v: number[], pos: number) =>
      v.map((_, c) => {
        const half = hs / 2;
        const i = c % hs < half ? c % hs : (c % hs) - half;
        const [cos, sin] = [Math.cos(angle(pos, i)), Math.sin(angle(pos, i))];
        return c % hs < half ? v[c] * cos - v[c + half] * sin : v[c] * cos + v[c - half] * sin;
      });
    const score = (q: number[], k: number[], h: number) => {
      const kvh = Math.floor(h / 2);
      let s = 0;
      for (let i = 0; i < hs; i++) s += q[h * hs + i] * k[kvh * hs + i];
      return s;
    };
    const [qPos, kPos] = [7, 3];
    const q1 = pairwise(matvec(wq), qPos);
    const k1 = pairwise(matvec(wk), kPos);
    const q2 = rotateHalf(matvec(permuteRotaryRows(wq, config.nHeads, config.dim)), qPos);
    const k2 = rotateHalf(matvec(permuteRotaryRows(wk, config.nKvHeads, config.dim)), kPos);
    for (let h = 0; h < config.nHeads; h++) {
      expect(score(q2, k2, h)).toBeCloseTo(score(q1, k1, h), 5);
    }
    // Without the permutation the conventions disagree: the test can fail.
    const q3 = rotateHalf(matvec(wq), qPos);
    const k3 = rotateHalf(matvec(wk), kPos);
    expect(Math.abs(score(q3, k3, 0) - score(q1, k1, 0))).toBeGreaterThan(1e-3);
  });

  it("exports a model that HF's rotate_half RoPE computes identically (scalar forward)", () => {
    const checkpoint = randomCheckpoint(config, 6);
    const { tensors } = checkpointToHf(checkpoint);
    // The exported weights in HF row order, run with HF's RoPE convention.
    const hfOrder = structuredClone(checkpoint);
    hfOrder.params.layers.forEach((layer, i) => {
      layer.wq = tensors.get(`model.layers.${i}.self_attn.q_proj.weight`)!.data;
      layer.wk = tensors.get(`model.layers.${i}.self_attn.k_proj.weight`)!.data;
    });
    const tokens = [1, 5, 9, 2, 17, 3, 3, 8, 0, 23];
    const ours = referenceLogits(checkpoint, tokens, "pairs").flatMap((l) => [...l]);
    const hf = referenceLogits(hfOrder, tokens, "halves").flatMap((l) => [...l]);
    expect(maxAbsDiff(ours, hf)).toBeLessThan(1e-9);
    // Their RoPE on our row order would not do.
    const wrong = referenceLogits(checkpoint, tokens, "halves").flatMap((l) => [...l]);
    expect(maxAbsDiff(ours, wrong)).toBeGreaterThan(1e-2);
  });

  it("round-trips stories260K: llama2.c → HF folder → same weights and same logits", () => {
    const original = loadLlama2cCheckpoint(dataPath("models", "stories260K", "stories260K.bin"));
    saveHfLlama(folder, original);
    const hfConfig = JSON.parse(readFileSync(join(folder, "config.json"), "utf8"));
    expect(hfConfig).toMatchObject({
      architectures: ["LlamaForCausalLM"],
      hidden_size: 64,
      intermediate_size: 172,
      num_hidden_layers: 5,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      vocab_size: 512,
      max_position_embeddings: 512,
      rms_norm_eps: 1e-5,
      tie_word_embeddings: true,
    });
    const file = parseSafetensors(readFileSync(join(folder, "model.safetensors")));
    expect(file.metadata).toEqual({ format: "pt" });
    expect(file.tensors.size).toBe(1 + 5 * 9 + 1); // tied: no lm_head.weight
    expect(file.tensors.get("model.layers.0.self_attn.k_proj.weight")?.shape).toEqual([32, 64]);

    const loaded = loadHfLlama(folder);
    expect(loaded).toEqual(original);

    const tokens = tf.tensor2d([[1, 403, 407, 261, 378, 432, 383, 286]], undefined, "int32");
    const [a, b] = [createLlama(original), createLlama(loaded)];
    const [la, lb] = [forward(a, tokens), forward(b, tokens)];
    expect(maxAbsDiff(la.dataSync(), lb.dataSync())).toBeLessThan(1e-5);
    tf.dispose([tokens, la, lb]);
    disposeLlama(a);
    disposeLlama(b);
  });

  it("round-trips an untied model with grouped-query attention", () => {
    const checkpoint = randomCheckpoint(config, 2);
    const { config: hfConfig, tensors } = checkpointToHf(checkpoint);
    expect(tensors.has("lm_head.weight")).toBe(true);
    // The exported q rows really are permuted (so the round trip is not the identity by accident).
    expect(tensors.get("model.layers.0.self_attn.q_proj.weight")?.data).not.toEqual(
      checkpoint.params.layers[0].wq,
    );
    expect(checkpointFromHf(hfConfig, hfTensors(checkpoint))).toEqual(checkpoint);
  });

  it("loads an F16 export to within half precision", () => {
    const checkpoint = randomCheckpoint(config, 4);
    const f16 = join(folder, "f16");
    saveHfLlama(f16, checkpoint, { dtype: "F16" });
    expect(JSON.parse(readFileSync(join(f16, "config.json"), "utf8")).torch_dtype).toBe("float16");
    const loaded = loadHfLlama(f16);
    expect(maxAbsDiff(loaded.params.layers[1].wk, checkpoint.params.layers[1].wk)).toBeLessThan(
      1e-3,
    );
    expect(maxAbsDiff(loaded.params.output!, checkpoint.params.output!)).toBeLessThan(1e-3);
  });

  it("ignores a stored lm_head when the embeddings are tied, as transformers does", () => {
    const tied = randomCheckpoint(llamaConfig({ ...config, tiedEmbeddings: true }), 5);
    const { config: hfConfig } = checkpointToHf(tied);
    const tensors = hfTensors(tied);
    const head = { dtype: "F32" as const, shape: [24, 32], data: new Float32Array(24 * 32) };
    tensors.set("lm_head.weight", head);
    expect(checkpointFromHf(hfConfig, tensors)).toEqual(tied);
    tensors.set("lm_head.weight", { ...head, shape: [32, 24] });
    expect(() => checkpointFromHf(hfConfig, tensors)).toThrow(
      /lm_head.weight: expected shape \[24,32\]/,
    );
  });

  it("names the tensor, the expected and the actual shape when a tensor does not fit", () => {
    const hfConfig = checkpointToHf(randomCheckpoint(config, 2)).config;
    const wrong = hfTensors();
    const k = "model.layers.1.self_attn.k_proj.weight";
    wrong.set(k, { dtype: "F32", shape: [32, 32], data: new Float32Array(32 * 32) });
    expect(() => checkpointFromHf(hfConfig, wrong)).toThrow(
      `tensor ${k}: expected shape [16,32], got [32,32]`,
    );
    const missing = hfTensors();
    missing.delete("model.layers.0.mlp.up_proj.weight");
    expect(() => checkpointFromHf(hfConfig, missing)).toThrow(
      "tensor model.layers.0.mlp.up_proj.weight [40,32] is missing",
    );
    const extra = hfTensors();
    extra.set("model.layers.0.self_attn.q_proj.bias", {
      dtype: "F32",
      shape: [32],
      data: new Float32Array(32),
    });
    expect(() => checkpointFromHf(hfConfig, extra)).toThrow(
      "tensor model.layers.0.self_attn.q_proj.bias is not part of a Llama",
    );
    const inv = hfTensors();
    inv.set("model.layers.0.self_attn.rotary_emb.inv_freq", {
      dtype: "F32",
      shape: [4],
      data: new Float32Array(4),
    });
    expect(() => checkpointFromHf(hfConfig, inv)).not.toThrow();
  });

  it("refuses configs it would compute differently", () => {
    const hfConfig = checkpointToHf(randomCheckpoint(config, 2)).config;
    const tensors = hfTensors();
    for (const [field, value] of [
      ["rope_scaling", { type: "linear", factor: 2 }],
      ["attention_bias", true],
      ["hidden_act", "gelu"],
      ["model_type", "mistral"],
      ["head_dim", 16],
    ] as const) {
      expect(() => checkpointFromHf({ ...hfConfig, [field]: value }, tensors)).toThrow(
        new RegExp(`${field}`),
      );
    }
    const { hidden_size: _, ...noSize } = hfConfig;
    expect(() => checkpointFromHf(noSize, tensors)).toThrow(/hidden_size is missing/);
  });
});
