/**
 * The Python adapter (adapters/hf) against the real control plane on loopback (SQLite in a temp
 * file, bearer token on): the package's unit tests, the client's retries and errors, a plain
 * PyTorch LoRA loop whose reported losses must reproduce the server's plans and savings in a
 * fresh engine, two ranks sharing a run, the stories260K exact-reproduction check, and an
 * offline `pip install`. Python is /usr/bin/python3 with Debian's python3-torch (or
 * $INFOBATCH_PYTHON).
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InfoBatch } from "../../src/core/index.js";
import { type RunningServer, startServer } from "../../src/server/node.js";
import { dataPath } from "../../test/data-dir.js";
import { learningRateAt, progressAt } from "../tfjs/train/schedule.js";

const HERE = import.meta.dirname;
const PYTHON = process.env.INFOBATCH_PYTHON ?? "/usr/bin/python3";
const TOKEN = "hf-test-token";
const TINY = "dim=32,hidden_dim=64,n_layers=2,n_heads=4,n_kv_heads=2,vocab_size=64,seq_len=64";

let dir: string;
let server: RunningServer;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs python with the package (and the example modules) importable, one OpenMP thread. */
function python(args: string[], env: Record<string, string> = {}, cwd = HERE) {
  return new Promise<Outcome>((resolve, reject) => {
    const child = spawn(PYTHON, args, {
      cwd,
      env: {
        ...process.env,
        PYTHONPATH: [HERE, join(HERE, "examples")].join(":"),
        PYTHONDONTWRITEBYTECODE: "1",
        OMP_NUM_THREADS: "1",
        OMP_WAIT_POLICY: "PASSIVE",
        INFOBATCH_TOKEN: TOKEN,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Fails with the process's output when it did not exit 0. */
function expectSuccess(outcome: Outcome, what: string): void {
  if (outcome.code !== 0) {
    throw new Error(`${what} exited with ${outcome.code}\n${outcome.stdout}\n${outcome.stderr}`);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: JSON from the server and the trainer's log
type Json = any;

async function call(method: string, path: string, body?: unknown): Promise<Json> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

interface Example {
  ids: number[];
  mask: number[];
}

/**
 * Instruction-like examples of varied difficulty for a 64-token vocabulary: BOS, a random prompt
 * (not a target), then a response that is either easy (a repeated two-token pattern) or hard
 * (random tokens), then EOS (a target).
 */
function syntheticExamples(n: number, seed: number): Example[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  const token = () => 3 + Math.floor(next() * 61);
  return Array.from({ length: n }, (_, i) => {
    const prompt = Array.from({ length: 2 + Math.floor(next() * 5) }, token);
    const length = 4 + Math.floor(next() * 20);
    const response = Array.from({ length }, (_, t) => (i % 2 === 0 ? 10 + (t % 2) : token()));
    const ids = [1, ...prompt, ...response, 2];
    const mask = ids.map((_, t) => (t > prompt.length ? 1 : 0));
    return { ids, mask };
  });
}

function writeJsonl(path: string, examples: Example[]): void {
  writeFileSync(path, examples.map((e) => `${JSON.stringify(e)}\n`).join(""));
}

function readLog(path: string): Json[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
}

/** Per epoch, a rank's trained ids, weights and reported losses in training order. */
function epochsOf(log: Json[]): Array<{ ids: number[]; weights: number[]; losses: number[] }> {
  const epochs: Array<{ ids: number[]; weights: number[]; losses: number[] }> = [];
  for (const record of log) {
    if (record.type !== "step") continue;
    epochs[record.epoch] ??= { ids: [], weights: [], losses: [] };
    epochs[record.epoch].ids.push(...record.ids);
    epochs[record.epoch].weights.push(...record.weights);
    epochs[record.epoch].losses.push(...record.losses);
  }
  return epochs;
}

const train = syntheticExamples(48, 7);
const lengths = train.map((e) => e.ids.length);

beforeAll(async () => {
  const check = await python(["-c", "import torch; print(torch.__version__)"]);
  if (check.code !== 0) {
    throw new Error(
      `${PYTHON} cannot import torch (install python3-torch and libopenblas0 with apt, or set INFOBATCH_PYTHON):\n${check.stderr}`,
    );
  }
  dir = mkdtempSync(join(tmpdir(), "ib-hf-"));
  server = await startServer({ database: join(dir, "runs.db"), port: 0, token: TOKEN });
  writeJsonl(join(dir, "train.jsonl"), train);
  writeJsonl(join(dir, "heldout.jsonl"), syntheticExamples(8, 99));
});

afterAll(async () => {
  await server?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("the Python adapter", () => {
  it("passes its unit tests (loss, schedule as schedule.ts computes it, sampler, Llama)", async () => {
    const table = [];
    for (const [epoch, step, steps, epochs, warmup] of [
      [0, 0, 10, 3, 0.05],
      [0, 1, 10, 3, 0.05],
      [1, 3, 7, 3, 0.05],
      [2, 3, 4, 3, 0.05],
      [0, 0, 1, 1, 0],
      [4, 120, 250, 8, 0.1],
    ]) {
      const progress = progressAt(epoch, step, steps, epochs);
      const rate = learningRateAt(progress, { lr: 1e-2, warmupFraction: warmup });
      table.push({ epoch, step, steps, epochs, warmup, lr: 1e-2, progress, rate });
    }
    const tablePath = join(dir, "schedule.json");
    writeFileSync(tablePath, JSON.stringify(table));
    const outcome = await python(
      ["-m", "unittest", "discover", "-s", "tests", "-p", "test_units.py", "-v"],
      { INFOBATCH_SCHEDULE_TABLE: tablePath },
    );
    expectSuccess(outcome, "test_units.py");
    expect(outcome.stderr).toContain("test_matches_the_typescript_schedule");
    expect(outcome.stderr).not.toMatch(/test_matches_the_typescript_schedule.*skipped/);
  });

  it("client: lost answers retried once, 5xx retried, unknown run and dead server named", async () => {
    const outcome = await python(["-m", "unittest", "tests/test_server.py", "-v"], {
      INFOBATCH_URL: server.url,
    });
    expectSuccess(outcome, "test_server.py");
  });

  it("a LoRA loop's reported losses reproduce the server's plans, scores and savings", async () => {
    const log = join(dir, "loop.jsonl");
    const outcome = await python([
      "examples/train_lora.py",
      "--random-model",
      TINY,
      "--train",
      join(dir, "train.jsonl"),
      "--heldout",
      join(dir, "heldout.jsonl"),
      "--server",
      server.url,
      "--batch-size",
      "8",
      "--lr",
      "3e-2",
      "--epochs",
      "4",
      "--seed",
      "5",
      "--threads",
      "1",
      "--log-json",
      log,
    ]);
    expectSuccess(outcome, "train_lora.py");
    const records = readLog(log);
    const runId = records[0].run as string;
    const epochs = epochsOf(records);
    expect(epochs.map((e) => e.ids.length)[0]).toBe(48);
    expect(epochs[1].ids.length).toBeLessThan(48); // pruned after the first epoch
    expect(epochs[3].ids.length).toBe(48); // annealing: floor(0.875 · 4) = 3

    // A fresh engine fed the losses the loop reported plans exactly what the server served:
    // the server's scores are the loop's losses.
    const engine = new InfoBatch({ size: 48, epochs: 4, seed: 5, lengths });
    for (const [e, seen] of epochs.entries()) {
      const plan = engine.planEpoch(e);
      expect(seen.ids).toEqual(Array.from(plan.ids));
      expect(seen.weights).toEqual(Array.from(plan.weights));
      engine.update(seen.ids, seen.losses, { epoch: e });
    }
    const savings = await call("GET", `/v1/runs/${runId}/savings`);
    expect(savings).toMatchObject(engine.savings({ batchSize: 8, world: 1 }));
    expect(savings.total.tokens.saved).toBeGreaterThan(0);
    const run = await call("GET", `/v1/runs/${runId}`);
    expect(run.status).toBe("completed");
    const end = records.at(-1);
    expect(end.savings).toEqual(savings.total);
    const trained = epochs.flatMap((e) => e.ids).reduce((n, id) => n + lengths[id], 0);
    expect(end.tokens).toBe(trained);
    expect(savings.total.tokens.trained).toBe(trained);
    // Held-out losses after every epoch; a server with the evaluations route shows them.
    const heldOut = records.filter((r) => r.type === "epoch").map((r) => r.held_out_loss);
    expect(heldOut.filter(Number.isFinite)).toHaveLength(4);
    for (const [e, epoch] of savings.epochs.entries()) {
      if (epoch.heldOutLoss !== undefined) expect(epoch.heldOutLoss).toBeCloseTo(heldOut[e], 5);
    }
  });

  it("two ranks share a run: disjoint shares whose union is the plan, equal adapters", async () => {
    const created = await call("POST", "/v1/runs", {
      name: "two ranks",
      trainer: "remote",
      dataset: { size: 48, lengths },
      engine: { epochs: 3, seed: 1 },
      world: 2,
      batchSize: 4,
    });
    const rank = (r: number) =>
      python([
        "examples/train_lora.py",
        "--random-model",
        TINY,
        "--train",
        join(dir, "train.jsonl"),
        "--heldout",
        join(dir, "heldout.jsonl"),
        "--server",
        server.url,
        "--run",
        created.id,
        "--rank",
        String(r),
        "--world",
        "2",
        "--dist-init",
        `file://${join(dir, "rendezvous")}`,
        "--batch-size",
        "4",
        "--lr",
        "3e-2",
        "--log-json",
        join(dir, `rank${r}.jsonl`),
      ]);
    const outcomes = await Promise.all([rank(0), rank(1)]);
    outcomes.forEach((o, r) => {
      expectSuccess(o, `rank ${r}`);
    });
    const logs = [0, 1].map((r) => readLog(join(dir, `rank${r}.jsonl`)));
    const [e0, e1] = logs.map(epochsOf);
    const sizes: number[] = [];
    for (let e = 0; e < 3; e++) {
      const a = e0[e].ids;
      const b = e1[e].ids;
      const union = new Set([...a, ...b]);
      const k = union.size;
      sizes.push(k);
      expect(a.length).toBe(Math.ceil(k / 2));
      expect(b.length).toBe(Math.ceil(k / 2));
      const shared = a.filter((id) => b.includes(id));
      // "pad" sharding: with an odd plan, rank 1's last position wraps to the plan's first.
      expect(shared).toEqual(k % 2 === 1 ? [a[0]] : []);
      if (k % 2 === 1) expect(b.at(-1)).toBe(a[0]);
    }
    expect(sizes[0]).toBe(48);
    expect(sizes[1]).toBeLessThan(48);
    expect(sizes[2]).toBe(48);
    const ends = logs.map((log) => log.at(-1));
    expect(ends[0].lora_digest).toBe(ends[1].lora_digest); // gradients were averaged over ranks
    const savings = await call("GET", `/v1/runs/${created.id}/savings`);
    expect(savings.total.examples.trained).toBe(sizes.reduce((a, b) => a + b, 0));
  });

  it("InfoBatchTrainer trains a tiny Llama end to end (where transformers is installed)", async (context) => {
    const outcome = await python(["-m", "unittest", "tests/test_hf.py", "-v"], {
      INFOBATCH_URL: server.url,
    });
    expectSuccess(outcome, "test_hf.py");
    if (outcome.stderr.includes("skipped")) context.skip("transformers is not installed here");
  });

  it("reproduces stories260K's reference greedy output exactly", async () => {
    const model = dataPath("models", "stories260K");
    const outcome = await python([
      "examples/generate.py",
      "--checkpoint",
      join(model, "stories260K.bin"),
      "--tokenizer",
      join(model, "tok512.bin"),
      "--check",
      join(model, "stories260K.md"),
    ]);
    expectSuccess(outcome, "generate.py --check");
    expect(outcome.stdout.startsWith("Once upon a time, there was a little girl named Lily.")).toBe(
      true,
    );
    expect(outcome.stderr).toContain("OK: 256 tokens equal the reference output");
  });

  it("installs with pip offline (no build isolation, no network)", async (context) => {
    const pip = await python(["-m", "pip", "--version"]);
    if (pip.code !== 0) context.skip("pip is not installed for this Python");
    const source = join(dir, "pkg");
    for (const part of ["pyproject.toml", "README.md", "infobatch_hf"]) {
      cpSync(join(HERE, part), join(source, part), { recursive: true });
    }
    const target = join(dir, "site");
    expectSuccess(
      await python(
        ["-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "--no-index"].concat([
          "--target",
          target,
          source,
        ]),
        { PIP_DISABLE_PIP_VERSION_CHECK: "1" },
      ),
      "pip install",
    );
    const imported = await python(
      ["-c", "import infobatch_hf, infobatch_hf.sampler; print(infobatch_hf.__file__)"],
      { PYTHONPATH: target },
      dir,
    );
    expectSuccess(imported, "import infobatch_hf");
    expect(imported.stdout).toContain(target);
  });
});
