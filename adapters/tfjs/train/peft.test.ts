import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { checkpointFromHf, checkpointToHf } from "../checkpoints/hf.js";
import { parseSafetensors, serializeSafetensors } from "../checkpoints/safetensors.js";
import { createLlama, forward } from "../model/llama.js";
import { loadPeftAdapter, savePeftAdapter } from "./files.js";
import { LoraAdapter } from "./lora.js";
import { adapterFromPeft, adapterToPeft, mergeAdapter } from "./peft.js";
import { randomCheckpoint } from "./test-model.js";

beforeAll(async () => {
  await initBackend("wasm");
});

const tokens = () => tf.tensor2d([[1, 4, 9, 16, 25, 3, 7]], [1, 7], "int32");

function trainedAdapter(model: ReturnType<typeof createLlama>) {
  const lora = new LoraAdapter(
    model,
    { rank: 2, alpha: 6, targets: ["q", "k", "v", "o", "gate", "up", "down"] },
    7,
  );
  for (const [name, v] of lora.variables)
    if (name.includes("lora_B")) v.assign(tf.randomUniform(v.shape, -0.2, 0.2, "float32", 11));
  return lora;
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
}

describe("PEFT adapters", () => {
  it("saves PEFT names and shapes, and loads back the same function", () => {
    const checkpoint = randomCheckpoint(3);
    const model = createLlama(checkpoint);
    const lora = trainedAdapter(model);
    const folder = mkdtempSync(join(tmpdir(), "peft-"));
    savePeftAdapter(folder, model, lora, "stories260K");
    const config = JSON.parse(readFileSync(join(folder, "adapter_config.json"), "utf8"));
    expect(config).toMatchObject({
      peft_type: "LORA",
      r: 2,
      lora_alpha: 6,
      task_type: "CAUSAL_LM",
    });
    const { tensors } = parseSafetensors(readFileSync(join(folder, "adapter_model.safetensors")));
    expect(
      tensors.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")?.shape,
    ).toEqual([2, 16]);
    expect(
      tensors.get("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight")?.shape,
    ).toEqual([16, 2]);
    expect(
      tensors.get("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight")?.shape,
    ).toEqual([8, 2]);

    const loaded = loadPeftAdapter(folder, model);
    const a = forward(model, tokens(), { adapter: lora.hook(model, null) });
    const b = forward(model, tokens(), { adapter: loaded.hook(model, null) });
    expect(maxDiff(a, b)).toBeLessThan(1e-6);
  });

  it("merging the adapter into the weights gives the adapted model's logits", () => {
    const checkpoint = randomCheckpoint(4);
    const model = createLlama(checkpoint);
    const lora = trainedAdapter(model);
    const adapted = forward(model, tokens(), { adapter: lora.hook(model, null) });
    const merged = forward(createLlama(mergeAdapter(checkpoint, model, lora)), tokens());
    expect(maxDiff(adapted, merged)).toBeLessThan(1e-4);
    expect(maxDiff(adapted, forward(model, tokens()))).toBeGreaterThan(1e-3); // the adapter does something
  });

  it("applies to the Hugging Face export of the base exactly as here (rotary row order)", () => {
    const checkpoint = randomCheckpoint(5);
    const model = createLlama(checkpoint);
    const lora = trainedAdapter(model);
    // Merge in HF space: export the base, add the PEFT deltas as PEFT would (W += s·B·A), reload.
    const hf = checkpointToHf(checkpoint);
    const { tensors } = parseSafetensors(adapterToPeft(model, lora).weights);
    const weights = new Map(
      [...hf.tensors].map(([k, t]) => [
        k,
        { dtype: "F32" as const, shape: [...t.shape], data: t.data },
      ]),
    );
    for (const [name, t] of tensors) {
      if (!name.endsWith("lora_A.weight")) continue;
      const module = name.replace("base_model.model.", "").replace(".lora_A.weight", ".weight");
      const bT = tensors.get(name.replace("lora_A", "lora_B"))!;
      const w = weights.get(module)!;
      const [out, r] = bT.shape;
      const inDim = t.shape[1];
      const data = w.data.slice();
      for (let o = 0; o < out; o++)
        for (let i = 0; i < inDim; i++) {
          let d = 0;
          for (let k = 0; k < r; k++) d += bT.data[o * r + k] * t.data[k * inDim + i];
          data[o * inDim + i] += 3 * d; // alpha / r = 6 / 2
        }
      weights.set(module, { ...w, data });
    }
    const viaHf = createLlama(checkpointFromHf(hf.config, weights));
    expect(
      maxDiff(
        forward(viaHf, tokens()),
        forward(model, tokens(), { adapter: lora.hook(model, null) }),
      ),
    ).toBeLessThan(1e-4);
  });

  it("names the missing file, the missing tensor, the wrong shape and unsupported options", () => {
    const model = createLlama(randomCheckpoint(6));
    const empty = mkdtempSync(join(tmpdir(), "peft-"));
    expect(() => loadPeftAdapter(empty, model)).toThrow(/adapter_config\.json/);

    const lora = trainedAdapter(model);
    const { config, weights } = adapterToPeft(model, lora);
    const tensors = parseSafetensors(weights).tensors;
    const rewrite = (edit: (m: Map<string, { shape: number[]; data: Float32Array }>) => void) => {
      const copy = new Map(
        [...tensors].map(([k, t]) => [k, { shape: [...t.shape], data: t.data }]),
      );
      edit(copy);
      return serializeSafetensors(copy);
    };
    const qA = "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight";
    expect(() =>
      adapterFromPeft(
        model,
        config,
        rewrite((m) => m.delete(qA)),
      ),
    ).toThrowError(expect.objectContaining({ code: "missing_tensor", path: [qA] }));
    expect(() =>
      adapterFromPeft(
        model,
        config,
        rewrite((m) => m.set(qA, { shape: [3, 16], data: new Float32Array(48) })),
      ),
    ).toThrow(/expected shape \[2,16\], found \[3,16\]/);
    expect(() => adapterFromPeft(model, { ...config, use_rslora: true }, weights)).toThrow(
      /use_rslora/,
    );
    expect(() =>
      adapterFromPeft(model, { ...config, target_modules: "q_proj|v_proj" }, weights),
    ).toThrow(/target_modules/);
  });
});
