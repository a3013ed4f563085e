/**
 * The control plane's HTTP contract, independent of the runtime: every runtime that serves the
 * API (Node + SQLite, Workers + Durable Objects) runs this same suite over real HTTP. It covers
 * runs and their listing, shares (JSON and binary), idempotent loss reports and conflicts, epoch
 * closing and cancelling, the bad-input table (each refusal a JSON 4xx that changes nothing),
 * auth, the body limit, evaluations, the event stream (SSE), the report page, restart recovery
 * where the runtime can restart, and a run large enough to need chunked storage on Workers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InfoBatch } from "../../src/core/index.js";

/** A running control plane. `url` may change across `restart()`: read it at each request. */
export interface Runtime {
  url: string;
  token: string;
  /** Stops the server and starts it again on the same state (absent: the runtime cannot). */
  restart?(): Promise<void>;
  close(): Promise<void>;
}

/** The request body limit every runtime under test is started with. */
export const MAX_BODY_BYTES = 4 << 20;

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field in the tests
type Json = any;

interface Reply {
  status: number;
  type: string;
  body: Json;
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

export function contractSuite(name: string, start: () => Promise<Runtime>): void {
  describe(`control plane contract on ${name}`, () => {
    let rt: Runtime;
    beforeAll(async () => {
      rt = await start();
    }, 120_000);
    afterAll(async () => {
      await rt?.close();
    });

    async function call(
      method: string,
      path: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ): Promise<Reply> {
      const response = await fetch(`${rt.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${rt.token}`,
          "content-type": "application/json",
          ...headers,
        },
        body:
          body === undefined || typeof body === "string" || body instanceof Uint8Array
            ? body
            : JSON.stringify(body),
      });
      const type = response.headers.get("content-type") ?? "";
      return {
        status: response.status,
        type,
        body: type.includes("json")
          ? await response.json()
          : type.startsWith("text/")
            ? await response.text()
            : new Uint8Array(await response.arrayBuffer()),
      };
    }

    const create = async (body: unknown = recipe): Promise<string> => {
      const created = await call("POST", "/v1/runs", body);
      expect(created.status).toBe(201);
      return created.body.id;
    };

    /** Rank `rank`'s share of `epoch`, read through the binary format. */
    async function binaryShare(id: string, epoch: number, rank = 0) {
      const r = await call("GET", `/v1/runs/${id}/epochs/${epoch}/plan?rank=${rank}`, undefined, {
        accept: "application/octet-stream",
      });
      expect([r.status, r.type]).toEqual([200, "application/octet-stream"]);
      const bytes = (r.body as Uint8Array).slice();
      const n = new DataView(bytes.buffer).getUint32(0, true);
      expect(bytes.byteLength).toBe(4 + 8 * n);
      return {
        ids: new Uint32Array(bytes.buffer, 4, n),
        weights: new Float32Array(bytes.buffer, 4 + 4 * n, n),
      };
    }

    /** Reports every id of every rank's share of the open epoch, in batches of 16. */
    async function runEpoch(id: string, epoch: number) {
      for (let rank = 0; rank < 2; rank++) {
        const share = (
          await call("GET", `/v1/runs/${id}/epochs/${epoch}/plan?rank=${rank}&world=2`)
        ).body;
        for (let step = 0; step * 16 < share.ids.length; step++) {
          const ids = share.ids.slice(step * 16, step * 16 + 16);
          const r = await call("POST", `/v1/runs/${id}/losses`, {
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

    it("serves disjoint shares, takes losses once, closes epochs and prunes like the engine", async () => {
      const id = await create();
      const r0 = (await call("GET", `/v1/runs/${id}/epochs/0/plan?rank=0`)).body;
      const r1 = (await call("GET", `/v1/runs/${id}/epochs/0/plan?rank=1`)).body;
      expect(r0.size + r1.size).toBe(N);
      expect(new Set([...r0.ids, ...r1.ids]).size).toBe(N);
      const binary = await binaryShare(id, 0, 1);
      expect(Array.from(binary.ids)).toEqual(r1.ids);
      expect(Array.from(binary.weights)).toEqual(r1.weights);

      // A retried report changes nothing; the same key with other losses is refused.
      const first = { epoch: 0, step: 100, rank: 0, ids: r0.ids.slice(0, 4), losses: [1, 2, 3, 4] };
      expect((await call("POST", `/v1/runs/${id}/losses`, first)).body).toMatchObject({
        applied: true,
      });
      expect((await call("POST", `/v1/runs/${id}/losses`, first)).body).toMatchObject({
        applied: false,
        duplicate: true,
      });
      const conflict = await call("POST", `/v1/runs/${id}/losses`, {
        ...first,
        losses: [9, 9, 9, 9],
      });
      expect([conflict.status, conflict.body.error.code]).toEqual([409, "conflicting_report"]);
      expect((await call("GET", `/v1/runs/${id}`)).body.reported).toBe(4);

      // The whole epoch: the four ids of `first` are reported again, the last loss counts.
      await runEpoch(id, 0);
      const closed = await call("GET", `/v1/runs/${id}/epochs/0/plan?rank=0`);
      expect([closed.status, closed.body.error.code]).toEqual([409, "epoch_closed"]);
      expect((await call("GET", `/v1/runs/${id}`)).body).toMatchObject({ epoch: 1, reported: 0 });
      const engine = new InfoBatch({ size: N, epochs: 3, seed: 5 });
      const plan0 = engine.planEpoch(0);
      engine.update(
        plan0.ids,
        Array.from(plan0.ids, (i) => lossOf(0, i)),
      );
      const expected = engine.planEpoch(1);
      const next0 = (await call("GET", `/v1/runs/${id}/epochs/1/plan?rank=0`)).body;
      expect(next0.ids).toEqual(Array.from(expected.shard(0, 2).ids));
      expect(next0.ids.length).toBeLessThan(r0.size);
      const savings = (await call("GET", `/v1/runs/${id}/savings`)).body;
      expect(savings.epochs).toHaveLength(2);
      expect(savings.total.examples.saved).toBe(N - expected.size);

      // Closing by hand (a trainer that drops its last partial batch), then the last epoch.
      const early = await call("POST", `/v1/runs/${id}/epochs/2/close`);
      expect([early.status, early.body.error.code]).toEqual([409, "epoch_not_open"]);
      expect((await call("POST", `/v1/runs/${id}/epochs/1/close`)).body).toMatchObject({
        epoch: 2,
        status: "running",
      });
      expect((await call("POST", `/v1/runs/${id}/epochs/2/close`)).body.status).toBe("completed");
      const done = await call("GET", `/v1/runs/${id}/epochs/2/plan?rank=0`);
      expect([done.status, done.body.error.code]).toEqual([409, "run_not_running"]);
    });

    it("lists runs in creation order, as each run's own view", async () => {
      const a = await create({ ...recipe, name: "first" });
      const b = await create({ ...recipe, name: "second" });
      const listed = (await call("GET", "/v1/runs")).body as Json[];
      const ids = listed.map((r) => r.id);
      expect(ids.indexOf(a)).toBeGreaterThanOrEqual(0);
      expect(ids.indexOf(b)).toBeGreaterThan(ids.indexOf(a));
      expect(listed.find((r) => r.id === b)).toEqual((await call("GET", `/v1/runs/${b}`)).body);
      const cancelled = await call("POST", `/v1/runs/${a}/cancel`);
      expect(cancelled.body).toMatchObject({ id: a, name: "first", status: "cancelled" });
      const refused = await call("POST", `/v1/runs/${a}/losses`, {
        epoch: 0,
        step: 0,
        rank: 0,
        ids: [0],
        losses: [1],
      });
      expect([refused.status, refused.body.error.code]).toEqual([409, "run_not_running"]);
      const after = (await call("GET", "/v1/runs")).body as Json[];
      expect(after.find((r) => r.id === a).status).toBe("cancelled");
    });

    it("refuses bad input with a JSON 4xx and changes nothing", async () => {
      const id = await create();
      const share = (await call("GET", `/v1/runs/${id}/epochs/0/plan?rank=0`)).body;
      const other = (await call("GET", `/v1/runs/${id}/epochs/0/plan?rank=1`)).body;
      const ok = { epoch: 0, step: 0, rank: 0, ids: share.ids.slice(0, 2), losses: [1, 2] };
      const before = (await call("GET", `/v1/runs/${id}/savings`)).body;
      const cases: Array<[string, Record<string, unknown> | string, number, string]> = [
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
        [
          "id of another rank",
          { ...ok, ids: [share.ids[0], other.ids[0]] },
          400,
          "id_not_in_share",
        ],
        ["rank past world", { ...ok, rank: 2 }, 400, "invalid_rank"],
        ["future epoch", { ...ok, epoch: 1 }, 409, "epoch_not_open"],
        ["length mismatch", { ...ok, losses: [1] }, 400, "invalid_request"],
        [
          "oversized body",
          { ...ok, ids: Array(MAX_BODY_BYTES / 2).fill(0) },
          413,
          "body_too_large",
        ],
      ];
      for (const [label, body, status, code] of cases) {
        const r = await call("POST", `/v1/runs/${id}/losses`, body);
        expect([label, r.status, r.body.error?.code]).toEqual([label, status, code]);
        expect(Array.isArray(r.body.error.path)).toBe(true);
      }
      const plans: Array<[string, number, string]> = [
        ["epochs/x/plan?rank=0", 400, "invalid_request"],
        ["epochs/0/plan", 400, "invalid_request"],
        ["epochs/0/plan?rank=2", 400, "invalid_rank"],
        ["epochs/0/plan?rank=0&world=3", 400, "world_mismatch"],
      ];
      for (const [path, status, code] of plans) {
        const r = await call("GET", `/v1/runs/${id}/${path}`);
        expect([path, r.status, r.body.error?.code]).toEqual([path, status, code]);
      }

      const runsBefore = (await call("GET", "/v1/runs")).body.length;
      const badRun = await call("POST", "/v1/runs", { ...recipe, dataset: { size: 0 } });
      expect([badRun.status, badRun.body.error.path]).toEqual([400, ["dataset", "size"]]);
      const badJson = await call("POST", "/v1/runs", "{");
      expect([badJson.status, badJson.body.error.code]).toEqual([400, "invalid_json"]);
      expect((await call("GET", "/v1/runs")).body.length).toBe(runsBefore);

      const unknown = await call("GET", "/v1/runs/nope");
      expect([unknown.status, unknown.body.error.code]).toEqual([404, "unknown_run"]);
      const unknownUuid = await call(
        "GET",
        "/v1/runs/00000000-0000-4000-8000-000000000000/savings",
      );
      expect([unknownUuid.status, unknownUuid.body.error.code]).toEqual([404, "unknown_run"]);
      const noRoute = await call("GET", `/v1/runs/${id}/nothing-here`);
      expect([noRoute.status, noRoute.body.error.code]).toEqual([404, "not_found"]);

      const wrong = await call("GET", "/v1/runs", undefined, { authorization: "Bearer wrong" });
      expect([wrong.status, wrong.body.error.code]).toEqual([401, "unauthorized"]);
      const anonymous = await fetch(`${rt.url}/v1/runs/${id}`);
      expect(anonymous.status).toBe(401);
      const anonymousPost = await fetch(`${rt.url}/v1/runs`, {
        method: "POST",
        body: JSON.stringify(recipe),
      });
      expect(anonymousPost.status).toBe(401);
      expect((await call("GET", "/v1/runs")).body.length).toBe(runsBefore);

      expect((await call("GET", `/v1/runs/${id}/savings`)).body).toEqual(before);
      expect((await call("GET", `/v1/runs/${id}`)).body.reported).toBe(0);
      const health = await fetch(`${rt.url}/healthz`);
      expect([health.status, await health.json()]).toEqual([200, { ok: true }]);
      const openapi = await fetch(`${rt.url}/openapi.json`);
      expect(((await openapi.json()) as Json).paths["/v1/runs/{id}/losses"]).toBeDefined();
    });

    it("takes binary loss reports as the JSON ones, and refuses bad ones changing nothing", async () => {
      const binary = { "content-type": "application/octet-stream" };
      const post = (id: string, body: unknown) =>
        body instanceof Uint8Array
          ? call("POST", `/v1/runs/${id}/losses`, body, binary)
          : call("POST", `/v1/runs/${id}/losses`, body);
      const a = await create(); // reported in JSON
      const b = await create(); // the same reports in binary
      const share = (await call("GET", `/v1/runs/${a}/epochs/0/plan?rank=0`)).body;
      expect((await call("GET", `/v1/runs/${b}/epochs/0/plan?rank=0`)).body.ids).toEqual(share.ids);
      const report = (step: number, ids: number[]) => ({
        epoch: 0,
        step,
        rank: 0,
        ids,
        losses: ids.map((i) => lossOf(0, i)), // multiples of 1/5: the float32 is the same number
      });
      const steps = [report(0, share.ids.slice(0, 16)), report(1, share.ids.slice(16, 20))];
      for (const r of steps) {
        const json = await post(a, r);
        const bin = await post(b, binaryReport(r));
        expect([bin.status, bin.type, bin.body]).toEqual([json.status, json.type, json.body]);
        expect(bin.body).toEqual({ applied: true, duplicate: false, epochClosed: false });
      }
      // A retry is a duplicate whichever format it comes in; other losses are a conflict.
      expect((await post(b, binaryReport(steps[0]))).body).toMatchObject({ duplicate: true });
      expect((await post(b, steps[1])).body).toMatchObject({ duplicate: true });
      const other = await post(b, binaryReport({ ...steps[1], losses: [9, 9, 9, 9] }));
      expect([other.status, other.body.error.code]).toEqual([409, "conflicting_report"]);
      const view = async (id: string) => {
        const { id: _id, createdAt: _at, ...run } = (await call("GET", `/v1/runs/${id}`)).body;
        const { runId: _runId, ...savings } = (await call("GET", `/v1/runs/${id}/savings`)).body;
        return { run, savings };
      };
      const before = await view(b);
      expect(before).toEqual(await view(a));
      expect(before.run.reported).toBe(20);

      const next = report(2, share.ids.slice(20, 24));
      const bytes = binaryReport(next);
      const edit = (change: (view: DataView) => void, length = bytes.byteLength) => {
        const copy = bytes.slice(0, length);
        change(new DataView(copy.buffer));
        return copy;
      };
      const longer = new Uint8Array(bytes.byteLength + 8);
      longer.set(bytes);
      const cases: Array<[string, Uint8Array, number, string, Array<string | number>]> = [
        ["truncated", bytes.slice(0, bytes.byteLength - 4), 400, "invalid_request", []],
        ["longer than 24 + 8n", longer, 400, "invalid_request", []],
        ["shorter than the header", bytes.slice(0, 12), 400, "invalid_request", []],
        ["empty", new Uint8Array(0), 400, "invalid_request", []],
        [
          "NaN loss",
          edit((v) => v.setFloat32(24 + 16 + 4, Number.NaN, true)),
          400,
          "non_finite_loss",
          ["losses", 1],
        ],
        [
          "infinite loss",
          edit((v) => v.setFloat32(24 + 16, -Infinity, true)),
          400,
          "non_finite_loss",
          ["losses", 0],
        ],
        ["wrong magic", edit((v) => v.setUint8(3, 0x58)), 400, "invalid_request", []],
        ["unknown version", edit((v) => v.setUint32(4, 9, true)), 400, "invalid_request", []],
        ["no ids", binaryReport({ ...next, ids: [], losses: [] }), 400, "invalid_request", ["ids"]],
        [
          "id out of range",
          edit((v) => v.setUint32(24 + 4, N + 1, true)),
          400,
          "id_out_of_range",
          ["ids", 1],
        ],
        ["rank past world", edit((v) => v.setUint32(16, 2, true)), 400, "invalid_rank", ["rank"]],
        ["future epoch", edit((v) => v.setUint32(8, 1, true)), 409, "epoch_not_open", ["epoch"]],
        [
          "over the body limit",
          binaryReport({
            ...next,
            ids: Array(MAX_BODY_BYTES / 8).fill(0),
            losses: Array(MAX_BODY_BYTES / 8).fill(1),
          }),
          413,
          "body_too_large",
          [],
        ],
      ];
      for (const [label, body, status, code, path] of cases) {
        const r = await post(b, body);
        expect([label, r.status, r.body.error?.code, r.body.error?.path]).toEqual([
          label,
          status,
          code,
          path,
        ]);
      }
      expect(await view(b)).toEqual(before);
      expect((await post(b, bytes)).body).toMatchObject({ applied: true });
      const openapi = (await (await fetch(`${rt.url}/openapi.json`)).json()) as Json;
      const content = openapi.paths["/v1/runs/{id}/losses"].post.requestBody.content;
      expect(content["application/octet-stream"].schema.description).toContain("IBLR");
    });

    it("takes evaluations once, refuses conflicting ones, and shows them", async () => {
      const id = await create();
      const evaluation = { epoch: 0, heldOutLoss: 1.25, trainLoss: 1.5 };
      const post = (body: unknown) => call("POST", `/v1/runs/${id}/evaluations`, body);
      expect((await post(evaluation)).body).toEqual({ applied: true, duplicate: false });
      expect((await post(evaluation)).body).toEqual({ applied: false, duplicate: true });
      const conflict = await post({ ...evaluation, heldOutLoss: 2 });
      expect([conflict.status, conflict.body.error.code]).toEqual([409, "conflicting_evaluation"]);
      const late = await post({ epoch: 3, heldOutLoss: 1 });
      expect([late.status, late.body.error.path]).toEqual([400, ["epoch"]]);
      expect((await call("GET", `/v1/runs/${id}`)).body.heldOutLoss).toBe(1.25);
      const report = await call("GET", `/v1/runs/${id}/report.json`);
      expect(report.status).toBe(200);
      expect(report.body).toMatchObject({ id, name: "t", status: "running" });
    });

    it("renders the report page", async () => {
      const id = await create({ ...recipe, name: "<b>report</b>" });
      const page = await call("GET", `/v1/runs/${id}/report`);
      expect(page.status).toBe(200);
      expect(page.type).toContain("text/html");
      expect(page.body).toMatch(/^<!doctype html>/i);
      expect(page.body).toContain("&lt;b&gt;report&lt;/b&gt;");
      expect(page.body).not.toContain("<b>report</b>");
    });

    it("streams a run's events, resumes after Last-Event-ID, and ends with the run", async () => {
      const id = await create({ ...recipe, dataset: { size: 20 }, world: 1 });
      const events = await openEvents(rt, id);
      try {
        expect(await events.next()).toMatchObject({ id: "1", event: "created" });
        expect(await events.next()).toMatchObject({
          id: "2",
          event: "epoch_opened",
          data: { epoch: 0, planSize: 20 },
        });
        const share = (await call("GET", `/v1/runs/${id}/epochs/0/plan?rank=0`)).body;
        const reported = await call("POST", `/v1/runs/${id}/losses`, {
          epoch: 0,
          step: 0,
          rank: 0,
          ids: share.ids,
          losses: share.ids.map((i: number) => lossOf(0, i)),
        });
        expect(reported.body.epochClosed).toBe(true);
        expect(await events.next()).toMatchObject({
          id: "3",
          event: "epoch_closed",
          data: { epoch: 0, reported: 20 },
        });
        expect(await events.next()).toMatchObject({ id: "4", event: "epoch_opened" });
        await call("POST", `/v1/runs/${id}/evaluations`, { epoch: 0, heldOutLoss: 2 });
        expect(await events.next()).toMatchObject({
          id: "5",
          event: "evaluation",
          data: { epoch: 0, heldOutLoss: 2 },
        });
      } finally {
        await events.close();
      }
      const resumed = await openEvents(rt, id, { "last-event-id": "3" });
      try {
        expect(await resumed.next()).toMatchObject({ id: "4", event: "epoch_opened" });
        expect(await resumed.next()).toMatchObject({ id: "5", event: "evaluation" });
        await call("POST", `/v1/runs/${id}/cancel`);
        expect(await resumed.next()).toMatchObject({
          id: "6",
          event: "status",
          data: { status: "cancelled" },
        });
        expect(await resumed.next()).toBeNull(); // the stream ends with the run
      } finally {
        await resumed.close();
      }
      const bad = await call("GET", `/v1/runs/${id}/events?after=x`);
      expect([bad.status, bad.body.error.code]).toEqual([400, "invalid_request"]);
      const missing = await call("GET", "/v1/runs/nope/events");
      expect([missing.status, missing.body.error.code]).toEqual([404, "unknown_run"]);
    });

    it("comes back after a restart with the same state and the same next plan", async (ctx) => {
      if (rt.restart === undefined) ctx.skip();
      const id = await create();
      await runEpoch(id, 0);
      const share = (await call("GET", `/v1/runs/${id}/epochs/1/plan?rank=1`)).body;
      // Half of epoch 1, then the server goes away.
      const half = {
        epoch: 1,
        step: 100,
        rank: 1,
        ids: share.ids.slice(0, 20),
        losses: share.ids.slice(0, 20).map((i: number) => lossOf(1, i)),
      };
      await call("POST", `/v1/runs/${id}/losses`, half);
      await call("POST", `/v1/runs/${id}/evaluations`, { epoch: 0, heldOutLoss: 1.5 });
      await rt.restart!();

      const run = (await call("GET", `/v1/runs/${id}`)).body;
      expect(run).toMatchObject({ epoch: 1, reported: 20, status: "running", heldOutLoss: 1.5 });
      expect((await call("GET", "/v1/runs")).body.some((r: Json) => r.id === id)).toBe(true);
      // The retried report is recognised after the restart.
      expect((await call("POST", `/v1/runs/${id}/losses`, half)).body).toMatchObject({
        duplicate: true,
      });
      await runEpoch(id, 1);
      const after = (await call("GET", `/v1/runs/${id}/epochs/2/plan?rank=0`)).body;

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

    it("runs 300k examples: a 2.4 MB snapshot, reports of 150k examples", async () => {
      // On Workers a stored value is at most 2 MB: the snapshot (8 bytes per example) and the
      // reports (8 bytes per example) are stored in parts there. Short losses keep each report
      // (150k ids) under the body limit.
      const size = 300_000;
      const big = (epoch: number, id: number) => ((id * 7 + epoch * 3) % 11) / 4;
      const id = await create({
        trainer: "remote",
        dataset: { size },
        engine: { epochs: 3, seed: 7 },
      });
      const engine = new InfoBatch({ size, epochs: 3, seed: 7 });
      const report = async (epoch: number, step: number, ids: Uint32Array) =>
        (
          await call("POST", `/v1/runs/${id}/losses`, {
            epoch,
            step,
            rank: 0,
            ids: Array.from(ids),
            losses: Array.from(ids, (i) => big(epoch, i)),
          })
        ).body;

      const plan0 = await binaryShare(id, 0);
      expect(firstDifference(plan0.ids, engine.planEpoch(0).ids)).toBe(-1);
      expect(await report(0, 0, plan0.ids.subarray(0, 150_000))).toMatchObject({ applied: true });
      expect(await report(0, 1, plan0.ids.subarray(150_000))).toMatchObject({ epochClosed: true });
      engine.update(
        plan0.ids,
        Array.from(plan0.ids, (i) => big(0, i)),
      );

      const plan1 = await binaryShare(id, 1);
      const expected1 = engine.planEpoch(1);
      expect(firstDifference(plan1.ids, expected1.ids)).toBe(-1);
      expect(firstDifference(plan1.weights, expected1.weights)).toBe(-1);
      const part = Math.min(140_000, plan1.ids.length - 1);
      expect(await report(1, 0, plan1.ids.subarray(0, part))).toMatchObject({ applied: true });
      await rt.restart?.();
      expect((await call("GET", `/v1/runs/${id}`)).body).toMatchObject({
        epoch: 1,
        reported: part,
      });
      expect(await report(1, 0, plan1.ids.subarray(0, part))).toMatchObject({ duplicate: true });
      expect(await report(1, 1, plan1.ids.subarray(part))).toMatchObject({ epochClosed: true });
      engine.update(
        plan1.ids,
        Array.from(plan1.ids, (i) => big(1, i)),
      );

      const plan2 = await binaryShare(id, 2);
      const expected2 = engine.planEpoch(2);
      expect(firstDifference(plan2.ids, expected2.ids)).toBe(-1);
      expect(firstDifference(plan2.weights, expected2.weights)).toBe(-1);
      const savings = (await call("GET", `/v1/runs/${id}/savings`)).body;
      expect(savings.total.examples).toEqual(engine.savings().total.examples);
    });
  });
}

/**
 * A binary loss report as docs/binary-reports.md lays it out (little-endian): "IBLR", u32 version
 * 1, u32 epoch, step, rank, n, then u32 ids[n] and f32 losses[n].
 */
function binaryReport(r: {
  epoch: number;
  step: number;
  rank: number;
  ids: number[];
  losses: number[];
}): Uint8Array {
  const n = r.ids.length;
  const bytes = new Uint8Array(24 + 8 * n);
  const view = new DataView(bytes.buffer);
  bytes.set([0x49, 0x42, 0x4c, 0x52]); // "IBLR"
  const header = [1, r.epoch, r.step, r.rank, n];
  for (let i = 0; i < header.length; i++) view.setUint32(4 + 4 * i, header[i], true);
  for (let i = 0; i < n; i++) {
    view.setUint32(24 + 4 * i, r.ids[i], true);
    view.setFloat32(24 + 4 * n + 4 * i, r.losses[i], true);
  }
  return bytes;
}

/** The first index where `a` and `b` differ (or their shorter length), −1 when they are equal. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

interface SseEvent {
  id: string | undefined;
  event: string;
  data: Json;
}

/**
 * Follows `/v1/runs/:id/events`. `next()` gives the next durable event (progress and keep-alive
 * comments are skipped), or null when the server ends the stream.
 */
async function openEvents(rt: Runtime, id: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const response = await fetch(`${rt.url}/v1/runs/${id}/events`, {
    headers: { authorization: `Bearer ${rt.token}`, ...headers },
    signal: abort.signal,
  });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/event-stream");
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let ended = false;
  let pending: ReturnType<typeof reader.read> | null = null;

  const parse = (block: string): SseEvent | null => {
    const event: SseEvent = { id: undefined, event: "message", data: undefined };
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") event.id = value;
      else if (field === "event") event.event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length === 0) return null; // a comment (keep-alive)
    event.data = JSON.parse(data.join("\n"));
    return event;
  };

  const next = async (timeoutMs = 10_000): Promise<SseEvent | null> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const cut = buffer.indexOf("\n\n");
      if (cut >= 0) {
        const event = parse(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (event !== null && event.event !== "progress") return event;
        continue;
      }
      if (ended) return null;
      pending ??= reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        pending,
        new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
        }),
      ]);
      clearTimeout(timer);
      if (result === "timeout") throw new Error(`no event within ${timeoutMs} ms; read: ${buffer}`);
      pending = null;
      if (result.done) ended = true;
      else buffer += decoder.decode(result.value, { stream: true });
    }
  };

  const close = async () => {
    abort.abort();
    await reader.cancel().catch(() => {});
  };
  return { next, close };
}
