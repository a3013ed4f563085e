/**
 * The Node fast path for loss reports (node-losses.ts) against the Hono app it stands in for:
 * the same requests, raw over one keep-alive socket, to a server with the fast path and one
 * without, give byte-identical answers (the Date header aside). And the group commit of
 * `RunService.reportMany`: arrival order, exact duplicates and conflicts within one batch, and
 * a failed commit that leaves the run as the store has it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "./errors.js";
import { encodeBinaryReport } from "./losses.js";
import { type RunningServer, startServer } from "./node.js";
import { RunService } from "./runs.js";
import { SqliteRunStore } from "./sqlite-store.js";

const TOKEN = "fast-path-token";
const MAX_BODY = 64 * 1024;
const recipe = {
  trainer: "remote",
  dataset: { size: 100 },
  engine: { epochs: 2, seed: 3 },
  world: 2,
};

/** One keep-alive connection; `send` writes raw request bytes and reads one whole response. */
function rawClient(port: number) {
  const socket: Socket = connect(port, "127.0.0.1");
  let buffered = Buffer.alloc(0);
  let waiting: (() => void) | null = null;
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    waiting?.();
  });
  const response = async (): Promise<string> => {
    for (;;) {
      const end = buffered.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = buffered.subarray(0, end).toString("latin1");
        // A chunked answer here is always empty (the app's bare 400): its body is "0\r\n\r\n".
        const chunked = /\r\ntransfer-encoding: chunked/i.test(head);
        const length = chunked ? 5 : Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.byteLength >= end + 4 + length) {
          const whole = buffered.subarray(0, end + 4 + length).toString("utf8");
          buffered = buffered.subarray(end + 4 + length);
          return whole.replace(/\r\nDate: [^\r]*/, "\r\nDate: -");
        }
      }
      await new Promise<void>((resolve) => {
        waiting = resolve;
      });
      waiting = null;
    }
  };
  return {
    async send(head: string, body: Uint8Array | string = ""): Promise<string> {
      socket.write(Buffer.concat([Buffer.from(head, "latin1"), Buffer.from(body)]));
      return response();
    },
    close: () => socket.destroy(),
  };
}

describe("the loss-report fast path", () => {
  const dir = mkdtempSync(join(tmpdir(), "ib-fast-"));
  let fast: RunningServer;
  let app: RunningServer;
  beforeAll(async () => {
    const boot = (name: string, fastLosses: boolean) =>
      startServer({
        database: join(dir, `${name}.db`),
        port: 0,
        token: TOKEN,
        maxBodyBytes: MAX_BODY,
        local: false,
        fastLosses,
      });
    fast = await boot("fast", true);
    app = await boot("app", false);
  });
  afterAll(async () => {
    await fast?.close();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers every request byte for byte as the Hono app does", async () => {
    const sides = [fast, app].map((server) => {
      const run = server.runs.createRun(recipe);
      const share = (rank: number) => Array.from(server.runs.share(run.id, 0, rank).ids);
      return { server, id: run.id, client: rawClient(server.port), r0: share(0), r1: share(1) };
    });
    expect(sides[0].r0).toEqual(sides[1].r0); // the same seed: the same plan on both

    type Side = (typeof sides)[number];
    type Case = (s: Side) => [string, Record<string, string>, Uint8Array | string];
    const losses = "/v1/runs/:id/losses";
    const json =
      (body: unknown, headers: Record<string, string> = {}, path = losses): Case =>
      (s) => {
        const value = typeof body === "function" ? body(s) : body;
        const text = typeof value === "string" ? value : JSON.stringify(value);
        return [
          path.replace(":id", s.id),
          { "content-type": "application/json", ...headers },
          text,
        ];
      };
    const binary =
      (bytes: (s: Side) => Uint8Array, path = losses): Case =>
      (s) => [path.replace(":id", s.id), { "content-type": "application/octet-stream" }, bytes(s)];
    const report =
      (step: number, n = 4, loss = 1.5) =>
      (s: Side) => ({
        epoch: 0,
        step,
        rank: 0,
        ids: s.r0.slice(step * 4, step * 4 + n),
        losses: Array.from({ length: n }, (_, i) => loss + i / 8),
      });
    const bin =
      (step: number, n = 4, loss = 1.5) =>
      (s: Side) =>
        encodeBinaryReport(report(step, n, loss)(s));
    const edit = (
      step: number,
      change: (r: ReturnType<ReturnType<typeof report>>, s: Side) => object,
    ) => json((s: Side) => change(report(step)(s), s));
    const patched = (step: number, at: number, write: (view: DataView) => void) => (s: Side) => {
      const bytes = bin(step)(s);
      write(new DataView(bytes.buffer));
      return bytes.subarray(0, at < 0 ? bytes.byteLength : at);
    };
    const cases: Case[] = [
      json(report(0)),
      json(report(0)), // duplicate
      json(report(0, 4, 2), {}, `${losses}?via=query`), // conflict
      json('{"epoch": 0,'),
      json(""),
      json((s: Side) => `\ufeff${JSON.stringify(report(1)(s))}`), // a BOM: Request.text() strips it
      edit(2, (r) => ({ ...r, epoch: "zero" })),
      edit(2, (r) => ({ ...r, extra: 1 })),
      edit(2, (r) => ({ ...r, ids: [] })),
      edit(2, (r) => ({ ...r, losses: [1] })),
      edit(2, (r) => ({ ...r, losses: [1, 1, 1, 1e39] })),
      edit(2, (r, s) => ({ ...r, ids: [100, s.r0[8]], losses: [1, 1] })),
      edit(2, (r, s) => ({ ...r, ids: [s.r1[0]], losses: [1] })),
      edit(2, (r) => ({ ...r, rank: 2 })),
      edit(2, (r) => ({ ...r, epoch: 1 })),
      edit(2, (r) => ({ ...r, step: 2 ** 53 })),
      edit(2, ({ losses: _losses, ...r }) => ({ ...r, tokenLosses: [1, 2, 3, 4, 5, 6, 7, 8] })),
      edit(3, ({ losses: _losses, ...r }) => ({
        ...r,
        tokenLosses: [1, 2, 3, 4, 5, 6, 7, 8],
        mask: [1, 1, 0, 1, 1, 1, 1, 0],
      })),
      binary(bin(4)),
      binary(bin(4)), // duplicate
      binary(bin(4, 4, 9)), // conflict
      binary(patched(5, 30, () => {})), // truncated
      binary((s) => Buffer.concat([bin(5)(s), Buffer.alloc(8)])), // longer than 24 + 8n
      binary(patched(5, 10, () => {})), // shorter than the header
      binary(patched(5, -1, (v) => v.setFloat32(24 + 16 + 8, Number.NaN, true))),
      binary(patched(5, -1, (v) => v.setFloat32(24 + 16, Number.POSITIVE_INFINITY, true))),
      binary(patched(5, -1, (v) => v.setUint8(0, 0x7b))), // magic
      binary(patched(5, -1, (v) => v.setUint32(4, 2, true))), // version
      binary(() => encodeBinaryReport({ epoch: 0, step: 9, rank: 0, ids: [], losses: [] })),
      binary((s) => encodeBinaryReport({ ...report(5)(s), rank: 5 })),
      binary((s) => encodeBinaryReport({ ...report(5)(s), epoch: 1 })),
      binary((s) => encodeBinaryReport({ ...report(5)(s), ids: s.r1.slice(0, 4) })),
      binary((s) => encodeBinaryReport({ ...report(5)(s), ids: [1000, 0, 1, 2] })),
      binary(bin(5), "/v1/runs/00000000-0000-4000-8000-000000000000/losses"),
      binary(bin(5), "/v1/runs/x%2Fy/losses"),
      binary(bin(5), `${losses}/`),
      json(report(6), { authorization: "Bearer wrong" }),
      json(report(6), { "content-type": "text/plain" }),
      json((s: Side) => ({ ...report(7)(s), ids: Array(MAX_BODY).fill(0) })), // 413
      // Repeated headers: node:http keeps the first, Web Headers join them; the app decides.
      (s) => [losses.replace(":id", s.id), { "x-repeat": "content-type" }, bin(10)(s)],
      (s) => [losses.replace(":id", s.id), { "x-repeat": "authorization" }, bin(10)(s)],
      // A Host header the app refuses (400), and one it parses.
      (s) => [losses.replace(":id", s.id), { "x-host": "a b" }, bin(11)(s)],
      (s) => [losses.replace(":id", s.id), { "x-host": "LocalHost:80" }, bin(11)(s)],
      // A chunked body (no declared length) goes to the app on both.
      (s) => [losses.replace(":id", s.id), { "transfer-encoding": "chunked" }, ""],
      json(report(9), { connection: "close" }),
    ];
    const answers: string[][] = [[], []];
    for (const make of cases) {
      for (let side = 0; side < 2; side++) {
        const s = sides[side];
        let [path, headers, body] = make(s);
        if (headers["transfer-encoding"] === "chunked") {
          const text = JSON.stringify(report(8)(s));
          body = `${text.length.toString(16)}\r\n${text}\r\n0\r\n\r\n`;
        } else {
          headers = { "content-length": String(Buffer.byteLength(body)), ...headers };
        }
        const lines = Object.entries({ authorization: `Bearer ${TOKEN}`, ...headers });
        const repeat = headers["x-repeat"];
        if (repeat === "content-type") {
          lines.push(["content-type", "application/octet-stream"], ["content-type", "text/plain"]);
        } else if (repeat === "authorization") {
          lines.push(["authorization", `Bearer ${TOKEN}`]);
        }
        const host = headers["x-host"] ?? "127.0.0.1";
        const head = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
        answers[side].push((await s.client.send(head, body)).replaceAll(s.id, ":id"));
      }
    }
    for (const s of sides) s.client.close();
    expect(answers[0]).toEqual(answers[1]);
    const statuses = answers[0].map((a) => Number(a.slice(9, 12)));
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(8);
    expect(new Set(statuses)).toEqual(new Set([200, 400, 401, 404, 409, 413]));
    // Nothing refused was applied: both runs hold the same reports.
    expect(fast.runs.getRun(sides[0].id).reported).toBe(app.runs.getRun(sides[1].id).reported);
    const savings = (server: RunningServer, id: string) => ({
      ...server.runs.savings(id),
      runId: "",
    });
    expect(savings(fast, sides[0].id)).toEqual(savings(app, sides[1].id));
  });
});

describe("group commit (RunService.reportMany)", () => {
  const make = (failCommit = false) => {
    const store = new SqliteRunStore({ path: ":memory:" });
    if (failCommit) {
      const batch = store.batch.bind(store);
      store.batch = <T>(work: () => T): T =>
        batch(() => {
          work();
          throw new Error("disk I/O error"); // rolls the transaction back, like a failed COMMIT
        });
    }
    const runs = new RunService(store);
    const run = runs.createRun({ ...recipe, world: 1 });
    const ids = Array.from(runs.share(run.id, 0, 0).ids);
    return { runs, id: run.id, ids };
  };

  it("applies a batch in arrival order: duplicates and conflicts as one by one", () => {
    const { runs, id, ids } = make();
    const a = { epoch: 0, step: 0, rank: 0, ids: ids.slice(0, 3), losses: [1, 2, 3] };
    const answers = runs.reportMany([
      { id, body: a },
      { id, body: a },
      { id, body: encodeBinaryReport(a) },
      { id, body: { ...a, losses: [3, 2, 1] } },
      { id: "nope", body: a },
      { id, body: { ...a, step: 1, ids: ids.slice(3), losses: ids.slice(3).map(() => 1) } },
    ]);
    expect(answers.slice(0, 3)).toEqual([
      { applied: true, duplicate: false, epochClosed: false },
      { applied: false, duplicate: true, epochClosed: false },
      { applied: false, duplicate: true, epochClosed: false },
    ]);
    expect((answers[3] as ApiError).code).toBe("conflicting_report");
    expect((answers[4] as ApiError).code).toBe("unknown_run");
    expect(answers[5]).toEqual({ applied: true, duplicate: false, epochClosed: true });
    expect(runs.getRun(id)).toMatchObject({ epoch: 1, reported: 0 });
  });

  it("answers every report with the error of a failed commit and keeps the stored state", () => {
    const { runs, id, ids } = make(true);
    const answers = runs.reportMany([
      { id, body: { epoch: 0, step: 0, rank: 0, ids: ids.slice(0, 3), losses: [1, 2, 3] } },
      { id, body: { epoch: 0, step: 1, rank: 0, ids: ids.slice(3, 5), losses: [1, 2] } },
    ]);
    expect(answers.map((a) => (a as Error).message)).toEqual(["disk I/O error", "disk I/O error"]);
    expect(answers.every((a) => a instanceof Error && !(a instanceof ApiError))).toBe(true);
    // The engine had taken both reports; the run is reloaded from the store, which has neither.
    expect(runs.getRun(id)).toMatchObject({ epoch: 0, reported: 0 });
  });
});
