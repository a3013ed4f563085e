/**
 * One LoRA training step on stories260K (batch 16 × 256 tokens = 16 × 255 predicted positions,
 * rank 8 on q, k, v, o): our TensorFlow.js trainer against the same step in PyTorch CPU, run in
 * the same command (`/usr/bin/python3` with Debian's python3-torch and OpenBLAS, with
 * OMP_WAIT_POLICY=PASSIVE so its thread pools do not fight).
 *
 *   npm run bench:train                 # table
 *   npm run bench:train -- --json       # JSON lines; the last one is the summary
 *   npm run bench:train -- --record     # also rewrite bench/results/train.md
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { initBackend } from "../adapters/tfjs/backend.js";
import { loadLlama2cCheckpoint } from "../adapters/tfjs/checkpoints/node.js";
import { LoraTrainer } from "../adapters/tfjs/train/trainer.js";
import { Xoshiro128 } from "../src/core/index.js";
import type { TokenBatch } from "../src/data/batching.js";
import { dataPath } from "../test/data-dir.js";

const args = new Set(process.argv.slice(2));
const B = 16;
const T = 256;
const STEPS = 7;
const checkpointPath = dataPath("models", "stories260K", "stories260K.bin");

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function ours(workers: number) {
  const backendName = (process.env.INFOBATCH_BACKEND as "wasm" | "cpu" | undefined) ?? "wasm";
  const { backend } = await initBackend(backendName);
  const trainer = await LoraTrainer.create(loadLlama2cCheckpoint(checkpointPath), {
    lora: { rank: 8, alpha: 16, targets: ["q", "k", "v", "o"] },
    lr: 1e-2,
    workers,
    backend: backendName,
  });
  const rng = new Xoshiro128(0);
  const cells = B * T;
  const batch: TokenBatch = {
    ids: Uint32Array.from({ length: B }, (_, i) => i),
    weights: new Float32Array(B).fill(1),
    batchSize: B,
    seqLen: T,
    inputIds: Int32Array.from({ length: cells }, () => 3 + rng.nextBelow(509)),
    attentionMask: new Uint8Array(cells).fill(1),
    targetMask: Uint8Array.from({ length: cells }, (_, i) => (i % T >= 32 ? 1 : 0)),
    tokens: cells,
    targetTokens: B * (T - 32),
  };
  const times: number[] = [];
  let peak = 0;
  for (let step = 0; step < STEPS + 2; step++) {
    const t0 = performance.now();
    await trainer.trainStepParallel(batch, 1e-2);
    times.push(performance.now() - t0);
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  await trainer.dispose();
  const stepMs = median(times.slice(2));
  return {
    backend,
    workers,
    step_ms: stepMs,
    tokens_per_s: (B * (T - 1)) / (stepMs / 1000),
    peak_rss_mb: peak / 2 ** 20,
  };
}

function torch(): { tokens_per_s: number; step_ms: number; torch: string; threads: number } | null {
  try {
    const out = execFileSync(
      "/usr/bin/python3",
      [
        new URL("./torch/lora_step.py", import.meta.url).pathname,
        "--checkpoint",
        checkpointPath,
        "--batch",
        String(B),
        "--tokens",
        String(T),
      ],
      {
        // Both cores (OpenMP defaults to one thread here) and passive waiting: the tuned setting.
        env: { ...process.env, OMP_WAIT_POLICY: "PASSIVE", OMP_NUM_THREADS: "2" },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    return JSON.parse(out.trim().split("\n").at(-1)!);
  } catch (error) {
    process.stderr.write(
      `PyTorch baseline unavailable (apt-get install python3-torch libopenblas0): ${(error as Error).message.split("\n")[0]}\n`,
    );
    return null;
  }
}

// One thread, then the main thread plus one worker thread (both cores): the summary uses the best.
const runs = [await ours(0), await ours(1)];
const mine = runs.reduce((a, b) => (b.tokens_per_s > a.tokens_per_s ? b : a));
const base = torch();
const summary = {
  tokens_per_s: Math.round(mine.tokens_per_s),
  torch_tokens_per_s: base === null ? null : Math.round(base.tokens_per_s),
  ratio: base === null ? null : Number((mine.tokens_per_s / base.tokens_per_s).toFixed(3)),
  peak_rss_mb: Math.round(mine.peak_rss_mb),
};
if (args.has("--json")) {
  for (const r of runs) {
    const line = {
      impl: `tfjs-${r.backend}`,
      threads: r.workers + 1,
      step_ms: Number(r.step_ms.toFixed(1)),
      tokens_per_s: Math.round(r.tokens_per_s),
    };
    console.log(JSON.stringify(line));
  }
  if (base !== null)
    console.log(
      JSON.stringify({
        impl: `torch-${base.torch}`,
        threads: base.threads,
        step_ms: Number(base.step_ms.toFixed(1)),
      }),
    );
  console.log(JSON.stringify(summary));
} else {
  console.table([
    {
      ...summary,
      step_ms: Number(mine.step_ms.toFixed(1)),
      torch_step_ms: base?.step_ms.toFixed(1),
    },
  ]);
}
if (args.has("--record")) {
  const lines = [
    "# LoRA training step",
    "",
    `Command: \`npm run bench:train -- --record\` (Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, 2-core machine).`,
    `stories260K, batch ${B} × ${T} tokens (${B} × ${T - 1} predicted positions), LoRA rank 8 on q, k, v, o, AdamW; median of ${STEPS} steps after 2 warm-up steps.`,
    "PyTorch: bench/torch/lora_step.py, same shapes and dtype, /usr/bin/python3 with Debian python3-torch + libopenblas0, OMP_WAIT_POLICY=PASSIVE, OMP_NUM_THREADS=2.",
    "",
    "| implementation | step | tokens / s | peak RSS |",
    "|---|---:|---:|---:|",
    ...runs.map(
      (r) =>
        `| TensorFlow.js ${r.backend} (ours), ${r.workers + 1} thread${r.workers > 0 ? "s (data parallel)" : ""} | ${r.step_ms.toFixed(0)} ms | ${Math.round(r.tokens_per_s).toLocaleString("en")} | ${Math.round(r.peak_rss_mb)} MB |`,
    ),
    base === null
      ? "| PyTorch | not available | | |"
      : `| PyTorch ${base.torch} CPU (${base.threads} threads) | ${base.step_ms.toFixed(0)} ms | ${summary.torch_tokens_per_s!.toLocaleString("en")} | |`,
    "",
    `Ratio ours / PyTorch: ${summary.ratio ?? "n/a"}. Target (issue 4): ≥ 1.`,
    "",
  ];
  writeFileSync(new URL("./results/train.md", import.meta.url), lines.join("\n"));
}
