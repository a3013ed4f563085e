/**
 * The pretraining worker thread: a replica of the model being pretrained; per request it takes
 * the current weights and a shard of the batch, and answers with the shard's loss and gradients.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type BackendName, initBackend } from "../backend.js";
import type { LlamaConfig } from "../model/config.js";
import { initialCheckpoint, shardGradients, trainableLlama, writeWeights } from "./shard.js";

export interface PretrainWorkerInit {
  config: LlamaConfig;
  backend: BackendName;
}

export interface PretrainShardRequest {
  id: number;
  weights: Float32Array[];
  tokens: Int32Array;
  rows: number;
  denominator: number;
}

const init = workerData as PretrainWorkerInit;
await initBackend(init.backend);
// The initial values do not matter: every request carries the weights.
const replica = trainableLlama(initialCheckpoint(init.config, 0));

parentPort!.on("message", (request: PretrainShardRequest) => {
  try {
    writeWeights(replica.variables, request.weights);
    const result = shardGradients(replica, request.tokens, request.rows, request.denominator);
    const transfer = result.grads.map((g) => g.buffer) as ArrayBuffer[];
    parentPort!.postMessage({ id: request.id, ok: true, result }, transfer);
  } catch (error) {
    parentPort!.postMessage({ id: request.id, ok: false, message: (error as Error).message });
  }
});
parentPort!.postMessage({ ready: true });
