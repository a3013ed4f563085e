/**
 * Trains local runs, one at a time (a 2-core machine trains one model well, not two badly), each
 * in its own worker thread that calls back into the RunService like a remote trainer would. The
 * trainer's checkpoint is stored with the run (artifact "trainer"), so a restarted server resumes
 * every unfinished local run from its last closed epoch.
 */
import { Worker } from "node:worker_threads";
import { ApiError } from "../errors.js";
import type { LocalLauncher, RunService } from "../runs.js";
import type { LocalRun } from "../schemas.js";
import type { Call, PlanReply, Reply, TrainerThreadInit } from "./protocol.js";

export interface ThreadLauncherOptions {
  /** Where the quickstart base model is cached. */
  cacheDir: string;
  /** Called when a run's thread ends (tests, the CLI). */
  onExit?: (runId: string, error: Error | null) => void;
}

const STATE = "trainer";

function spawn(init: TrainerThreadInit): Worker {
  const source = import.meta.url.endsWith(".ts");
  return new Worker(
    new URL(source ? "./thread-from-source.mjs" : "./trainer-thread.js", import.meta.url),
    { workerData: init },
  );
}

export class ThreadLauncher implements LocalLauncher {
  private readonly queue: string[] = [];
  private current: { runId: string; worker: Worker } | null = null;
  private closed = false;

  constructor(
    private readonly runs: RunService,
    private readonly options: ThreadLauncherOptions,
  ) {}

  start(id: string): void {
    if (this.current?.runId === id || this.queue.includes(id)) return;
    this.queue.push(id);
    this.next();
  }

  cancel(id: string): void {
    const at = this.queue.indexOf(id);
    if (at >= 0) this.queue.splice(at, 1);
    if (this.current?.runId === id) void this.current.worker.terminate();
  }

  /** Stops the running trainer (its run resumes on the next start) and starts no other. */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    await this.current?.worker.terminate();
  }

  private next(): void {
    if (this.closed || this.current !== null) return;
    const runId = this.queue.shift();
    if (runId === undefined) return;
    if (this.runs.isFinished(runId)) {
      this.next();
      return;
    }
    const worker = spawn({
      runId,
      recipe: this.runs.recipeOf(runId) as LocalRun,
      state: this.runs.artifact(runId, STATE),
      cacheDir: this.options.cacheDir,
    });
    this.current = { runId, worker };
    let failure: Error | null = null;
    worker.on("message", (message: Call) => {
      let reply: Reply;
      const transfer: ArrayBuffer[] = [];
      try {
        const value = this.handle(runId, message);
        if (value !== null && typeof value === "object" && "ids" in value) {
          const plan = value as Extract<PlanReply, { finished: false }>;
          plan.ids = plan.ids.slice();
          plan.weights = plan.weights.slice();
          transfer.push(plan.ids.buffer as ArrayBuffer, plan.weights.buffer as ArrayBuffer);
        }
        reply = { id: message.id, ok: true, value };
      } catch (error) {
        reply = { id: message.id, ok: false, error: describe(error) };
      }
      worker.postMessage(reply, transfer);
    });
    worker.on("error", (error) => {
      failure = error;
    });
    worker.on("exit", (code) => {
      this.current = null;
      if (failure === null && code !== 0 && !this.runs.isFinished(runId) && !this.closed) {
        failure = new Error(`trainer thread exited with code ${code}`);
      }
      if (failure !== null && !this.closed) this.runs.fail(runId, failure.message);
      this.options.onExit?.(runId, failure);
      this.next();
    });
  }

  private handle(runId: string, message: Call): unknown {
    const runs = this.runs;
    switch (message.call) {
      case "data": {
        const run = runs.getRun(runId);
        if (run.status === "preparing") {
          runs.prepared(runId, message.size, message.lengths);
          return null;
        }
        if (run.planSize > 0 && runs.datasetSize(runId) !== message.size) {
          throw new Error(
            `the run's data changed: ${message.size} examples now, ${runs.datasetSize(runId)} when it started`,
          );
        }
        return null;
      }
      case "preparing": {
        const { id: _id, call: _call, ...progress } = message;
        runs.preparingProgress(runId, progress);
        return null;
      }
      case "plan": {
        const run = runs.getRun(runId);
        if (run.status !== "running") return { finished: true } satisfies PlanReply;
        const share = runs.share(runId, run.epoch, 0);
        return {
          finished: false,
          epoch: run.epoch,
          epochs: run.epochs,
          ids: share.ids,
          weights: share.weights,
        } satisfies PlanReply;
      }
      case "step": {
        runs.reportLocal(runId, {
          epoch: message.epoch,
          step: message.step,
          rank: 0,
          ids: message.ids,
          losses: message.losses,
        });
        runs.recordStep(runId, {
          epoch: message.epoch,
          step: message.step,
          steps: message.steps,
          loss: message.loss,
          lr: message.lr,
          tokens: message.tokens,
          tokensPerSecond: message.tokensPerSecond,
        });
        return null;
      }
      case "evaluation": {
        const { id: _id, call: _call, ...evaluation } = message;
        runs.evaluateLocal(runId, evaluation);
        return null;
      }
      case "checkpoint":
        runs.saveArtifact(runId, STATE, message.state);
        runs.closeEpoch(runId, message.epoch);
        return null;
      case "close":
        runs.closeEpoch(runId, message.epoch);
        return null;
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof ApiError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
