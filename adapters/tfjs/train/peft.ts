/**
 * LoRA adapters in Hugging Face PEFT's format — `adapter_config.json` + `adapter_model.safetensors`
 * with PEFT's tensor names — and merging an adapter into the base weights for export.
 *
 * PEFT files describe the Hugging Face model, whose q/k rows are in rotate-half order (see
 * checkpoints/hf.ts); our model keeps llama2.c's order. So lora_B of q_proj and k_proj (the side
 * that produces rows) is permuted on save and un-permuted on load: the adapter then applies to the
 * base exported by `saveHfLlama` exactly as it applies here.
 */
import { tensor as tfTensor } from "@tensorflow/tfjs-core";
import { permuteRotaryRows, unpermuteRotaryRows } from "../checkpoints/hf.js";
import {
  parseSafetensors,
  serializeSafetensors,
  type TensorToWrite,
} from "../checkpoints/safetensors.js";
import { ModelError } from "../errors.js";
import type { Llama } from "../model/llama.js";
import type { LlamaCheckpoint, LlamaLayerParams } from "../model/params.js";
import { LoraAdapter, type LoraConfig, peftModule, projectionShape } from "./lora.js";

/** PEFT's adapter_config.json for a LoRA adapter. */
export interface PeftConfig {
  peft_type: "LORA";
  task_type: "CAUSAL_LM";
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string[];
  bias: "none";
  fan_in_fan_out: false;
  inference_mode: boolean;
  base_model_name_or_path: string | null;
}

export interface PeftFiles {
  config: PeftConfig;
  /** adapter_model.safetensors bytes. */
  weights: Uint8Array;
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Which row permutation a projection's lora_B needs between our order and Hugging Face's. */
function rotaryHeads(model: Llama, name: string): number | null {
  if (name.endsWith("q_proj")) return model.config.nHeads;
  if (name.endsWith("k_proj")) return model.config.nKvHeads;
  return null;
}

/** The adapter as PEFT files. */
export function adapterToPeft(
  model: Llama,
  lora: LoraAdapter,
  baseModel: string | null = null,
): PeftFiles {
  const { rank, alpha, dropout, targets } = lora.config;
  const tensors = new Map<string, TensorToWrite>();
  for (let layer = 0; layer < model.config.nLayers; layer++) {
    for (const p of targets) {
      const base = peftModule(layer, p);
      const [inDim, outDim] = projectionShape(model, p);
      const a = lora.variables.get(`${base}.lora_A.weight`)!.dataSync() as Float32Array; // (in, r)
      const b = lora.variables.get(`${base}.lora_B.weight`)!.dataSync() as Float32Array; // (r, out)
      let bRows = transpose(b, rank, outDim); // (out, r)
      const heads = rotaryHeads(model, p);
      if (heads !== null) bRows = permuteRotaryRows(bRows, heads, rank);
      tensors.set(`${base}.lora_A.weight`, {
        shape: [rank, inDim],
        data: transpose(a, inDim, rank),
      });
      tensors.set(`${base}.lora_B.weight`, { shape: [outDim, rank], data: bRows });
    }
  }
  return {
    config: {
      peft_type: "LORA",
      task_type: "CAUSAL_LM",
      r: rank,
      lora_alpha: alpha,
      lora_dropout: dropout,
      target_modules: [...targets],
      bias: "none",
      fan_in_fan_out: false,
      inference_mode: true,
      base_model_name_or_path: baseModel,
    },
    weights: serializeSafetensors(tensors, { metadata: { format: "pt" } }),
  };
}

/** An adapter from PEFT files, checking every tensor's name and shape against `model`. */
export function adapterFromPeft(model: Llama, config: unknown, weights: Uint8Array): LoraAdapter {
  const c = config as Partial<PeftConfig>;
  if (c?.peft_type !== "LORA") {
    throw new ModelError(
      "invalid_checkpoint",
      `adapter_config.json: expected peft_type "LORA", found ${String(c?.peft_type)}`,
      ["peft_type"],
    );
  }
  if (c.fan_in_fan_out) {
    throw new ModelError(
      "invalid_checkpoint",
      "adapter_config.json: fan_in_fan_out adapters (GPT-2 Conv1D) do not apply to Llama",
      ["fan_in_fan_out"],
    );
  }
  const unsupported = (field: string, why: string): never => {
    throw new ModelError("invalid_checkpoint", `adapter_config.json: ${why}`, [field]);
  };
  const fields = c as Record<string, unknown>;
  if (fields.use_rslora === true)
    unsupported("use_rslora", "rank-stabilised LoRA (use_rslora) is not supported");
  for (const field of ["rank_pattern", "alpha_pattern"]) {
    const v = fields[field];
    if (v !== undefined && v !== null && Object.keys(v as object).length > 0) {
      unsupported(field, `per-module ${field} is not supported`);
    }
  }
  if (!Array.isArray(c.target_modules)) {
    unsupported(
      "target_modules",
      `expected a list of module names, found ${JSON.stringify(c.target_modules)}`,
    );
  }
  const loraConfig: LoraConfig = {
    rank: c.r as number,
    alpha: c.lora_alpha as number,
    dropout: c.lora_dropout ?? 0,
    targets: c.target_modules ?? [],
  };
  const lora = new LoraAdapter(model, loraConfig, 0);
  const { tensors } = parseSafetensors(weights);
  const rank = lora.config.rank;
  for (const [name, variable] of lora.variables) {
    const stored = tensors.get(name);
    if (stored === undefined) {
      lora.dispose();
      throw new ModelError("missing_tensor", `adapter_model.safetensors has no tensor ${name}`, [
        name,
      ]);
    }
    const isA = name.endsWith("lora_A.weight");
    const [inDim, outDim] = projectionShape(model, peftProjection(name));
    const expected = isA ? [rank, inDim] : [outDim, rank];
    if (stored.shape.join(",") !== expected.join(",")) {
      lora.dispose();
      throw new ModelError(
        "shape_mismatch",
        `${name}: expected shape [${expected}], found [${stored.shape}]`,
        [name],
      );
    }
    let data = stored.data;
    if (!isA) {
      const heads = rotaryHeads(model, name.replace(/\.lora_B\.weight$/, ""));
      if (heads !== null) data = unpermuteRotaryRows(data, heads, rank);
    }
    // Ours are input-major: A (in, r), B (r, out).
    const value = tfTensor(
      isA ? transpose(data, rank, inDim) : transpose(data, outDim, rank),
      variable.shape,
    );
    variable.assign(value);
    value.dispose();
  }
  const extra = [...tensors.keys()].filter((n) => !lora.variables.has(n));
  if (extra.length > 0) {
    lora.dispose();
    throw new ModelError(
      "unexpected_tensor",
      `adapter_model.safetensors has tensors this model does not: ${extra.slice(0, 3).join(", ")}`,
      [extra[0]],
    );
  }
  return lora;
}

function peftProjection(name: string) {
  const match = /\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\./.exec(name);
  if (match === null)
    throw new ModelError("unexpected_tensor", `not a LoRA tensor of a Llama projection: ${name}`, [
      name,
    ]);
  return match[1] as Parameters<typeof projectionShape>[1];
}

const PARAM_OF = {
  q_proj: "wq",
  k_proj: "wk",
  v_proj: "wv",
  o_proj: "wo",
  gate_proj: "w1",
  up_proj: "w3",
  down_proj: "w2",
} as const satisfies Record<string, keyof LlamaLayerParams>;

/** A copy of `checkpoint` with the adapter merged in: W ← W + (α/r)·(A·B)ᵀ, in (out, in) layout. */
export function mergeAdapter(
  checkpoint: LlamaCheckpoint,
  model: Llama,
  lora: LoraAdapter,
): LlamaCheckpoint {
  const { rank, alpha, targets } = lora.config;
  const scale = alpha / rank;
  const layers = checkpoint.params.layers.map((params, layer) => {
    const merged: LlamaLayerParams = { ...params };
    for (const p of targets) {
      const base = peftModule(layer, p);
      const [inDim, outDim] = projectionShape(model, p);
      const a = lora.variables.get(`${base}.lora_A.weight`)!.dataSync(); // (in, r)
      const b = lora.variables.get(`${base}.lora_B.weight`)!.dataSync(); // (r, out)
      const w = params[PARAM_OF[p]].slice(); // (out, in)
      for (let o = 0; o < outDim; o++) {
        for (let i = 0; i < inDim; i++) {
          let delta = 0;
          for (let k = 0; k < rank; k++) delta += a[i * rank + k] * b[k * outDim + o];
          w[o * inDim + i] += scale * delta;
        }
      }
      merged[PARAM_OF[p]] = w;
    }
    return merged;
  });
  return { config: checkpoint.config, params: { ...checkpoint.params, layers } };
}
