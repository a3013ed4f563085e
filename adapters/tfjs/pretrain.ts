/**
 * The built-in base model: a small Llama trained from scratch, briefly, on the built-in generic
 * text (src/data/synthetic), so that a fresh clone has a pretrained model to instruction-tune
 * without downloading anything. Full-parameter training: `forward(…, { trainable: true })` over
 * weights held as tf.Variables, `tf.variableGrads`, AdamW, warmup + cosine; each batch in two
 * halves, the second on a worker thread when `workers` is 1 (pretrain/). Deterministic from the
 * seed on a given backend; `loadOrPretrainBaseModel` keeps the result in a cache folder
 * (llama2.c `.bin`, named by a hash of the options).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import { pretrainingLines, pretrainingText } from "../../src/data/synthetic/text.js";
import { ASCII_VOCAB_SIZE, asciiTokenizer } from "../../src/data/synthetic/tokenizer.js";
import type { BackendName } from "./backend.js";
import { parseLlama2c, serializeLlama2c } from "./checkpoints/llama2c.js";
import { ModelError } from "./errors.js";
import { type LlamaConfig, type LlamaConfigInput, llamaConfig } from "./model/config.js";
import { disposeLlama } from "./model/llama.js";
import type { LlamaCheckpoint } from "./model/params.js";
import {
  checkpointOf,
  initialCheckpoint,
  readWeights,
  type ShardResult,
  shardGradients,
  trainableLlama,
} from "./pretrain/shard.js";
import type { PretrainShardRequest, PretrainWorkerInit } from "./pretrain/worker.js";
import { AdamW } from "./train/adamw.js";
import { learningRateAt } from "./train/schedule.js";

/** The quickstart's base model: 3 layers, 166K parameters, over the 99-id character tokenizer. */
export const BASE_MODEL_CONFIG: LlamaConfigInput = {
  dim: 64, // residual width
  hiddenDim: 192, // SwiGLU inner width (llama2.c's rule: 2/3 · 4 · dim, rounded up to 32)
  nLayers: 3,
  nHeads: 4, // head size 16
  nKvHeads: 4,
  vocabSize: ASCII_VOCAB_SIZE, // the built-in character tokenizer: 99 ids
  seqLen: 48, // the longest built-in task example is 46 tokens (BOS … EOS)
  tiedEmbeddings: true,
};

/**
 * The quickstart's pretraining, sized with bench/quickstart-sizing.ts (wasm, 2 shared cores while
 * other test suites ran, load 2–3): 41–53 s for 500 steps × 8 rows × 48 tokens (192K tokens,
 * ~4,500 tokens/s with the worker); next-token loss 4.6 → ~1.2 nats per character. The same run
 * with 400 / 600 steps tuned to held-out 2.69 / 2.57 (full data) against 2.59 with 500.
 */
export const PRETRAIN_DEFAULTS = {
  seed: 0,
  config: BASE_MODEL_CONFIG,
  steps: 500,
  batchSize: 8,
  lr: 3e-3,
  warmupFraction: 0.05,
  weightDecay: 0.01,
  clipNorm: 1,
  workers: 1,
} satisfies PretrainOptions;

/** Progress of `pretrainBaseModel`, after each step. */
export interface PretrainProgress {
  step: number;
  steps: number;
  /** Mean next-token loss of the step's batch. */
  loss: number;
  lr: number;
  /** Tokens trained so far and per second. */
  tokens: number;
  tokensPerSecond: number;
}

export interface PretrainOptions {
  /** Weights and text derive from it. */
  seed: number;
  /** Architecture. Default `BASE_MODEL_CONFIG`; vocabSize must cover the tokenizer's 99 ids. */
  config?: LlamaConfigInput;
  /** Optimizer steps. */
  steps: number;
  /** Rows per step, each `config.seqLen` tokens (BOS, then whole lines of text, cut at the end). */
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  /** Fraction of steps in linear warmup. Default 0.05. */
  warmupFraction?: number;
  /** AdamW's decoupled weight decay. Default 0.01. */
  weightDecay?: number;
  /** Gradient clipping by global norm. Default 1. */
  clipNorm?: number;
  /**
   * Worker threads: 1 computes half of every batch on a replica (data parallel, the second core).
   * The weights are the same bytes with 0 or 1: each half is always computed on its own. Default 0.
   */
  workers?: 0 | 1;
  /** Called after every step (not part of the cache key). */
  onProgress?: (progress: PretrainProgress) => void;
}

/**
 * Rows of `seqLen` token ids: BOS, then lines of the built-in text joined by "\n", the last one
 * cut where the row ends (no padding). Every row starts at a fresh line, as a prompt does.
 */
function* textRows(seed: number, seqLen: number): Generator<Int32Array, never, undefined> {
  const tokenizer = asciiTokenizer();
  const lines = pretrainingLines(seed);
  for (;;) {
    const row = new Int32Array(seqLen);
    row[0] = tokenizer.bosId!;
    let at = 1;
    while (at < seqLen) {
      const ids = tokenizer.encode(`${lines.next().value}\n`);
      const n = Math.min(ids.length, seqLen - at);
      row.set(ids.slice(0, n), at);
      at += n;
    }
    yield row;
  }
}

function checkOptions(options: PretrainOptions): LlamaConfig {
  const config = llamaConfig(options.config ?? BASE_MODEL_CONFIG);
  if (config.vocabSize < ASCII_VOCAB_SIZE) {
    throw new ModelError(
      "invalid_config",
      `vocabSize ${config.vocabSize} is smaller than the built-in tokenizer's ${ASCII_VOCAB_SIZE} ids`,
      ["config", "vocabSize"],
    );
  }
  for (const field of ["steps", "batchSize"] as const) {
    if (!Number.isInteger(options[field]) || options[field] < 1) {
      throw new ModelError(
        "invalid_config",
        `${field} must be a positive integer, received ${options[field]}`,
        [field],
      );
    }
  }
  if (!(options.lr > 0)) {
    throw new ModelError("invalid_config", `lr must be > 0, received ${options.lr}`, ["lr"]);
  }
  return config;
}

/**
 * A Llama of `config` pretrained from scratch for `steps` steps on the built-in text (next-token
 * loss on every position). The same options give the same weights on the same backend.
 *
 * @example
 * await initBackend("wasm");
 * const base = await pretrainBaseModel({ ...PRETRAIN_DEFAULTS, onProgress: (p) => log(p.loss) });
 * const trainer = await LoraTrainer.create(base, { lora: …, lr: … });
 */
export async function pretrainBaseModel(options: PretrainOptions): Promise<LlamaCheckpoint> {
  const config = checkOptions(options);
  const { steps, batchSize: B } = options;
  const T = config.seqLen;
  const replica = trainableLlama(initialCheckpoint(config, options.seed));
  const { variables } = replica;
  const names = [...variables.keys()];
  const optimizer = new AdamW({
    weightDecay: options.weightDecay ?? 0.01,
    clipNorm: options.clipNorm ?? 1,
  });
  const schedule = { lr: options.lr, warmupFraction: options.warmupFraction };
  const rows = textRows(options.seed, T);
  // Every batch is two shards (rows [0, half) and [half, B)), here or one on the worker.
  const half = Math.ceil(B / 2);
  const worker =
    (options.workers ?? 0) > 0 && B > 1
      ? await ShardWorker.start({ config, backend: tf.getBackend() as BackendName })
      : null;
  const started = performance.now();
  try {
    for (let step = 0; step < steps; step++) {
      const ids = new Int32Array(B * T);
      for (let b = 0; b < B; b++) ids.set(rows.next().value, b * T);
      const second = ids.slice(half * T);
      const remote =
        worker === null
          ? null
          : worker.compute({
              weights: readWeights(variables),
              tokens: second,
              rows: B - half,
              denominator: B,
            });
      const shards = [shardGradients(replica, ids.subarray(0, half * T), half, B)];
      if (B > half) {
        shards.push(remote === null ? shardGradients(replica, second, B - half, B) : await remote);
      }
      const grads: Record<string, tf.Tensor> = {};
      names.forEach((name, i) => {
        const g = shards[0].grads[i];
        for (const shard of shards.slice(1)) {
          const other = shard.grads[i];
          for (let j = 0; j < g.length; j++) g[j] += other[j];
        }
        grads[name] = tf.tensor(g, variables.get(name)!.shape);
      });
      const lr = learningRateAt((step + 1) / steps, schedule);
      optimizer.apply(variables, grads, lr);
      tf.dispose(Object.values(grads));
      const tokens = (step + 1) * B * T;
      options.onProgress?.({
        step,
        steps,
        loss: shards.reduce((sum, s) => sum + s.loss, 0),
        lr,
        tokens,
        tokensPerSecond: tokens / ((performance.now() - started) / 1000),
      });
      // Let timers and I/O run between steps (progress output, cancellation).
      await new Promise((resolve) => setImmediate(resolve));
    }
    return checkpointOf(replica.model);
  } finally {
    await worker?.close();
    optimizer.dispose();
    disposeLlama(replica.model);
  }
}

type Reply =
  | { id: number; ok: true; result: ShardResult }
  | { id: number; ok: false; message: string };

/** The pretraining worker thread (pretrain/worker.ts): one request at a time. */
class ShardWorker {
  private nextId = 0;
  private dead: Error | null = null;
  private closing = false;
  private readonly pending = new Map<
    number,
    { resolve: (r: ShardResult) => void; reject: (e: Error) => void }
  >();

  private constructor(private readonly worker: Worker) {
    worker.on("message", (reply: Reply | { ready: true }) => {
      if (!("id" in reply)) return;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.ok) waiter?.resolve(reply.result);
      else waiter?.reject(new ModelError("invalid_input", `pretrain worker: ${reply.message}`));
    });
    const fail = (error: Error) => {
      this.dead = error;
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => {
      if (!this.closing) fail(new ModelError("invalid_input", `pretrain worker exited (${code})`));
    });
  }

  /** The built .js directly; from TypeScript source (tests, tsx), through tsx's loader. */
  static async start(init: PretrainWorkerInit): Promise<ShardWorker> {
    const entry = import.meta.url.endsWith(".ts")
      ? "./pretrain/worker-from-source.mjs"
      : "./pretrain/worker.js";
    const worker = new Worker(new URL(entry, import.meta.url), { workerData: init });
    try {
      await new Promise<void>((resolve, reject) => {
        worker.once("error", reject);
        worker.once("exit", (code) =>
          reject(
            new ModelError("invalid_input", `pretrain worker exited (${code}) while starting`),
          ),
        );
        worker.once("message", () => resolve());
      });
    } catch (error) {
      await worker.terminate();
      throw error;
    }
    return new ShardWorker(worker);
  }

  compute(request: Omit<PretrainShardRequest, "id">): Promise<ShardResult> {
    if (this.dead !== null) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<ShardResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id } satisfies PretrainShardRequest);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }
}

/**
 * Bumped whenever the initialisation or the loop change, so older cache files go stale. (A change
 * of the built-in text changes the key by itself: a sample of it is part of the hash.)
 */
const RECIPE_VERSION = 1;

/** The cache file name of `options`: a hash of everything that determines the weights. */
export function baseModelCacheName(options: PretrainOptions): string {
  const config = llamaConfig(options.config ?? BASE_MODEL_CONFIG);
  const key = {
    recipe: RECIPE_VERSION,
    seed: options.seed,
    config,
    steps: options.steps,
    batchSize: options.batchSize,
    lr: options.lr,
    warmupFraction: options.warmupFraction ?? 0.05,
    weightDecay: options.weightDecay ?? 0.01,
    clipNorm: options.clipNorm ?? 1,
    text: pretrainingText({ seed: options.seed, lines: 64 }),
  };
  const hash = createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 16);
  return `base-${hash}.bin`;
}

export interface CachedBaseModel {
  checkpoint: LlamaCheckpoint;
  /** The llama2.c `.bin` file holding it. */
  path: string;
  /** True when it was read from the cache, false when it was pretrained now. */
  cached: boolean;
}

/**
 * The base model for `options` from `cacheDir` when pretrained before, else pretrains it and
 * writes it there (a temporary file renamed into place, so a concurrent or interrupted run never
 * leaves a partial file under the final name). A corrupt cache file is replaced.
 */
export async function loadOrPretrainBaseModel(
  cacheDir: string,
  options: PretrainOptions,
): Promise<CachedBaseModel> {
  checkOptions(options);
  const path = join(cacheDir, baseModelCacheName(options));
  try {
    return { checkpoint: parseLlama2c(readFileSync(path)), path, cached: true };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== "ENOENT" && !(error instanceof ModelError)) throw error;
  }
  const checkpoint = await pretrainBaseModel(options);
  mkdirSync(cacheDir, { recursive: true });
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(temporary, serializeLlama2c(checkpoint));
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
  return { checkpoint, path, cached: false };
}
