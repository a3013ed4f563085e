/** PEFT adapter folders on disk (Node): the only file access of the trainer. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ModelError } from "../errors.js";
import type { Llama } from "../model/llama.js";
import type { LoraAdapter } from "./lora.js";
import { adapterFromPeft, adapterToPeft } from "./peft.js";

/** Writes `adapter_config.json` and `adapter_model.safetensors` into `folder` (created if needed). */
export function savePeftAdapter(
  folder: string,
  model: Llama,
  lora: LoraAdapter,
  baseModel: string | null = null,
): void {
  const { config, weights } = adapterToPeft(model, lora, baseModel);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "adapter_config.json"), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(join(folder, "adapter_model.safetensors"), weights);
}

/** Reads a PEFT LoRA folder for `model`; names the missing file or the mismatching tensor. */
export function loadPeftAdapter(folder: string, model: Llama): LoraAdapter {
  const configPath = join(folder, "adapter_config.json");
  const weightsPath = join(folder, "adapter_model.safetensors");
  for (const path of [configPath, weightsPath]) {
    if (!existsSync(path)) throw new ModelError("invalid_checkpoint", `missing ${path}`, [path]);
  }
  return adapterFromPeft(
    model,
    JSON.parse(readFileSync(configPath, "utf8")),
    readFileSync(weightsPath),
  );
}
