/**
 * Runs: the engine of each run lives here. Remote trainers fetch their rank's share of each
 * epoch's plan over HTTP and report losses back; local runs are trained by the in-process trainer
 * (a `LocalLauncher`, Node only), which is a client of this same service. Runtime-agnostic:
 * state goes through a `RunStore`, and every request is handled synchronously, so it applies
 * whole or not at all.
 *
 * How an epoch closes (the same for every rank): epoch e of a remote run closes when every
 * example of its plan has had a loss reported by a rank whose share holds it, or when any client
 * calls POST …/epochs/e/close (trainers that drop a last incomplete batch). Closing plans epoch
 * e + 1 at once and checkpoints it; until then GET …/epochs/e+1/plan answers 409 epoch_not_open.
 * A local run's trainer closes each epoch itself, after saving its own checkpoint.
 */
import { InfoBatch, InfoBatchError, type SavingsReport } from "../core/index.js";
import type { RunReport } from "../report/types.js";
import { ApiError } from "./errors.js";
import { EventHub, type Follower, type RunEvent } from "./events.js";
import {
  decodeBinaryReport,
  parse,
  parseLossReport,
  perExampleLosses,
  sameReport,
} from "./losses.js";
import { applyParams } from "./recipes.js";
import {
  buildRunReport,
  buildSavings,
  type ClosedEpoch,
  type RunHistory,
  type RunSavings,
} from "./run-report.js";
import {
  type Evaluation,
  EvaluationSchema,
  type LocalRun,
  type Recipe,
  RecipeReferenceSchema,
  RecipeSchema,
} from "./schemas.js";
import type { NewEvent, RunStatus, RunStore, StoredReport, StoredRun } from "./store.js";

export interface RunView {
  id: string;
  name: string;
  status: RunStatus;
  createdAt: string;
  trainer: "remote" | "local";
  epochs: number;
  /** The epoch whose plan is open for reports (−1 while a local run prepares its data). */
  epoch: number;
  world: number;
  /** Examples in the open epoch's plan, and how many of them have a reported loss. */
  planSize: number;
  reported: number;
  savings: SavingsReport["total"] | null;
  /** The last held-out loss reported, if any. */
  heldOutLoss: number | null;
  /** The full-data run trained for comparison (compare: "full"), and the run it compares to. */
  baseline: string | null;
  baselineOf: string | null;
  /** Why a failed run failed. */
  error: string | null;
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

/** Trains local runs (Node: a worker thread per run). Absent where runs cannot train (Workers). */
export interface LocalLauncher {
  /** Starts, or after a restart resumes, the trainer of local run `id`. */
  start(id: string): void;
  cancel(id: string): void;
}

export interface RunServiceOptions {
  newId?: () => string;
  now?: () => Date;
  /** Resolves `{ "recipe": name }` bodies (Node: a file in the recipes folder). */
  recipes?: (name: string) => unknown;
  /** Checks a local recipe before its run is made (Node: files exist, inside the data roots). */
  checkLocal?: (recipe: LocalRun) => void;
}

interface LiveRun {
  stored: StoredRun;
  recipe: Recipe;
  /** Null while a local run prepares its data. */
  engine: InfoBatch | null;
  /** Ids of the open epoch with a reported loss. */
  seen: Uint8Array;
  seenCount: number;
  lossSum: number;
  lossCount: number;
  /** When the open epoch was planned (ms since the epoch of time). */
  openedAt: number;
  history: RunHistory;
  lastProgress: number;
}

export class RunService {
  readonly events = new EventHub();
  private readonly live = new Map<string, LiveRun>();
  private readonly newId: () => string;
  private readonly now: () => Date;
  private local: LocalLauncher | null = null;

  constructor(
    private readonly store: RunStore,
    private readonly options: RunServiceOptions = {},
  ) {
    this.newId = options.newId ?? (() => crypto.randomUUID());
    this.now = options.now ?? (() => new Date());
  }

  /** Lets local runs train (Node). Resumes every local run left unfinished by a restart. */
  attachLocal(launcher: LocalLauncher): void {
    this.local = launcher;
    for (const stored of this.store.listRuns()) {
      if (stored.status !== "preparing" && stored.status !== "running") continue;
      if ((JSON.parse(stored.recipe) as Recipe).trainer === "local") launcher.start(stored.id);
    }
  }

  createRun(body: unknown): RunView {
    const recipe = this.resolveRecipe(body);
    if (recipe.trainer === "remote") {
      const engine = engineFor(recipe.engine, recipe.dataset.size, recipe.dataset.lengths, [
        "dataset",
      ]);
      engine.planEpoch(0);
      const stored = this.storedRun(recipe, "running");
      this.store.insertRun(stored, engine.snapshot(), [
        this.event("created", { baseline: null, baselineOf: null }),
        this.event("epoch_opened", openedData(engine)),
      ]);
      return view(this.remember(stored, recipe, engine));
    }
    if (this.local === null) {
      throw new ApiError(
        400,
        "local_unavailable",
        'this server cannot train runs itself; use trainer: "remote"',
        ["trainer"],
      );
    }
    this.options.checkLocal?.(recipe);
    const main = this.storedRun(recipe, "preparing");
    const full = recipe.compare === "full" ? fullDataRecipe(recipe) : null;
    const baseline = full === null ? null : this.storedRun(full, "preparing");
    this.store.insertRun(main, new Uint8Array(0), [
      this.event("created", { baseline: baseline?.id ?? null, baselineOf: null }),
    ]);
    this.remember(main, recipe, null).history.baseline = baseline?.id ?? null;
    if (baseline !== null && full !== null) {
      this.store.insertRun(baseline, new Uint8Array(0), [
        this.event("created", { baseline: null, baselineOf: main.id }),
      ]);
      this.remember(baseline, full, null).history.baselineOf = main.id;
    }
    this.local.start(main.id);
    if (baseline !== null) this.local.start(baseline.id);
    return this.getRun(main.id);
  }

  listRuns(): RunView[] {
    return this.store.listRuns().map((r) => view(this.load(r.id)));
  }

  getRun(id: string): RunView {
    return view(this.load(id));
  }

  /** The validated recipe of a run (the local trainer reads it). */
  recipeOf(id: string): Recipe {
    return this.load(id).recipe;
  }

  /** Rank `rank`'s share of epoch `epoch` (the open one). */
  share(id: string, epoch: number, rank: number, world?: number): ShareView {
    const run = this.load(id);
    const runWorld = worldOf(run.recipe);
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
    const engine = this.checkOpen(run, epoch);
    const share = engine.plan!.shard(rank, runWorld, shardPolicyOf(run.recipe));
    return { epoch, rank, world: runWorld, ids: share.ids, weights: share.weights };
  }

  /**
   * A remote trainer's loss report (HTTP): the parsed JSON body, or the bytes of a binary one
   * (losses.ts). Local runs take reports from their own trainer only.
   */
  report(id: string, body: unknown): ReportOutcome {
    const run = this.load(id);
    if (run.recipe.trainer === "local") {
      throw new ApiError(
        409,
        "local_run",
        `run ${id} is trained by the server itself; it takes no loss reports`,
      );
    }
    return this.applyReport(id, run, body, false);
  }

  /**
   * Several remote reports, applied one after the other exactly as `report` would, with their
   * store writes in one transaction when the store offers one (group commit: one commit for all).
   * Each item's answer is its outcome or the error `report` would have thrown. Nothing is
   * answered before the commit; if the commit fails, every item gets its error and the runs the
   * batch changed are reloaded from the store on their next use (checkpoint + stored reports).
   * Followers are woken after the commit.
   */
  reportMany(items: ReadonlyArray<{ id: string; body: unknown }>): Array<ReportOutcome | Error> {
    const answers: Array<ReportOutcome | Error> = [];
    const changed = new Set<string>();
    const work = () => {
      for (const { id, body } of items) {
        try {
          const outcome = this.report(id, body);
          if (outcome.applied) changed.add(id);
          answers.push(outcome);
        } catch (error) {
          if (!(error instanceof ApiError)) changed.add(id);
          answers.push(error instanceof Error ? error : new Error(String(error)));
        }
      }
    };
    try {
      this.events.hold(() => (this.store.batch === undefined ? work() : this.store.batch(work)));
    } catch (error) {
      for (const id of changed) this.live.delete(id);
      const failed = error instanceof Error ? error : new Error(String(error));
      return items.map(() => failed);
    }
    return answers;
  }

  /**
   * The local trainer's report. A trainer resumed from its last checkpoint retrains steps whose
   * reports are stored already: those are kept as they are (first report wins).
   */
  reportLocal(id: string, body: unknown): ReportOutcome {
    return this.applyReport(id, this.load(id), body, true);
  }

  /** Closes the open epoch `epoch` now (whatever is still unreported keeps its old score). */
  closeEpoch(id: string, epoch: number): RunView {
    const run = this.load(id);
    this.checkOpen(run, epoch);
    this.advance(id, run);
    return view(run);
  }

  /** A held-out evaluation after `epoch` (−1: the base model, before training). */
  evaluate(id: string, body: unknown): { applied: boolean; duplicate: boolean } {
    return this.applyEvaluation(id, body, false);
  }

  /** The local trainer's evaluation; one resumed from a checkpoint may repeat it (first wins). */
  evaluateLocal(id: string, body: unknown): { applied: boolean; duplicate: boolean } {
    return this.applyEvaluation(id, body, true);
  }

  /** Examples in the run's dataset (0 while a local run prepares). */
  datasetSize(id: string): number {
    return this.load(id).engine?.size ?? 0;
  }

  artifact(id: string, name: string): Uint8Array | null {
    this.load(id);
    return this.store.getArtifact(id, name);
  }

  saveArtifact(id: string, name: string, bytes: Uint8Array): void {
    this.load(id);
    this.store.putArtifact(id, name, bytes);
  }

  private applyEvaluation(
    id: string,
    body: unknown,
    local: boolean,
  ): { applied: boolean; duplicate: boolean } {
    const evaluation = parse(EvaluationSchema, body);
    const run = this.load(id);
    const epochs = epochsOf(run.recipe);
    if (evaluation.epoch >= epochs) {
      throw new ApiError(
        400,
        "invalid_request",
        `expected an epoch in [-1, ${epochs}), received ${evaluation.epoch}`,
        ["epoch"],
      );
    }
    const existing = run.history.evaluations.get(evaluation.epoch);
    if (existing !== undefined) {
      if (local || JSON.stringify(existing) === JSON.stringify(evaluation)) {
        return { applied: false, duplicate: true };
      }
      throw new ApiError(
        409,
        "conflicting_evaluation",
        `epoch ${evaluation.epoch} was already evaluated with other figures`,
        ["epoch"],
      );
    }
    this.store.appendEvent(id, this.event("evaluation", evaluation));
    run.history.evaluations.set(evaluation.epoch, evaluation);
    this.events.wake(id);
    return { applied: true, duplicate: false };
  }

  /** A training step of a local run, for progress and the loss curve. */
  recordStep(id: string, step: Record<string, number>): void {
    this.load(id);
    this.store.appendEvent(id, this.event("step", step));
    this.events.wake(id);
  }

  /** Progress of a local run preparing its data or model (transient: followers only). */
  preparingProgress(id: string, progress: Record<string, unknown>): void {
    this.load(id);
    this.events.transient(id, {
      seq: null,
      type: "preparing",
      at: this.now().toISOString(),
      data: progress,
    });
  }

  /** The local trainer has tokenized the data: make the engine and open epoch 0. */
  prepared(id: string, size: number, lengths: readonly number[] | null): RunView {
    const run = this.load(id);
    if (run.stored.status !== "preparing" || run.recipe.trainer !== "local") {
      throw new ApiError(409, "not_preparing", `run ${id} is ${run.stored.status}`);
    }
    const engine = engineFor(run.recipe.engine, size, lengths ?? undefined, ["data"]);
    engine.planEpoch(0);
    this.store.saveCheckpoint(id, 0, engine.snapshot());
    const opened = this.event("epoch_opened", openedData(engine));
    this.store.setStatus(id, "running", [opened]);
    run.engine = engine;
    run.seen = new Uint8Array(size);
    run.openedAt = Date.parse(opened.at);
    run.history.opened.set(0, opened.at);
    run.stored.status = "running";
    this.events.wake(id);
    return view(run);
  }

  fail(id: string, message: string): void {
    const run = this.load(id);
    if (run.stored.status !== "preparing" && run.stored.status !== "running") return;
    this.setStatus(id, run, "failed", { error: message });
  }

  cancel(id: string): RunView {
    const run = this.load(id);
    if (run.stored.status === "running" || run.stored.status === "preparing") {
      this.setStatus(id, run, "cancelled", {});
      if (run.recipe.trainer === "local") this.local?.cancel(id);
    }
    return view(run);
  }

  savings(id: string): RunSavings {
    const run = this.load(id);
    return buildSavings(this.inputs(run), this.baselineInputs(run));
  }

  /** What the report page draws: this run and, when it has one, its full-data baseline. */
  reportPage(id: string): RunReport {
    const run = this.load(id);
    return buildRunReport(this.inputs(run), this.baselineInputs(run), (runId) =>
      this.store.eventsSince(runId, 0),
    );
  }

  /**
   * Follows a run: stored events after `afterSeq` at once, then new ones as they come, and
   * transient progress. Returns a function that stops following.
   */
  follow(id: string, afterSeq: number, onEvent: (event: RunEvent) => void): () => void {
    this.load(id);
    let last = afterSeq;
    const drain = () => {
      for (;;) {
        const batch = this.store.eventsSince(id, last, 1000);
        for (const stored of batch) {
          last = stored.seq;
          onEvent({
            seq: stored.seq,
            type: stored.type,
            at: stored.at,
            data: JSON.parse(stored.data),
          });
        }
        if (batch.length < 1000) return;
      }
    };
    const follower: Follower = { wake: drain, transient: onEvent };
    const stop = this.events.follow(id, follower);
    drain();
    return stop;
  }

  isFinished(id: string): boolean {
    const status = this.load(id).stored.status;
    return status === "completed" || status === "cancelled" || status === "failed";
  }

  private applyReport(id: string, run: LiveRun, body: unknown, local: boolean): ReportOutcome {
    const report = body instanceof Uint8Array ? decodeBinaryReport(body) : parseLossReport(body);
    const engine = this.checkOpen(run, report.epoch);
    const world = worldOf(run.recipe);
    if (report.rank >= world) {
      throw new ApiError(
        400,
        "invalid_rank",
        `expected a rank in [0, ${world}), received ${report.rank}`,
        ["rank"],
      );
    }
    const losses = perExampleLosses(report);
    const share = engine.plan!.shard(report.rank, world, shardPolicyOf(run.recipe));
    for (let i = 0; i < report.ids.length; i++) {
      const exampleId = report.ids[i];
      if (exampleId >= engine.size) {
        throw new ApiError(
          400,
          "id_out_of_range",
          `example ${exampleId} is outside [0, ${engine.size})`,
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
      ids: report.ids instanceof Uint32Array ? report.ids : Uint32Array.from(report.ids),
      losses,
    };
    const existing = this.store.appendReport(id, stored);
    if (existing !== null) {
      if (!local && !sameReport(existing, stored)) {
        throw new ApiError(
          409,
          "conflicting_report",
          `epoch ${report.epoch} step ${report.step} rank ${report.rank} was already reported with other losses`,
        );
      }
      return { applied: false, duplicate: true, epochClosed: false };
    }
    const epochClosed = this.apply(id, run, stored);
    if (!epochClosed && !local) this.progress(id, run);
    return { applied: true, duplicate: false, epochClosed };
  }

  /** Applies a stored report to the engine; closes a remote run's epoch when it completes it. */
  private apply(id: string, run: LiveRun, report: StoredReport): boolean {
    const engine = run.engine!;
    engine.update(report.ids, report.losses, { epoch: report.epoch });
    for (let i = 0; i < report.ids.length; i++) {
      const exampleId = report.ids[i];
      if (run.seen[exampleId] === 0) {
        run.seen[exampleId] = 1;
        run.seenCount++;
      }
      run.lossSum += report.losses[i];
      run.lossCount++;
    }
    if (run.recipe.trainer === "local" || run.seenCount < engine.plan!.size) return false;
    this.advance(id, run);
    return true;
  }

  /** Transient progress for followers of a remote run, at most every 200 ms. */
  private progress(id: string, run: LiveRun): void {
    const at = Date.now();
    if (!this.events.hasFollowers(id) || at - run.lastProgress < 200) return;
    run.lastProgress = at;
    this.events.transient(id, {
      seq: null,
      type: "progress",
      at: new Date(at).toISOString(),
      data: { epoch: run.engine!.epoch, reported: run.seenCount, planSize: run.engine!.plan!.size },
    });
  }

  private advance(id: string, run: LiveRun): void {
    const engine = run.engine!;
    const epoch = engine.epoch;
    const closedAt = this.now();
    const closed = this.event(
      "epoch_closed",
      {
        epoch,
        trainLoss: run.lossCount > 0 ? run.lossSum / run.lossCount : null,
        reported: run.seenCount,
        seconds: Math.max(0, (closedAt.getTime() - run.openedAt) / 1000),
      },
      closedAt,
    );
    run.history.closed.set(epoch, JSON.parse(closed.data) as ClosedEpoch);
    run.seen.fill(0);
    run.seenCount = 0;
    run.lossSum = 0;
    run.lossCount = 0;
    if (epoch + 1 >= engine.options.epochs) {
      this.setStatus(id, run, "completed", {}, [closed]);
      return;
    }
    engine.planEpoch(epoch + 1);
    const opened = this.event("epoch_opened", openedData(engine), closedAt);
    this.store.saveCheckpoint(id, epoch + 1, engine.snapshot(), [closed, opened]);
    run.openedAt = closedAt.getTime();
    run.history.opened.set(epoch + 1, opened.at);
    this.events.wake(id);
  }

  private setStatus(
    id: string,
    run: LiveRun,
    status: RunStatus,
    data: Record<string, unknown>,
    before: NewEvent[] = [],
  ): void {
    this.store.setStatus(id, status, [...before, this.event("status", { status, ...data })]);
    run.stored.status = status;
    if (typeof data.error === "string") run.history.error = data.error;
    this.events.wake(id);
  }

  private checkOpen(run: LiveRun, epoch: number): InfoBatch {
    if (run.stored.status !== "running" || run.engine === null) {
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
    return run.engine;
  }

  private resolveRecipe(body: unknown): Recipe {
    const named =
      typeof body === "object" && body !== null && !Array.isArray(body) && "recipe" in body;
    if (!named) return parse(RecipeSchema, applyParams(body));
    const { recipe: name, params } = parse(RecipeReferenceSchema, body);
    if (this.options.recipes === undefined) {
      throw new ApiError(400, "no_recipes", "this server has no recipes folder", ["recipe"]);
    }
    return parse(RecipeSchema, applyParams(this.options.recipes(name), params));
  }

  private storedRun(recipe: Recipe, status: RunStatus): StoredRun {
    return {
      id: this.newId(),
      name: recipe.name ?? "run",
      recipe: JSON.stringify(recipe),
      status,
      createdAt: this.now().toISOString(),
    };
  }

  private event(type: string, data: unknown, at: Date = this.now()): NewEvent & { data: string } {
    return { type, at: at.toISOString(), data: JSON.stringify(data) };
  }

  private remember(stored: StoredRun, recipe: Recipe, engine: InfoBatch | null): LiveRun {
    const run: LiveRun = {
      stored,
      recipe,
      engine,
      seen: new Uint8Array(engine?.size ?? 0),
      seenCount: 0,
      lossSum: 0,
      lossCount: 0,
      openedAt: Date.parse(stored.createdAt),
      history: emptyHistory(),
      lastProgress: 0,
    };
    this.live.set(stored.id, run);
    return run;
  }

  private inputs(run: LiveRun) {
    return { view: view(run), recipe: run.recipe, engine: run.engine, history: run.history };
  }

  private baselineInputs(run: LiveRun) {
    const id = run.history.baseline;
    return id === null ? null : this.inputs(this.load(id));
  }

  /** The live run, loading it (checkpoint + replayed reports) after a restart. */
  private load(id: string): LiveRun {
    const cached = this.live.get(id);
    if (cached !== undefined) return cached;
    const stored = this.store.getRun(id);
    if (stored === null) throw new ApiError(404, "unknown_run", `no run ${id}`);
    const { epoch, snapshot } = this.store.latestCheckpoint(id);
    const engine =
      snapshot.byteLength === 0 || stored.status === "preparing"
        ? null
        : InfoBatch.restore(snapshot);
    const run = this.remember(stored, JSON.parse(stored.recipe) as Recipe, engine);
    run.history = historyFrom(this.store.eventsSince(id, 0, Number.MAX_SAFE_INTEGER));
    const opened = run.history.opened.get(epoch);
    if (opened !== undefined) run.openedAt = Date.parse(opened);
    if (engine === null) return run;
    for (const report of this.store.reportsOf(id, epoch)) {
      if (this.apply(id, run, report)) break; // the crash came between the last report and the next checkpoint
    }
    return run;
  }
}

function emptyHistory(): RunHistory {
  return {
    opened: new Map(),
    closed: new Map(),
    evaluations: new Map(),
    baseline: null,
    baselineOf: null,
    error: null,
  };
}

function historyFrom(
  events: ReadonlyArray<{ type: string; at: string; data: string }>,
): RunHistory {
  const history = emptyHistory();
  for (const event of events) {
    const data = JSON.parse(event.data);
    if (event.type === "created") {
      history.baseline = data.baseline ?? null;
      history.baselineOf = data.baselineOf ?? null;
    } else if (event.type === "epoch_opened") history.opened.set(data.epoch, event.at);
    else if (event.type === "epoch_closed") history.closed.set(data.epoch, data);
    else if (event.type === "evaluation") history.evaluations.set(data.epoch, data as Evaluation);
    else if (event.type === "status" && typeof data.error === "string") history.error = data.error;
  }
  return history;
}

function openedData(engine: InfoBatch) {
  const plan = engine.plan!;
  const savings = engine.savings();
  const record = savings.epochs[savings.epochs.length - 1];
  return {
    epoch: engine.epoch,
    planSize: plan.size,
    keptFraction: plan.size / engine.size,
    threshold: record.threshold,
    annealing: record.annealing,
    tokens: record.tokens?.trained ?? null,
    fullTokens: record.tokens?.full ?? null,
  };
}

/** The comparison run of `compare: "full"`: the same recipe with pruning off. */
function fullDataRecipe(recipe: LocalRun): LocalRun {
  const { budget: _budget, lengthAware: _lengthAware, ...engine } = recipe.engine;
  return {
    ...recipe,
    name: `${recipe.name ?? "run"} (full data)`,
    compare: "none",
    engine: { ...engine, pruneRatio: 0 },
  };
}

function worldOf(recipe: Recipe): number {
  return recipe.trainer === "remote" ? (recipe.world ?? 1) : 1;
}

function shardPolicyOf(recipe: Recipe): "pad" | "drop" {
  return recipe.trainer === "remote" ? (recipe.shardPolicy ?? "pad") : "pad";
}

function epochsOf(recipe: Recipe): number {
  return recipe.engine.epochs;
}

export function batchSizeOf(recipe: Recipe): number | undefined {
  return recipe.trainer === "remote" ? recipe.batchSize : recipe.training.batchSize;
}

function engineFor(
  settings: Recipe["engine"],
  size: number,
  lengths: readonly number[] | undefined,
  path: string[],
): InfoBatch {
  if (lengths !== undefined && lengths.length !== size) {
    throw new ApiError(
      400,
      "invalid_request",
      `expected ${size} lengths (one per example), received ${lengths.length}`,
      [...path, "lengths"],
    );
  }
  try {
    return new InfoBatch({ ...settings, size, lengths: lengths as number[] | undefined });
  } catch (error) {
    if (error instanceof InfoBatchError)
      throw new ApiError(400, error.code, error.message, ["engine", ...error.path]);
    throw error;
  }
}

function view(run: LiveRun): RunView {
  const engine = run.engine;
  const lastEval = [...run.history.evaluations.values()].sort((a, b) => b.epoch - a.epoch)[0];
  return {
    id: run.stored.id,
    name: run.stored.name,
    status: run.stored.status,
    createdAt: run.stored.createdAt,
    trainer: run.recipe.trainer,
    epochs: epochsOf(run.recipe),
    epoch: engine?.epoch ?? -1,
    world: worldOf(run.recipe),
    planSize: engine?.plan?.size ?? 0,
    reported: run.seenCount,
    savings:
      engine === null
        ? null
        : engine.savings({ batchSize: batchSizeOf(run.recipe), world: worldOf(run.recipe) }).total,
    heldOutLoss: lastEval?.heldOutLoss ?? null,
    baseline: run.history.baseline,
    baselineOf: run.history.baselineOf,
    error: run.history.error,
  };
}
