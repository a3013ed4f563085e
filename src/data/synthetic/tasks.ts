/**
 * The built-in instruction data: a dozen small tasks over words and numbers, from trivial (copy a
 * word) to hard for a tiny model (reverse, sort, add), generated deterministically from a seed.
 * Easy examples are learned in an epoch and hard ones are not, which is what gives InfoBatch's
 * loss-based pruning something to find. Examples are short (a prompt line and a one-line
 * response; with the "plain" template and `asciiTokenizer`, 8–46 tokens from BOS to EOS, 90% of
 * them ≤ 32) and are instruction records as the dataset readers yield them, so they go through
 * `buildCorpus` / `prepareCorpus` like a dataset file.
 */
import { deriveKey, Xoshiro128 } from "../../core/rng.js";
import { DataError, type SourcedRecord } from "../types.js";
import { anyWord, between, pick, pseudoWord } from "./words.js";

/** The tasks, roughly from easiest to hardest. */
export const TASK_NAMES = [
  "copy",
  "upper",
  "first",
  "last",
  "repeat",
  "length",
  "larger",
  "next",
  "reverse",
  "sort",
  "count",
  "add",
] as const;

export type TaskName = (typeof TASK_NAMES)[number];

/** An instruction record with the task that made it (for per-task reports). */
export interface SyntheticExample extends SourcedRecord {
  task: TaskName;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz";

/** One example of `task`: the instruction (the prompt line) and the expected response. */
function makeTask(task: TaskName, rng: Xoshiro128): { instruction: string; output: string } {
  switch (task) {
    case "copy": {
      const w = anyWord(rng);
      return { instruction: `copy: ${w}`, output: w };
    }
    case "upper": {
      const w = anyWord(rng);
      return { instruction: `upper: ${w}`, output: w.toUpperCase() };
    }
    case "first": {
      const w = anyWord(rng);
      return { instruction: `first letter: ${w}`, output: w[0] };
    }
    case "last": {
      const w = anyWord(rng);
      return { instruction: `last letter: ${w}`, output: w[w.length - 1] };
    }
    case "repeat": {
      const n = between(rng, 2, 4);
      const w = anyWord(rng, 3, 6);
      return { instruction: `repeat ${n}: ${w}`, output: Array(n).fill(w).join(" ") };
    }
    case "length": {
      const w = rng.nextFloat() < 0.5 ? anyWord(rng) : pseudoWord(rng, 3, 10);
      return { instruction: `length: ${w}`, output: String(w.length) };
    }
    case "larger": {
      const a = between(rng, 0, 999);
      let b = between(rng, 0, 999);
      if (b === a) b = (a + 1) % 1000;
      return { instruction: `larger: ${a} ${b}`, output: String(Math.max(a, b)) };
    }
    case "next": {
      const items = between(rng, 3, 5);
      if (rng.nextFloat() < 0.5) {
        const step = between(rng, 1, 2);
        const start = between(rng, 0, 25 - items * step);
        const seq = Array.from({ length: items }, (_, i) => LETTERS[start + i * step]);
        return { instruction: `next: ${seq.join(" ")}`, output: LETTERS[start + items * step] };
      }
      const step = between(rng, 1, 9);
      const start = between(rng, 0, 50);
      const seq = Array.from({ length: items }, (_, i) => start + i * step);
      return { instruction: `next: ${seq.join(" ")}`, output: String(start + items * step) };
    }
    case "reverse": {
      const w = anyWord(rng);
      return { instruction: `reverse: ${w}`, output: [...w].reverse().join("") };
    }
    case "sort": {
      const w = anyWord(rng);
      return { instruction: `sort: ${w}`, output: [...w].sort().join("") };
    }
    case "count": {
      const w = anyWord(rng);
      const c = rng.nextFloat() < 0.75 ? w[rng.nextBelow(w.length)] : pick(rng, [...LETTERS]);
      const n = [...w].filter((x) => x === c).length;
      return { instruction: `count ${c}: ${w}`, output: String(n) };
    }
    case "add": {
      const a = between(rng, 0, 99);
      const b = between(rng, 0, 99);
      return { instruction: `add: ${a}+${b}`, output: String(a + b) };
    }
  }
}

export interface InstructionTaskOptions {
  /** Everything derives from it. */
  seed: number;
  /** Training examples. */
  train: number;
  /** Held-out examples: same distribution, no instruction in common with the training set. */
  heldOut: number;
  /** Tasks to draw from (uniformly). Default: all of `TASK_NAMES`. */
  tasks?: readonly TaskName[];
}

export interface InstructionTaskSet {
  train: SyntheticExample[];
  heldOut: SyntheticExample[];
}

/**
 * A training and a held-out set of instruction records (`{ kind: "instruction", instruction,
 * input: "", output }`), each task drawn uniformly, no duplicate instruction within or across the
 * two sets. The held-out set depends only on `seed`, `heldOut` and `tasks` (not on `train`), so
 * runs with different training sizes are evaluated on the same examples. Throws a `DataError`
 * "invalid_option" for negative or fractional sizes or an unknown task.
 *
 * @example
 * const { train, heldOut } = instructionTasks({ seed: 0, train: 2000, heldOut: 200 });
 * const { corpus } = await prepareCorpus({ dataset: train, tokenizer: asciiTokenizer(),
 *   template: "plain", maxLength: 64 });
 */
export function instructionTasks(options: InstructionTaskOptions): InstructionTaskSet {
  const tasks = options.tasks ?? TASK_NAMES;
  for (const [field, value] of [
    ["train", options.train],
    ["heldOut", options.heldOut],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw new DataError(
        "invalid_option",
        `${field} must be a non-negative integer, received ${value}`,
      );
    }
  }
  if (tasks.length === 0) throw new DataError("invalid_option", "tasks must not be empty");
  for (const t of tasks) {
    if (!TASK_NAMES.includes(t)) {
      throw new DataError(
        "invalid_option",
        `unknown task "${t}"; expected one of ${TASK_NAMES.join(", ")}`,
      );
    }
  }
  const seen = new Set<string>();
  const draw = (stream: number, count: number, split: string): SyntheticExample[] => {
    const rng = new Xoshiro128(deriveKey(options.seed >>> 0, 0x7a5c, stream));
    const out: SyntheticExample[] = [];
    let misses = 0; // consecutive duplicates: the tasks' space is (nearly) used up
    while (out.length < count) {
      const task = pick(rng, tasks);
      const { instruction, output } = makeTask(task, rng);
      if (seen.has(instruction)) {
        if (++misses > 10_000) {
          throw new DataError(
            "invalid_option",
            `cannot draw ${count} distinct ${split} examples from tasks ${tasks.join(", ")} (${out.length} drawn)`,
          );
        }
        continue;
      }
      misses = 0;
      seen.add(instruction);
      out.push({
        task,
        record: { kind: "instruction", instruction, input: "", output },
        source: { file: `synthetic:instruction-tasks/${split}`, index: out.length },
      });
    }
    return out;
  };
  const heldOut = draw(1, options.heldOut, "held-out");
  const train = draw(2, options.train, "train");
  return { train, heldOut };
}
