/**
 * Crash test: a remote run with 8 simulated workers; the server is killed with SIGKILL mid-epoch
 * and restarted on the same database and port; workers retry what failed. At the end the run's
 * next plan and ledger equal those of an uninterrupted engine fed the same losses.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { InfoBatch } from "../src/core/index.js";
import { spawnServe } from "./serve-process.js";

const PORT = 19_000 + (process.pid % 1000);
const URL_BASE = `http://127.0.0.1:${PORT}`;
const database = join(mkdtempSync(join(tmpdir(), "ib-fault-")), "runs.db");
let server: ChildProcess | null = null;

function startServer(): Promise<ChildProcess> {
  return spawnServe(["--port", String(PORT), "--database", database]);
}

afterAll(() => {
  server?.kill("SIGKILL");
});

/** One request, retried until the server answers (it may be down for a restart). */
async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  for (let attempt = 0; attempt < 400; attempt++) {
    try {
      const response = await fetch(URL_BASE + path, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`${method} ${path}: the server never came back`);
}

const N = 4000;
const WORLD = 8;
const BATCH = 50;
const lossOf = (epoch: number, id: number) => 0.3 + ((id * 13 + epoch * 5) % 17) / 6;

it("survives kill -9 mid-epoch: same ledger and next plan as an uninterrupted run", async () => {
  server = await startServer();
  const created = await call("POST", "/v1/runs", {
    trainer: "remote",
    dataset: { size: N },
    engine: { epochs: 3, seed: 11 },
    world: WORLD,
  });
  const id = created.body.id as string;
  for (const epoch of [0, 1]) {
    let reports = 0;
    await Promise.all(
      Array.from({ length: WORLD }, async (_, rank) => {
        const share = (await call("GET", `/v1/runs/${id}/epochs/${epoch}/plan?rank=${rank}`)).body
          .ids as number[];
        for (let step = 0; step * BATCH < share.length; step++) {
          const ids = share.slice(step * BATCH, (step + 1) * BATCH);
          const r = await call("POST", `/v1/runs/${id}/losses`, {
            epoch,
            step,
            rank,
            ids,
            losses: ids.map((i) => lossOf(epoch, i)),
          });
          expect(r.status).toBe(200);
          reports++;
          if (epoch === 1 && reports === 25) {
            // Mid-epoch crash: no graceful shutdown, then a restart on the same file.
            server!.kill("SIGKILL");
            await new Promise((r) => server!.once("exit", r));
            server = await startServer();
          }
        }
      }),
    );
  }
  const engine = new InfoBatch({ size: N, epochs: 3, seed: 11 });
  for (const epoch of [0, 1]) {
    const plan = engine.planEpoch(epoch);
    engine.update(
      plan.ids,
      Array.from(plan.ids, (i) => lossOf(epoch, i)),
    );
  }
  const expected = engine.planEpoch(2);
  const run = (await call("GET", `/v1/runs/${id}`)).body;
  expect(run.epoch).toBe(2);
  for (const rank of [0, 5]) {
    const share = (await call("GET", `/v1/runs/${id}/epochs/2/plan?rank=${rank}`)).body;
    expect(share.ids).toEqual(Array.from(expected.shard(rank, WORLD).ids));
    expect(share.weights).toEqual(Array.from(expected.shard(rank, WORLD).weights));
  }
  const savings = (await call("GET", `/v1/runs/${id}/savings`)).body as {
    total: { examples: unknown };
  };
  expect(savings.total.examples).toEqual(engine.savings().total.examples);
}, 120_000);
