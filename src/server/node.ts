/**
 * The control plane on Node: the Hono app over @hono/node-server with SQLite state.
 * Without a bearer token it binds loopback only and refuses any other address.
 */
import { type ServerType, serve } from "@hono/node-server";
import { createApp } from "./app.js";
import { RunService } from "./runs.js";
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
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
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
  const app = createApp({ runs: new RunService(store), token, maxBodyBytes: options.maxBodyBytes });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: options.port ?? 8787, hostname: host }, () =>
      resolve(s),
    );
  });
  const address = server.address();
  const port =
    typeof address === "object" && address !== null ? address.port : (options.port ?? 8787);
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => {
          store.close();
          if (error) reject(error);
          else resolve();
        });
      }),
  };
}
