import { describe, expect, it } from "vitest";
import { buildCorpus } from "../corpus.js";
import { plainTemplate } from "../templates/index.js";
import { DataError } from "../types.js";
import { QUICKSTART_DEFAULTS } from "./quickstart.js";
import { instructionTasks, type SyntheticExample, TASK_NAMES } from "./tasks.js";
import { asciiTokenizer } from "./tokenizer.js";

const instructionOf = (e: SyntheticExample) =>
  e.record.kind === "instruction" ? e.record.instruction : "";
const outputOf = (e: SyntheticExample) => (e.record.kind === "instruction" ? e.record.output : "");

/** The expected response, recomputed from the instruction text alone. */
function solve(task: string, instruction: string): string {
  const arg = instruction.slice(instruction.indexOf(": ") + 2);
  switch (task) {
    case "copy":
      return arg;
    case "upper":
      return arg.toUpperCase();
    case "first":
      return arg[0];
    case "last":
      return arg.at(-1)!;
    case "repeat": {
      const n = Number(instruction.split(" ")[1].replace(":", ""));
      return Array(n).fill(arg).join(" ");
    }
    case "length":
      return String(arg.length);
    case "larger":
      return String(Math.max(...arg.split(" ").map(Number)));
    case "next": {
      const items = arg.split(" ");
      if (/\d/.test(items[0])) {
        const xs = items.map(Number);
        return String(xs.at(-1)! + (xs[1] - xs[0]));
      }
      const codes = items.map((c) => c.charCodeAt(0));
      return String.fromCharCode(codes.at(-1)! + (codes[1] - codes[0]));
    }
    case "reverse":
      return [...arg].reverse().join("");
    case "sort":
      return [...arg].sort().join("");
    case "count": {
      const letter = instruction.split(" ")[1].replace(":", "");
      return String([...arg].filter((c) => c === letter).length);
    }
    case "add": {
      const [a, b] = arg.split("+").map(Number);
      return String(a + b);
    }
    default:
      throw new Error(`unknown task ${task}`);
  }
}

describe("instructionTasks", () => {
  const set = instructionTasks({ seed: 7, train: 1500, heldOut: 200 });

  it("is a pure function of its options", () => {
    expect(instructionTasks({ seed: 7, train: 1500, heldOut: 200 })).toEqual(set);
    const other = instructionTasks({ seed: 8, train: 1500, heldOut: 200 });
    expect(other.train.map(instructionOf)).not.toEqual(set.train.map(instructionOf));
  });

  it("yields instruction records as the readers do, with sources and their task", () => {
    expect(set.train).toHaveLength(1500);
    expect(set.heldOut).toHaveLength(200);
    set.train.forEach((e, i) => {
      expect(e.record.kind).toBe("instruction");
      expect(e.source).toEqual({ file: "synthetic:instruction-tasks/train", index: i });
    });
    expect(set.heldOut[3].source).toEqual({
      file: "synthetic:instruction-tasks/held-out",
      index: 3,
    });
  });

  it("answers every task correctly", () => {
    for (const e of [...set.train, ...set.heldOut]) {
      expect(outputOf(e), `${e.task}: ${instructionOf(e)}`).toBe(solve(e.task, instructionOf(e)));
    }
  });

  it("draws every task, roughly uniformly", () => {
    const counts = new Map<string, number>();
    for (const e of set.train) counts.set(e.task, (counts.get(e.task) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([...TASK_NAMES].sort());
    for (const n of counts.values()) expect(n).toBeGreaterThan(1500 / 12 / 2);
  });

  it("holds out examples disjoint from the training set, whatever the training size", () => {
    const train = new Set(set.train.map(instructionOf));
    expect(train.size).toBe(set.train.length); // no duplicate within the training set
    const held = set.heldOut.map(instructionOf);
    expect(new Set(held).size).toBe(held.length);
    expect(held.filter((x) => train.has(x))).toEqual([]);
    const smaller = instructionTasks({ seed: 7, train: 10, heldOut: 200 });
    expect(smaller.heldOut).toEqual(set.heldOut);
  });

  it("makes short examples the built-in tokenizer encodes: most ≤ 32 tokens, all ≤ 48", async () => {
    const corpus = await buildCorpus(set.train, {
      tokenizer: asciiTokenizer(),
      template: plainTemplate,
      maxLength: QUICKSTART_DEFAULTS.maxLength,
    });
    expect(corpus.size).toBe(set.train.length);
    expect(corpus.report.truncated).toBe(0);
    const lengths = Array.from(corpus.lengths()).sort((a, b) => a - b);
    expect(lengths.at(-1)).toBeLessThanOrEqual(48);
    expect(lengths[Math.floor(lengths.length * 0.9)]).toBeLessThanOrEqual(32);
    expect(lengths[0]).toBeGreaterThanOrEqual(8);
  });

  it("restricts to the tasks asked for and validates its options", () => {
    const only = instructionTasks({ seed: 1, train: 50, heldOut: 5, tasks: ["add", "copy"] });
    expect(new Set(only.train.map((e) => e.task))).toEqual(new Set(["add", "copy"]));
    expect(() => instructionTasks({ seed: 1, train: -1, heldOut: 0 })).toThrow(DataError);
    expect(() => instructionTasks({ seed: 1, train: 1.5, heldOut: 0 })).toThrow(/train/);
    expect(() =>
      instructionTasks({ seed: 1, train: 1, heldOut: 0, tasks: ["divide" as never] }),
    ).toThrow(/unknown task "divide"/);
    // "next" has about 1,500 distinct instructions: a larger request says so instead of looping.
    expect(() => instructionTasks({ seed: 1, train: 5000, heldOut: 0, tasks: ["next"] })).toThrow(
      /cannot draw 5000 distinct train examples/,
    );
  });
});
