/** The TensorFlow.js Llama for Node: everything of index.ts plus checkpoints from and to files. */

export {
  loadHfLlama,
  loadLlama2cCheckpoint,
  readSafetensorsFile,
  saveHfLlama,
  writeSafetensorsFile,
} from "./checkpoints/node.js";
export * from "./index.js";
