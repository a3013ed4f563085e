/**
 * The control plane on Cloudflare Workers: the same Hono app as on Node (app.ts), run inside a
 * Durable Object per run, with the run's state in that object's SQLite storage
 * (durable-store.ts). Deployed with the repository's wrangler.toml.
 *
 * Routing:
 * - `/healthz` and `/openapi.json` are answered by the Worker itself.
 * - `/v1/runs/:id` and everything under it go to the run's Durable Object, `RUNS.idFromName(id)`,
 *   unchanged (body streamed through, response streamed back, so a streamed response works).
 *   Inside, `createApp` over `new RunService(new DurableRunStore(ctx.storage), () => id)` answers
 *   exactly as on Node. An id that was never created reaches an object with empty storage, which
 *   answers 404 unknown_run and, as its store creates tables on first write only, keeps nothing.
 * - `POST /v1/runs`: the Worker picks the id (crypto.randomUUID()), records it in the registry,
 *   then forwards the request to the new run's object, which validates the recipe and creates the
 *   run. If the creation is refused (4xx) the id is taken out of the registry again. Registering
 *   first means every run that exists is listed; an id whose creation never completed (a crash in
 *   between) answers 404 when listed: it is skipped, and dropped from the registry once it is
 *   older than any creation still in flight could be (`STALE_REGISTRATION_MS`).
 * - `GET /v1/runs`: the registry (one Durable Object, `REGISTRY.idFromName("registry")`) holds the
 *   ids only; the Worker asks each run's object for its view (6 at a time) and sorts them by
 *   (createdAt, id) like the SQLite store. A run's view changes with every loss report, so
 *   copying views into the registry would cost a second write per report; the fan-out costs one
 *   request per run per listing instead, which fits a control plane with tens to hundreds of runs.
 *
 * Token policy: `/v1` needs `Authorization: Bearer $INFOBATCH_TOKEN` (a secret:
 * `wrangler secret put INFOBATCH_TOKEN`). When INFOBATCH_TOKEN is unset or empty, every `/v1`
 * request is refused with 503 `token_not_configured`, unless the var INFOBATCH_ALLOW_NO_TOKEN is
 * "1" (local development only), in which case `/v1` is open. A deployed Worker is reachable from
 * the internet, so a forgotten secret must not leave the runs open. The token is checked by the
 * Worker (before any Durable Object is woken) and again by the app inside the object.
 * INFOBATCH_MAX_BODY_BYTES (optional var) sets the request body limit (default 32 MiB).
 *
 * State in memory: RunService keeps the live engine of its run in the object's memory. The
 * platform may evict an idle object or restart it (deploys); the next request builds a new
 * RunService whose `load` restores the last checkpoint and replays the reports since, as on Node
 * after a restart. No `node:` module is imported anywhere in this file's import graph.
 */
import chartJs from "chart.js/dist/chart.umd.min.js";
import { Hono } from "hono";
import { renderReportHtml } from "../report/render.js";
import { createApp } from "./app.js";
import { DurableRunStore } from "./durable-store.js";
import { ApiError } from "./errors.js";
import { openApiDocument } from "./openapi.js";
import { RunService, type RunView } from "./runs.js";
import type {
  DurableObjectNamespace,
  DurableObjectState,
  DurableObjectStub,
} from "./workers-types.js";

export interface Env {
  /** One Durable Object per run (class RunObject). */
  RUNS: DurableObjectNamespace;
  /** The run registry (class RunRegistry, one instance). */
  REGISTRY: DurableObjectNamespace;
  INFOBATCH_TOKEN?: string;
  INFOBATCH_ALLOW_NO_TOKEN?: string;
  INFOBATCH_MAX_BODY_BYTES?: string;
}

/** The run id, set by the Worker on every request it forwards to a run's object. */
const RUN_ID_HEADER = "x-infobatch-run-id";
/** Concurrent requests to run objects while listing. */
const LIST_CONCURRENCY = 6;
/** A registered id whose run still does not exist after this long will never exist. */
const STALE_REGISTRATION_MS = 10 * 60 * 1000;

export type WorkerConfig =
  | { ok: true; token: string | undefined; maxBodyBytes: number | undefined }
  | { ok: false; code: string; message: string };

/** The token policy and body limit from the bindings (see the file's comment). */
export function configFrom(env: Env): WorkerConfig {
  let maxBodyBytes: number | undefined;
  if (env.INFOBATCH_MAX_BODY_BYTES !== undefined && env.INFOBATCH_MAX_BODY_BYTES !== "") {
    maxBodyBytes = Number(env.INFOBATCH_MAX_BODY_BYTES);
    if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) {
      return {
        ok: false,
        code: "misconfigured",
        message: `INFOBATCH_MAX_BODY_BYTES must be a positive integer, received ${env.INFOBATCH_MAX_BODY_BYTES}`,
      };
    }
  }
  const token = env.INFOBATCH_TOKEN === "" ? undefined : env.INFOBATCH_TOKEN;
  if (token === undefined && env.INFOBATCH_ALLOW_NO_TOKEN !== "1") {
    return {
      ok: false,
      code: "token_not_configured",
      message:
        'this Worker has no INFOBATCH_TOKEN: set it with `wrangler secret put INFOBATCH_TOKEN` (or, for local development only, set INFOBATCH_ALLOW_NO_TOKEN = "1")',
    };
  }
  return { ok: true, token, maxBodyBytes };
}

const errorBody = (code: string, message: string) => ({ error: { code, message, path: [] } });

function runStub(env: Env, id: string): DurableObjectStub {
  return env.RUNS.get(env.RUNS.idFromName(id));
}

function registry(env: Env): DurableObjectStub {
  return env.REGISTRY.get(env.REGISTRY.idFromName("registry"));
}

/** `request` as the run's object receives it: unchanged but for the run id header. */
function forward(env: Env, id: string, request: Request): Promise<Response> {
  const headers = new Headers(request.headers);
  headers.set(RUN_ID_HEADER, id);
  return runStub(env, id).fetch(new Request(request, { headers }));
}

async function registryCall(env: Env, method: string, path: string): Promise<Response> {
  const response = await registry(env).fetch(`https://registry${path}`, { method });
  if (!response.ok) throw new Error(`registry ${method} ${path}: ${response.status}`);
  return response;
}

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  f: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

interface Registered {
  id: string;
  registeredAt: string;
}

const edge = new Hono<{ Bindings: Env }>();

edge.onError((error, c) => {
  if (error instanceof ApiError) return c.json(error.toJSON(), error.status);
  console.error(error);
  return c.json(errorBody("internal", "internal error"), 500);
});
edge.notFound((c) => c.json(errorBody("not_found", `no route ${c.req.method} ${c.req.path}`), 404));

edge.get("/healthz", (c) => c.json({ ok: true }));
edge.get("/openapi.json", (c) => c.json(openApiDocument()));

edge.use("/v1/*", async (c, next) => {
  const config = configFrom(c.env);
  if (!config.ok) return c.json(errorBody(config.code, config.message), 503);
  if (config.token !== undefined && c.req.header("authorization") !== `Bearer ${config.token}`) {
    throw new ApiError(401, "unauthorized", "missing or wrong bearer token");
  }
  await next();
});

edge.post("/v1/runs", async (c) => {
  const id = crypto.randomUUID();
  await registryCall(c.env, "PUT", `/runs/${id}`);
  const response = await forward(c.env, id, c.req.raw);
  if (response.status !== 201) await registryCall(c.env, "DELETE", `/runs/${id}`);
  return response;
});

edge.get("/v1/runs", async (c) => {
  const entries = (await (await registryCall(c.env, "GET", "/runs")).json()) as Registered[];
  const authorization = c.req.header("authorization");
  const views = await mapLimited(entries, LIST_CONCURRENCY, async ({ id, registeredAt }) => {
    const headers = new Headers({ [RUN_ID_HEADER]: id });
    if (authorization !== undefined) headers.set("authorization", authorization);
    const response = await runStub(c.env, id).fetch(
      new Request(`https://run/v1/runs/${encodeURIComponent(id)}`, { headers }),
    );
    if (response.status === 404) {
      if (Date.now() - Date.parse(registeredAt) > STALE_REGISTRATION_MS) {
        await registryCall(c.env, "DELETE", `/runs/${id}`); // registered, never created
      }
      return null;
    }
    if (!response.ok) throw new Error(`run ${id}: ${response.status} ${await response.text()}`);
    return (await response.json()) as RunView;
  });
  const listed = views.filter((v): v is RunView => v !== null);
  listed.sort((a, b) =>
    a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? -1 : 1) : a.id < b.id ? -1 : 1,
  );
  return c.json(listed);
});

const toRun = (c: { env: Env; req: { param(name: "id"): string; raw: Request } }) =>
  forward(c.env, c.req.param("id"), c.req.raw);
edge.all("/v1/runs/:id", toRun);
edge.all("/v1/runs/:id/*", toRun);

export default edge;

/** The report page of a live run reloads itself this often. */
const REPORT_REFRESH_SECONDS = 10;

/** The Durable Object of one run: the whole control-plane app over its own storage. */
export class RunObject {
  private runId = "";
  private readonly app: Hono | null = null;
  /** Why every request is refused (a misconfigured Worker), when it is. */
  private readonly refusal: { code: string; message: string } | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    const config = configFrom(env);
    if (!config.ok) {
      this.refusal = config;
      return;
    }
    const runs = new RunService(new DurableRunStore(ctx.storage), { newId: () => this.runId });
    this.app = createApp({
      runs,
      token: config.token,
      maxBodyBytes: config.maxBodyBytes,
      reportHtml: (report, live) =>
        renderReportHtml(report, {
          chartJs,
          refreshSeconds: live ? REPORT_REFRESH_SECONDS : undefined,
        }),
    });
  }

  fetch(request: Request): Response | Promise<Response> {
    if (this.app === null) {
      const { code, message } = this.refusal!;
      return Response.json(errorBody(code, message), { status: 503 });
    }
    const id = request.headers.get(RUN_ID_HEADER);
    if (id === null || id === "") {
      return Response.json(errorBody("internal", "request without a run id"), { status: 500 });
    }
    this.runId = id;
    return this.app.fetch(request);
  }
}

/** The list of run ids (one instance): written when a run is created, read by GET /v1/runs. */
export class RunRegistry {
  constructor(private readonly ctx: DurableObjectState) {
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, registered_at TEXT NOT NULL)",
    );
  }

  fetch(request: Request): Response {
    const sql = this.ctx.storage.sql;
    const { pathname } = new URL(request.url);
    if (request.method === "GET" && pathname === "/runs") {
      const rows = sql
        .exec<Registered>(
          "SELECT id, registered_at AS registeredAt FROM runs ORDER BY registered_at, id",
        )
        .toArray();
      return Response.json(rows);
    }
    const match = /^\/runs\/([^/]+)$/.exec(pathname);
    if (match !== null && request.method === "PUT") {
      sql.exec(
        "INSERT OR IGNORE INTO runs (id, registered_at) VALUES (?, ?)",
        match[1],
        new Date().toISOString(),
      );
      return new Response(null, { status: 204 });
    }
    if (match !== null && request.method === "DELETE") {
      sql.exec("DELETE FROM runs WHERE id = ?", match[1]);
      return new Response(null, { status: 204 });
    }
    return new Response(null, { status: 404 });
  }
}
