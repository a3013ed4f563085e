/**
 * The HTTP contract over real HTTP on loopback, with SQLite state in a temp file: runs, shares,
 * idempotent loss reports, epoch closing, refusals that change nothing, and restart recovery.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { InfoBatch } from "../core/index.js";
import { type RunningServer, startServer } from "./node.js";

const TOKEN = "test-token";
let dir: string;
let server: RunningServer | null = null;

async function start(database?: string): Promise<RunningServer> {
  dir ??= mkdtempSync(join(tmpdir(), "ib-server-"));
  server = await startServer({
    database: database ?? join(dir, "runs.db"),
    port: 0,
    token: TOKEN,
    maxBodyBytes: 1 << 20,
  });
  return server;
}

afterEach(async () => {
  await server?.close();
  server = null;
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field in the tests
type Json = any;

async function call(
  s: RunningServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${s.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const type = response.headers.get("content-type") ?? "";
  return {
    status: response.status,
    body: type.includes("json")
      ? await response.json()
      : new Uint8Array(await response.arrayBuffer()),
  };
}

const N = 200;
const recipe = {
  name: "t",
  trainer: "remote",
  dataset: { size: N },
  engine: { epochs: 3, seed: 5 },
  world: 2,
  batchSize: 16,
};
const lossOf = (epoch: number, id: number) => 0.5 + ((id * 7 + epoch * 3) % 11) / 5;

/** Reports every id of every rank's share of the open epoch, in batches of 16. */
async function runEpoch(s: RunningServer, id: string, epoch: number) {
  for (let rank = 0; rank < 2; rank++) {
    const share = (await call(s, "GET", `/v1/runs/${id}/epochs/${epoch}/plan?rank=${rank}&world=2`))
      .body;
    for (let step = 0; step * 16 < share.ids.length; step++) {
      const ids = share.ids.slice(step * 16, step * 16 + 16);
      const r = await call(s, "POST", `/v1/runs/${id}/losses`, {
        epoch,
        step,
        rank,
        ids,
        losses: ids.map((i: number) => lossOf(epoch, i)),
      });
      expect(r.status).toBe(200);
    }
  }
}

describe("control plane over HTTP", () => {
  it("serves disjoint shares, takes losses once, closes epochs and prunes like the engine", async () => {
    const s = await start();
    const created = await call(s, "POST", "/v1/runs", recipe);
    expect(created.status).toBe(201);
    const id = created.body.id;
    const r0 = (await call(s, "GET", `/v1/runs/${id}/epochs/0/plan?rank=0`)).body;
    const r1 = (await call(s, "GET", `/v1/runs/${id}/epochs/0/plan?rank=1`)).body;
    expect(r0.size + r1.size).toBe(N);
    expect(new Set([...r0.ids, ...r1.ids]).size).toBe(N);
    const binary = (
      await call(s, "GET", `/v1/runs/${id}/epochs/0/plan?rank=1`, undefined, {
        accept: "application/octet-stream",
      })
    ).body as Uint8Array;
    const view = new DataView(binary.buffer, binary.byteOffset);
    expect(view.getUint32(0, true)).toBe(r1.size);
    expect(view.getUint32(4, true)).toBe(r1.ids[0]);

    // A retried report changes nothing; the same key with other losses is refused.
    const first = { epoch: 0, step: 100, rank: 0, ids: r0.ids.slice(0, 4), losses: [1, 2, 3, 4] };
    expect((await call(s, "POST", `/v1/runs/${id}/losses`, first)).body).toMatchObject({
      applied: true,
    });
    expect((await call(s, "POST", `/v1/runs/${id}/losses`, first)).body).toMatchObject({
      applied: false,
      duplicate: true,
    });
    const conflict = await call(s, "POST", `/v1/runs/${id}/losses`, {
      ...first,
      losses: [9, 9, 9, 9],
    });
    expect(conflict.status).toBe(409);
    expect((await call(s, "GET", `/v1/runs/${id}`)).body.reported).toBe(4);

    // The whole epoch: the four ids of `first` are reported again, the last loss counts.
    await runEpoch(s, id, 0);
    expect((await call(s, "GET", `/v1/runs/${id}/epochs/0/plan?rank=0`)).status).toBe(409);
    expect((await call(s, "GET", `/v1/runs/${id}`)).body).toMatchObject({ epoch: 1, reported: 0 });
    const engine = new InfoBatch({ size: N, epochs: 3, seed: 5 });
    const plan0 = engine.planEpoch(0);
    engine.update(
      plan0.ids,
      Array.from(plan0.ids, (i) => lossOf(0, i)),
    );
    const expected = engine.planEpoch(1);
    const next0 = (await call(s, "GET", `/v1/runs/${id}/epochs/1/plan?rank=0`)).body;
    expect(next0.ids).toEqual(Array.from(expected.shard(0, 2).ids));
    expect(next0.ids.length).toBeLessThan(r0.size);
    const savings = (await call(s, "GET", `/v1/runs/${id}/savings`)).body;
    expect(savings.epochs).toHaveLength(2);
    expect(savings.total.examples.saved).toBe(N - expected.size);
  });

  it("refuses bad input with a JSON 4xx and changes nothing", async () => {
    const s = await start();
    const id = (await call(s, "POST", "/v1/runs", recipe)).body.id;
    const share = (await call(s, "GET", `/v1/runs/${id}/epochs/0/plan?rank=0`)).body;
    const other = (await call(s, "GET", `/v1/runs/${id}/epochs/0/plan?rank=1`)).body;
    const ok = { epoch: 0, step: 0, rank: 0, ids: share.ids.slice(0, 2), losses: [1, 2] };
    const before = (await call(s, "GET", `/v1/runs/${id}/savings`)).body;
    const cases: Array<
      [string, Record<string, unknown> | string, number, string, Record<string, string>?]
    > = [
      ["malformed JSON", '{"epoch": 0,', 400, "invalid_json"],
      [
        "NaN in JSON",
        '{"epoch":0,"step":0,"rank":0,"ids":[1],"losses":[NaN]}',
        400,
        "invalid_json",
      ],
      ["wrong type", { ...ok, epoch: "zero" }, 400, "invalid_request"],
      ["float overflow", { ...ok, losses: [1, 1e39] }, 400, "non_finite_loss"],
      ["missing losses", { epoch: 0, step: 0, rank: 0, ids: [1] }, 400, "invalid_request"],
      ["unknown field", { ...ok, extra: 1 }, 400, "invalid_request"],
      ["id out of range", { ...ok, ids: [N + 5, share.ids[0]] }, 400, "id_out_of_range"],
      ["id of another rank", { ...ok, ids: [share.ids[0], other.ids[0]] }, 400, "id_not_in_share"],
      ["rank past world", { ...ok, rank: 2 }, 400, "invalid_rank"],
      ["future epoch", { ...ok, epoch: 1 }, 409, "epoch_not_open"],
      ["length mismatch", { ...ok, losses: [1] }, 400, "invalid_request"],
      ["oversized body", { ...ok, ids: Array(600_000).fill(0) }, 413, "body_too_large"],
    ];
    for (const [name, body, status, code] of cases) {
      const r = await call(s, "POST", `/v1/runs/${id}/losses`, body);
      expect([name, r.status, r.body.error?.code]).toEqual([name, status, code]);
      expect(Array.isArray(r.body.error.path)).toBe(true);
    }
    expect((await call(s, "GET", "/v1/runs/nope")).status).toBe(404);
    expect(
      (await call(s, "POST", "/v1/runs", { ...recipe, dataset: { size: 0 } })).body.error.path,
    ).toEqual(["dataset", "size"]);
    expect(
      (await call(s, "GET", "/v1/runs", undefined, { authorization: "Bearer wrong" })).status,
    ).toBe(401);
    const anonymous = await fetch(`${s.url}/v1/runs`);
    expect(anonymous.status).toBe(401);
    expect((await call(s, "GET", `/v1/runs/${id}/savings`)).body).toEqual(before);
    expect((await call(s, "GET", `/v1/runs/${id}`)).body.reported).toBe(0);
    expect(
      (await call(s, "GET", "/openapi.json")).body.paths["/v1/runs/{id}/losses"],
    ).toBeDefined();
  });

  it("comes back after a restart with the same state and the same next plan", async () => {
    const s1 = await start();
    const id = (await call(s1, "POST", "/v1/runs", recipe)).body.id;
    await runEpoch(s1, id, 0);
    const share = (await call(s1, "GET", `/v1/runs/${id}/epochs/1/plan?rank=1`)).body;
    // Half of epoch 1, then the server goes away.
    const half = share.ids.slice(0, 20);
    await call(s1, "POST", `/v1/runs/${id}/losses`, {
      epoch: 1,
      step: 100,
      rank: 1,
      ids: half,
      losses: half.map((i: number) => lossOf(1, i)),
    });
    await s1.close();
    server = null;

    const s2 = await start();
    const run = (await call(s2, "GET", `/v1/runs/${id}`)).body;
    expect(run).toMatchObject({ epoch: 1, reported: 20, status: "running" });
    // The retried report is recognised after the restart.
    const retry = await call(s2, "POST", `/v1/runs/${id}/losses`, {
      epoch: 1,
      step: 100,
      rank: 1,
      ids: half,
      losses: half.map((i: number) => lossOf(1, i)),
    });
    expect(retry.body).toMatchObject({ duplicate: true });
    await runEpoch(s2, id, 1);
    const after = (await call(s2, "GET", `/v1/runs/${id}/epochs/2/plan?rank=0`)).body;

    // The same reports straight into an engine give the same plan.
    const engine = new InfoBatch({ size: N, epochs: 3, seed: 5 });
    for (let e = 0; e < 2; e++) {
      const plan = engine.planEpoch(e);
      engine.update(
        plan.ids,
        Array.from(plan.ids, (i) => lossOf(e, i)),
      );
    }
    expect(after.ids).toEqual(Array.from(engine.planEpoch(2).shard(0, 2).ids));
  });
});

describe("binding", () => {
  it("refuses a non-loopback address without a token", async () => {
    const database = join(mkdtempSync(join(tmpdir(), "ib-server-")), "x.db");
    await expect(startServer({ database, host: "0.0.0.0", port: 0, token: "" })).rejects.toThrow(
      /bearer token/,
    );
    rmSync(database, { force: true });
  });
});
