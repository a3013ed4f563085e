/**
 * Local runs end to end, through the real `infobatch serve` process over loopback HTTP:
 * stories260K LoRA-tuned on a slice of GSM8K by the in-process trainer (in a worker thread),
 * with the full-data comparison; the server killed with SIGKILL mid-run and restarted resumes
 * from the trainer's last checkpoint and ends exactly where an uninterrupted run ends; recipes
 * by name; paths outside the data roots refused with nothing created.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { DATA_DIR, dataPath } from "./data-dir.js";
import { ROOT as root, spawnServe } from "./serve-process.js";

const PORT = 20_000 + (process.pid % 1000);
const BASE = `http://127.0.0.1:${PORT}`;
const dir = mkdtempSync(join(tmpdir(), "ib-local-"));
const database = join(dir, "runs.db");
const recipes = join(dir, "recipes");
let server: ChildProcess | null = null;

async function serve(): Promise<void> {
  server = await spawnServe([
    "--port",
    String(PORT),
    "--database",
    database,
    "--recipes",
    recipes,
    "--data-root",
    DATA_DIR,
  ]);
}

afterAll(() => {
  server?.kill("SIGKILL");
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
type Json = any;

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const response = await fetch(BASE + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function until(runId: string, done: (run: Json) => boolean, seconds = 240): Promise<Json> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const { body } = await call("GET", `/v1/runs/${runId}`);
    if (done(body)) return body;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting on run ${runId}: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every event of a run, read over SSE until the server ends the stream (the run finished). */
async function events(runId: string): Promise<Array<{ type: string; data: Json }>> {
  const text = await (await fetch(`${BASE}/v1/runs/${runId}/events`)).text();
  const out: Array<{ type: string; data: Json }> = [];
  for (const block of text.split("\n\n")) {
    const type = /^event: (.*)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (type !== undefined && data !== undefined) out.push({ type, data: JSON.parse(data) });
  }
  return out;
}

const recipe = {
  name: "gsm8k-slice",
  trainer: "local",
  model: {
    source: "llama2c",
    checkpoint: dataPath("models", "stories260K", "stories260K.bin"),
    tokenizer: dataPath("models", "stories260K", "tok512.bin"),
  },
  data: {
    source: "files",
    train: dataPath("datasets", "gsm8k_train.jsonl"),
    heldOut: dataPath("datasets", "gsm8k_test.jsonl"),
    template: "qa",
    trainLimit: 64,
    heldOutLimit: 16,
  },
  maxLength: 64,
  training: { batchSize: 16, lr: 0.01, lora: { rank: 4 } },
  engine: { epochs: 4, seed: 3 },
};

const heldOutByEpoch = (evts: Array<{ type: string; data: Json }>) =>
  evts.filter((e) => e.type === "evaluation").map((e) => [e.data.epoch, e.data.heldOutLoss]);

it("trains a local run and its full-data comparison, with savings, events and a report page", {
  timeout: 300_000,
}, async () => {
  await serve();
  const created = await call("POST", "/v1/runs", { ...recipe, compare: "full" });
  expect(created.status).toBe(201);
  expect(created.body.status).toBe("preparing");
  const ours = await events(created.body.id);
  const baseline = await until(created.body.baseline, (r) => r.status === "completed");
  expect(baseline.baselineOf).toBe(created.body.id);

  const types = ours.map((e) => e.type);
  expect(types[0]).toBe("created");
  expect(types.filter((t) => t === "epoch_opened")).toHaveLength(4);
  expect(types.filter((t) => t === "epoch_closed")).toHaveLength(4);
  expect(types.filter((t) => t === "step").length).toBeGreaterThanOrEqual(4 * 3);
  expect(ours.at(-1)).toMatchObject({ type: "status", data: { status: "completed" } });
  const losses = heldOutByEpoch(ours);
  expect(losses.map(([e]) => e)).toEqual([-1, 0, 1, 2, 3]);
  expect(losses[4][1]).toBeLessThan(losses[0][1] * 0.8); // tuning works: well below the base model

  const savings = (await call("GET", `/v1/runs/${created.body.id}/savings`)).body;
  expect(savings.total.tokens.trained).toBeLessThan(savings.total.tokens.full);
  expect(savings.epochs[1].examples.trained).toBeLessThan(64); // epoch 1 pruned
  expect(savings.total.seconds.estimated).toBe(false); // measured against the full-data run
  expect(savings.baseline.heldOutLoss).toBeGreaterThan(0);
  const theirs = (await call("GET", `/v1/runs/${created.body.baseline}/savings`)).body;
  expect(theirs.total.tokens.trained).toBe(theirs.total.tokens.full);

  const page = await fetch(`${BASE}/v1/runs/${created.body.id}/report`);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain("gsm8k-slice");
  expect(html).toContain("Full data");
});

it("resumes a local run after kill -9 from its last checkpoint and ends where an uninterrupted run ends", {
  timeout: 300_000,
}, async () => {
  const interrupted = (await call("POST", "/v1/runs", recipe)).body;
  await until(interrupted.id, (r) => r.epoch >= 2 && r.reported > 0);
  server!.kill("SIGKILL");
  await new Promise((r) => server!.once("exit", r));
  await serve(); // resumes unfinished local runs on start
  await until(interrupted.id, (r) => r.status === "completed");

  const straight = (await call("POST", "/v1/runs", recipe)).body;
  await until(straight.id, (r) => r.status === "completed");
  const a = await events(interrupted.id);
  const b = await events(straight.id);
  expect(heldOutByEpoch(a)).toEqual(heldOutByEpoch(b));
  const sa = (await call("GET", `/v1/runs/${interrupted.id}/savings`)).body;
  const sb = (await call("GET", `/v1/runs/${straight.id}/savings`)).body;
  expect(sa.total.tokens).toEqual(sb.total.tokens);
  expect(sa.epochs.map((e: Json) => e.trainLoss)).toEqual(sb.epochs.map((e: Json) => e.trainLoss));
});

it("takes recipes by name and refuses paths outside the data roots, creating nothing", async () => {
  mkdirSync(recipes, { recursive: true });
  writeFileSync(join(recipes, "slice.json"), JSON.stringify({ ...recipe, engine: { epochs: 1 } }));
  const before = (await call("GET", "/v1/runs")).body.length;

  const outside = await call("POST", "/v1/runs", {
    ...recipe,
    data: { ...recipe.data, train: join(root, "package.json") },
  });
  expect(outside.status).toBe(400);
  expect(outside.body.error).toMatchObject({ code: "path_outside_roots", path: ["data", "train"] });
  const dots = await call("POST", "/v1/runs", { recipe: "../slice" });
  expect(dots.status).toBe(400);
  expect(dots.body.error.path).toEqual(["recipe"]);
  const missing = await call("POST", "/v1/runs", { recipe: "nope" });
  expect(missing.status).toBe(404);
  expect((await call("GET", "/v1/runs")).body.length).toBe(before);

  const named = await call("POST", "/v1/runs", { recipe: "slice" });
  expect(named.status).toBe(201);
  const cancelled = await call("POST", `/v1/runs/${named.body.id}/cancel`);
  expect(cancelled.body.status).toBe("cancelled");
  expect((await call("GET", "/v1/runs")).body.length).toBe(before + 1);
});
