/**
 * A worker thread holding a model replica: it receives a shard of a batch and the current LoRA
 * values, and answers with the shard's per-example losses and gradients (see workers.ts).
 */
import { parentPort, workerData } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../backend.js";
import { createLlama } from "../model/llama.js";
import type { LlamaCheckpoint } from "../model/params.js";
import { shardGradients } from "./gradients.js";
import { LoraAdapter, type LoraConfig } from "./lora.js";
import type { ShardRequest, WorkerInit } from "./workers.js";

const init = workerData as WorkerInit;
await initBackend(init.backend);
const model = createLlama(init.checkpoint as LlamaCheckpoint);
const lora = new LoraAdapter(model, init.lora as LoraConfig, 0);

parentPort!.on("message", (request: ShardRequest) => {
  try {
    for (const [name, values] of request.lora) {
      const variable = lora.variables.get(name)!;
      const value = tf.tensor(values, variable.shape);
      variable.assign(value); // assign keeps its own reference: free ours, or every step leaks
      value.dispose();
    }
    const result = shardGradients(model, lora, request.batch, request.denominator, request.seed);
    const transfer = [result.perExample.buffer, ...[...result.grads.values()].map((g) => g.buffer)];
    parentPort!.postMessage({ id: request.id, ok: true, result }, transfer as ArrayBuffer[]);
  } catch (error) {
    parentPort!.postMessage({ id: request.id, ok: false, message: (error as Error).message });
  }
});
parentPort!.postMessage({ ready: true });
