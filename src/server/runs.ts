/**
 * Remote runs: the engine of each run lives here, trainers on other machines fetch their rank's
 * share of each epoch's plan and report losses back. Runtime-agnostic: state goes through a
 * `RunStore` (SQLite on Node), and every request is handled synchronously, so it applies whole
 * or not at all.
 *
 * How an epoch closes (the same for every rank): epoch e closes when every example of its plan
 * has had a loss reported by a rank whose share holds it, or when any client calls
 * POST …/epochs/e/close (trainers that drop a last incomplete batch). Closing plans epoch e + 1
 * at once and checkpoints it; until then GET …/epochs/e+1/plan answers 409 epoch_not_open.
 */
import type { ZodError, ZodType } from "zod";
import { InfoBatch, InfoBatchError, meanTokenLosses, type SavingsReport } from "../core/index.js";
import { ApiError } from "./errors.js";
import { type LossReport, LossReportSchema, type RemoteRun, RemoteRunSchema } from "./schemas.js";
import type { RunStatus, RunStore, StoredReport, StoredRun } from "./store.js";

export interface RunView {
  id: string;
  name: string;
  status: RunStatus;
  createdAt: string;
  trainer: "remote";
  epochs: number;
  /** The epoch whose plan is open for reports. */
  epoch: number;
  world: number;
  /** Examples in the open epoch's plan, and how many of them have a reported loss. */
  planSize: number;
  reported: number;
  savings: SavingsReport["total"];
}

export interface ShareView {
  epoch: number;
  rank: number;
  world: number;
  ids: Uint32Array;
  weights: Float32Array;
}

export interface ReportOutcome {
  /** False when this (epoch, step, rank) had already been reported: nothing changed. */
  applied: boolean;
  duplicate: boolean;
  /** True when this report completed the epoch (the next plan is open). */
  epochClosed: boolean;
}

interface LiveRun {
  stored: StoredRun;
  recipe: RemoteRun;
  engine: InfoBatch;
  /** Ids of the open epoch with a reported loss. */
  seen: Uint8Array;
  seenCount: number;
}

export function parse<T>(schema: ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = (result.error as ZodError).issues[0];
    throw new ApiError(
      400,
      "invalid_request",
      issue.message,
      issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
    );
  }
  return result.data;
}

export class RunService {
  private readonly live = new Map<string, LiveRun>();

  constructor(
    private readonly store: RunStore,
    private readonly newId: () => string = () => crypto.randomUUID(),
    private readonly now: () => Date = () => new Date(),
  ) {}

  createRun(body: unknown): RunView {
    const recipe = parse(RemoteRunSchema, body);
    const engine = engineFor(recipe);
    engine.planEpoch(0);
    const stored: StoredRun = {
      id: this.newId(),
      name: recipe.name ?? "run",
      recipe: JSON.stringify(recipe),
      status: "running",
      createdAt: this.now().toISOString(),
    };
    this.store.insertRun(stored, engine.snapshot());
    const run: LiveRun = {
      stored,
      recipe,
      engine,
      seen: new Uint8Array(engine.size),
      seenCount: 0,
    };
    this.live.set(stored.id, run);
    return view(run);
  }

  listRuns(): RunView[] {
    return this.store.listRuns().map((r) => view(this.load(r.id)));
  }

  getRun(id: string): RunView {
    return view(this.load(id));
  }

  /** Rank `rank`'s share of epoch `epoch` (the open one). */
  share(id: string, epoch: number, rank: number, world?: number): ShareView {
    const run = this.load(id);
    const runWorld = run.recipe.world ?? 1;
    if (world !== undefined && world !== runWorld) {
      throw new ApiError(
        400,
        "world_mismatch",
        `this run has world ${runWorld}, received ${world}`,
        ["world"],
      );
    }
    if (!Number.isInteger(rank) || rank < 0 || rank >= runWorld) {
      throw new ApiError(
        400,
        "invalid_rank",
        `expected a rank in [0, ${runWorld}), received ${rank}`,
        ["rank"],
      );
    }
    this.checkOpen(run, epoch);
    const share = run.engine.plan!.shard(rank, runWorld, run.recipe.shardPolicy ?? "pad");
    return { epoch, rank, world: runWorld, ids: share.ids, weights: share.weights };
  }

  report(id: string, body: unknown): ReportOutcome {
    const report = parse(LossReportSchema, body);
    const run = this.load(id);
    this.checkOpen(run, report.epoch);
    const world = run.recipe.world ?? 1;
    if (report.rank >= world) {
      throw new ApiError(
        400,
        "invalid_rank",
        `expected a rank in [0, ${world}), received ${report.rank}`,
        ["rank"],
      );
    }
    const losses = perExampleLosses(report);
    const share = run.engine.plan!.shard(report.rank, world, run.recipe.shardPolicy ?? "pad");
    for (let i = 0; i < report.ids.length; i++) {
      const exampleId = report.ids[i];
      if (exampleId >= run.engine.size) {
        throw new ApiError(
          400,
          "id_out_of_range",
          `example ${exampleId} is outside [0, ${run.engine.size})`,
          ["ids", i],
        );
      }
      if (!share.holds(exampleId)) {
        throw new ApiError(
          400,
          "id_not_in_share",
          `example ${exampleId} is not in rank ${report.rank}'s share of epoch ${report.epoch}`,
          ["ids", i],
        );
      }
    }
    const stored: StoredReport = {
      epoch: report.epoch,
      step: report.step,
      rank: report.rank,
      ids: Uint32Array.from(report.ids),
      losses,
    };
    const existing = this.store.appendReport(id, stored);
    if (existing !== null) {
      if (!sameReport(existing, stored)) {
        throw new ApiError(
          409,
          "conflicting_report",
          `epoch ${report.epoch} step ${report.step} rank ${report.rank} was already reported with other losses`,
        );
      }
      return { applied: false, duplicate: true, epochClosed: false };
    }
    const epochClosed = this.apply(id, run, stored);
    return { applied: true, duplicate: false, epochClosed };
  }

  /** Closes the open epoch `epoch` now (whatever is still unreported keeps its old score). */
  closeEpoch(id: string, epoch: number): RunView {
    const run = this.load(id);
    this.checkOpen(run, epoch);
    this.advance(id, run);
    return view(run);
  }

  cancel(id: string): RunView {
    const run = this.load(id);
    if (run.stored.status === "running") {
      run.stored.status = "cancelled";
      this.store.setStatus(id, "cancelled");
    }
    return view(run);
  }

  savings(id: string): SavingsReport {
    const run = this.load(id);
    return run.engine.savings({
      batchSize: run.recipe.batchSize,
      world: run.recipe.world ?? 1,
      shardPolicy: run.recipe.shardPolicy ?? "pad",
    });
  }

  /** Applies a stored report to the engine; closes the epoch when it completes it. */
  private apply(id: string, run: LiveRun, report: StoredReport): boolean {
    run.engine.update(report.ids, report.losses, { epoch: report.epoch });
    for (const exampleId of report.ids) {
      if (run.seen[exampleId] === 0) {
        run.seen[exampleId] = 1;
        run.seenCount++;
      }
    }
    if (run.seenCount < run.engine.plan!.size) return false;
    this.advance(id, run);
    return true;
  }

  private advance(id: string, run: LiveRun): void {
    const next = run.engine.epoch + 1;
    run.seen.fill(0);
    run.seenCount = 0;
    if (next >= run.engine.options.epochs) {
      run.stored.status = "completed";
      this.store.setStatus(id, "completed");
      return;
    }
    run.engine.planEpoch(next);
    this.store.saveCheckpoint(id, next, run.engine.snapshot());
  }

  private checkOpen(run: LiveRun, epoch: number): void {
    if (run.stored.status !== "running") {
      throw new ApiError(409, "run_not_running", `run ${run.stored.id} is ${run.stored.status}`);
    }
    const open = run.engine.epoch;
    if (epoch < open)
      throw new ApiError(409, "epoch_closed", `epoch ${epoch} is closed; epoch ${open} is open`, [
        "epoch",
      ]);
    if (epoch > open) {
      throw new ApiError(
        409,
        "epoch_not_open",
        `epoch ${epoch} is not open yet; epoch ${open} is`,
        ["epoch"],
      );
    }
  }

  /** The live run, loading it (checkpoint + replayed reports) after a restart. */
  private load(id: string): LiveRun {
    const cached = this.live.get(id);
    if (cached !== undefined) return cached;
    const stored = this.store.getRun(id);
    if (stored === null) throw new ApiError(404, "unknown_run", `no run ${id}`);
    const { epoch, snapshot } = this.store.latestCheckpoint(id);
    const engine = InfoBatch.restore(snapshot);
    const run: LiveRun = {
      stored,
      recipe: JSON.parse(stored.recipe) as RemoteRun,
      engine,
      seen: new Uint8Array(engine.size),
      seenCount: 0,
    };
    this.live.set(id, run);
    for (const report of this.store.reportsOf(id, epoch)) {
      if (this.apply(id, run, report)) break; // the crash came between the last report and the next checkpoint
    }
    return run;
  }
}

function engineFor(recipe: RemoteRun): InfoBatch {
  if (
    recipe.dataset.lengths !== undefined &&
    recipe.dataset.lengths.length !== recipe.dataset.size
  ) {
    throw new ApiError(
      400,
      "invalid_request",
      `expected ${recipe.dataset.size} lengths (one per example), received ${recipe.dataset.lengths.length}`,
      ["dataset", "lengths"],
    );
  }
  try {
    return new InfoBatch({
      ...recipe.engine,
      size: recipe.dataset.size,
      lengths: recipe.dataset.lengths,
    });
  } catch (error) {
    if (error instanceof InfoBatchError)
      throw new ApiError(400, error.code, error.message, ["engine", ...error.path]);
    throw error;
  }
}

function perExampleLosses(report: LossReport): Float32Array {
  const rows = report.ids.length;
  if (report.losses !== undefined) {
    if (report.losses.length !== rows) {
      throw new ApiError(
        400,
        "invalid_request",
        `expected ${rows} losses (one per id), received ${report.losses.length}`,
        ["losses"],
      );
    }
    return checkFinite(Float32Array.from(report.losses), "losses");
  }
  const tokens = report.tokenLosses!;
  if (tokens.length % rows !== 0) {
    throw new ApiError(
      400,
      "invalid_request",
      `expected [${rows}, T] token losses, received ${tokens.length} values`,
      ["tokenLosses"],
    );
  }
  if (report.mask !== undefined && report.mask.length !== tokens.length) {
    throw new ApiError(
      400,
      "invalid_request",
      `expected a mask of ${tokens.length} values, received ${report.mask.length}`,
      ["mask"],
    );
  }
  return checkFinite(
    Float32Array.from(meanTokenLosses(rows, tokens, report.mask ?? null)),
    "tokenLosses",
  );
}

function checkFinite(losses: Float32Array, field: string): Float32Array {
  for (let i = 0; i < losses.length; i++) {
    if (!Number.isFinite(losses[i])) {
      throw new ApiError(
        400,
        "non_finite_loss",
        `loss of row ${i} is not finite (float32, or no masked token)`,
        [field, i],
      );
    }
  }
  return losses;
}

function sameReport(a: StoredReport, b: StoredReport): boolean {
  if (a.ids.length !== b.ids.length) return false;
  for (let i = 0; i < a.ids.length; i++)
    if (a.ids[i] !== b.ids[i] || a.losses[i] !== b.losses[i]) return false;
  return true;
}

function view(run: LiveRun): RunView {
  const plan = run.engine.plan!;
  return {
    id: run.stored.id,
    name: run.stored.name,
    status: run.stored.status,
    createdAt: run.stored.createdAt,
    trainer: "remote",
    epochs: run.engine.options.epochs,
    epoch: run.engine.epoch,
    world: run.recipe.world ?? 1,
    planSize: plan.size,
    reported: run.seenCount,
    savings: run.engine.savings({ batchSize: run.recipe.batchSize, world: run.recipe.world ?? 1 })
      .total,
  };
}
