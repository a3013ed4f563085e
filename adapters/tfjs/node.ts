/** The TensorFlow.js Llama for Node: everything of index.ts plus checkpoints from and to files. */

export {
  loadHfLlama,
  loadLlama2cCheckpoint,
  readSafetensorsFile,
  saveHfLlama,
  writeSafetensorsFile,
} from "./checkpoints/node.js";
export * from "./index.js";
export {
  BASE_MODEL_CONFIG,
  baseModelCacheName,
  type CachedBaseModel,
  loadOrPretrainBaseModel,
  PRETRAIN_DEFAULTS,
  type PretrainOptions,
  type PretrainProgress,
  pretrainBaseModel,
} from "./pretrain.js";
export { loadPeftAdapter, savePeftAdapter } from "./train/files.js";
export { type ProgressOptions, progressBar } from "./train/progress.js";
export {
  type EvalResult,
  type FitOptions,
  LoraTrainer,
  type StepResult,
  type TrainEvent,
  type TrainerOptions,
} from "./train/trainer.js";
