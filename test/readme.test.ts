/**
 * The README's examples must run as written: each ```ts block is extracted, its package imports
 * pointed at the source tree (and its dataset path at the shared data), then executed.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expect, it, vi } from "vitest";
import { dataPath } from "./data-dir.js";

const root = join(import.meta.dirname, "..");
const blocks = [
  ...readFileSync(join(root, "README.md"), "utf8").matchAll(/```ts\n([\s\S]*?)```/g),
].map((m) => m[1]);

async function runBlock(index: number): Promise<string[]> {
  const source = blocks[index]
    .replace(
      'from "infobatch-it/pipeline"',
      `from ${JSON.stringify(join(root, "src", "pipeline", "index.js"))}`,
    )
    .replace('from "infobatch-it"', `from ${JSON.stringify(join(root, "src", "index.js"))}`)
    .replace(
      'from "infobatch-it/tfjs"',
      `from ${JSON.stringify(join(root, "adapters", "tfjs", "node.js"))}`,
    )
    .replace('"data/gsm8k_train.jsonl"', JSON.stringify(dataPath("datasets", "gsm8k_train.jsonl")))
    .replace('"data/gsm8k_test.jsonl"', JSON.stringify(dataPath("datasets", "gsm8k_test.jsonl")))
    .replace(
      '"models/stories260K.bin"',
      JSON.stringify(dataPath("models", "stories260K", "stories260K.bin")),
    )
    .replace(
      '"llama2c:models/tok512.bin"',
      JSON.stringify(`llama2c:${dataPath("models", "stories260K", "tok512.bin")}`),
    )
    .replace('"out/adapter"', JSON.stringify(join(tmpdir(), `readme-adapter-${process.pid}`)));
  const file = join(import.meta.dirname, `.readme-example-${process.pid}-${index}.ts`);
  writeFileSync(file, source);
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  try {
    await import(pathToFileURL(file).href);
    return log.mock.calls.map((call) => call.map(String).join(" "));
  } finally {
    log.mockRestore();
    rmSync(file, { force: true });
  }
}

it("README has the engine, pipeline and trainer examples", () => {
  expect(blocks.length).toBeGreaterThanOrEqual(3);
});

it("README engine example runs and reports savings", async () => {
  const lines = await runBlock(0);
  expect(lines).toHaveLength(1);
  const saved = Number(/tokens saved: ([\d.]+)%/.exec(lines[0])?.[1]);
  expect(saved).toBeGreaterThan(5);
  expect(saved).toBeLessThan(60);
});

it("README pipeline example runs on GSM8K", async () => {
  const lines = await runBlock(1);
  expect(lines[0]).toBe("7473 examples, 0 skipped, 0 truncated");
  expect(lines.filter((l) => l.startsWith("epoch "))).toHaveLength(3);
  expect(lines.at(-1)).toMatch(/^tokens saved: [1-9]\d* of \d+$/);
});

it("README trainer example fine-tunes stories260K and lowers the held-out loss", async () => {
  const lines = await runBlock(2);
  const match = /held-out loss ([\d.]+) → ([\d.]+)/.exec(lines.at(-1) ?? "");
  expect(match).not.toBeNull();
  expect(Number(match![2])).toBeLessThan(Number(match![1]));
  const adapter = join(tmpdir(), `readme-adapter-${process.pid}`);
  expect(readFileSync(join(adapter, "adapter_config.json"), "utf8")).toContain(
    '"peft_type": "LORA"',
  );
  rmSync(adapter, { recursive: true, force: true });
}, 300_000);
