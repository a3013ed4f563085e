/**
 * Data-parallel gradients on worker threads (Node): each worker holds a replica of the frozen
 * model and computes one shard of every batch while the main thread computes another. The
 * TensorFlow.js wasm backend runs one thread per instance under Node, so this is how a training
 * step uses more than one core. Shards are summed exactly (same denominator), so results match
 * a single-threaded step up to float summation order.
 */
import { Worker } from "node:worker_threads";
import type { TokenBatch } from "../../../src/data/batching.js";
import type { BackendName } from "../backend.js";
import { ModelError } from "../errors.js";
import type { LlamaCheckpoint } from "../model/params.js";
import type { ShardGradients } from "./gradients.js";
import type { LoraConfig } from "./lora.js";

export interface WorkerInit {
  checkpoint: LlamaCheckpoint;
  lora: LoraConfig;
  backend: BackendName;
}

export interface ShardRequest {
  id: number;
  batch: TokenBatch;
  denominator: number;
  seed: number;
  lora: Map<string, Float32Array>;
}

type Reply =
  | { id: number; ok: true; result: ShardGradients }
  | { id: number; ok: false; message: string };

/**
 * A worker running gradient-worker: the built .js directly, or, when this module runs from its
 * TypeScript source (tests, `tsx`), the .ts source behind tsx's loader, registered inside the
 * worker (Node 20 workers do not take `--import`).
 */
function spawn(init: WorkerInit): Worker {
  if (!import.meta.url.endsWith(".ts")) {
    return new Worker(new URL("./gradient-worker.js", import.meta.url), { workerData: init });
  }
  return new Worker(new URL("./worker-from-source.mjs", import.meta.url), { workerData: init });
}

export class GradientWorkers {
  private readonly workers: Worker[];
  private nextId = 0;
  private dead: Error | null = null;
  private closing = false;
  private readonly pending = new Map<
    number,
    { resolve: (r: ShardGradients) => void; reject: (e: Error) => void }
  >();

  private constructor(workers: Worker[]) {
    this.workers = workers;
    for (const worker of workers) {
      worker.on("message", (reply: Reply | { ready: true }) => {
        if (!("id" in reply)) return;
        const waiter = this.pending.get(reply.id);
        if (waiter === undefined) return;
        this.pending.delete(reply.id);
        if (reply.ok) waiter.resolve(reply.result);
        else
          waiter.reject(
            new ModelError("invalid_input", `gradient worker failed: ${reply.message}`),
          );
      });
      // A worker that dies fails what is waiting on it, and every later request: no hang.
      const fail = (error: Error) => {
        this.dead = error;
        for (const waiter of this.pending.values()) waiter.reject(error);
        this.pending.clear();
      };
      worker.on("error", fail);
      worker.on("exit", (code) => {
        if (!this.closing)
          fail(new ModelError("invalid_input", `gradient worker exited (code ${code})`));
      });
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Starts `count` workers, each with a replica of `checkpoint`; resolves when all are ready. */
  static async start(count: number, init: WorkerInit): Promise<GradientWorkers> {
    const started = Array.from({ length: count }, () => spawn(init));
    try {
      await Promise.all(
        started.map(
          (worker) =>
            new Promise<void>((resolve, reject) => {
              worker.once("error", reject);
              worker.once("exit", (code) =>
                reject(
                  new ModelError(
                    "invalid_input",
                    `gradient worker exited (code ${code}) while starting`,
                  ),
                ),
              );
              worker.once("message", () => resolve());
            }),
        ),
      );
    } catch (error) {
      await Promise.all(started.map((w) => w.terminate())); // none may keep the process alive
      throw error;
    }
    return new GradientWorkers(started);
  }

  /** Gradients of `batch` on worker `index`, with the LoRA parameters set to `lora`. */
  compute(
    index: number,
    batch: TokenBatch,
    denominator: number,
    seed: number,
    lora: Map<string, Float32Array>,
  ): Promise<ShardGradients> {
    if (this.dead !== null) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: ShardRequest = { id, batch, denominator, seed, lora };
      this.workers[index].postMessage(request);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
