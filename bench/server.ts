/**
 * Control-plane load: 64 concurrent remote workers on loopback report losses for one epoch of a
 * 1M-example run (batches of 256) against `infobatch serve` in its own process. Prints
 * sample-losses/s, p50/p99 request latency, lost / double-applied updates (from the run's own
 * ledger: both must be 0), and the CPU time per request of the server and of this load generator.
 *
 * Each client mode gets a fresh run on the same server:
 * - `json-fetch`: JSON bodies through `fetch` (undici, keep-alive), as src/cli/client.ts sends;
 * - `binary-fetch`: the binary body (docs/binary-reports.md) through `fetch`;
 * - `binary-http`: the binary body through node:http with a keep-alive Agent;
 * - `json-raw`: JSON over one plain keep-alive socket per worker (a minimal HTTP/1.1 client, so
 *   the client's own CPU stays out of the way, as Python's http.client or requests.Session);
 * - `binary-raw`: the binary body over those sockets: the fastest path, summarised last.
 *
 *   npm run bench:server              # table
 *   npm run bench:server -- --json    # JSON lines; the last one is the summary (binary-raw)
 *   npm run bench:server -- --record  # also rewrite bench/results/server.md
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { encodeBinaryReport } from "../src/server/losses.js";

const args = new Set(process.argv.slice(2));
const N = args.has("--quick") ? 100_000 : 1_000_000;
const WORKERS = 64;
const BATCH = 256;
const PORT = 18_000 + (process.pid % 1000);
const url = `http://127.0.0.1:${PORT}`;
const MODES = ["json-fetch", "binary-fetch", "binary-http", "json-raw", "binary-raw"] as const;
type Mode = (typeof MODES)[number];

async function startServer(): Promise<ChildProcess> {
  const database = join(mkdtempSync(join(tmpdir(), "ib-bench-")), "runs.db");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "serve", "--port", String(PORT), "--database", database],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("control plane on")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return child;
}

// biome-ignore lint/suspicious/noExplicitAny: responses are read field by field below
type Json = any;

async function json(method: string, path: string, body?: unknown): Promise<Json> {
  const response = await fetch(url + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** A loss report sender: one request at a time, answered with the parsed JSON outcome. */
type Send = (body: Uint8Array | string, contentType: string) => Promise<Json>;

function fetchSender(path: string): Send {
  return async (body, contentType) => {
    const response = await fetch(url + path, {
      method: "POST",
      headers: { "content-type": contentType },
      body,
    });
    if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: WORKERS });

function httpSender(path: string): Send {
  return (body, contentType) =>
    new Promise((resolve, reject) => {
      const bytes = typeof body === "string" ? Buffer.from(body) : body;
      const headers = { "content-type": contentType, "content-length": bytes.byteLength };
      const req = request(
        { host: "127.0.0.1", port: PORT, path, method: "POST", agent, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            if (res.statusCode === 200) resolve(JSON.parse(text));
            else reject(new Error(`POST ${path}: ${res.statusCode} ${text}`));
          });
        },
      );
      req.on("error", reject);
      req.end(bytes);
    });
}

/**
 * A minimal HTTP/1.1 client on one keep-alive socket: writes each request in one piece and reads
 * responses by their Content-Length (the server always sends one).
 */
function rawSender(path: string): { send: Send; connected: Promise<void>; close(): void } {
  const socket: Socket = connect(PORT, "127.0.0.1");
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.setNoDelay(true);
  let buffered: Buffer = Buffer.alloc(0);
  let waiting: ((answer: Json) => void) | null = null;
  let failed: ((error: Error) => void) | null = null;
  socket.on("error", (error) => failed?.(error));
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.byteLength === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = buffered.toString("latin1", 0, end);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
    if (buffered.byteLength < end + 4 + length) return;
    const status = Number(head.slice(9, 12));
    const text = buffered.toString("utf8", end + 4, end + 4 + length);
    buffered = buffered.subarray(end + 4 + length);
    if (status !== 200) failed?.(new Error(`POST ${path}: ${status} ${text}`));
    else waiting?.(JSON.parse(text));
  });
  const send: Send = (body, contentType) =>
    new Promise((resolve, reject) => {
      waiting = resolve;
      failed = reject;
      const bytes = typeof body === "string" ? Buffer.from(body) : body;
      const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nContent-Type: ${contentType}\r\nContent-Length: ${bytes.byteLength}\r\n\r\n`;
      socket.write(Buffer.concat([Buffer.from(head, "latin1"), bytes]));
    });
  return { send, connected, close: () => socket.end() };
}

/** CPU seconds (user + system) the server process has used, from /proc (Linux). */
function serverCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds the whole machine has been busy (all processes), from /proc/stat (Linux). */
function machineBusySeconds(): number {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
    const ticks = fields.slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    return (ticks.reduce((a, b) => a + b, 0) - ticks[3] - ticks[4]) / 100;
  } catch {
    return Number.NaN;
  }
}

function clientCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function measure(server: ChildProcess, mode: Mode) {
  const run = await json("POST", "/v1/runs", {
    trainer: "remote",
    dataset: { size: N },
    engine: { epochs: 2, seed: 0 },
    world: WORKERS,
    batchSize: BATCH,
  });
  const shares: number[][] = await Promise.all(
    Array.from(
      { length: WORKERS },
      async (_, rank) => (await json("GET", `/v1/runs/${run.id}/epochs/0/plan?rank=${rank}`)).ids,
    ),
  );
  const path = `/v1/runs/${run.id}/losses`;
  const binary = mode.startsWith("binary");
  // A worker opens its connection once, before training: not part of any report's latency.
  const raw = mode.endsWith("raw") ? shares.map(() => rawSender(path)) : null;
  await Promise.all(raw?.map((sender) => sender.connected) ?? []);
  const cpuBefore = serverCpuSeconds(server.pid!);
  const clientBefore = clientCpuSeconds();
  const busyBefore = machineBusySeconds();
  const latencies: number[] = [];
  let retried = 0;
  const started = performance.now();
  await Promise.all(
    shares.map(async (ids, rank) => {
      const send =
        raw?.[rank].send ?? (mode.endsWith("http") ? httpSender(path) : fetchSender(path));
      for (let step = 0; step * BATCH < ids.length; step++) {
        const batch = ids.slice(step * BATCH, (step + 1) * BATCH);
        const losses = batch.map((id) => 1 + (id % 97) / 50);
        const report = { epoch: 0, step, rank, ids: batch, losses };
        // What a client does per batch: encode the body, send it, read the answer.
        const t0 = performance.now();
        const body = binary ? encodeBinaryReport(report) : JSON.stringify(report);
        const type = binary ? "application/octet-stream" : "application/json";
        await send(body, type);
        latencies.push(performance.now() - t0);
        // Every 50th batch is retried, as a worker would after a lost answer: must change nothing.
        if (step % 50 === 0) {
          const again = await send(body, type);
          if (again.duplicate) retried++;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const serverCpu = serverCpuSeconds(server.pid!) - cpuBefore;
  const clientCpu = clientCpuSeconds() - clientBefore;
  const othersCpu = machineBusySeconds() - busyBefore - serverCpu - clientCpu;
  for (const sender of raw ?? []) sender.close();
  const savings = await json("GET", `/v1/runs/${run.id}/savings`);
  const status = await json("GET", `/v1/runs/${run.id}`);
  const reported = savings.epochs[0].reported as number;
  const expected = shares.reduce((n, ids) => n + ids.length, 0);
  const sorted = [...latencies].sort((a, b) => a - b);
  const requests = latencies.length + retried;
  const summary = {
    sample_losses_per_s: Math.round(N / seconds),
    p50_ms: Number(percentile(sorted, 0.5).toFixed(2)),
    p99_ms: Number(percentile(sorted, 0.99).toFixed(2)),
    // Padded shares repeat a few ids (ceil(K / world)·world − K): those are expected twice.
    lost: Math.max(0, expected - reported),
    duplicated: Math.max(0, reported - expected),
  };
  const detail = {
    mode,
    examples: N,
    workers: WORKERS,
    batch: BATCH,
    requests,
    retried,
    seconds: Number(seconds.toFixed(2)),
    server_cpu_us_per_request: Math.round((serverCpu * 1e6) / requests),
    client_cpu_us_per_request: Math.round((clientCpu * 1e6) / requests),
    // Cores that other processes kept busy meanwhile (the figures above assume ~0).
    other_cores_busy: Number(Math.max(0, othersCpu / seconds).toFixed(2)),
    epoch_after: status.epoch,
  };
  return { detail, summary };
}

// Other work on the machine skews every figure here: the record states the load it started on.
const loadBefore = loadavg()[0];
const server = await startServer();
try {
  const results: Array<Awaited<ReturnType<typeof measure>>> = [];
  for (const mode of MODES) results.push(await measure(server, mode));
  if (args.has("--json")) {
    for (const { detail, summary } of results)
      console.log(JSON.stringify({ ...detail, ...summary }));
    console.log(JSON.stringify(results[results.length - 1].summary));
  } else {
    console.table(results.map(({ detail, summary }) => ({ ...detail, ...summary })));
  }
  if (args.has("--record")) {
    const row = ({ detail: d, summary: s }: (typeof results)[number]) =>
      `| ${d.mode} | ${s.sample_losses_per_s.toLocaleString("en")} | ${s.p50_ms} ms | ${s.p99_ms} ms | ${d.requests} | ${s.lost} | ${s.duplicated} | ${d.server_cpu_us_per_request} µs | ${d.client_cpu_us_per_request} µs | ${d.other_cores_busy} |`;
    const file = new URL("./results/server.md", import.meta.url);
    // A hand-written "## Notes" section (what was tried, what limits it) survives re-recording.
    const previous = existsSync(file) ? readFileSync(file, "utf8") : "";
    const notes = previous.indexOf("\n## Notes");
    writeFileSync(
      file,
      [
        "# Control plane under load",
        "",
        `Command: \`npm run bench:server -- ${process.argv.slice(2).join(" ")}\` (Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, 2-core machine; the server and the load generator, one process each, share it; 1-minute load average ${loadBefore.toFixed(1)} when it started).`,
        `One epoch of a ${N.toLocaleString("en")}-example run per client mode, world ${WORKERS}, batches of ${BATCH}, loopback HTTP/1.1 keep-alive, SQLite WAL (synchronous NORMAL, reports committed in groups); every 50th batch retried.`,
        "JSON and binary bodies (docs/binary-reports.md) through `fetch`, node:http with a keep-alive agent, and a minimal client on one socket per worker (as Python's http.client on a kept connection). CPU columns: CPU time per request of the server process (its checkpointer thread included) and of the load generator's process; the last column, how many of the 2 cores other processes on the machine kept busy during that mode.",
        "",
        "| client | sample-losses / s | p50 | p99 | requests | lost | double-applied | server CPU / request | client CPU / request | other processes (cores busy) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ...results.map(row),
        "",
        "Targets (issue 5): ≥ 1M sample-losses/s, p99 ≤ 20 ms, nothing lost or applied twice.",
        "",
      ].join("\n") + (notes < 0 ? "" : previous.slice(notes)),
    );
  }
} finally {
  server.kill("SIGTERM");
}
