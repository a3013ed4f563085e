/** The HTTP contract on Node: @hono/node-server on loopback, SQLite state in a temp file. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningServer, startServer } from "../../src/server/node.js";
import { contractSuite, MAX_BODY_BYTES, type Runtime } from "./suite.js";

const TOKEN = "node-contract-token";

contractSuite("Node (SQLite)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ib-contract-node-"));
  const database = join(dir, "runs.db");
  const boot = (port: number) =>
    startServer({ database, port, token: TOKEN, maxBodyBytes: MAX_BODY_BYTES });
  let server: RunningServer = await boot(0);
  const runtime: Runtime = {
    url: server.url,
    token: TOKEN,
    async restart() {
      // A new port: pooled keep-alive connections to the old server must not be reused.
      await server.close();
      server = await boot(0);
      runtime.url = server.url;
    },
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return runtime;
});
