/**
 * Checkpoints from and to files (Node): the only module of the adapter that touches the file
 * system, so the parsers stay usable in Workers and browsers.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ModelError } from "../errors.js";
import type { LlamaCheckpoint } from "../model/params.js";
import { checkpointFromHf, checkpointToHf } from "./hf.js";
import { parseLlama2c } from "./llama2c.js";
import {
  parseSafetensors,
  type SafetensorsContents,
  type SafetensorsDtype,
  type SafetensorsTensor,
  serializeSafetensors,
  type TensorToWrite,
} from "./safetensors.js";

/** A llama2.c `.bin` checkpoint from `path` (see `parseLlama2c`). */
export function loadLlama2cCheckpoint(path: string): LlamaCheckpoint {
  return parseLlama2c(readFileSync(path));
}

/** The tensors and metadata of a `.safetensors` file (see `parseSafetensors`). */
export function readSafetensorsFile(path: string): SafetensorsContents {
  return parseSafetensors(readFileSync(path));
}

/** Writes `tensors` to a `.safetensors` file (see `serializeSafetensors`). */
export function writeSafetensorsFile(
  path: string,
  tensors: ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>,
  options: { metadata?: Record<string, string>; dtype?: SafetensorsDtype } = {},
): void {
  writeFileSync(path, serializeSafetensors(tensors, options));
}

/**
 * A Hugging Face Llama folder: `config.json` and `model.safetensors`, or the shards that
 * `model.safetensors.index.json` lists. See `checkpointFromHf` for the checks.
 */
export function loadHfLlama(folder: string): LlamaCheckpoint {
  const configPath = join(folder, "config.json");
  if (!existsSync(configPath)) {
    throw new ModelError("invalid_checkpoint", `no config.json in ${folder}`, [configPath]);
  }
  const config: unknown = JSON.parse(readFileSync(configPath, "utf8"));
  return checkpointFromHf(config, readHfTensors(folder));
}

/**
 * Writes `checkpoint` as a Hugging Face Llama folder (created if needed): `config.json` and
 * `model.safetensors` (`dtype`, default F32), loadable by `LlamaForCausalLM.from_pretrained`.
 */
export function saveHfLlama(
  folder: string,
  checkpoint: LlamaCheckpoint,
  options: { dtype?: SafetensorsDtype } = {},
): void {
  const { config, tensors } = checkpointToHf(checkpoint);
  const dtype = options.dtype ?? "F32";
  config.torch_dtype = { F32: "float32", F16: "float16", BF16: "bfloat16" }[dtype];
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  // transformers refuses safetensors files whose metadata does not name their framework.
  writeSafetensorsFile(join(folder, "model.safetensors"), tensors, {
    metadata: { format: "pt" },
    dtype,
  });
}

function readHfTensors(folder: string): Map<string, SafetensorsTensor> {
  const single = join(folder, "model.safetensors");
  if (existsSync(single)) return readSafetensorsFile(single).tensors;
  const indexPath = join(folder, "model.safetensors.index.json");
  if (!existsSync(indexPath)) {
    throw new ModelError(
      "invalid_checkpoint",
      `no model.safetensors or model.safetensors.index.json in ${folder}`,
      [folder],
    );
  }
  const index = JSON.parse(readFileSync(indexPath, "utf8")) as {
    weight_map?: Record<string, string>;
  };
  const shards = new Set(Object.values(index.weight_map ?? {}));
  const tensors = new Map<string, SafetensorsTensor>();
  for (const shard of shards) {
    for (const [name, tensor] of readSafetensorsFile(join(folder, shard)).tensors) {
      tensors.set(name, tensor);
    }
  }
  return tensors;
}
