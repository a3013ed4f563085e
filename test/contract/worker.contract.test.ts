/**
 * The HTTP contract on Cloudflare Workers: the repository's wrangler.toml, bundled by wrangler
 * and served by workerd (Miniflare) on a loopback port, with Durable Object SQLite state in a temp
 * folder; a restart disposes the runtime and starts a new one on the same folder. Also the
 * Worker's own token policy (503 without a configured token), and that nothing the Worker
 * imports is a Node built-in.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { contractSuite, MAX_BODY_BYTES, type Runtime } from "./suite.js";

// Offline and quiet: no Request.cf download, no telemetry.
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";
const { unstable_startWorker } = await import("wrangler");

const CONFIG = join(import.meta.dirname, "..", "..", "wrangler.toml");
const TOKEN = "worker-contract-token";

type Worker = Awaited<ReturnType<typeof unstable_startWorker>>;

async function boot(
  persist: string,
  vars: Record<string, string>,
): Promise<{ worker: Worker; url: string }> {
  const worker = await unstable_startWorker({
    config: CONFIG,
    bindings: Object.fromEntries(
      Object.entries(vars).map(([name, value]) => [name, { type: "plain_text", value }]),
    ),
    sendMetrics: false,
    dev: {
      persist,
      server: { hostname: "127.0.0.1", port: 0 },
      inspector: false,
      watch: false,
      logLevel: "warn",
    },
  });
  const url = await worker.url;
  return { worker, url: url.origin };
}

contractSuite("Workers (wrangler, workerd, Durable Objects)", async () => {
  const persist = mkdtempSync(join(tmpdir(), "ib-contract-worker-"));
  const vars = { INFOBATCH_TOKEN: TOKEN, INFOBATCH_MAX_BODY_BYTES: String(MAX_BODY_BYTES) };
  let running = await boot(persist, vars);
  const runtime: Runtime = {
    url: running.url,
    token: TOKEN,
    async restart() {
      // A new port: pooled keep-alive connections to the old runtime must not be reused.
      await running.worker.dispose();
      running = await boot(persist, vars);
      runtime.url = running.url;
    },
    async close() {
      await running.worker.dispose();
      rmSync(persist, { recursive: true, force: true });
    },
  };
  return runtime;
});

describe("the Worker's token policy", () => {
  const dirs: string[] = [];
  const workers: Worker[] = [];
  const start = async (vars: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), "ib-contract-worker-"));
    dirs.push(dir);
    const { worker, url } = await boot(dir, vars);
    workers.push(worker);
    return url;
  };
  afterAll(async () => {
    for (const worker of workers) await worker.dispose();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses /v1 with 503 when no token is configured, unless INFOBATCH_ALLOW_NO_TOKEN=1", async () => {
    const locked = await start({});
    const refused = await fetch(`${locked}/v1/runs`, { headers: { authorization: "Bearer x" } });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      "token_not_configured",
    );
    expect((await fetch(`${locked}/healthz`)).status).toBe(200);

    const open = await start({ INFOBATCH_ALLOW_NO_TOKEN: "1" });
    const created = await fetch(`${open}/v1/runs`, {
      method: "POST",
      body: JSON.stringify({ trainer: "remote", dataset: { size: 10 }, engine: { epochs: 1 } }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect((await fetch(`${open}/v1/runs/${id}`)).status).toBe(200);
  });
});

describe("the Worker's import graph", () => {
  it("reaches no Node built-in module", () => {
    const root = resolve(import.meta.dirname, "..", "..");
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, "utf8");
      // Value imports and re-exports (type-only ones are erased by the bundler).
      const statements =
        /^\s*(?:import|export)\s+(?!type\s)(?:[^;'"]*?\sfrom\s+)?["']([^"']+)["']/gm;
      for (const [, specifier] of source.matchAll(statements)) {
        if (specifier.startsWith("."))
          visit(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
        else packages.add(specifier);
      }
    };
    visit(join(root, "src", "server", "worker.ts"));
    expect(seen.size).toBeGreaterThan(10);
    const builtins = [...packages].filter(
      (p) => p.startsWith("node:") || builtinModules.includes(p.split("/")[0]),
    );
    expect(builtins).toEqual([]);
    expect([...packages]).toContain("hono");
  });
});
