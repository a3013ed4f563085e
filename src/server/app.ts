/**
 * The control plane's HTTP API as a Hono app: runtime-agnostic (Web standard Request/Response);
 * the Node server (node.ts) and, later, a Worker wrap it. Every error is a JSON
 * `{ error: { code, message, path } }` with a 4xx status; nothing is applied by a refused request.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import type { RunReport } from "../report/types.js";
import { ApiError } from "./errors.js";
import type { RunEvent } from "./events.js";
import { isBinaryReport } from "./losses.js";
import { openApiDocument } from "./openapi.js";
import type { RunService } from "./runs.js";

/** The request body limit when none is given: 32 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface AppOptions {
  runs: RunService;
  /** When set, every /v1 route needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Largest request body in bytes. Default 32 MiB. */
  maxBodyBytes?: number;
  /** Renders the report page (the runtime supplies the chart library). Without it: 404. */
  reportHtml?: (report: RunReport, live: boolean) => string;
  /** Sees unexpected errors (answered 500 without details). Default: console.error. */
  onInternalError?: (error: Error) => void;
  /** Seconds between SSE keep-alive comments. Default 15. */
  keepAliveSeconds?: number;
}

export function createApp(options: AppOptions): Hono {
  const { runs } = options;
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof ApiError) return c.json(error.toJSON(), error.status);
    (options.onInternalError ?? console.error)(error);
    return c.json({ error: { code: "internal", message: "internal error", path: [] } }, 500);
  });
  app.notFound((c) =>
    c.json(
      { error: { code: "not_found", message: `no route ${c.req.method} ${c.req.path}`, path: [] } },
      404,
    ),
  );

  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/openapi.json", (c) => c.json(openApiDocument()));

  app.use("/v1/*", async (c, next) => {
    if (
      options.token !== undefined &&
      c.req.header("authorization") !== `Bearer ${options.token}`
    ) {
      throw new ApiError(401, "unauthorized", "missing or wrong bearer token");
    }
    await next();
  });
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const tooLarge = () =>
    new ApiError(413, "body_too_large", `request bodies are limited to ${maxBody} bytes`);
  app.use("/v1/*", async (c, next) => {
    const declared = Number(c.req.header("content-length") ?? Number.NaN);
    if (declared > maxBody) {
      // Read (and drop) what the client is sending, up to a bound, so it sees the 413 rather
      // than a connection closed under its upload.
      const reader = c.req.raw.body?.getReader();
      let drained = 0;
      while (reader !== undefined && drained <= 8 * maxBody) {
        const { done, value } = await reader.read();
        if (done) break;
        drained += value.byteLength;
      }
      throw tooLarge();
    }
    await next();
  });
  // Bodies without a declared length (chunked) are cut off while being read.
  app.use(
    "/v1/*",
    bodyLimit({ maxSize: maxBody, onError: (c) => c.json(tooLarge().toJSON(), 413) }),
  );

  const body = async (c: { req: { json(): Promise<unknown> } }): Promise<unknown> => {
    try {
      return await c.req.json();
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error; // e.g. the body limit, met while reading
      throw new ApiError(
        400,
        "invalid_json",
        "the request body is not valid JSON (NaN and Infinity are not JSON)",
      );
    }
  };
  const integer = (value: string | undefined, name: string): number => {
    const n = Number(value);
    if (value === undefined || value === "" || !Number.isInteger(n) || n < 0) {
      throw new ApiError(
        400,
        "invalid_request",
        `expected a non-negative integer ${name}, received ${String(value)}`,
        [name],
      );
    }
    return n;
  };

  app.post("/v1/runs", async (c) => c.json(runs.createRun(await body(c)), 201));
  app.get("/v1/runs", (c) => c.json(runs.listRuns()));
  app.get("/v1/runs/:id", (c) => c.json(runs.getRun(c.req.param("id"))));
  app.post("/v1/runs/:id/cancel", (c) => c.json(runs.cancel(c.req.param("id"))));
  app.get("/v1/runs/:id/savings", (c) => c.json(runs.savings(c.req.param("id"))));
  // A binary report (docs/binary-reports.md) goes to the service as bytes, anything else as JSON.
  app.post("/v1/runs/:id/losses", async (c) =>
    c.json(
      runs.report(
        c.req.param("id"),
        isBinaryReport(c.req.header("content-type"))
          ? new Uint8Array(await c.req.arrayBuffer())
          : await body(c),
      ),
    ),
  );
  app.post("/v1/runs/:id/evaluations", async (c) =>
    c.json(runs.evaluate(c.req.param("id"), await body(c))),
  );
  app.get("/v1/runs/:id/report.json", (c) => c.json(runs.reportPage(c.req.param("id"))));
  app.get("/v1/runs/:id/report", (c) => {
    const id = c.req.param("id");
    const report = runs.reportPage(id);
    if (options.reportHtml === undefined) {
      throw new ApiError(404, "report_unavailable", "this server renders no report pages");
    }
    return c.html(options.reportHtml(report, !runs.isFinished(id)));
  });
  app.get("/v1/runs/:id/events", (c) => {
    const id = c.req.param("id");
    const lastEventId = c.req.header("last-event-id") ?? c.req.query("after");
    const after = lastEventId === undefined ? 0 : integer(lastEventId, "after");
    runs.getRun(id); // 404 before the stream starts
    const keepAlive = (options.keepAliveSeconds ?? 15) * 1000;
    return streamSSE(c, async (stream) => {
      const queue: RunEvent[] = [];
      let wake: (() => void) | null = null;
      let aborted = false;
      const stop = runs.follow(id, after, (event) => {
        queue.push(event);
        wake?.();
      });
      stream.onAbort(() => {
        aborted = true;
        wake?.();
      });
      try {
        while (!aborted) {
          while (queue.length > 0) {
            const event = queue.shift()!;
            await stream.writeSSE({
              id: event.seq === null ? undefined : String(event.seq),
              event: event.type,
              data: JSON.stringify({ at: event.at, ...(event.data as object) }),
            });
          }
          if (runs.isFinished(id)) break;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, keepAlive);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = null;
          if (queue.length === 0 && !aborted) await stream.write(": keep-alive\n\n");
        }
      } finally {
        stop();
      }
    });
  });
  app.post("/v1/runs/:id/epochs/:epoch/close", (c) =>
    c.json(runs.closeEpoch(c.req.param("id"), integer(c.req.param("epoch"), "epoch"))),
  );
  app.get("/v1/runs/:id/epochs/:epoch/plan", (c) => {
    const world = c.req.query("world");
    const share = runs.share(
      c.req.param("id"),
      integer(c.req.param("epoch"), "epoch"),
      integer(c.req.query("rank"), "rank"),
      world === undefined ? undefined : integer(world, "world"),
    );
    if ((c.req.header("accept") ?? "").includes("application/octet-stream")) {
      const n = share.ids.length;
      const out = new Uint8Array(4 + 8 * n);
      const view = new DataView(out.buffer);
      view.setUint32(0, n, true);
      for (let i = 0; i < n; i++) {
        view.setUint32(4 + 4 * i, share.ids[i], true);
        view.setFloat32(4 + 4 * n + 4 * i, share.weights[i], true);
      }
      return c.body(out, 200, { "content-type": "application/octet-stream" });
    }
    return c.json({
      epoch: share.epoch,
      rank: share.rank,
      world: share.world,
      size: share.ids.length,
      ids: Array.from(share.ids),
      weights: Array.from(share.weights),
    });
  });
  return app;
}
