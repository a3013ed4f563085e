/**
 * Issue 7's evidence on real data: held-out quality vs training tokens of InfoBatch and its
 * alternatives, stories260K + LoRA on GSM8K (the protocol of ../shared/BENCH-PROTOCOL.md), trained
 * by the PyTorch example trainer (adapters/hf/examples/train_lora.py) as remote runs of our
 * control plane, started in process. Every arm × seed is one run; results are read back from the
 * server (/savings: per-epoch held-out loss and the engine's ledger) and from the evaluations the
 * trainer reports (tokens it trained, wall seconds).
 *
 *   npm run bench:quality -- --quick            # ≤ 10 min: 400 train, 100 held out, 4 epochs, 1 seed
 *   npm run bench:quality                       # 1,000 train, 300 held out, 8 epochs, 3 seeds, 5 arms
 *   npm run bench:quality -- --json             # JSON lines; the last one is the summary
 *   npm run bench:quality -- --record [--out FILE.md]   # + FILE.svg beside it; default
 *     bench/results/quality.md (quality-quick.md with --quick)
 *
 * Sizes can be overridden: --train N --heldout N --epochs N --seeds 0,1,2 --arms full,infobatch,…
 * --parallel N (trainers at once, default 2) --threads N (torch threads per trainer, default 1)
 * --best '{"budget":…}' (engine settings of the "best" arm) --local / --no-local (the in-process
 * TensorFlow.js pair; default on in --quick only) --validation (held out = a slice of the kept train
 * examples after the train subset, to compare configurations without the test split).
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { IndexShuffle } from "../src/core/index.js";
import { prepareCorpus } from "../src/pipeline/prepare.js";
import { startServer } from "../src/server/node.js";
import { DATA_DIR, dataPath } from "../test/data-dir.js";

// ---------------------------------------------------------------------------------------------
// Settings

const { values: opts } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    record: { type: "boolean", default: false },
    out: { type: "string" },
    train: { type: "string" },
    heldout: { type: "string" },
    epochs: { type: "string" },
    seeds: { type: "string" },
    arms: { type: "string" },
    parallel: { type: "string", default: "2" },
    threads: { type: "string", default: "1" },
    best: { type: "string" },
    local: { type: "boolean" },
    "no-local": { type: "boolean" },
    validation: { type: "boolean", default: false },
  },
});

const ALL_ARMS = [
  "full",
  "infobatch",
  "random",
  "shorter",
  "best",
  "random-best",
  "shorter-best",
] as const;
/** Arms matched to another arm's tokens (same seed), and the arm they match. */
const MATCHED: Partial<Record<(typeof ALL_ARMS)[number], "infobatch" | "best">> = {
  random: "infobatch",
  shorter: "infobatch",
  "random-best": "best",
  "shorter-best": "best",
};
type ArmName = (typeof ALL_ARMS)[number];

const quick = opts.quick === true;
const sizes = {
  train: Number(opts.train ?? (quick ? 400 : 1000)),
  heldOut: Number(opts.heldout ?? (quick ? 100 : 300)),
  epochs: Number(opts.epochs ?? (quick ? 4 : 8)),
  seeds: (opts.seeds ?? (quick ? "0" : "0,1,2")).split(",").map(Number),
  arms: (opts.arms ?? (quick ? "full,infobatch,best" : ALL_ARMS.join(","))).split(",") as ArmName[],
};
for (const arm of sizes.arms) {
  if (!ALL_ARMS.includes(arm)) throw new Error(`unknown arm ${arm}; expected ${ALL_ARMS}`);
}
const parallel = Math.max(1, Number(opts.parallel));
const threads = Math.max(1, Number(opts.threads));
const withLocal = opts["no-local"] === true ? false : (opts.local ?? quick);
const B = 16;
const MAX_LENGTH = 256;
const DELTA = 0.875;
/** The "best" arm: a token budget of 35% met by length-aware drop probabilities. Chosen a priori
 * from the engine's options (not tuned on the held-out split). */
const BEST_ENGINE: Record<string, unknown> = opts.best
  ? JSON.parse(opts.best)
  : { budget: { target: 0.35, unit: "tokens" }, lengthAware: true };

const checkpoint = dataPath("models", "stories260K", "stories260K.bin");
const tokenizerPath = dataPath("models", "stories260K", "tok512.bin");
const trainFile = dataPath("datasets", "gsm8k_train.jsonl");
const testFile = dataPath("datasets", "gsm8k_test.jsonl");
const repo = new URL("..", import.meta.url).pathname;
const trainLora = join(repo, "adapters", "hf", "examples", "train_lora.py");
const driver = join(repo, "bench", "quality", "driver.py");
const log = (line: string) => process.stderr.write(`${line}\n`);
const started = Date.now();

// ---------------------------------------------------------------------------------------------
// Data: our pipeline (qa template, tok512, right truncation to 256, examples without a response
// token dropped), then our own seeded permutation (IndexShuffle, key 0) of the kept train examples.

const work = mkdtempSync(join(tmpdir(), "infobatch-quality-"));
const tokenizer = `llama2c:${tokenizerPath}`;
const prep = (dataset: string) =>
  prepareCorpus({
    dataset,
    format: "gsm8k",
    tokenizer,
    template: "qa",
    maxLength: MAX_LENGTH,
    truncation: "right",
  });
const [{ corpus: trainCorpus }, { corpus: testCorpus }] = [
  await prep(trainFile),
  await prep(testFile),
];
if (sizes.train > trainCorpus.size || sizes.heldOut > testCorpus.size) {
  throw new Error(
    `asked for ${sizes.train}/${sizes.heldOut} examples; kept ${trainCorpus.size}/${testCorpus.size}`,
  );
}
const shuffle = new IndexShuffle(trainCorpus.size, 0);
const trainIds = Array.from({ length: sizes.train }, (_, j) => shuffle.map(j));
// --validation: held out = the next kept train examples of the permutation (disjoint from the
// train subset), for choosing configurations without touching the test split.
const validation = opts.validation === true;
if (validation && sizes.train + sizes.heldOut > trainCorpus.size) {
  throw new Error("the validation slice does not fit in the kept train examples");
}
const heldIds = Array.from({ length: sizes.heldOut }, (_, j) =>
  validation ? shuffle.map(sizes.train + j) : j,
);

function writeJsonl(path: string, corpus: typeof trainCorpus, ids: number[]): number[] {
  const lengths: number[] = [];
  const lines = ids.map((id) => {
    const { tokens, targets } = corpus.example(id);
    lengths.push(tokens.length);
    return JSON.stringify({ ids: Array.from(tokens), mask: Array.from(targets) });
  });
  writeFileSync(path, `${lines.join("\n")}\n`);
  return lengths;
}
const trainJsonl = join(work, "train.jsonl");
const heldJsonl = join(work, "heldout.jsonl");
const lengths = writeJsonl(trainJsonl, trainCorpus, trainIds);
writeJsonl(heldJsonl, validation ? trainCorpus : testCorpus, heldIds);
const epochTokens = lengths.reduce((a, b) => a + b, 0);
const dataInfo = {
  trainKept: trainCorpus.size,
  trainDropped: trainCorpus.report.droppedNoTarget,
  testKept: testCorpus.size,
  testDropped: testCorpus.report.droppedNoTarget,
  trainTokens: epochTokens,
  truncatedShare: lengths.filter((n) => n >= MAX_LENGTH).length / Math.max(1, lengths.length),
};
log(
  `data: kept ${dataInfo.trainKept} train (${dataInfo.trainDropped} dropped), ${dataInfo.testKept} test (${dataInfo.testDropped} dropped); ` +
    `subset ${sizes.train} examples = ${epochTokens} tokens per epoch, ${(dataInfo.truncatedShare * 100).toFixed(0)}% at ${MAX_LENGTH} tokens; held out ${sizes.heldOut}`,
);

// ---------------------------------------------------------------------------------------------
// Control plane, in process.

const server = await startServer({ database: join(work, "runs.db"), port: 0, local: false });
const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
};

interface EpochRecord {
  epoch: number;
  heldOut: number | null;
  tokens: number;
  seconds: number;
}
interface ArmResult {
  arm: ArmName;
  seed: number;
  runId: string;
  epochs: EpochRecord[];
  tokens: number;
  steps: number;
  seconds: number;
  final: number;
  ledgerTokens: number | null;
}

interface SavingsView {
  epochs: { epoch: number; heldOutLoss: number | null; tokens: { trained: number } | null }[];
  total: { tokens: { trained: number; full: number } | null };
}

/** Runs a trainer process; returns its per-epoch JSON records (stderr) and fails loudly. */
function trainer(script: string, args: string[], label: string): Promise<Record<string, number>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn("/usr/bin/python3", [script, ...args], {
      env: {
        ...process.env,
        OMP_WAIT_POLICY: "PASSIVE",
        OMP_NUM_THREADS: String(threads),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const records: Record<string, number>[] = [];
    const tail: string[] = [];
    let buffer = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith("{")) {
          const record = JSON.parse(line);
          if (record.type === "epoch") {
            records.push(record);
            log(
              `  ${label} epoch ${record.epoch}: held-out ${record.held_out_loss?.toFixed(4) ?? "–"}, ${record.tokens} tokens, ${record.seconds} s`,
            );
          }
        } else {
          tail.push(line);
          if (tail.length > 20) tail.shift();
        }
      }
    });
    child.stdout.resume();
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code === 0) resolve(records);
      else reject(new Error(`${label}: trainer exited ${code}\n${tail.join("\n")}`));
    });
  });
}

async function createRun(arm: ArmName, seed: number, engine: Record<string, unknown>) {
  const view = await api<{ id: string }>("POST", "/v1/runs", {
    name: `quality ${arm} seed ${seed}`,
    trainer: "remote",
    dataset: { size: sizes.train, lengths },
    engine: { epochs: sizes.epochs, delta: DELTA, seed, ...engine },
    batchSize: B,
  });
  return view.id;
}

async function collect(
  arm: ArmName,
  seed: number,
  runId: string,
  records: Record<string, number>[],
): Promise<ArmResult> {
  const savings = await api<SavingsView>("GET", `/v1/runs/${runId}/savings`);
  const heldByEpoch = new Map(savings.epochs.map((e) => [e.epoch, e.heldOutLoss]));
  const epochs = records.map((r) => ({
    epoch: r.epoch,
    heldOut: heldByEpoch.get(r.epoch) ?? r.held_out_loss ?? null,
    tokens: r.tokens,
    seconds: r.seconds,
  }));
  const last = epochs.at(-1);
  if (last?.heldOut == null) throw new Error(`${arm} seed ${seed}: no final held-out loss`);
  return {
    arm,
    seed,
    runId,
    epochs,
    tokens: epochs.reduce((a, e) => a + e.tokens, 0),
    steps: records.reduce((a, r) => a + r.steps, 0),
    seconds: epochs.reduce((a, e) => a + e.seconds, 0),
    final: last.heldOut,
    ledgerTokens: savings.total.tokens?.trained ?? null,
  };
}

const common = (runId: string, seed: number) => [
  "--checkpoint",
  checkpoint,
  "--train",
  trainJsonl,
  "--heldout",
  heldJsonl,
  "--server",
  server.url,
  "--run",
  runId,
  "--seed",
  String(seed),
  "--threads",
  String(threads),
  "--batch-size",
  String(B),
  "--lr",
  "0.01",
  "--weight-decay",
  "0.01",
  "--warmup",
  "0.05",
];

async function trainArm(
  arm: ArmName,
  seed: number,
  reference?: Promise<ArmResult>,
): Promise<ArmResult> {
  const label = `${arm}/s${seed}`;
  if (arm === "full" || arm === "infobatch" || arm === "best") {
    const engine =
      arm === "full" ? { pruneRatio: 0 } : arm === "infobatch" ? { pruneRatio: 0.5 } : BEST_ENGINE;
    const runId = await createRun(arm, seed, engine);
    log(`${label}: run ${runId} ${JSON.stringify(engine)}`);
    const records = await trainer(trainLora, common(runId, seed), label);
    return collect(arm, seed, runId, records);
  }
  const ib = await reference!;
  const runId = await createRun(arm, seed, { pruneRatio: 0 });
  const extra = arm.startsWith("random")
    ? ["--subsample-tokens", ib.epochs.map((e) => e.tokens).join(",")]
    : ["--token-budget", String(ib.tokens)];
  log(`${label}: run ${runId} (pruneRatio 0, driver ${extra.join(" ")})`);
  const records = await trainer(driver, [...common(runId, seed), ...extra], label);
  return collect(arm, seed, runId, records);
}

/** At most `parallel` trainers at once. */
function pool(limit: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(job: () => Promise<T>, first = false): Promise<T> => {
    // `first`: jump the queue (arms waiting on InfoBatch finish their seed before later seeds).
    if (active >= limit)
      await new Promise<void>((r) => (first ? waiting.unshift(r) : waiting.push(r)));
    active++;
    try {
      return await job();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
const slot = pool(parallel);

// ---------------------------------------------------------------------------------------------
// The in-process TensorFlow.js pair (a local run with compare: "full"), on its own server.

interface LocalResult {
  runId: string;
  baselineId: string;
  settings: string;
  infobatch: { final: number | null; tokens: number | null; seconds: number | null };
  full: { final: number | null; tokens: number | null; seconds: number | null };
  heldOutLossDelta: number | null;
  tokensSaved: number | null;
}

async function localPair(): Promise<LocalResult> {
  const local = await startServer({
    database: join(work, "local.db"),
    port: 0,
    dataRoots: [DATA_DIR],
    cacheDir: join(work, "cache"),
  });
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${local.url}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };
  const trainLimit = 48;
  const heldOutLimit = 16;
  const epochs = 4;
  const batch = 8;
  try {
    const view = await call<{ id: string; baseline: string | null }>("POST", "/v1/runs", {
      name: "quality tfjs pair",
      trainer: "local",
      model: { source: "llama2c", checkpoint, tokenizer: tokenizerPath },
      data: {
        source: "files",
        train: trainFile,
        heldOut: testFile,
        format: "gsm8k",
        template: "qa",
        trainLimit,
        heldOutLimit,
      },
      maxLength: MAX_LENGTH,
      truncation: "right",
      training: {
        batchSize: batch,
        lr: 0.01,
        warmupFraction: 0.05,
        weightDecay: 0.01,
        lora: { rank: 8, alpha: 16, targets: ["q", "k", "v", "o"] },
      },
      engine: { epochs, pruneRatio: 0.5, delta: DELTA, seed: 0 },
      compare: "full",
    });
    log(`tfjs pair: run ${view.id}`);
    type View = { id: string; status: string; baseline: string | null; epoch: number };
    const done = (s: string) => s === "completed" || s === "failed" || s === "cancelled";
    let run = await call<View>("GET", `/v1/runs/${view.id}`);
    let base: View | null = null;
    for (;;) {
      run = await call<View>("GET", `/v1/runs/${view.id}`);
      base = run.baseline === null ? null : await call<View>("GET", `/v1/runs/${run.baseline}`);
      if (done(run.status) && base !== null && done(base.status)) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    if (run.status !== "completed" || base?.status !== "completed") {
      throw new Error(`tfjs pair: ${run.status} / ${base?.status}`);
    }
    type Sav = {
      total: {
        tokens: { trained: number; full: number; savedFraction: number } | null;
        seconds: { trained: number; full: number } | null;
      };
      heldOutLoss: { final: number | null };
      baseline: { heldOutLoss: number | null; heldOutLossDelta: number | null } | null;
    };
    const ours = await call<Sav>("GET", `/v1/runs/${view.id}/savings`);
    const full = await call<Sav>("GET", `/v1/runs/${base.id}/savings`);
    return {
      runId: view.id,
      baselineId: base.id,
      settings: `first ${trainLimit} GSM8K train records, ${heldOutLimit} held out, ${epochs} epochs, batch ${batch}, max length ${MAX_LENGTH}, r 0.5, δ ${DELTA}, seed 0`,
      infobatch: {
        final: ours.heldOutLoss.final,
        tokens: ours.total.tokens?.trained ?? null,
        seconds: ours.total.seconds?.trained ?? null,
      },
      full: {
        final: full.heldOutLoss.final,
        tokens: full.total.tokens?.trained ?? null,
        seconds: full.total.seconds?.trained ?? null,
      },
      heldOutLossDelta: ours.baseline?.heldOutLossDelta ?? null,
      tokensSaved: ours.total.tokens?.savedFraction ?? null,
    };
  } finally {
    await local.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Run everything.

const results: ArmResult[] = [];
const failures: string[] = [];
const fail = (arm: ArmName, seed: number) => (error: Error) => {
  if (failures.some((f) => f.startsWith(`${arm}/s${seed}:`))) return;
  failures.push(`${arm}/s${seed}: ${error.message.split("\n").slice(0, 1).join("")}`);
  log(`FAILED ${arm}/s${seed}: ${error.message}`);
};
let localResult: LocalResult | null = null;
let localError: string | null = null;
try {
  const jobs: Promise<unknown>[] = [];
  for (const seed of sizes.seeds) {
    const references = new Map<ArmName, Promise<ArmResult>>();
    for (const arm of ["infobatch", "best"] as const) {
      if (sizes.arms.includes(arm))
        references.set(
          arm,
          slot(() => trainArm(arm, seed)),
        );
    }
    for (const arm of sizes.arms) {
      const matched = MATCHED[arm];
      const reference = matched === undefined ? undefined : references.get(matched);
      if (matched !== undefined && reference === undefined) {
        throw new Error(`arm ${arm} needs the ${matched} arm`);
      }
      const job =
        references.get(arm) ??
        (reference !== undefined
          ? reference.then(() => slot(() => trainArm(arm, seed, reference), true))
          : slot(() => trainArm(arm, seed)));
      jobs.push(
        job.then(
          (r) => {
            results.push(r);
            if (opts.record) emit(false);
          },
          fail(arm, seed),
        ),
      );
    }
  }
  if (withLocal) {
    jobs.push(
      slot(() => localPair()).then(
        (r) => {
          localResult = r;
        },
        (error: Error) => {
          localError = error.message;
          log(`tfjs pair failed: ${error.message}`);
        },
      ),
    );
  }
  await Promise.all(jobs);
} finally {
  await server.close();
}

// ---------------------------------------------------------------------------------------------
// Figures.

function emit(final: boolean): void {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = (xs: number[]) =>
    xs.length < 2
      ? 0
      : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
  const armsRun = ALL_ARMS.filter((a) => results.some((r) => r.arm === a));
  const bySeed = (arm: ArmName) =>
    results.filter((r) => r.arm === arm).sort((a, b) => a.seed - b.seed);

  interface ArmSummary {
    arm: ArmName;
    seeds: number;
    final_mean: number;
    final_sd: number;
    tokens: number;
    steps: number;
    seconds: number;
    tokens_saved: number | null;
    seconds_saved: number | null;
    loss_vs_full: number | null;
    curve: (number | null)[];
    cum_tokens: number[];
  }
  const fullRuns = bySeed("full");
  const fullTokens = fullRuns.length > 0 ? mean(fullRuns.map((r) => r.tokens)) : null;
  const fullSeconds = fullRuns.length > 0 ? mean(fullRuns.map((r) => r.seconds)) : null;
  const fullFinal = fullRuns.length > 0 ? mean(fullRuns.map((r) => r.final)) : null;
  const summaries: ArmSummary[] = armsRun.map((arm) => {
    const runs = bySeed(arm);
    const finals = runs.map((r) => r.final);
    const tokens = mean(runs.map((r) => r.tokens));
    const seconds = mean(runs.map((r) => r.seconds));
    const nEpochs = Math.max(...runs.map((r) => r.epochs.length));
    const curve: (number | null)[] = [];
    const cumTokens: number[] = [];
    let cum = 0;
    for (let e = 0; e < nEpochs; e++) {
      const at = runs.map((r) => r.epochs[e]).filter((x) => x !== undefined);
      const held = at.map((x) => x.heldOut).filter((x): x is number => x !== null);
      curve.push(held.length === runs.length ? mean(held) : null);
      cum += mean(at.map((x) => x.tokens));
      cumTokens.push(cum);
    }
    return {
      arm,
      seeds: runs.length,
      final_mean: mean(finals),
      final_sd: sd(finals),
      tokens,
      steps: mean(runs.map((r) => r.steps)),
      seconds,
      tokens_saved: fullTokens === null ? null : 1 - tokens / fullTokens,
      seconds_saved: fullSeconds === null ? null : 1 - seconds / fullSeconds,
      loss_vs_full: fullFinal === null ? null : mean(finals) / fullFinal - 1,
      curve,
      cum_tokens: cumTokens,
    };
  });
  const get = (arm: ArmName) => summaries.find((s) => s.arm === arm);
  const best = get("best");
  const target1 =
    best && best.loss_vs_full !== null && best.tokens_saved !== null
      ? {
          met: best.loss_vs_full <= 0.005 && best.tokens_saved >= 0.35,
          loss_vs_full: best.loss_vs_full,
          tokens_saved: best.tokens_saved,
        }
      : null;
  // Target 2 compares best with the arms matched to its own budget when they ran, else InfoBatch's.
  const rivalNames =
    get("random-best") || get("shorter-best")
      ? (["random-best", "shorter-best"] as const)
      : (["random", "shorter"] as const);
  const rivals = rivalNames.map(get).filter((s) => s !== undefined);
  const target2 =
    best && rivals.length > 0
      ? {
          met: rivals.every((r) => best.final_mean < r.final_mean),
          against: rivals.map((r) => ({
            arm: r.arm,
            final: r.final_mean,
            tokens_saved: r.tokens_saved,
          })),
          note:
            rivalNames[0] === "random"
              ? "random and shorter match InfoBatch's token budget, not best's"
              : "matched to best's tokens (same seed)",
        }
      : null;
  const minutes = (Date.now() - started) / 60000;
  const command = `node --import tsx bench/quality.ts ${process.argv.slice(2).join(" ")}`.trim();
  const summary = {
    mode: quick ? "quick" : "full",
    sizes: { ...sizes, batch: B, maxLength: MAX_LENGTH, delta: DELTA },
    best_engine: BEST_ENGINE,
    arms: Object.fromEntries(
      summaries.map((s) => [
        s.arm,
        {
          final: Number(s.final_mean.toFixed(4)),
          sd: Number(s.final_sd.toFixed(4)),
          tokens: Math.round(s.tokens),
          tokens_saved: s.tokens_saved === null ? null : Number(s.tokens_saved.toFixed(4)),
          seconds_saved: s.seconds_saved === null ? null : Number(s.seconds_saved.toFixed(4)),
          loss_vs_full: s.loss_vs_full === null ? null : Number(s.loss_vs_full.toFixed(4)),
        },
      ]),
    ),
    target1,
    target2,
    tfjs: localResult ?? (localError === null ? null : { error: localError }),
    minutes: Number(minutes.toFixed(1)),
    failures,
  };

  const pct = (x: number | null) => (x === null ? "—" : `${(x * 100).toFixed(1)}%`);
  const signed = (x: number | null) =>
    x === null ? "—" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(2)}%`;
  if (!final) {
    // partial records only
  } else if (opts.json) {
    for (const r of results) {
      console.log(
        JSON.stringify({
          arm: r.arm,
          seed: r.seed,
          run: r.runId,
          final: r.final,
          tokens: r.tokens,
          ledger_tokens: r.ledgerTokens,
          steps: r.steps,
          seconds: r.seconds,
          curve: r.epochs.map((e) => e.heldOut),
        }),
      );
    }
    console.log(JSON.stringify(summary));
  } else {
    console.table(
      summaries.map((s) => ({
        arm: s.arm,
        seeds: s.seeds,
        "held-out": `${s.final_mean.toFixed(4)} ± ${s.final_sd.toFixed(4)}`,
        "vs full": signed(s.loss_vs_full),
        tokens: Math.round(s.tokens),
        "tokens saved": pct(s.tokens_saved),
        "wall saved": pct(s.seconds_saved),
      })),
    );
    log(`target 1: ${JSON.stringify(target1)}\ntarget 2: ${JSON.stringify(target2)}`);
    if (localResult !== null) log(`tfjs pair: ${JSON.stringify(localResult)}`);
  }

  // ---------------------------------------------------------------------------------------------
  // Record: markdown + SVG (held-out loss vs cumulative training tokens, one line per arm).

  function svg(): string {
    const W = 640;
    const H = 400;
    const m = { l: 60, r: 130, t: 30, b: 45 };
    const pts = summaries.map((s) =>
      s.curve
        .map((y, i) => [s.cum_tokens[i], y] as const)
        .filter((p): p is readonly [number, number] => p[1] !== null),
    );
    const xs = pts.flat().map((p) => p[0]);
    const ys = pts.flat().map((p) => p[1]);
    const x0 = 0;
    const x1 = Math.max(...xs) * 1.02;
    const y0 = Math.min(...ys) - 0.01;
    const y1 = Math.max(...ys) + 0.01;
    const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
    const Y = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
    const colors = ["#1f77b4", "#d62728", "#7f7f7f", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"];
    const out: string[] = [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
      `<rect width="${W}" height="${H}" fill="white"/>`,
      `<text x="${W / 2 - 60}" y="18" font-size="13">Held-out loss vs training tokens (mean of ${sizes.seeds.length} seed${sizes.seeds.length > 1 ? "s" : ""})</text>`,
      `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
      `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
      `<text x="${(W - m.r + m.l) / 2 - 60}" y="${H - 8}">training tokens (millions)</text>`,
      `<text x="14" y="${(H - m.b + m.t) / 2 + 40}" transform="rotate(-90 14 ${(H - m.b + m.t) / 2 + 40})">held-out loss</text>`,
    ];
    for (let i = 0; i <= 5; i++) {
      const xv = x0 + ((x1 - x0) * i) / 5;
      const yv = y0 + ((y1 - y0) * i) / 5;
      out.push(
        `<line x1="${X(xv)}" y1="${H - m.b}" x2="${X(xv)}" y2="${H - m.b + 4}" stroke="black"/>`,
        `<text x="${X(xv) - 12}" y="${H - m.b + 16}">${(xv / 1e6).toFixed(2)}</text>`,
        `<line x1="${m.l - 4}" y1="${Y(yv)}" x2="${W - m.r}" y2="${Y(yv)}" stroke="#eee"/>`,
        `<text x="${m.l - 44}" y="${Y(yv) + 4}">${yv.toFixed(3)}</text>`,
      );
    }
    summaries.forEach((s, i) => {
      const color = colors[ALL_ARMS.indexOf(s.arm)] ?? colors[i % colors.length];
      const p = pts[i];
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${p.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" ")}"/>`,
        ...p.map(
          ([x, y]) =>
            `<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="3" fill="${color}"/>`,
        ),
        `<line x1="${W - m.r + 10}" y1="${m.t + 10 + i * 18}" x2="${W - m.r + 30}" y2="${m.t + 10 + i * 18}" stroke="${color}" stroke-width="2"/>`,
        `<text x="${W - m.r + 35}" y="${m.t + 14 + i * 18}">${s.arm} ${s.final_mean.toFixed(4)}</text>`,
      );
    });
    out.push("</svg>");
    return `${out.join("\n")}\n`;
  }

  if (opts.record) {
    const mdPath =
      opts.out ?? (quick ? "bench/results/quality-quick.md" : "bench/results/quality.md");
    const svgPath = join(dirname(mdPath), `${basename(mdPath, ".md")}.svg`);
    mkdirSync(dirname(mdPath), { recursive: true });
    if (summaries.length > 0) writeFileSync(svgPath, svg());
    const armText: Record<ArmName, string> = {
      full: "all examples every epoch, weight 1 (engine pruneRatio 0)",
      infobatch: `engine pruneRatio 0.5, δ ${DELTA} (InfoBatch)`,
      random:
        "a pruneRatio-0 run whose plan bench/quality/driver.py subsamples each epoch at random (Python random.Random(seed·1000003 + epoch)) to InfoBatch's token count that epoch (same seed), weight 1, then closes the epoch; tokens counted from what the trainer trained (reported in its evaluations)",
      "random-best": "as random, matched to the best arm's per-epoch tokens (same seed)",
      "shorter-best": "as shorter, matched to the best arm's total tokens (same seed)",
      shorter:
        "full data, weight 1, stopped after S steps, S = round(InfoBatch's total tokens / mean tokens per full-data step); LR warmup + cosine indexed by global step so it ends at step S (bench/quality/driver.py)",
      best: `engine ${JSON.stringify(BEST_ENGINE)}, δ ${DELTA}; chosen a priori, not tuned (no held-out or test data used to pick it)`,
    };
    const lines = [
      "# Quality: held-out loss vs training tokens (stories260K + LoRA, GSM8K)",
      "",
      `Command: \`${command}\` (Node ${process.version}, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, 2-core machine shared with other jobs; ${minutes.toFixed(1)} min).`,
      "",
      ...(final
        ? []
        : [
            `**Partial**: ${results.length} of ${sizes.seeds.length * sizes.arms.length} arm runs finished when this was written (the benchmark was still running or was stopped).`,
            "",
          ]),
      "Protocol: ../shared/BENCH-PROTOCOL.md, trained by adapters/hf/examples/train_lora.py (PyTorch, /usr/bin/python3, OpenBLAS) as remote runs of our control plane started in process; results read back from the server (`/savings`: per-epoch held-out loss, ledger) and from the trainer's evaluations (tokens trained, training wall seconds, excluding evaluation).",
      `Data: GSM8K through our pipeline (qa template "Question: {q}\\nAnswer: ", tok512, right truncation to ${MAX_LENGTH}, examples with no response token dropped: kept ${dataInfo.trainKept} train (${dataInfo.trainDropped} dropped) and ${dataInfo.testKept} test (${dataInfo.testDropped} dropped)). Train: the first ${sizes.train} of the kept train examples in **our own** seeded permutation (core IndexShuffle, key 0; not the anchor's Python permutation), ${epochTokens.toLocaleString("en")} tokens per epoch, ${(dataInfo.truncatedShare * 100).toFixed(0)}% at ${MAX_LENGTH} tokens. Held out: ${validation ? `**validation slice** (kept train examples at permutation positions ${sizes.train}…${sizes.train + sizes.heldOut - 1}; the test split is not used)` : `the first ${sizes.heldOut} kept test examples`}.`,
      `Training: LoRA r 8, alpha 16 on q, k, v, o; batch ${B}; AdamW lr 1e-2, wd 0.01; 5% warmup + cosine ending at the arm's true last step; E = ${sizes.epochs}; seeds ${sizes.seeds.join(", ")}; ${parallel} trainer(s) at once, ${threads} torch thread(s) each (wall times are noisy: other jobs share the 2 cores).`,
      "",
      "## Arms",
      "",
      ...armsRun.map((a) => `- **${a}**: ${armText[a]}`),
      "",
      "## Results",
      "",
      "| arm | held-out loss (mean ± sd) | vs full | training tokens | tokens saved | steps | wall s (training) | wall saved |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      ...summaries.map(
        (s) =>
          `| ${s.arm} | ${s.final_mean.toFixed(4)} ± ${s.final_sd.toFixed(4)} | ${signed(s.loss_vs_full)} | ${Math.round(s.tokens).toLocaleString("en")} | ${pct(s.tokens_saved)} | ${Math.round(s.steps)} | ${s.seconds.toFixed(0)} | ${pct(s.seconds_saved)} |`,
      ),
      "",
      "Per-epoch held-out loss (mean of seeds; the shorter arm's last point is after its last step, mid-epoch):",
      "",
      `| arm | ${Array.from({ length: Math.max(...summaries.map((s) => s.curve.length), 0) }, (_, e) => `e${e}`).join(" | ")} |`,
      `|---|${summaries[0]?.curve.map(() => "---:").join("|") ?? ""}|`,
      ...summaries.map(
        (s) =>
          `| ${s.arm} | ${s.curve.map((y) => (y === null ? "—" : y.toFixed(4))).join(" | ")} |`,
      ),
      "",
      `![held-out loss vs training tokens](${basename(svgPath)})`,
      "",
      "Per seed:",
      "",
      "| arm | seed | run | held-out | tokens | ledger tokens | steps | wall s |",
      "|---|---:|---|---:|---:|---:|---:|---:|",
      ...results
        .sort((a, b) => ALL_ARMS.indexOf(a.arm) - ALL_ARMS.indexOf(b.arm) || a.seed - b.seed)
        .map(
          (r) =>
            `| ${r.arm} | ${r.seed} | ${r.runId} | ${r.final.toFixed(4)} | ${r.tokens.toLocaleString("en")} | ${r.ledgerTokens?.toLocaleString("en") ?? "—"} | ${r.steps} | ${r.seconds.toFixed(0)} |`,
        ),
      "",
      "(ledger tokens: the engine's plan; for random and shorter the plan is full data and the trainer trained less, so their tokens column is what was trained.)",
      "",
      ...(failures.length > 0 ? [`**Failed arms**: ${failures.join("; ")}`, ""] : []),
      "## Targets",
      "",
      target1 === null
        ? "1. best within 0.5% of full with ≥ 35% fewer tokens: not measured (needs arms full and best)."
        : `1. best within 0.5% of full's held-out loss with ≥ 35% fewer tokens: **${target1.met ? "met" : "not met"}** (best ${signed(target1.loss_vs_full)} vs full, ${pct(target1.tokens_saved)} tokens saved).`,
      target2 === null
        ? "2. best beats random and the shorter full schedule at the same budget: not measured (needs arms random / shorter)."
        : `2. best beats random and the shorter full schedule: **${target2.met ? "met" : "not met"}** (best ${best!.final_mean.toFixed(4)} with ${pct(best!.tokens_saved)} saved; ${target2.against.map((a) => `${a.arm} ${a.final.toFixed(4)} with ${pct(a.tokens_saved)} saved`).join("; ")}). ${target2.note}.`,
      "",
    ];
    if (localResult !== null) {
      const l = localResult as LocalResult;
      lines.push(
        '## The in-process TensorFlow.js trainer (a local run with compare: "full")',
        "",
        `Settings: ${l.settings}; LoRA r 8 alpha 16 on q, k, v, o, AdamW lr 1e-2, wd 0.01 (runs ${l.runId} and its full-data baseline ${l.baselineId}).`,
        "",
        "| arm | held-out loss | tokens | wall s |",
        "|---|---:|---:|---:|",
        `| full | ${l.full.final?.toFixed(4) ?? "—"} | ${l.full.tokens?.toLocaleString("en") ?? "—"} | ${l.full.seconds?.toFixed(0) ?? "—"} |`,
        `| InfoBatch | ${l.infobatch.final?.toFixed(4) ?? "—"} | ${l.infobatch.tokens?.toLocaleString("en") ?? "—"} | ${l.infobatch.seconds?.toFixed(0) ?? "—"} |`,
        "",
        `Server's comparison: tokens saved ${pct(l.tokensSaved)}, held-out loss ${signed(l.heldOutLossDelta)} vs full.`,
        "",
      );
    } else if (localError !== null) {
      lines.push("## The in-process TensorFlow.js trainer", "", `Failed: ${localError}`, "");
    }
    writeFileSync(mdPath, lines.join("\n"));
    if (final) log(`recorded ${mdPath} and ${svgPath}`);
  }
}

emit(true);
rmSync(work, { recursive: true, force: true });
if (failures.length > 0) {
  log(`failed arms: ${failures.join("; ")}`);
  process.exitCode = 1;
}
