/**
 * Control-plane load: 64 concurrent remote workers on loopback report losses for one epoch of a
 * 1M-example run (batches of 256) against `infobatch serve` in its own process. Prints
 * sample-losses/s, p50/p99 request latency, and lost / double-applied updates (from the run's
 * own ledger: both must be 0).
 *
 *   npm run bench:server              # table
 *   npm run bench:server -- --json    # JSON lines; the last one is the summary
 *   npm run bench:server -- --record  # also rewrite bench/results/server.md
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const args = new Set(process.argv.slice(2));
const N = args.has("--quick") ? 100_000 : 1_000_000;
const WORKERS = 64;
const BATCH = 256;
const PORT = 18_000 + (process.pid % 1000);
const url = `http://127.0.0.1:${PORT}`;

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

/** CPU seconds (user + system) the server process has used, from /proc (Linux). */
function serverCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return Number.NaN;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const server = await startServer();
try {
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
  const cpuBefore = serverCpuSeconds(server.pid!);
  const latencies: number[] = [];
  let retried = 0;
  const started = performance.now();
  await Promise.all(
    shares.map(async (ids, rank) => {
      for (let step = 0; step * BATCH < ids.length; step++) {
        const batch = ids.slice(step * BATCH, (step + 1) * BATCH);
        const body = {
          epoch: 0,
          step,
          rank,
          ids: batch,
          losses: batch.map((id) => 1 + (id % 97) / 50),
        };
        const t0 = performance.now();
        await json("POST", `/v1/runs/${run.id}/losses`, body);
        latencies.push(performance.now() - t0);
        // Every 50th batch is retried, as a worker would after a lost answer: must change nothing.
        if (step % 50 === 0) {
          const again = await json("POST", `/v1/runs/${run.id}/losses`, body);
          if (again.duplicate) retried++;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const serverCpu = serverCpuSeconds(server.pid!) - cpuBefore;
  const savings = await json("GET", `/v1/runs/${run.id}/savings`);
  const status = await json("GET", `/v1/runs/${run.id}`);
  const reported = savings.epochs[0].reported as number;
  const expected = shares.reduce((n, ids) => n + ids.length, 0);
  const sorted = [...latencies].sort((a, b) => a - b);
  const summary = {
    sample_losses_per_s: Math.round(N / seconds),
    p50_ms: Number(percentile(sorted, 0.5).toFixed(2)),
    p99_ms: Number(percentile(sorted, 0.99).toFixed(2)),
    // Padded shares repeat a few ids (ceil(K / world)·world − K): those are expected twice.
    lost: Math.max(0, expected - reported),
    duplicated: Math.max(0, reported - expected),
  };
  const detail = {
    examples: N,
    workers: WORKERS,
    batch: BATCH,
    requests: latencies.length + retried,
    retried,
    seconds: Number(seconds.toFixed(2)),
    server_cpu_us_per_request: Math.round((serverCpu * 1e6) / latencies.length),
    epoch_after: status.epoch,
  };
  if (args.has("--json")) {
    console.log(JSON.stringify(detail));
    console.log(JSON.stringify(summary));
  } else {
    console.table([{ ...detail, ...summary }]);
  }
  if (args.has("--record")) {
    writeFileSync(
      new URL("./results/server.md", import.meta.url),
      [
        "# Control plane under load",
        "",
        `Command: \`npm run bench:server -- --record\` (Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, 2-core machine; server and the ${WORKERS} workers share it).`,
        `One epoch of a ${N.toLocaleString("en")}-example run, world ${WORKERS}, batches of ${BATCH}, JSON reports over loopback HTTP/1.1 keep-alive, SQLite WAL (synchronous NORMAL); every 50th batch retried.`,
        "",
        "| sample-losses / s | p50 | p99 | requests | lost | double-applied |",
        "|---:|---:|---:|---:|---:|---:|",
        `| ${summary.sample_losses_per_s.toLocaleString("en")} | ${summary.p50_ms} ms | ${summary.p99_ms} ms | ${detail.requests} | ${summary.lost} | ${summary.duplicated} |`,
        "",
        "Targets (issue 5): ≥ 1M sample-losses/s, p99 ≤ 20 ms, nothing lost or applied twice.",
        "",
      ].join("\n"),
    );
  }
} finally {
  server.kill("SIGTERM");
}
