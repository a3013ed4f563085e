/**
 * The control plane on Node: the Hono app over @hono/node-server with SQLite state, local runs
 * trained in worker threads, recipes from a folder, report pages with Chart.js. Loss reports,
 * the hot route, take a node:http fast path with group commit that answers as the app does
 * (node-losses.ts).
 * Without a bearer token it binds loopback only and refuses any other address.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join, resolve } from "node:path";
import { getRequestListener } from "@hono/node-server";
import { loadChartJs } from "../report/node.js";
import { renderReportHtml } from "../report/render.js";
import { createApp, DEFAULT_MAX_BODY_BYTES } from "./app.js";
import { ApiError } from "./errors.js";
import { ThreadLauncher } from "./local/launcher.js";
import { confine } from "./local/paths.js";
import { lossReportRoute } from "./node-losses.js";
import { RunService } from "./runs.js";
import type { LocalRun } from "./schemas.js";
import { SqliteRunStore } from "./sqlite-store.js";

export interface ServerOptions {
  /** SQLite file for runs and reports. */
  database: string;
  /** Port; 0 picks a free one. Default 8787. */
  port?: number;
  /** Address to bind. Default 127.0.0.1. Any other needs `token`. */
  host?: string;
  /** Bearer token for /v1 (default: $INFOBATCH_TOKEN). */
  token?: string;
  maxBodyBytes?: number;
  /** Folder of named recipes (`{"recipe": "quickstart"}` reads quickstart.json). Default ./recipes. */
  recipesDir?: string;
  /** Folders local recipes may read models and datasets from. Default: the working directory. */
  dataRoots?: string[];
  /** Whether runs with trainer "local" train here. Default true. */
  local?: boolean;
  /** Where the quickstart's base model is cached. Default .infobatch/cache. */
  cacheDir?: string;
  /** Called when a local run's trainer thread ends. */
  onLocalExit?: (runId: string, error: Error | null) => void;
  /**
   * Whether loss reports take the node:http fast path with group commit (node-losses.ts): the
   * same answers as the app, at a fraction of the CPU. Default true.
   */
  fastLosses?: boolean;
}

export interface RunningServer {
  url: string;
  port: number;
  runs: RunService;
  close(): Promise<void>;
}

/** Reads recipe `name` from `dir`: the name is checked by the schema, the file must be inside. */
export function recipeReader(dir: string): (name: string) => unknown {
  return (name) => {
    const path = join(resolve(dir), `${name}.json`);
    let text: string;
    try {
      text = readFileSync(confine(path, [dir], ["recipe"]), "utf8");
    } catch (error) {
      if (error instanceof ApiError && error.code === "file_not_found") {
        throw new ApiError(404, "unknown_recipe", `no recipe "${name}" in ${dir}`, ["recipe"]);
      }
      throw error;
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ApiError(
        400,
        "invalid_recipe",
        `recipe ${path} is not valid JSON: ${(error as Error).message}`,
        ["recipe"],
      );
    }
  };
}

/** Every file a local recipe names must exist inside one of `roots`. */
export function localPathCheck(roots: string[]): (recipe: LocalRun) => void {
  return (recipe) => {
    if (recipe.model.source === "llama2c") {
      confine(recipe.model.checkpoint, roots, ["model", "checkpoint"]);
      confine(recipe.model.tokenizer, roots, ["model", "tokenizer"]);
    }
    if (recipe.data.source === "files") {
      confine(recipe.data.train, roots, ["data", "train"]);
      confine(recipe.data.heldOut, roots, ["data", "heldOut"]);
    }
  };
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const token = options.token ?? process.env.INFOBATCH_TOKEN;
  if (!LOOPBACK.has(host) && (token === undefined || token === "")) {
    throw new Error(
      `refusing to bind ${host} without a bearer token: set INFOBATCH_TOKEN (or bind 127.0.0.1)`,
    );
  }
  const store = new SqliteRunStore({ path: options.database });
  const recipesDir = options.recipesDir ?? "recipes";
  const runs = new RunService(store, {
    recipes: recipeReader(recipesDir),
    checkLocal: localPathCheck(options.dataRoots ?? [process.cwd()]),
  });
  const launcher =
    options.local === false
      ? null
      : new ThreadLauncher(runs, {
          cacheDir: options.cacheDir ?? ".infobatch/cache",
          onExit: options.onLocalExit,
        });
  if (launcher !== null) runs.attachLocal(launcher);
  const app = createApp({
    runs,
    token,
    maxBodyBytes: options.maxBodyBytes,
    reportHtml: (report, live) =>
      renderReportHtml(report, {
        chartJs: loadChartJs(),
        refreshSeconds: live ? 10 : undefined,
      }),
  });
  const hono = getRequestListener(app.fetch, { hostname: host });
  const losses =
    options.fastLosses === false
      ? () => false
      : lossReportRoute({
          runs,
          token,
          maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
        });
  const server = createServer((req, res) => {
    if (!losses(req, res)) void hono(req, res);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 8787, host, resolve));
  const address = server.address();
  const port =
    typeof address === "object" && address !== null ? address.port : (options.port ?? 8787);
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    runs,
    close: async () => {
      await launcher?.close();
      // Open SSE streams would hold the server open.
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((done, reject) => {
        server.close((error) => {
          store.close();
          if (error) reject(error);
          else done();
        });
      });
    },
  };
}
