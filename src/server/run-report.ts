/**
 * A run's savings and its report page data, from the engine's ledger (what was planned and
 * trained) and the run's durable events (epoch times, training and held-out losses). Savings are
 * against the full-data run: measured when the run had a full-data baseline, else estimated
 * (wall time scaled by the tokens, or examples, each epoch would have trained in full).
 */
import type { Amount, EpochSavings, InfoBatch, SavingsReport } from "../core/index.js";
import type { ArmReport, EpochPoint, RunReport, StepPoint } from "../report/types.js";
import type { RunView } from "./runs.js";
import type { Evaluation, Recipe } from "./schemas.js";
import type { StoredEvent } from "./store.js";

export interface ClosedEpoch {
  epoch: number;
  trainLoss: number | null;
  reported: number;
  seconds: number;
}

/** What a run's events say, kept up to date in memory. */
export interface RunHistory {
  /** ISO time each epoch was planned. */
  opened: Map<number, string>;
  closed: Map<number, ClosedEpoch>;
  evaluations: Map<number, Evaluation>;
  baseline: string | null;
  baselineOf: string | null;
  error: string | null;
}

export interface RunInputs {
  view: RunView;
  recipe: Recipe;
  engine: InfoBatch | null;
  history: RunHistory;
}

export type EpochReport = EpochSavings & {
  trainLoss: number | null;
  heldOutLoss: number | null;
  seconds: number | null;
};

export interface RunSavings {
  runId: string;
  status: string;
  epochsPlanned: number;
  epochs: EpochReport[];
  total: SavingsReport["total"] & {
    /** Wall seconds of closed epochs vs the full-data run's (estimated unless measured). */
    seconds: (Amount & { estimated: boolean }) | null;
  };
  /** Held-out loss before training (the base model) and after the last evaluated epoch. */
  heldOutLoss: { before: number | null; final: number | null };
  nonFiniteLosses: number;
  /** The measured full-data run of `compare: "full"`, once it has trained. */
  baseline: {
    runId: string;
    status: string;
    heldOutLoss: number | null;
    /** Relative held-out loss difference, (ours − full) / full. */
    heldOutLossDelta: number | null;
  } | null;
}

function amount(full: number, trained: number): Amount {
  const saved = full - trained;
  return { full, trained, saved, savedFraction: full > 0 ? saved / full : 0 };
}

const EMPTY_LEDGER: SavingsReport = {
  epochsPlanned: 0,
  epochs: [],
  total: { examples: amount(0, 0), tokens: null, steps: null, flops: null },
  nonFiniteLosses: 0,
};

function ledger(inputs: RunInputs): SavingsReport {
  if (inputs.engine === null) return EMPTY_LEDGER;
  const { recipe } = inputs;
  return inputs.engine.savings(
    recipe.trainer === "remote"
      ? {
          batchSize: recipe.batchSize,
          world: recipe.world ?? 1,
          shardPolicy: recipe.shardPolicy ?? "pad",
        }
      : { batchSize: recipe.training.batchSize },
  );
}

function epochReports(inputs: RunInputs, savings: SavingsReport): EpochReport[] {
  return savings.epochs.map((e) => ({
    ...e,
    trainLoss: inputs.history.closed.get(e.epoch)?.trainLoss ?? null,
    heldOutLoss: inputs.history.evaluations.get(e.epoch)?.heldOutLoss ?? null,
    seconds: inputs.history.closed.get(e.epoch)?.seconds ?? null,
  }));
}

/** Seconds of closed epochs, and what the full-data run would have taken (scaled per epoch). */
function estimatedSeconds(epochs: EpochReport[]): (Amount & { estimated: boolean }) | null {
  let trained = 0;
  let full = 0;
  let any = false;
  for (const e of epochs) {
    if (e.seconds === null) continue;
    any = true;
    trained += e.seconds;
    const scale =
      e.tokens !== null && e.tokens.trained > 0
        ? e.tokens.full / e.tokens.trained
        : e.examples.trained > 0
          ? e.examples.full / e.examples.trained
          : 1;
    full += e.seconds * scale;
  }
  return any ? { ...amount(full, trained), estimated: true } : null;
}

function finalHeldOut(history: RunHistory): number | null {
  let best: Evaluation | null = null;
  for (const e of history.evaluations.values()) if (best === null || e.epoch > best.epoch) best = e;
  return best === null || best.epoch < 0 ? null : best.heldOutLoss;
}

function finished(status: string): boolean {
  return status === "completed";
}

export function buildSavings(inputs: RunInputs, baseline: RunInputs | null): RunSavings {
  const savings = ledger(inputs);
  const epochs = epochReports(inputs, savings);
  let seconds = estimatedSeconds(epochs);
  const ours = finalHeldOut(inputs.history);
  let baselineReport: RunSavings["baseline"] = null;
  if (baseline !== null) {
    const theirs = finalHeldOut(baseline.history);
    baselineReport = {
      runId: baseline.view.id,
      status: baseline.view.status,
      heldOutLoss: theirs,
      heldOutLossDelta: ours !== null && theirs !== null ? (ours - theirs) / theirs : null,
    };
    if (finished(baseline.view.status) && seconds !== null) {
      const measured = estimatedSeconds(epochReports(baseline, ledger(baseline)));
      if (measured !== null)
        seconds = { ...amount(measured.trained, seconds.trained), estimated: false };
    }
  }
  return {
    runId: inputs.view.id,
    status: inputs.view.status,
    epochsPlanned: savings.epochsPlanned,
    epochs,
    total: { ...savings.total, seconds },
    heldOutLoss: { before: inputs.history.evaluations.get(-1)?.heldOutLoss ?? null, final: ours },
    nonFiniteLosses: savings.nonFiniteLosses,
    baseline: baselineReport,
  };
}

function arm(inputs: RunInputs, label: string, events: StoredEvent[]): ArmReport {
  const epochs: EpochPoint[] = epochReports(inputs, ledger(inputs)).map((e) => ({
    epoch: e.epoch,
    trainLoss: e.trainLoss,
    heldOutLoss: e.heldOutLoss,
    keptFraction: e.examples.full > 0 ? e.examples.trained / e.examples.full : 1,
    threshold: e.annealing ? null : e.threshold,
    tokens: e.tokens?.trained ?? null,
    fullTokens: e.tokens?.full ?? null,
    examples: e.examples.trained,
    fullExamples: e.examples.full,
    steps: e.steps?.trained ?? null,
    fullSteps: e.steps?.full ?? null,
    seconds: e.seconds,
  }));
  const steps: StepPoint[] = [];
  for (const event of events) {
    if (event.type !== "step") continue;
    const d = JSON.parse(event.data) as StepPoint;
    steps.push({ epoch: d.epoch, step: d.step, tokens: d.tokens, loss: d.loss });
  }
  return { label, runId: inputs.view.id, epochs, steps: thin(steps, 2000) };
}

/** At most `max` points, evenly spaced, the last one kept. */
function thin<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points;
  const every = points.length / max;
  const out: T[] = [];
  for (let i = 0; i < max - 1; i++) out.push(points[Math.floor(i * every)]);
  out.push(points[points.length - 1]);
  return out;
}

function prunes(recipe: Recipe): boolean {
  return (recipe.engine.pruneRatio ?? 0.5) > 0 || recipe.engine.budget !== undefined;
}

export function buildRunReport(
  inputs: RunInputs,
  baseline: RunInputs | null,
  eventsOf: (runId: string) => StoredEvent[],
): RunReport {
  const savings = buildSavings(inputs, baseline);
  const arms = [
    arm(inputs, prunes(inputs.recipe) ? "InfoBatch" : "Full data", eventsOf(inputs.view.id)),
  ];
  let tokens = savings.total.tokens;
  let steps = savings.total.steps;
  let measured = false;
  if (baseline !== null) {
    arms.push(arm(baseline, "Full data", eventsOf(baseline.view.id)));
    if (finished(baseline.view.status)) {
      const theirs = ledger(baseline).total;
      measured = true;
      if (tokens !== null && theirs.tokens !== null)
        tokens = amount(theirs.tokens.trained, tokens.trained);
      if (steps !== null && theirs.steps !== null)
        steps = amount(theirs.steps.trained, steps.trained);
    }
  }
  const pick = (a: Amount | null) => (a === null ? null : { full: a.full, trained: a.trained });
  return {
    id: inputs.view.id,
    name: inputs.view.name,
    status: inputs.view.status,
    createdAt: inputs.view.createdAt,
    arms,
    summary: {
      tokens: pick(tokens),
      steps: pick(steps),
      examples: { full: savings.total.examples.full, trained: savings.total.examples.trained },
      seconds:
        savings.total.seconds === null
          ? null
          : {
              full: savings.total.seconds.full,
              trained: savings.total.seconds.trained,
              estimated: savings.total.seconds.estimated,
            },
      heldOutLoss: {
        infobatch: savings.heldOutLoss.final,
        full: savings.baseline?.heldOutLoss ?? null,
      },
      basis: measured ? "measured" : "estimated",
    },
  };
}
