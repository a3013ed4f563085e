/**
 * The Node fast path for `POST /v1/runs/:id/losses`, the one route trainers call per batch: read
 * straight from node:http, without building a Web `Request` (the app's body streams, routing
 * and middleware cost several times what the report itself costs), and committed in groups: the
 * reports whose bodies complete in the same turn of the event loop are applied in arrival order
 * and stored in one SQLite transaction (`RunService.reportMany`), then all answered. A 2xx
 * still means the report is committed.
 *
 * The Hono app (app.ts) stays the contract: this path answers byte for byte what the app answers
 * (status, headers, JSON), and takes only the requests whose answer it can give that way: a
 * declared Content-Length within the limit, the right token, a plain run id and Host header.
 * Everything else (a wrong token, an oversized or chunked body, repeated or odd headers,
 * another route) goes to the app untouched. node-losses.test.ts compares the two byte for byte.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiError } from "./errors.js";
import { isBinaryReport } from "./losses.js";
import type { RunService } from "./runs.js";

export interface LossRouteOptions {
  runs: RunService;
  /** As the app's: when set, `Authorization: Bearer <token>` (others go to the app: 401). */
  token?: string;
  /** As the app's body limit (larger bodies go to the app: 413). */
  maxBodyBytes: number;
  /** Sees unexpected errors (answered 500 as the app does). Default: console.error. */
  onInternalError?: (error: Error) => void;
}

/** Run ids the app would route the same way (no percent-escapes, dots or backslashes). */
const ROUTE = /^\/v1\/runs\/([A-Za-z0-9_-]+)\/losses(?:\?|$)/;
/** Host headers @hono/node-server takes as they are (others it parses, or refuses with a 400). */
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;

const INVALID_JSON = new ApiError(
  400,
  "invalid_json",
  "the request body is not valid JSON (NaN and Infinity are not JSON)",
);

interface Pending {
  id: string;
  body: unknown;
  res: ServerResponse;
}

/**
 * A request listener for loss reports: returns false, having touched nothing, for a request it
 * leaves to the app.
 *
 * @example
 * const losses = lossReportRoute({ runs, maxBodyBytes });
 * createServer((req, res) => losses(req, res) || honoListener(req, res));
 */
export function lossReportRoute(
  options: LossRouteOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { runs, token, maxBodyBytes } = options;
  const onInternalError = options.onInternalError ?? console.error;
  const bearer = token === undefined ? undefined : `Bearer ${token}`;
  // UTF-8 with the BOM stripped, as Request.text() decodes (the app's c.req.json()).
  const decoder = new TextDecoder();
  let queue: Pending[] = [];

  const send = (res: ServerResponse, answer: unknown) => {
    let status = 200;
    let payload = answer;
    if (answer instanceof ApiError) {
      status = answer.status;
      payload = answer.toJSON();
    } else if (answer instanceof Error) {
      onInternalError(answer);
      status = 500;
      payload = { error: { code: "internal", message: "internal error", path: [] } };
    }
    // The headers @hono/node-server writes for c.json(): Content-Type, then Node's own
    // (Date, Connection, Keep-Alive, Content-Length).
    res.statusCode = status;
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify(payload));
  };

  const drain = () => {
    const batch = queue;
    queue = [];
    let answers: unknown[];
    try {
      answers = runs.reportMany(batch);
    } catch (error) {
      answers = batch.map(() => error); // reportMany answers every item; this is a safety net
    }
    for (let i = 0; i < batch.length; i++) send(batch[i].res, answers[i]);
  };

  return (req, res) => {
    if (req.method !== "POST") return false;
    const match = ROUTE.exec(req.url ?? "");
    if (match === null) return false;
    if (!PLAIN_HOST.test(req.headers.host ?? "") || repeatsHeaders(req.rawHeaders)) return false;
    if (bearer !== undefined && req.headers.authorization !== bearer) return false;
    const declared = req.headers["content-length"];
    if (declared === undefined || req.headers["transfer-encoding"] !== undefined) return false;
    if (!(Number(declared) <= maxBodyBytes)) return false;

    const id = match[1];
    const binary = isBinaryReport(req.headers["content-type"]);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("error", () => res.destroy()); // the client went away mid-body: nobody to answer
    req.on("end", () => {
      const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      let body: unknown;
      if (binary) {
        body = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } else {
        try {
          body = JSON.parse(decoder.decode(bytes));
        } catch {
          send(res, INVALID_JSON);
          return;
        }
      }
      queue.push({ id, body, res });
      if (queue.length === 1) setImmediate(drain);
    });
    return true;
  };
}

/**
 * Whether Authorization or Content-Type comes more than once: node:http keeps the first, the
 * app (Web Headers) joins them, so the app answers those requests.
 */
function repeatsHeaders(raw: string[]): boolean {
  let authorization = 0;
  let contentType = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 13 && name.toLowerCase() === "authorization") authorization++;
    else if (name.length === 12 && name.toLowerCase() === "content-type") contentType++;
  }
  return authorization > 1 || contentType > 1;
}
