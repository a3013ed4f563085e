/**
 * Node-only behaviour of the server. The HTTP contract itself is tested on every runtime by
 * test/contract (node.contract.test.ts and worker.contract.test.ts run the same suite).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startServer } from "./node.js";

describe("binding", () => {
  it("refuses a non-loopback address without a token", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ib-server-"));
    await expect(
      startServer({ database: join(dir, "x.db"), host: "0.0.0.0", port: 0, token: "" }),
    ).rejects.toThrow(/bearer token/);
    rmSync(dir, { recursive: true, force: true });
  });
});
