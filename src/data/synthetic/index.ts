/**
 * Built-in data that the project makes itself, deterministically from a seed: instruction tasks,
 * generic pretraining text and the character tokenizer both use (the quickstart's ingredients).
 */
export { QUICKSTART_DEFAULTS, type QuickstartDefaults } from "./quickstart.js";
export {
  type InstructionTaskOptions,
  type InstructionTaskSet,
  instructionTasks,
  type SyntheticExample,
  TASK_NAMES,
  type TaskName,
} from "./tasks.js";
export { type PretrainingTextOptions, pretrainingLines, pretrainingText } from "./text.js";
export { ASCII_ALPHABET, ASCII_VOCAB_SIZE, asciiTokenizer } from "./tokenizer.js";
