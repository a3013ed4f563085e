/**
 * The TensorFlow.js Llama: model, checkpoints (llama2.c, safetensors, Hugging Face) and greedy
 * generation. Runtime-agnostic (Node, Workers, browsers); the file helpers are in node.ts.
 */
export {
  type BackendChoice,
  type BackendName,
  type BackendOptions,
  initBackend,
} from "./backend.js";
export {
  checkpointFromHf,
  checkpointToHf,
  configFromHf,
  configToHf,
  permuteRotaryRows,
  unpermuteRotaryRows,
} from "./checkpoints/hf.js";
export { parseLlama2c, serializeLlama2c } from "./checkpoints/llama2c.js";
export {
  parseSafetensors,
  type SafetensorsContents,
  type SafetensorsDtype,
  type SafetensorsTensor,
  serializeSafetensors,
  type TensorToWrite,
} from "./checkpoints/safetensors.js";
export { ModelError, type ModelErrorCode } from "./errors.js";
export { type GenerateOptions, generateGreedy } from "./generate.js";
export {
  headSize,
  kvDim,
  type LlamaConfig,
  type LlamaConfigInput,
  llamaConfig,
} from "./model/config.js";
export { KvCache } from "./model/kv-cache.js";
export {
  createLlama,
  disposeLlama,
  type ForwardOptions,
  forward,
  type Llama,
  type LlamaLayerWeights,
  type LlamaWeights,
  type ProjectionAdapter,
  type ProjectionName,
} from "./model/llama.js";
export {
  checkParams,
  type LlamaCheckpoint,
  type LlamaLayerParams,
  type LlamaParams,
  layerParamShapes,
  parameterCount,
} from "./model/params.js";
export { AdamW, type AdamWOptions } from "./train/adamw.js";
export {
  LoraAdapter,
  type LoraConfig,
  PROJECTIONS,
  peftModule,
  resolveLoraConfig,
} from "./train/lora.js";
export { perExampleLoss } from "./train/loss.js";
export { adapterFromPeft, adapterToPeft, mergeAdapter, type PeftConfig } from "./train/peft.js";
export { learningRateAt, progressAt, type ScheduleOptions } from "./train/schedule.js";
