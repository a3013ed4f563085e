/**
 * The README's engine example must run as written: extract the first ```ts block, point its
 * import at the source tree and execute it.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expect, it, vi } from "vitest";

it("README engine example runs and reports savings", async () => {
  const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block).toBeDefined();
  const source = block!.replace(
    'from "infobatch-it"',
    `from ${JSON.stringify(join(import.meta.dirname, "..", "src", "index.js"))}`,
  );
  const file = join(import.meta.dirname, `.readme-example-${process.pid}.ts`);
  writeFileSync(file, source);
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  try {
    await import(pathToFileURL(file).href);
    expect(log).toHaveBeenCalledTimes(1);
    const saved = Number(/tokens saved: ([\d.]+)%/.exec(String(log.mock.calls[0][0]))?.[1]);
    expect(saved).toBeGreaterThan(5);
    expect(saved).toBeLessThan(60);
  } finally {
    log.mockRestore();
    rmSync(file, { force: true });
  }
});
