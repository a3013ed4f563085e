import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { forward } from "../model/llama.js";
import { checkGradients } from "../test-helpers.js";
import { AdamW } from "./adamw.js";
import { LoraAdapter, resolveLoraConfig } from "./lora.js";
import { perExampleLoss } from "./loss.js";
import { learningRateAt, progressAt } from "./schedule.js";
import { randomModel } from "./test-model.js";
import { LoraTrainer } from "./trainer.js";

beforeAll(async () => {
  await initBackend("wasm");
});

describe("schedule", () => {
  it("warms up linearly, peaks, and reaches 0 exactly at the last step of the last epoch", () => {
    const o = { lr: 1e-2, warmupFraction: 0.05 };
    expect(learningRateAt(0.025, o)).toBeCloseTo(5e-3, 12);
    expect(learningRateAt(0.05, o)).toBeCloseTo(1e-2, 12);
    expect(learningRateAt(0.525, o)).toBeCloseTo(5e-3, 12);
    // Epochs of different (pruned) lengths: the last step of the last epoch is progress 1.
    expect(progressAt(7, 79, 80, 8)).toBe(1);
    expect(learningRateAt(progressAt(7, 79, 80, 8), o)).toBe(0);
    expect(progressAt(0, 0, 10, 4)).toBeCloseTo(0.025, 12);
  });
});

describe("perExampleLoss", () => {
  it("is each example's mean next-token cross-entropy over its targets", () => {
    const [B, T, V] = [2, 4, 5];
    const logitsData = Float32Array.from({ length: B * T * V }, (_, i) => Math.sin(i * 1.7));
    const tokens = [
      [0, 3, 1, 4],
      [2, 2, 0, 1],
    ];
    const mask = [
      [0, 0, 1, 1],
      [0, 1, 1, 0],
    ];
    const got = perExampleLoss(
      tf.tensor3d(logitsData, [B, T, V]),
      tf.tensor2d(tokens, [B, T], "int32"),
      tf.tensor2d(mask, [B, T]),
    ).arraySync();
    for (let b = 0; b < B; b++) {
      let sum = 0;
      let n = 0;
      for (let t = 1; t < T; t++) {
        if (!mask[b][t]) continue;
        const row = Array.from(logitsData.subarray((b * T + t - 1) * V, (b * T + t) * V));
        const max = Math.max(...row);
        const logZ = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
        sum += logZ - row[tokens[b][t]];
        n++;
      }
      expect(got[b]).toBeCloseTo(sum / n, 5);
    }
  });
});

describe("AdamW", () => {
  it("matches torch.optim.AdamW's update, with decoupled weight decay and clipping", () => {
    const p = tf.variable(tf.tensor1d([1, -2]), true);
    const opt = new AdamW({ weightDecay: 0.1, clipNorm: 1 });
    const g = tf.tensor1d([3, 4]); // norm 5 → clipped to (0.6, 0.8)
    const norm = opt.apply(new Map([["p", p]]), { p: g }, 0.01);
    expect(norm).toBeCloseTo(5, 5);
    // Step 1: m̂ = g, v̂ = g², update = g / (|g| + eps) = sign(g); p ← p·(1 − lr·wd) − lr·sign(g)
    const expected = [1 * (1 - 0.001) - 0.01, -2 * (1 - 0.001) - 0.01];
    const got = p.arraySync() as number[];
    expect(got[0]).toBeCloseTo(expected[0], 6);
    expect(got[1]).toBeCloseTo(expected[1], 6);
    opt.dispose();
    p.dispose();
  });
});

describe("LoRA", () => {
  it("validates its config and counts parameters like PEFT (stories260K q,k,v,o r=8: 17,920)", () => {
    expect(() => resolveLoraConfig({ rank: 0, alpha: 1, targets: ["q"] })).toThrow(/rank/);
    expect(() => resolveLoraConfig({ rank: 4, alpha: 1, targets: ["qq"] })).toThrow(
      /unknown LoRA target "qq"/,
    );
    // stories260K: dim 64, kvDim 32, 5 layers → per layer r·(64+64) + r·(64+32)·2 + r·(64+64) = 3584.
    const perLayer = 8 * (64 + 64) + 2 * 8 * (64 + 32) + 8 * (64 + 64);
    expect(perLayer * 5).toBe(17_920);
    const model = randomModel();
    const lora = new LoraAdapter(
      model,
      { rank: 2, alpha: 4, targets: ["q", "k", "v", "o", "gate", "up", "down"] },
      0,
    );
    // dim 16, kvDim 8, hidden 24, 2 layers
    expect(lora.parameterCount).toBe(
      2 * 2 * (16 + 16 + (16 + 8) * 2 + 16 + 16 + (16 + 24) * 2 + (24 + 16)),
    );
    lora.dispose();
  });

  it("starts as the identity (B = 0) and its gradient matches finite differences", () => {
    const model = randomModel();
    const lora = new LoraAdapter(model, { rank: 2, alpha: 4, targets: ["q", "v", "o", "down"] }, 3);
    const tokens = tf.tensor2d([[1, 5, 9, 3, 7, 2]], [1, 6], "int32");
    const targets = tf.tensor2d([[0, 0, 1, 1, 1, 1]], [1, 6]);
    const base = forward(model, tokens);
    const adapted = forward(model, tokens, { adapter: lora.hook(model, null) });
    expect(tf.max(tf.abs(tf.sub(base, adapted))).dataSync()[0]).toBe(0);

    // Make B non-zero so every A and B gets a gradient, then compare with central differences.
    for (const [name, v] of lora.variables)
      if (name.includes("lora_B")) v.assign(tf.randomUniform(v.shape, -0.3, 0.3, "float32", 5));
    const lossOf = () =>
      tf.tidy(
        () =>
          tf.sum(
            perExampleLoss(
              forward(model, tokens, { adapter: lora.hook(model, null) }),
              tokens,
              targets,
            ),
          ) as tf.Scalar,
      );
    const variables = [...lora.variables.values()];
    const checked = checkGradients(
      variables.filter((_, i) => i % 3 === 0),
      lossOf,
      0.02,
    );
    expect(checked).toBeGreaterThan(4);
    lora.dispose();
  });
});

describe("LoraTrainer", () => {
  it("lowers the loss of what it trains on and reports every trained example's loss to the engine", async () => {
    const { buildCorpus } = await import("../../../src/data/corpus.js");
    const { plainTemplate } = await import("../../../src/data/templates/index.js");
    const { Pipeline } = await import("../../../src/pipeline/pipeline.js");
    const tokenizer = {
      name: "digits",
      vocabSize: 32,
      bosId: 1,
      eosId: 2,
      padId: 0,
      encode: (text: string) => Array.from(text, (c) => 3 + (c.charCodeAt(0) % 29)),
      decode: () => "",
    };
    const records = Array.from({ length: 24 }, (_, i) => ({
      record: {
        kind: "instruction" as const,
        instruction: `${i % 7}`,
        input: "",
        output: `${(i * 3) % 10}${i % 4}`,
      },
      source: { file: "t", line: i + 1 },
    }));
    const corpus = await buildCorpus(records, {
      tokenizer,
      template: plainTemplate,
      maxLength: 16,
    });
    const model = randomModel(2);
    const trainer = new LoraTrainer(model, {
      lora: { rank: 4, alpha: 8, targets: ["q", "k", "v", "o"] },
      lr: 3e-2,
      seed: 1,
    });
    const before = trainer.evaluate(corpus).loss;
    const pipeline = new Pipeline({
      corpus,
      padId: 0,
      batch: { size: 8 },
      engine: { epochs: 6, seed: 0 },
    });
    const history = await trainer.fit(pipeline, { epochs: 6, evalCorpus: corpus });
    const after = history.at(-1)!.eval!.loss;
    expect(after).toBeLessThan(before * 0.9);
    expect(history.slice(1, 5).some((e) => e.keptFraction < 1)).toBe(true);
    // Every example the plans held was trained and its loss stored, epoch by epoch.
    expect(pipeline.engine.scores.every((s) => Number.isFinite(s))).toBe(true);
    const epochs = pipeline.savings().epochs;
    expect(epochs).toHaveLength(6);
    for (const e of epochs) expect(e.reported).toBe(e.examples.trained);
    await trainer.dispose();
  });
});

const stepOptions = {
  lora: { rank: 2, alpha: 4, targets: ["q", "v", "o", "down"] },
  lr: 1e-2,
  seed: 9,
};

function makeBatch(B: number, T: number, seed: number) {
  const cells = B * T;
  return {
    ids: Uint32Array.from({ length: B }, (_, i) => i),
    weights: Float32Array.from({ length: B }, (_, i) => (i % 3 === 0 ? 2 : 1)),
    batchSize: B,
    seqLen: T,
    inputIds: Int32Array.from({ length: cells }, (_, i) => 3 + ((i * 7 + seed) % 29)),
    attentionMask: Uint8Array.from({ length: cells }, (_, i) => (i % T < T - (i % 3) ? 1 : 0)),
    targetMask: Uint8Array.from({ length: cells }, (_, i) =>
      i % T >= 3 && i % T < T - (i % 3) ? 1 : 0,
    ),
    tokens: cells,
    targetTokens: 0,
  };
}

describe("LoraTrainer steps", () => {
  const batchOf = makeBatch;
  const options = stepOptions;
  const values = (t: LoraTrainer) =>
    [...t.lora.variables.values()].flatMap((v) => Array.from(v.dataSync()));

  it("gradient accumulation over two halves equals one step on the whole batch", async () => {
    const { sliceBatch } = await import("./gradients.js");
    const batch = batchOf(6, 10, 1);
    const whole = new LoraTrainer(randomModel(4), options);
    const halves = new LoraTrainer(randomModel(4), { ...options, gradientAccumulation: 2 });
    for (let step = 0; step < 2; step++) {
      expect(whole.trainStep(batch, 1e-2).applied).toBe(true);
      expect(halves.trainStep(sliceBatch(batch, 0, 3), 1e-2).applied).toBe(false);
      expect(halves.trainStep(sliceBatch(batch, 3, 6), 1e-2).applied).toBe(true);
    }
    const a = values(whole);
    const b = values(halves);
    expect(a.some((x, i) => x !== values(new LoraTrainer(randomModel(4), options))[i])).toBe(true);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-5);
    await whole.dispose();
    await halves.dispose();
  });

  it("a step split with a worker thread matches the single-threaded step", async () => {
    const { randomCheckpoint } = await import("./test-model.js");
    const batch = batchOf(5, 12, 2);
    const single = await LoraTrainer.create(randomCheckpoint(8), options);
    const parallel = await LoraTrainer.create(randomCheckpoint(8), { ...options, workers: 1 });
    for (let step = 0; step < 2; step++) {
      const r1 = single.trainStep(batch, 1e-2);
      const r2 = await parallel.trainStepParallel(batch, 1e-2);
      expect(r2.perExample.length).toBe(5);
      for (let i = 0; i < 5; i++) expect(r2.perExample[i]).toBeCloseTo(r1.perExample[i], 5);
      expect(r2.loss).toBeCloseTo(r1.loss, 5);
    }
    const a = values(single);
    const b = values(parallel);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-5);
    await single.dispose();
    await parallel.dispose();
  });
});

describe("loss and gradient normalisation", () => {
  it("the step loss is Σ w_i·l_i / B and shard gradients with the same denominator add up", async () => {
    const { shardGradients, sliceBatch } = await import("./gradients.js");
    const model = randomModel(6);
    const lora = new LoraAdapter(model, { rank: 2, alpha: 4, targets: ["q", "v", "down"] }, 2);
    for (const [name, v] of lora.variables)
      if (name.includes("lora_B")) v.assign(tf.randomUniform(v.shape, -0.3, 0.3, "float32", 3));
    const B = 6;
    const T = 9;
    const batch = {
      ids: Uint32Array.from({ length: B }, (_, i) => i),
      weights: Float32Array.from({ length: B }, (_, i) => 1 + (i % 3)),
      batchSize: B,
      seqLen: T,
      inputIds: Int32Array.from({ length: B * T }, (_, i) => 3 + ((i * 5) % 29)),
      attentionMask: new Uint8Array(B * T).fill(1),
      targetMask: Uint8Array.from({ length: B * T }, (_, i) => (i % T >= 4 ? 1 : 0)),
      tokens: B * T,
      targetTokens: 0,
    };
    const whole = shardGradients(model, lora, batch, B, 0);
    let expected = 0;
    for (let i = 0; i < B; i++) expected += batch.weights[i] * whole.perExample[i];
    expect(whole.loss).toBeCloseTo(expected / B, 5);
    const a = shardGradients(model, lora, sliceBatch(batch, 0, 2), B, 0);
    const b = shardGradients(model, lora, sliceBatch(batch, 2, 6), B, 0);
    expect(a.loss + b.loss).toBeCloseTo(whole.loss, 5);
    for (const [name, g] of whole.grads) {
      const ga = a.grads.get(name)!;
      const gb = b.grads.get(name)!;
      for (let i = 0; i < g.length; i++) expect(Math.abs(ga[i] + gb[i] - g[i])).toBeLessThan(1e-5);
    }
    lora.dispose();
  });

  it("applies the gradients of an epoch's incomplete accumulation instead of dropping them", () => {
    const trainer = new LoraTrainer(randomModel(7), { ...stepOptions, gradientAccumulation: 4 });
    const before = [...trainer.lora.variables.values()].map((v) => Array.from(v.dataSync()));
    const batch = makeBatch(4, 8, 3);
    expect(trainer.trainStep(batch, 1e-2).applied).toBe(false);
    expect(trainer.flush(1e-2)).toBe(true);
    expect(trainer.flush(1e-2)).toBe(false);
    const after = [...trainer.lora.variables.values()].map((v) => Array.from(v.dataSync()));
    expect(after.some((v, i) => v.some((x, j) => x !== before[i][j]))).toBe(true);
  });
});

describe("LoRA dropout", () => {
  it("is off in evaluation, seeded in training, and changes the training loss", async () => {
    const { shardGradients } = await import("./gradients.js");
    const model = randomModel(11);
    const lora = new LoraAdapter(
      model,
      { rank: 2, alpha: 4, dropout: 0.5, targets: ["q", "v", "o"] },
      1,
    );
    for (const [name, v] of lora.variables)
      if (name.includes("lora_B")) v.assign(tf.randomUniform(v.shape, -0.5, 0.5, "float32", 2));
    const batch = makeBatch(4, 10, 5);
    const a = shardGradients(model, lora, batch, 4, 123);
    const b = shardGradients(model, lora, batch, 4, 123);
    const c = shardGradients(model, lora, batch, 4, 456);
    expect(Array.from(b.perExample)).toEqual(Array.from(a.perExample)); // same seed, same masks
    expect(Array.from(c.perExample)).not.toEqual(Array.from(a.perExample)); // another seed, other masks
    const noDropout = new LoraAdapter(
      model,
      { rank: 2, alpha: 4, dropout: 0, targets: ["q", "v", "o"] },
      1,
    );
    const [withDrop, without] = [lora.hook(model, null), noDropout.hook(model, null)];
    for (const [name, v] of noDropout.variables) v.assign(lora.variables.get(name)!);
    const tokens = tf.tensor2d(batch.inputIds, [4, 10], "int32");
    const evalA = forward(model, tokens, { adapter: withDrop });
    const evalB = forward(model, tokens, { adapter: without });
    expect(tf.max(tf.abs(tf.sub(evalA, evalB))).dataSync()[0]).toBe(0); // evaluation: no dropout
    lora.dispose();
    noDropout.dispose();
  });
});
